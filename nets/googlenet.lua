-- nets/googlenet.lua -- GoogLeNet / Inception v1 (Szegedy et al. 2014), as
-- torchvision has it: batch-normalised convolutions, no auxiliary heads.

-- conv (no bias), batch norm (eps 0.001), ReLU: torchvision's BasicConv2d
local function conv_bn(name, nin, nout, kW, kH, dW, dH, padW, padH)
  return nn.Sequential():named(name)
    :add(nn.SpatialConvolution(nin, nout, kW, kH, dW or 1, dH or 1, padW or 0, padH or 0)
      :noBias():named(name .. ".conv"))
    :add(nn.SpatialBatchNormalization(nout, 1e-3):named(name .. ".bn"))
    :add(nn.ReLU(true))
end

-- Four branches side by side: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 (the paper's 5x5,
-- a 3x3 in torchvision's weights); 3x3 max pool -> 1x1.
local function inception(name, nin, c1, c3r, c3, c5r, c5, pool_proj)
  return nn.Concat(2):named(name)
    :add(conv_bn(name .. ".branch1", nin, c1, 1, 1))
    :add(nn.Sequential()
      :add(conv_bn(name .. ".branch2.0", nin, c3r, 1, 1))
      :add(conv_bn(name .. ".branch2.1", c3r, c3, 3, 3, 1, 1, 1, 1)))
    :add(nn.Sequential()
      :add(conv_bn(name .. ".branch3.0", nin, c5r, 1, 1))
      :add(conv_bn(name .. ".branch3.1", c5r, c5, 3, 3, 1, 1, 1, 1)))
    :add(nn.Sequential()
      :add(nn.SpatialMaxPooling(3, 3, 1, 1, 1, 1):ceil())
      :add(conv_bn(name .. ".branch4.1", nin, pool_proj, 1, 1)))
end

local function pool(k)
  return nn.SpatialMaxPooling(k, k, 2, 2):ceil()
end

local function build(opts)
  local num_classes = opts.num_classes or 1000
  return nn.Sequential()
    :add(conv_bn("conv1", 3, 64, 7, 7, 2, 2, 3, 3))
    :add(pool(3))
    :add(conv_bn("conv2", 64, 64, 1, 1))
    :add(conv_bn("conv3", 64, 192, 3, 3, 1, 1, 1, 1))
    :add(pool(3))
    :add(inception("inception3a", 192, 64, 96, 128, 16, 32, 32))
    :add(inception("inception3b", 256, 128, 128, 192, 32, 96, 64))
    :add(pool(3))
    :add(inception("inception4a", 480, 192, 96, 208, 16, 48, 64))
    :add(inception("inception4b", 512, 160, 112, 224, 24, 64, 64))
    :add(inception("inception4c", 512, 128, 128, 256, 24, 64, 64))
    :add(inception("inception4d", 512, 112, 144, 288, 32, 64, 64))
    :add(inception("inception4e", 528, 256, 160, 320, 32, 128, 128))
    :add(pool(2))
    :add(inception("inception5a", 832, 256, 160, 320, 32, 128, 128))
    :add(inception("inception5b", 832, 384, 192, 384, 48, 128, 128))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Dropout(0.2))
    :add(nn.Linear(1024, num_classes):named("fc"))
end

return {
  build = build,
  input = { 3, 224, 224 },
  -- torchvision's ImageNet weights were trained on inputs in [-1, 1] (its
  -- transform_input maps the usual ImageNet normalisation there); with
  -- transform_input off, that is mean 0.5 and std 0.5.
  preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                 mean = { 0.5, 0.5, 0.5 }, std = { 0.5, 0.5, 0.5 } },
  labels = "imagenet_classes.txt",
}
