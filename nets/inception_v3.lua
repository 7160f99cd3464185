-- nets/inception_v3.lua -- Inception v3 (Szegedy et al. 2015, "Rethinking the
-- Inception Architecture"), torchvision's layout (Mixed_5b...), no aux head.

-- conv (no bias), batch norm (eps 0.001), ReLU: torchvision's BasicConv2d.
-- k and pad are a number or {h, w}, as in PyTorch.
local function conv_bn(name, nin, nout, k, stride, pad)
  local kh, kw = type(k) == "table" and k[1] or k, type(k) == "table" and k[2] or k
  pad = pad or 0
  local ph, pw = type(pad) == "table" and pad[1] or pad, type(pad) == "table" and pad[2] or pad
  stride = stride or 1
  return nn.Sequential():named(name)
    :add(nn.SpatialConvolution(nin, nout, kw, kh, stride, stride, pw, ph):noBias():named(name .. ".conv"))
    :add(nn.SpatialBatchNormalization(nout, 1e-3):named(name .. ".bn"))
    :add(nn.ReLU(true))
end

local function seq(...)
  local s = nn.Sequential()
  for _, m in ipairs{ ... } do s:add(m) end
  return s
end

local function avg_pool_conv(name, nin, nout)
  return seq(nn.SpatialAveragePooling(3, 3, 1, 1, 1, 1), conv_bn(name, nin, nout, 1))
end

-- 35x35: 1x1 | 1x1 -> 5x5 | 1x1 -> 3x3 -> 3x3 | avg pool -> 1x1
local function inception_a(name, nin, pool_features)
  local n = name .. "."
  return nn.Concat(2):named(name)
    :add(conv_bn(n .. "branch1x1", nin, 64, 1))
    :add(seq(conv_bn(n .. "branch5x5_1", nin, 48, 1),
             conv_bn(n .. "branch5x5_2", 48, 64, 5, 1, 2)))
    :add(seq(conv_bn(n .. "branch3x3dbl_1", nin, 64, 1),
             conv_bn(n .. "branch3x3dbl_2", 64, 96, 3, 1, 1),
             conv_bn(n .. "branch3x3dbl_3", 96, 96, 3, 1, 1)))
    :add(avg_pool_conv(n .. "branch_pool", nin, pool_features))
end

-- 35x35 -> 17x17: strided 3x3 | 1x1 -> 3x3 -> strided 3x3 | max pool
local function inception_b(name, nin)
  local n = name .. "."
  return nn.Concat(2):named(name)
    :add(conv_bn(n .. "branch3x3", nin, 384, 3, 2))
    :add(seq(conv_bn(n .. "branch3x3dbl_1", nin, 64, 1),
             conv_bn(n .. "branch3x3dbl_2", 64, 96, 3, 1, 1),
             conv_bn(n .. "branch3x3dbl_3", 96, 96, 3, 2)))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2))
end

-- 17x17 with factorised 7x7 convolutions (1x7 and 7x1)
local function inception_c(name, nin, c7)
  local n = name .. "."
  return nn.Concat(2):named(name)
    :add(conv_bn(n .. "branch1x1", nin, 192, 1))
    :add(seq(conv_bn(n .. "branch7x7_1", nin, c7, 1),
             conv_bn(n .. "branch7x7_2", c7, c7, { 1, 7 }, 1, { 0, 3 }),
             conv_bn(n .. "branch7x7_3", c7, 192, { 7, 1 }, 1, { 3, 0 })))
    :add(seq(conv_bn(n .. "branch7x7dbl_1", nin, c7, 1),
             conv_bn(n .. "branch7x7dbl_2", c7, c7, { 7, 1 }, 1, { 3, 0 }),
             conv_bn(n .. "branch7x7dbl_3", c7, c7, { 1, 7 }, 1, { 0, 3 }),
             conv_bn(n .. "branch7x7dbl_4", c7, c7, { 7, 1 }, 1, { 3, 0 }),
             conv_bn(n .. "branch7x7dbl_5", c7, 192, { 1, 7 }, 1, { 0, 3 })))
    :add(avg_pool_conv(n .. "branch_pool", nin, 192))
end

-- 17x17 -> 8x8
local function inception_d(name, nin)
  local n = name .. "."
  return nn.Concat(2):named(name)
    :add(seq(conv_bn(n .. "branch3x3_1", nin, 192, 1),
             conv_bn(n .. "branch3x3_2", 192, 320, 3, 2)))
    :add(seq(conv_bn(n .. "branch7x7x3_1", nin, 192, 1),
             conv_bn(n .. "branch7x7x3_2", 192, 192, { 1, 7 }, 1, { 0, 3 }),
             conv_bn(n .. "branch7x7x3_3", 192, 192, { 7, 1 }, 1, { 3, 0 }),
             conv_bn(n .. "branch7x7x3_4", 192, 192, 3, 2)))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2))
end

-- 8x8 with expanded filter banks: the 3x3s split into 1x3 and 3x1 side by side
local function inception_e(name, nin)
  local n = name .. "."
  local function split(prefix, c)
    return nn.Concat(2)
      :add(conv_bn(prefix .. "a", c, 384, { 1, 3 }, 1, { 0, 1 }))
      :add(conv_bn(prefix .. "b", c, 384, { 3, 1 }, 1, { 1, 0 }))
  end
  return nn.Concat(2):named(name)
    :add(conv_bn(n .. "branch1x1", nin, 320, 1))
    :add(seq(conv_bn(n .. "branch3x3_1", nin, 384, 1), split(n .. "branch3x3_2", 384)))
    :add(seq(conv_bn(n .. "branch3x3dbl_1", nin, 448, 1),
             conv_bn(n .. "branch3x3dbl_2", 448, 384, 3, 1, 1),
             split(n .. "branch3x3dbl_3", 384)))
    :add(avg_pool_conv(n .. "branch_pool", nin, 192))
end

local function build(opts)
  local num_classes = opts.num_classes or 1000
  return nn.Sequential()
    :add(conv_bn("Conv2d_1a_3x3", 3, 32, 3, 2))
    :add(conv_bn("Conv2d_2a_3x3", 32, 32, 3))
    :add(conv_bn("Conv2d_2b_3x3", 32, 64, 3, 1, 1))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2))
    :add(conv_bn("Conv2d_3b_1x1", 64, 80, 1))
    :add(conv_bn("Conv2d_4a_3x3", 80, 192, 3))
    :add(nn.SpatialMaxPooling(3, 3, 2, 2))
    :add(inception_a("Mixed_5b", 192, 32))
    :add(inception_a("Mixed_5c", 256, 64))
    :add(inception_a("Mixed_5d", 288, 64))
    :add(inception_b("Mixed_6a", 288))
    :add(inception_c("Mixed_6b", 768, 128))
    :add(inception_c("Mixed_6c", 768, 160))
    :add(inception_c("Mixed_6d", 768, 160))
    :add(inception_c("Mixed_6e", 768, 192))
    :add(inception_d("Mixed_7a", 768))
    :add(inception_e("Mixed_7b", 1280))
    :add(inception_e("Mixed_7c", 2048))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.Dropout(0.5))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(2048, num_classes):named("fc"))
end

return {
  build = build,
  input = { 3, 299, 299 },
  -- torchvision's ImageNet weights expect [-1, 1] inputs (see googlenet.lua)
  preprocess = { resize = 342, crop = 299, range = 1, channels = "RGB",
                 mean = { 0.5, 0.5, 0.5 }, std = { 0.5, 0.5, 0.5 } },
  labels = "imagenet_classes.txt",
}
