-- nets/resnet18.lua -- ResNet-18 (He et al. 2015, "Deep Residual Learning"),
-- torchvision's layout: layer names are torchvision's state_dict keys.

local function conv(name, nin, nout, k, stride, pad)
  return nn.SpatialConvolution(nin, nout, k, k, stride, stride, pad, pad):noBias():named(name)
end

local function bn(name, n)
  return nn.SpatialBatchNormalization(n, 1e-5):named(name)
end

-- Two 3x3 convolutions plus the input; a strided 1x1 projection ("downsample")
-- when the size or width changes.
local function basic_block(name, nin, nout, stride)
  local body = nn.Sequential()
    :add(conv(name .. ".conv1", nin, nout, 3, stride, 1))
    :add(bn(name .. ".bn1", nout))
    :add(nn.ReLU(true))
    :add(conv(name .. ".conv2", nout, nout, 3, 1, 1))
    :add(bn(name .. ".bn2", nout))
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

local function stage(name, nin, nout, count, stride)
  local s = nn.Sequential():named(name)
  for i = 0, count - 1 do
    s:add(basic_block(name .. "." .. i, i == 0 and nin or nout, nout, i == 0 and stride or 1))
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
    :add(stage("layer1", 64, 64, 2, 1))
    :add(stage("layer2", 64, 128, 2, 2))
    :add(stage("layer3", 128, 256, 2, 2))
    :add(stage("layer4", 256, 512, 2, 2))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(512, num_classes):named("fc"))
end

return {
  build = build,
  input = { 3, 224, 224 },
  preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                 mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } },
  labels = "imagenet_classes.txt",
}
