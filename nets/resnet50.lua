-- nets/resnet50.lua -- ResNet-50 (He et al. 2015) with bottleneck blocks,
-- torchvision's layout (v1.5: the stride sits on the 3x3 conv).

local function conv(name, nin, nout, k, stride, pad)
  return nn.SpatialConvolution(nin, nout, k, k, stride, stride, pad, pad):noBias():named(name)
end

local function bn(name, n)
  return nn.SpatialBatchNormalization(n, 1e-5):named(name)
end

-- 1x1 reduce, 3x3, 1x1 expand (x4), plus the input or its projection.
local function bottleneck(name, nin, width, stride)
  local nout = width * 4
  local body = nn.Sequential()
    :add(conv(name .. ".conv1", nin, width, 1, 1, 0))
    :add(bn(name .. ".bn1", width))
    :add(nn.ReLU(true))
    :add(conv(name .. ".conv2", width, width, 3, stride, 1))
    :add(bn(name .. ".bn2", width))
    :add(nn.ReLU(true))
    :add(conv(name .. ".conv3", width, nout, 1, 1, 0))
    :add(bn(name .. ".bn3", nout))
  local shortcut = nn.Identity()
  if stride ~= 1 or nin ~= nout then
    shortcut = nn.Sequential()
      :add(conv(name .. ".downsample.0", nin, nout, 1, stride, 0))
      :add(bn(name .. ".downsample.1", nout))
  end
  return nn.Sequential():named(name)
    :add(nn.ConcatTable():add(body):add(shortcut))
    :add(nn.CAddTable(true))
    :add(nn.ReLU(true))
end

local function stage(name, nin, width, count, stride)
  local s = nn.Sequential():named(name)
  for i = 0, count - 1 do
    s:add(bottleneck(name .. "." .. i, i == 0 and nin or width * 4, width, i == 0 and stride or 1))
  end
  return s
end

local function build(opts)
  local num_classes = opts.num_classes or 1000
  return nn.Sequential()
    :add(conv("conv1", 3, 64, 7, 2, 3))
    :add(bn("bn1", 64))
    :add(nn.ReLU(true))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1))
    :add(stage("layer1", 64, 64, 3, 1))
    :add(stage("layer2", 256, 128, 4, 2))
    :add(stage("layer3", 512, 256, 6, 2))
    :add(stage("layer4", 1024, 512, 3, 2))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(2048, num_classes):named("fc"))
end

return {
  build = build,
  input = { 3, 224, 224 },
  preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                 mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } },
  labels = "imagenet_classes.txt",
}
