-- nets/squeezenet1_1.lua -- SqueezeNet 1.1 (Iandola et al. 2016; the 1.1
-- revision from the authors' repository): Fire modules, no fully connected layer.

local function conv(name, nin, nout, k, stride, pad)
  return nn.SpatialConvolution(nin, nout, k, k, stride, stride, pad, pad):named(name)
end

-- squeeze with 1x1, then expand with 1x1 and 3x3 side by side
local function fire(name, nin, squeeze, expand1x1, expand3x3)
  return nn.Sequential():named(name)
    :add(conv(name .. ".squeeze", nin, squeeze, 1, 1, 0))
    :add(nn.ReLU(true))
    :add(nn.Concat(2)
      :add(nn.Sequential():add(conv(name .. ".expand1x1", squeeze, expand1x1, 1, 1, 0)):add(nn.ReLU(true)))
      :add(nn.Sequential():add(conv(name .. ".expand3x3", squeeze, expand3x3, 3, 1, 1)):add(nn.ReLU(true))))
end

local function pool()
  return nn.SpatialMaxPooling(3, 3, 2, 2):ceil()
end

local function build(opts)
  local num_classes = opts.num_classes or 1000
  local features = nn.Sequential():named("features")
    :add(conv("features.0", 3, 64, 3, 2, 0))
    :add(nn.ReLU(true))
    :add(pool())
    :add(fire("features.3", 64, 16, 64, 64))
    :add(fire("features.4", 128, 16, 64, 64))
    :add(pool())
    :add(fire("features.6", 128, 32, 128, 128))
    :add(fire("features.7", 256, 32, 128, 128))
    :add(pool())
    :add(fire("features.9", 256, 48, 192, 192))
    :add(fire("features.10", 384, 48, 192, 192))
    :add(fire("features.11", 384, 64, 256, 256))
    :add(fire("features.12", 512, 64, 256, 256))
  local classifier = nn.Sequential():named("classifier")
    :add(nn.Dropout(0.5))
    :add(conv("classifier.1", 512, num_classes, 1, 1, 0))
    :add(nn.ReLU(true))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
  return nn.Sequential()
    :add(features)
    :add(classifier)
    :add(nn.View(-1):setNumInputDims(3))
end

return {
  build = build,
  input = { 3, 224, 224 },
  preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                 mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } },
  labels = "imagenet_classes.txt",
}
