-- nets/vgg16.lua -- VGG-16, configuration D (Simonyan & Zisserman 2014):
-- thirteen 3x3 convolutions in five blocks, three fully connected layers.

-- Output widths of the convolutions; "M" is a 2x2 max pooling.
local cfg = { 64, 64, "M", 128, 128, "M", 256, 256, 256, "M",
              512, 512, 512, "M", 512, 512, 512, "M" }

local function build(opts)
  local num_classes = opts.num_classes or 1000
  -- torchvision numbers every layer of `features`, so a conv's name is its
  -- position there (0-based); the ReLU after it takes the next number.
  local features = nn.Sequential():named("features")
  local nin, i = 3, 0
  for _, v in ipairs(cfg) do
    if v == "M" then
      features:add(nn.SpatialMaxPooling(2, 2, 2, 2))
      i = i + 1
    else
      features:add(nn.SpatialConvolution(nin, v, 3, 3, 1, 1, 1, 1):named("features." .. i))
      features:add(nn.ReLU(true))
      nin, i = v, i + 2
    end
  end
  local classifier = nn.Sequential():named("classifier")
    :add(nn.Linear(512 * 7 * 7, 4096):named("classifier.0"))
    :add(nn.ReLU(true))
    :add(nn.Dropout(0.5))
    :add(nn.Linear(4096, 4096):named("classifier.3"))
    :add(nn.ReLU(true))
    :add(nn.Dropout(0.5))
    :add(nn.Linear(4096, num_classes):named("classifier.6"))
  return nn.Sequential()
    :add(features)
    :add(nn.SpatialAdaptiveAveragePooling(7, 7))
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
