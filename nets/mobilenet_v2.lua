-- nets/mobilenet_v2.lua -- MobileNetV2 (Sandler et al. 2018): inverted
-- residuals with linear bottlenecks; torchvision's layout and width_mult.

-- Rounds a channel count to a multiple of 8, never more than 10% down
-- (torchvision's _make_divisible, from the TensorFlow reference).
local function divisible(v, divisor)
  local n = math.max(divisor, (math.floor(v + divisor / 2) // divisor) * divisor)
  if n < 0.9 * v then n = n + divisor end
  return math.tointeger(n)
end

local function conv(name, nin, nout, k, stride, groups)
  local pad = (k - 1) // 2
  return nn.SpatialConvolution(nin, nout, k, k, stride, stride, pad, pad, groups):noBias():named(name)
end

local function bn(name, n)
  return nn.SpatialBatchNormalization(n, 1e-5):named(name)
end

-- conv, batch norm, ReLU6 (torchvision's Conv2dNormActivation)
local function conv_bn_relu6(name, nin, nout, k, stride, groups)
  return nn.Sequential():named(name)
    :add(conv(name .. ".0", nin, nout, k, stride, groups or 1))
    :add(bn(name .. ".1", nout))
    :add(nn.ReLU6(true))
end

-- expand (1x1) -> depthwise 3x3 -> project (1x1, linear); the input is
-- added back when the shape is kept.
local function inverted_residual(name, nin, nout, stride, expand)
  local hidden = nin * expand
  local body, i = nn.Sequential(), 0
  local function part(m) body:add(m); i = i + 1 end
  if expand ~= 1 then part(conv_bn_relu6(name .. ".conv." .. i, nin, hidden, 1, 1)) end
  part(conv_bn_relu6(name .. ".conv." .. i, hidden, hidden, 3, stride, hidden))
  body:add(conv(name .. ".conv." .. i, hidden, nout, 1, 1, 1))
  body:add(bn(name .. ".conv." .. (i + 1), nout))
  if stride == 1 and nin == nout then
    return nn.Sequential():named(name)
      :add(nn.ConcatTable():add(body):add(nn.Identity()))   -- the sum goes into body's output
      :add(nn.CAddTable(true))
  end
  return body:named(name)
end

-- expansion t, output channels c, repeats n, first stride s
local settings = {
  { 1, 16, 1, 1 }, { 6, 24, 2, 2 }, { 6, 32, 3, 2 }, { 6, 64, 4, 2 },
  { 6, 96, 3, 1 }, { 6, 160, 3, 2 }, { 6, 320, 1, 1 },
}

local function build(opts)
  local num_classes = opts.num_classes or 1000
  local width = opts.width_mult or 1.0
  local nin = divisible(32 * width, 8)
  local last = divisible(1280 * math.max(1.0, width), 8)
  local features = nn.Sequential():named("features")
    :add(conv_bn_relu6("features.0", 3, nin, 3, 2))
  local idx = 1
  for _, s in ipairs(settings) do
    local t, c, n, stride = s[1], s[2], s[3], s[4]
    local nout = divisible(c * width, 8)
    for r = 1, n do
      features:add(inverted_residual("features." .. idx, nin, nout, r == 1 and stride or 1, t))
      nin, idx = nout, idx + 1
    end
  end
  features:add(conv_bn_relu6("features." .. idx, nin, last, 1, 1))
  return nn.Sequential()
    :add(features)
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Sequential():named("classifier")
      :add(nn.Dropout(0.2))
      :add(nn.Linear(last, num_classes):named("classifier.1")))
end

return {
  build = build,
  input = { 3, 224, 224 },
  preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                 mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } },
  labels = "imagenet_classes.txt",
}
