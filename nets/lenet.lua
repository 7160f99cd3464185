-- nets/lenet.lua -- a LeNet-5-style digit classifier (LeCun et al. 1998) for
-- MNIST, 1x28x28 in, 10 logits out: two conv/pool stages, two linear layers.
-- weights/lenet.safetensors is trained by tools/train_lenet.py (`make lenet`)
-- on 9,000 MNIST training digits: 99.37% on the official test set.

local function build(opts)
  local num_classes = opts.num_classes or 10
  return nn.Sequential()
    :add(nn.SpatialConvolution(1, 32, 5, 5):named("conv1"))    -- 32x24x24
    :add(nn.ReLU(true))
    :add(nn.SpatialMaxPooling(2, 2, 2, 2))                     -- 32x12x12
    :add(nn.SpatialConvolution(32, 64, 5, 5):named("conv2"))   -- 64x8x8
    :add(nn.ReLU(true))
    :add(nn.SpatialMaxPooling(2, 2, 2, 2))                     -- 64x4x4
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(64 * 4 * 4, 128):named("fc1"))
    :add(nn.ReLU(true))
    :add(nn.Linear(128, num_classes):named("fc2"))
end

return {
  build = build,
  input = { 1, 28, 28 },
  -- MNIST's digits: 28x28 grey, a white digit (1) on black (0), centred by
  -- its centre of mass; a dark digit on light paper needs invert = true
  -- (apps/demo.lua sets it when the border is light). Normalised with the
  -- usual MNIST statistics, as in training.
  preprocess = {
    resize = 28, crop = 28,            -- a larger square image shrinks to 28x28
    channels = "gray", range = 1,      -- grey values scaled to [0, 1]
    mean = { 0.1307 }, std = { 0.3081 },
  },
  labels = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" },
}
