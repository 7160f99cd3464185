-- nets/alexnet.lua -- AlexNet (Krizhevsky et al. 2012) as torchvision has it:
-- the one-tower "One weird trick" variant (64-192-384-256-256), no LRN.

local function conv(name, nin, nout, k, stride, pad)
  return nn.SpatialConvolution(nin, nout, k, k, stride, stride, pad, pad):named(name)
end

local function build(opts)
  local num_classes = opts.num_classes or 1000
  local features = nn.Sequential():named("features")
    :add(conv("features.0", 3, 64, 11, 4, 2))
    :add(nn.ReLU(true))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2))
    :add(conv("features.3", 64, 192, 5, 1, 2))
    :add(nn.ReLU(true))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2))
    :add(conv("features.6", 192, 384, 3, 1, 1))
    :add(nn.ReLU(true))
    :add(conv("features.8", 384, 256, 3, 1, 1))
    :add(nn.ReLU(true))
    :add(conv("features.10", 256, 256, 3, 1, 1))
    :add(nn.ReLU(true))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2))
  local classifier = nn.Sequential():named("classifier")
    :add(nn.Dropout(0.5))
    :add(nn.Linear(256 * 6 * 6, 4096):named("classifier.1"))
    :add(nn.ReLU(true))
    :add(nn.Dropout(0.5))
    :add(nn.Linear(4096, 4096):named("classifier.4"))
    :add(nn.ReLU(true))
    :add(nn.Linear(4096, num_classes):named("classifier.6"))
  return nn.Sequential()
    :add(features)
    :add(nn.SpatialAdaptiveAveragePooling(6, 6))
    :add(nn.View(-1):setNumInputDims(3))
    :add(classifier)
end

return {
  build = build,
  input = { 3, 224, 224 },
  preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                 mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } },
  labels = "imagenet_classes.txt",
}
