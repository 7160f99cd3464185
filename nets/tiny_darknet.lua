-- nets/tiny_darknet.lua -- Tiny Darknet (J. Redmon), darknet's tiny.cfg
-- ImageNet classifier: sixteen convolutions, leaky ReLU, 2x2 max pools.

-- Darknet's [convolutional] with batch_normalize=1: conv without bias, batch
-- norm whose bias is darknet's "biases", leaky ReLU (slope 0.1). Darknet divides
-- by sqrt(var) + 1e-6 rather than sqrt(var + eps): weights converted by
-- ember.darknet carry the difference in bn<i>.weight, so eps 1e-6 is exact.
-- "pad=1" in a cfg means size/2. Names count the convolutions in cfg order:
-- conv<i>.weight, bn<i>.weight/bias/running_mean/running_var.
local function conv_bn_leaky(i, nin, nout, k)
  return nn.Sequential()
    :add(nn.SpatialConvolution(nin, nout, k, k, 1, 1, k // 2, k // 2):noBias():named("conv" .. i))
    :add(nn.SpatialBatchNormalization(nout, 1e-6):named("bn" .. i))
    :add(nn.LeakyReLU(0.1, true))
end

-- darknet's [maxpool] size=2 stride=2 pads by size-1 on the bottom/right:
-- on odd sizes it keeps the last partial window, as ceil mode does
local function maxpool()
  return nn.SpatialMaxPooling(2, 2, 2, 2):ceil()
end

-- the cfg's layers: {filters, size} for a convolution, "M" for a max pool
local cfg = {
  { 16, 3 }, "M", { 32, 3 }, "M",
  { 16, 1 }, { 128, 3 }, { 16, 1 }, { 128, 3 }, "M",
  { 32, 1 }, { 256, 3 }, { 32, 1 }, { 256, 3 }, "M",
  { 64, 1 }, { 512, 3 }, { 64, 1 }, { 512, 3 }, { 128, 1 },
}

local function build(opts)
  local num_classes = opts.num_classes or 1000
  local net, nin, i = nn.Sequential(), 3, 0
  for _, l in ipairs(cfg) do
    if l == "M" then
      net:add(maxpool())
    else
      i = i + 1
      net:add(conv_bn_leaky(i, nin, l[1], l[2]))
      nin = l[1]
    end
  end
  -- the classifier: a linear 1x1 convolution with bias, global average, softmax
  return net
    :add(nn.SpatialConvolution(nin, num_classes, 1, 1):named("conv" .. (i + 1)))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.SoftMax())
end

return {
  build = build,
  input = { 3, 224, 224 },
  -- darknet's "classifier predict" letterboxes the image into 224x224 (aspect
  -- kept, borders 0.5) and feeds RGB in [0, 1] without normalisation
  preprocess = { letterbox = 224, interpolation = "darknet", range = 1, channels = "RGB",
                 mean = { 0, 0, 0 }, std = { 1, 1, 1 } },
  labels = "darknet-labels.txt",
}
