-- nets/shufflenet_v2_x1_0.lua -- ShuffleNet V2 1.0x (Ma et al. 2018):
-- channel split, two branches, concatenation, channel shuffle; torchvision's layout.

local function conv(name, nin, nout, k, stride, groups)
  local pad = (k - 1) // 2
  return nn.SpatialConvolution(nin, nout, k, k, stride, stride, pad, pad, groups or 1):noBias():named(name)
end

local function bn(name, n)
  return nn.SpatialBatchNormalization(n, 1e-5):named(name)
end

-- 1x1 conv-bn-relu, depthwise 3x3 conv-bn, 1x1 conv-bn-relu (torchvision's branch2)
local function branch2(name, nin, n, stride)
  return nn.Sequential()
    :add(conv(name .. ".0", nin, n, 1, 1)):add(bn(name .. ".1", n)):add(nn.ReLU(true))
    :add(conv(name .. ".3", n, n, 3, stride, n)):add(bn(name .. ".4", n))
    :add(conv(name .. ".5", n, n, 1, 1)):add(bn(name .. ".6", n)):add(nn.ReLU(true))
end

-- The unit: with stride 1 the input's first half passes through and the second
-- half goes through branch2; with stride 2 both branches see all of it.
local function unit(name, nin, nout, stride)
  local half = nout // 2
  local branches = nn.Concat(2)
  if stride == 1 then
    branches:add(nn.Narrow(2, 1, half))
    branches:add(nn.Sequential():add(nn.Narrow(2, half + 1, half))
                                :add(branch2(name .. ".branch2", half, half, 1)))
  else
    branches:add(nn.Sequential()
      :add(conv(name .. ".branch1.0", nin, nin, 3, stride, nin)):add(bn(name .. ".branch1.1", nin))
      :add(conv(name .. ".branch1.2", nin, half, 1, 1)):add(bn(name .. ".branch1.3", half))
      :add(nn.ReLU(true)))
    branches:add(branch2(name .. ".branch2", nin, half, stride))
  end
  return nn.Sequential():named(name):add(branches):add(nn.ChannelShuffle(2))
end

local function stage(name, nin, nout, repeats)
  local s = nn.Sequential():named(name)
  for i = 0, repeats - 1 do
    s:add(unit(name .. "." .. i, i == 0 and nin or nout, nout, i == 0 and 2 or 1))
  end
  return s
end

local function build(opts)
  local num_classes = opts.num_classes or 1000
  return nn.Sequential()
    :add(nn.Sequential():named("conv1")
      :add(conv("conv1.0", 3, 24, 3, 2)):add(bn("conv1.1", 24)):add(nn.ReLU(true)))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1))
    :add(stage("stage2", 24, 116, 4))
    :add(stage("stage3", 116, 232, 8))
    :add(stage("stage4", 232, 464, 4))
    :add(nn.Sequential():named("conv5")
      :add(conv("conv5.0", 464, 1024, 1, 1)):add(bn("conv5.1", 1024)):add(nn.ReLU(true)))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(1024, num_classes):named("fc"))
end

return {
  build = build,
  input = { 3, 224, 224 },
  preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                 mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } },
  labels = "imagenet_classes.txt",
}
