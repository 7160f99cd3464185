-- bench/layers.lua -- the convolutions of ResNet-50 and Inception v3 (batch 1):
-- ember's GFLOP/s beside OpenBLAS sgemm on the same matrix product (Debian's
-- single-threaded build, so on one thread whatever ember's count); then
-- MobileNet v2's depthwise layers, and convolutions with their ReLU fused
-- (one pass over the output) beside the same followed by a separate ReLU;
-- then the nets' stems (3 input planes) on the direct path beside im2col.
-- ./ember bench/layers.lua [threads=2] [seconds per measurement=0.15] [net name pattern]
--
-- For a layer Cin -> Cout, kH x kW, the product is M = Cout/groups,
-- N = Ho*Wo, K = Cin/groups*kH*kW; the sgemm column times that product alone
-- (no im2col, no bias), so the ratio shows what the convolution loses around
-- it. Times are medians of repeated runs; "x" is how often the shape occurs
-- in the net, and the totals weigh each row by it. For 3x3 stride-1 layers,
-- "im2col" and "wino" are the GF/s of each algorithm forced (Winograd's
-- effective: the direct method's flops over its time), and "algo" what the
-- automatic choice (the "ms" column) ran; the totals line gives the time
-- with im2col everywhere beside it.

local ember = require "ember"
local core = ember.core

local threads = tonumber(arg and arg[1]) or 2
local budget = tonumber(arg and arg[2]) or 0.15
local only = arg and arg[3]   -- e.g. "Inception" to run one table

-- name, count, Cin, H, W, Cout, kH, kW, stride, padH, padW [, groups]
local nets = {
  { "ResNet-50 (224x224)", {
    { "conv1", 1, 3, 224, 224, 64, 7, 7, 2, 3, 3 },
    { "layer1 1x1 reduce", 1, 64, 56, 56, 64, 1, 1, 1, 0, 0 },
    { "layer1 1x1 reduce'", 2, 256, 56, 56, 64, 1, 1, 1, 0, 0 },
    { "layer1 3x3", 3, 64, 56, 56, 64, 3, 3, 1, 1, 1 },
    { "layer1 1x1 expand", 4, 64, 56, 56, 256, 1, 1, 1, 0, 0 },     -- 3 + downsample
    { "layer2 1x1 reduce", 1, 256, 56, 56, 128, 1, 1, 1, 0, 0 },
    { "layer2 3x3 s2", 1, 128, 56, 56, 128, 3, 3, 2, 1, 1 },
    { "layer2 downsample", 1, 256, 56, 56, 512, 1, 1, 2, 0, 0 },
    { "layer2 1x1 reduce'", 3, 512, 28, 28, 128, 1, 1, 1, 0, 0 },
    { "layer2 3x3", 3, 128, 28, 28, 128, 3, 3, 1, 1, 1 },
    { "layer2 1x1 expand", 4, 128, 28, 28, 512, 1, 1, 1, 0, 0 },
    { "layer3 1x1 reduce", 1, 512, 28, 28, 256, 1, 1, 1, 0, 0 },
    { "layer3 3x3 s2", 1, 256, 28, 28, 256, 3, 3, 2, 1, 1 },
    { "layer3 downsample", 1, 512, 28, 28, 1024, 1, 1, 2, 0, 0 },
    { "layer3 1x1 reduce'", 5, 1024, 14, 14, 256, 1, 1, 1, 0, 0 },
    { "layer3 3x3", 5, 256, 14, 14, 256, 3, 3, 1, 1, 1 },
    { "layer3 1x1 expand", 6, 256, 14, 14, 1024, 1, 1, 1, 0, 0 },
    { "layer4 1x1 reduce", 1, 1024, 14, 14, 512, 1, 1, 1, 0, 0 },
    { "layer4 3x3 s2", 1, 512, 14, 14, 512, 3, 3, 2, 1, 1 },
    { "layer4 downsample", 1, 1024, 14, 14, 2048, 1, 1, 2, 0, 0 },
    { "layer4 1x1 reduce'", 2, 2048, 7, 7, 512, 1, 1, 1, 0, 0 },
    { "layer4 3x3", 2, 512, 7, 7, 512, 3, 3, 1, 1, 1 },
    { "layer4 1x1 expand", 3, 512, 7, 7, 2048, 1, 1, 1, 0, 0 },
  } },
  { "Inception v3 (299x299)", {
    { "Conv2d_1a 3x3 s2", 1, 3, 299, 299, 32, 3, 3, 2, 0, 0 },
    { "Conv2d_2a 3x3", 1, 32, 149, 149, 32, 3, 3, 1, 0, 0 },
    { "Conv2d_2b 3x3", 1, 32, 147, 147, 64, 3, 3, 1, 1, 1 },
    { "Conv2d_3b 1x1", 1, 64, 73, 73, 80, 1, 1, 1, 0, 0 },
    { "Conv2d_4a 3x3", 1, 80, 73, 73, 192, 3, 3, 1, 0, 0 },
    { "Mixed_5b 1x1 ->64", 2, 192, 35, 35, 64, 1, 1, 1, 0, 0 },
    { "Mixed_5b 1x1 ->48", 1, 192, 35, 35, 48, 1, 1, 1, 0, 0 },
    { "Mixed_5b pool 1x1", 1, 192, 35, 35, 32, 1, 1, 1, 0, 0 },
    { "Mixed_5x 5x5", 3, 48, 35, 35, 64, 5, 5, 1, 2, 2 },
    { "Mixed_5x 3x3 64->96", 3, 64, 35, 35, 96, 3, 3, 1, 1, 1 },
    { "Mixed_5x 3x3 96->96", 3, 96, 35, 35, 96, 3, 3, 1, 1, 1 },
    { "Mixed_5c 1x1 ->64", 3, 256, 35, 35, 64, 1, 1, 1, 0, 0 },
    { "Mixed_5c 1x1 ->48", 1, 256, 35, 35, 48, 1, 1, 1, 0, 0 },
    { "Mixed_5d 1x1 ->64", 3, 288, 35, 35, 64, 1, 1, 1, 0, 0 },
    { "Mixed_5d 1x1 ->48", 1, 288, 35, 35, 48, 1, 1, 1, 0, 0 },
    { "Mixed_6a 3x3 s2", 1, 288, 35, 35, 384, 3, 3, 2, 0, 0 },
    { "Mixed_6a 3x3 s2 dbl", 1, 96, 35, 35, 96, 3, 3, 2, 0, 0 },
    { "Mixed_6x 1x1 ->192", 10, 768, 17, 17, 192, 1, 1, 1, 0, 0 },
    { "Mixed_6b 1x1 ->128", 2, 768, 17, 17, 128, 1, 1, 1, 0, 0 },
    { "Mixed_6b 1x7 128", 3, 128, 17, 17, 128, 1, 7, 1, 0, 3 },
    { "Mixed_6b 7x1 128", 3, 128, 17, 17, 128, 7, 1, 1, 3, 0 },
    { "Mixed_6b 7x1 ->192", 1, 128, 17, 17, 192, 7, 1, 1, 3, 0 },
    { "Mixed_6b 1x7 ->192", 1, 128, 17, 17, 192, 1, 7, 1, 0, 3 },
    { "Mixed_6c/d 1x1 ->160", 4, 768, 17, 17, 160, 1, 1, 1, 0, 0 },
    { "Mixed_6c/d 1x7 160", 6, 160, 17, 17, 160, 1, 7, 1, 0, 3 },
    { "Mixed_6c/d 7x1 160", 6, 160, 17, 17, 160, 7, 1, 1, 3, 0 },
    { "Mixed_6c/d 7x1 ->192", 2, 160, 17, 17, 192, 7, 1, 1, 3, 0 },
    { "Mixed_6c/d 1x7 ->192", 2, 160, 17, 17, 192, 1, 7, 1, 0, 3 },
    { "Mixed_6e/7a 1x7 192", 4, 192, 17, 17, 192, 1, 7, 1, 0, 3 },
    { "Mixed_6e/7a 7x1 192", 4, 192, 17, 17, 192, 7, 1, 1, 3, 0 },
    { "Mixed_7a 3x3 s2 ->320", 1, 192, 17, 17, 320, 3, 3, 2, 0, 0 },
    { "Mixed_7a 3x3 s2 ->192", 1, 192, 17, 17, 192, 3, 3, 2, 0, 0 },
    { "Mixed_7b 1x1 ->320", 1, 1280, 8, 8, 320, 1, 1, 1, 0, 0 },
    { "Mixed_7b 1x1 ->384", 1, 1280, 8, 8, 384, 1, 1, 1, 0, 0 },
    { "Mixed_7b 1x1 ->448", 1, 1280, 8, 8, 448, 1, 1, 1, 0, 0 },
    { "Mixed_7b pool 1x1", 1, 1280, 8, 8, 192, 1, 1, 1, 0, 0 },
    { "Mixed_7x 1x3", 4, 384, 8, 8, 384, 1, 3, 1, 0, 1 },
    { "Mixed_7x 3x1", 4, 384, 8, 8, 384, 3, 1, 1, 1, 0 },
    { "Mixed_7x 3x3 448->384", 2, 448, 8, 8, 384, 3, 3, 1, 1, 1 },
    { "Mixed_7c 1x1 ->320", 1, 2048, 8, 8, 320, 1, 1, 1, 0, 0 },
    { "Mixed_7c 1x1 ->384", 1, 2048, 8, 8, 384, 1, 1, 1, 0, 0 },
    { "Mixed_7c 1x1 ->448", 1, 2048, 8, 8, 448, 1, 1, 1, 0, 0 },
    { "Mixed_7c pool 1x1", 1, 2048, 8, 8, 192, 1, 1, 1, 0, 0 },
  } },
  { "AlexNet (224x224)", {
    { "features.0 11x11 s4", 1, 3, 224, 224, 64, 11, 11, 4, 2, 2 },
    { "features.3 5x5", 1, 64, 27, 27, 192, 5, 5, 1, 2, 2 },
    { "features.6 3x3", 1, 192, 13, 13, 384, 3, 3, 1, 1, 1 },
    { "features.8 3x3", 1, 384, 13, 13, 256, 3, 3, 1, 1, 1 },
    { "features.10 3x3", 1, 256, 13, 13, 256, 3, 3, 1, 1, 1 },
  } },
  { "SqueezeNet 1.1 (224x224)", {
    { "fire2-3 squeeze", 1, 64, 55, 55, 16, 1, 1, 1, 0, 0 },
    { "fire3 squeeze", 1, 128, 55, 55, 16, 1, 1, 1, 0, 0 },
    { "fire2-3 expand 1x1", 2, 16, 55, 55, 64, 1, 1, 1, 0, 0 },
    { "fire2-3 expand 3x3", 2, 16, 55, 55, 64, 3, 3, 1, 1, 1 },
    { "fire4-5 squeeze", 2, 128, 27, 27, 32, 1, 1, 1, 0, 0 },
    { "fire4-5 expand 1x1", 2, 32, 27, 27, 128, 1, 1, 1, 0, 0 },
    { "fire4-5 expand 3x3", 2, 32, 27, 27, 128, 3, 3, 1, 1, 1 },
    { "fire6-7 squeeze", 1, 256, 13, 13, 48, 1, 1, 1, 0, 0 },
    { "fire6-7 expand 1x1", 2, 48, 13, 13, 192, 1, 1, 1, 0, 0 },
    { "fire6-7 expand 3x3", 2, 48, 13, 13, 192, 3, 3, 1, 1, 1 },
    { "fire8-9 expand 1x1", 2, 64, 13, 13, 256, 1, 1, 1, 0, 0 },
    { "fire8-9 expand 3x3", 2, 64, 13, 13, 256, 3, 3, 1, 1, 1 },
    { "classifier", 1, 512, 13, 13, 1000, 1, 1, 1, 0, 0 },
  } },
  -- depthwise (groups = channels): no matrix product to compare with ("-");
  -- GF/s counts 2*9 flops per output
  { "MobileNet v2 depthwise 3x3 (224x224)", {
    { "features.1 dw", 1, 32, 112, 112, 32, 3, 3, 1, 1, 1, 32 },
    { "features.2 dw s2", 1, 96, 112, 112, 96, 3, 3, 2, 1, 1, 96 },
    { "features.3 dw", 1, 144, 56, 56, 144, 3, 3, 1, 1, 1, 144 },
    { "features.4 dw s2", 1, 144, 56, 56, 144, 3, 3, 2, 1, 1, 144 },
    { "features.5-6 dw", 2, 192, 28, 28, 192, 3, 3, 1, 1, 1, 192 },
    { "features.7 dw s2", 1, 192, 28, 28, 192, 3, 3, 2, 1, 1, 192 },
    { "features.8-11 dw", 4, 384, 14, 14, 384, 3, 3, 1, 1, 1, 384 },
    { "features.12-13 dw", 2, 576, 14, 14, 576, 3, 3, 1, 1, 1, 576 },
    { "features.14 dw s2", 1, 576, 14, 14, 576, 3, 3, 2, 1, 1, 576 },
    { "features.15-17 dw", 3, 960, 7, 7, 960, 3, 3, 1, 1, 1, 960 },
  } },
}

-- conv + ReLU: the kernel's fused epilogue against conv, then core.act
local fused_layers = {
  { "ResNet layer1 3x3", 64, 56, 56, 64, 3, 3, 1, 1, 1, 1 },
  { "ResNet layer1 1x1 expand", 64, 56, 56, 256, 1, 1, 1, 0, 0, 1 },
  { "ResNet layer3 3x3", 256, 14, 14, 256, 3, 3, 1, 1, 1, 1 },
  { "MobileNet 1x1 expand", 24, 56, 56, 144, 1, 1, 1, 0, 0, 1 },
  { "MobileNet dw 3x3", 144, 56, 56, 144, 3, 3, 1, 1, 1, 144 },
}

-- The stems: 3 input planes, bias and the net's activation fused, the
-- direct path (core/convdirect.c, the automatic choice) beside im2col + the
-- product forced (algo "im2col").
-- name, Cin, H, W, Cout, k, stride, pad, act, act a, act b
local stem_layers = {
  { "ResNet-50 conv1", 3, 224, 224, 64, 7, 2, 3, "relu" },
  { "GoogLeNet conv1", 3, 224, 224, 64, 7, 2, 3, "relu" },
  { "Inception v3 Conv2d_1a", 3, 299, 299, 32, 3, 2, 0, "relu" },
  { "MobileNet v2 features.0", 3, 224, 224, 32, 3, 2, 1, "clamp", 0, 6 },
  { "SqueezeNet 1.1 features.0", 3, 224, 224, 64, 3, 2, 0, "relu" },
  { "AlexNet features.0", 3, 224, 224, 64, 11, 4, 2, "relu" },
  { "ShuffleNet v2 conv1", 3, 224, 224, 24, 3, 2, 1, "relu" },
}

-- Median time of fn over repeated runs (at least 5, about `budget` seconds).
local function median_time(fn)
  fn()
  local t0 = ember.now()
  fn()
  local once = math.max(ember.now() - t0, 1e-6)
  local reps = math.max(5, math.min(200, math.floor(budget / once)))
  local times = {}
  for i = 1, reps do
    local t = ember.now()
    fn()
    times[i] = ember.now() - t
  end
  table.sort(times)
  return times[(reps + 1) // 2]
end

-- Median times of fa and fb, run alternately (a shared machine drifts).
local function median_pair(fa, fb)
  fa(); fb()
  local t0 = ember.now()
  fa(); fb()
  local once = math.max(ember.now() - t0, 1e-6)
  local reps = math.max(5, math.min(200, math.floor(2 * budget / once)))
  local ta, tb = {}, {}
  for i = 1, reps do
    local t = ember.now()
    fa()
    ta[i] = ember.now() - t
    t = ember.now()
    fb()
    tb[i] = ember.now() - t
  end
  table.sort(ta)
  table.sort(tb)
  return ta[(reps + 1) // 2], tb[(reps + 1) // 2]
end

core.setNumThreads(threads)
ember.manualSeed(1)
print(string.format("ember conv2d (%d threads) vs OpenBLAS sgemm (one thread), batch 1, median times",
                    threads))

for _, net in ipairs(nets) do
  local name, layers = net[1], net[2]
  if only and not name:find(only) then goto next end
  print(string.format("\n%s\n%-22s %3s %-15s %-9s %14s %8s %8s %8s %6s %7s %7s %6s", name, "layer", "x",
                      "input", "kernel", "M x N x K", "ms", "GF/s", "sgemm", "ratio", "im2col", "wino",
                      "algo"))
  local total, total_gemm, total_im2col, flops = 0, 0, 0, 0
  for _, l in ipairs(layers) do
    local lname, count, cin, h, w, cout, kh, kw, s, ph, pw, g = table.unpack(l)
    g = g or 1
    local m = ember.nn.SpatialConvolution(cin, cout, kw, kh, s, s, pw, ph, g):noBias()
    local x = ember.rand(1, cin, h, w)
    local ho, wo = (h + 2 * ph - kh) // s + 1, (w + 2 * pw - kw) // s + 1
    local M, N, K = cout // g, ho * wo, cin // g * kh * kw
    local t = median_time(function() m:forward(x) end)
    local f = 2 * M * N * K * g
    local tg = t   -- depthwise: no product to compare with
    if g == 1 then
      local A, B, C = ember.rand(M, K), ember.rand(K, N), ember.Tensor()
      tg = median_time(function() core.sgemm(A, B, C) end)
    end
    local ti, tw, algo = t, nil, "im2col"
    if (kh == 3 or kh == 5) and kw == kh and s == 1 and g == 1 then
      -- the Winograd auto would take: F(4x4,3x3), or F(2x2,...) on 7x7 and
      -- 8x8 outputs and for 5x5 kernels ("wino2")
      local two = kh == 5 or ((ho + 3) // 4) * ((wo + 3) // 4) < 16
      algo = m.wino_weight and m.wino_weight:nElement() > 0 and (two and "wino2" or "wino") or "im2col"
      m.algo = "im2col"
      ti = median_time(function() m:forward(x) end)
      m.algo = two and "winograd2" or "winograd"
      tw = median_time(function() m:forward(x) end)
      m.algo = nil
    end
    total, total_gemm, flops = total + count * t, total_gemm + count * tg, flops + count * f
    total_im2col = total_im2col + count * ti
    print(string.format("%-22s %3d %-15s %-9s %14s %8.3f %8.1f %8s %6s %7s %7s %6s", lname, count,
                        cin .. "x" .. h .. "x" .. w, kh .. "x" .. kw .. " s" .. s,
                        M .. "x" .. N .. "x" .. K, t * 1e3, f / t / 1e9,
                        g == 1 and string.format("%.1f", f / tg / 1e9) or "-",
                        g == 1 and string.format("%.2f", t / tg) or "-",
                        tw and string.format("%.1f", f / ti / 1e9) or "-",
                        tw and string.format("%.1f", f / tw / 1e9) or "-", tw and algo or ""))
  end
  print(string.format("%-22s %3s %-15s %-9s %14s %8.2f %8.1f %8.1f %6.2f %7s", "all convolutions", "",
                      "", "", string.format("%.2f GFLOP", flops / 1e9), total * 1e3,
                      flops / total / 1e9, flops / total_gemm / 1e9, total / total_gemm,
                      string.format("%.2f ms", total_im2col * 1e3)))
  ::next::
end

if not only or ("fused ReLU"):find(only) then
  print(string.format("\nconv + ReLU, fused epilogue vs conv then ReLU\n%-26s %-15s %-12s %10s %10s %7s",
                      "layer", "input", "kernel", "fused ms", "apart ms", "gain"))
  local tf_all, ta_all = 0, 0
  for _, l in ipairs(fused_layers) do
    local lname, cin, h, w, cout, kh, kw, s, ph, pw, g = table.unpack(l)
    local m = ember.nn.SpatialConvolution(cin, cout, kw, kh, s, s, pw, ph, g)
    local x, y = ember.rand(1, cin, h, w), ember.Tensor()
    local tf = median_time(function()
      local t, l_, b, r = m:_pads()
      core.conv2d(x, y, m.weight, m.bias, m.finput, s, s, l_, r, t, b, 1, 1, g, "relu", nil, nil, nil,
                  m:_winograd())
    end)
    local ta = median_time(function()
      local t, l_, b, r = m:_pads()
      core.conv2d(x, y, m.weight, m.bias, m.finput, s, s, l_, r, t, b, 1, 1, g, nil, nil, nil, nil,
                  m:_winograd())
      core.act(y, y, "relu")
    end)
    tf_all, ta_all = tf_all + tf, ta_all + ta
    print(string.format("%-26s %-15s %-12s %10.3f %10.3f %6.1f%%", lname, cin .. "x" .. h .. "x" .. w,
                        kh .. "x" .. kw .. " s" .. s .. (g > 1 and " dw" or ""), tf * 1e3, ta * 1e3,
                        (ta - tf) / ta * 100))
  end
  print(string.format("%-26s %-15s %-12s %10.3f %10.3f %6.1f%%", "all", "", "", tf_all * 1e3,
                      ta_all * 1e3, (ta_all - tf_all) / ta_all * 100))
end

if not only or ("stems"):find(only) then
  print(string.format("\nstems: direct convolution vs im2col + product (bias and activation fused)\n" ..
                      "%-26s %-15s %-10s %9s %7s %9s %7s %6s", "layer", "input", "kernel",
                      "im2col ms", "GF/s", "direct ms", "GF/s", "gain"))
  local to_all, td_all = 0, 0
  for _, l in ipairs(stem_layers) do
    local lname, cin, h, w, cout, k, s, pad, act, a, b = table.unpack(l)
    local m = ember.nn.SpatialConvolution(cin, cout, k, k, s, s, pad, pad)
    m.fusedAct, m.fusedA, m.fusedB = act, a, b
    local x = ember.rand(1, cin, h, w)
    local ho, wo = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    local f = 2 * cout * ho * wo * cin * k * k
    local to, td = median_pair(function() m.algo = "im2col"; m:forward(x) end,
                               function() m.algo = nil; m:forward(x) end)
    to_all, td_all = to_all + to, td_all + td
    print(string.format("%-26s %-15s %-10s %9.3f %7.1f %9.3f %7.1f %5.2fx", lname,
                        cin .. "x" .. h .. "x" .. w, k .. "x" .. k .. " s" .. s, to * 1e3, f / to / 1e9,
                        td * 1e3, f / td / 1e9, to / td))
  end
  print(string.format("%-26s %-15s %-10s %9.3f %7s %9.3f %7s %5.2fx", "all", "", "", to_all * 1e3, "",
                      td_all * 1e3, "", to_all / td_all))
end
