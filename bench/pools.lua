-- bench/pools.lua -- the pooling and depthwise layers of the small nets (batch 1):
-- median ms on one thread (CPU time) and on two (wall), and GB/s of input + output.
-- ./ember bench/pools.lua [seconds per measurement=0.2] [layer name pattern] [isa: c, avx2]
--
-- These layers do little arithmetic per byte: the GB/s column (input and
-- output bytes over the 2-thread time) shows how near memory speed they run.

local ember = require "ember"
local core = ember.core

local budget = tonumber(arg and arg[1]) or 0.2
local only = arg and arg[2]
if arg and arg[3] then core.setISA(arg[3]) end

-- name, C, H, W, kernel, stride, pad, ceil
local maxpools = {
  { "SqueezeNet pool1 s2 ceil", 64, 111, 111, 3, 2, 0, true },
  { "SqueezeNet pool3 s2 ceil", 128, 55, 55, 3, 2, 0, true },
  { "SqueezeNet pool5 s2 ceil", 256, 27, 27, 3, 2, 0, true },
  { "ResNet maxpool s2 p1", 64, 112, 112, 3, 2, 1, false },
  { "GoogLeNet pool1 s2 ceil", 64, 112, 112, 3, 2, 0, true },
  { "GoogLeNet pool2 s2 ceil", 192, 56, 56, 3, 2, 0, true },
  { "GoogLeNet 3a pool s1 p1", 192, 28, 28, 3, 1, 1, true },
  { "GoogLeNet 4a pool s1 p1", 480, 14, 14, 3, 1, 1, true },
  { "Inception v3 pool s2", 64, 147, 147, 3, 2, 0, false },
  { "Inception v3 6a pool s2", 288, 35, 35, 3, 2, 0, false },
  { "AlexNet pool1 s2", 64, 55, 55, 3, 2, 0, false },
}
local avgpools = {
  { "Inception v3 5b avg s1 p1", 192, 35, 35, 3, 1, 1, false },
  { "Inception v3 6b avg s1 p1", 768, 17, 17, 3, 1, 1, false },
  { "Inception v3 7b avg s1 p1", 1280, 8, 8, 3, 1, 1, false },
}
-- name, C, H, W, stride, activation ("clamp" is ReLU6)
local depthwise = {
  { "MobileNet v2 f1 dw", 32, 112, 112, 1, "clamp" },
  { "MobileNet v2 f2 dw s2", 96, 112, 112, 2, "clamp" },
  { "MobileNet v2 f3 dw", 144, 56, 56, 1, "clamp" },
  { "MobileNet v2 f4 dw s2", 144, 56, 56, 2, "clamp" },
  { "MobileNet v2 f5 dw", 192, 28, 28, 1, "clamp" },
  { "MobileNet v2 f7 dw s2", 192, 28, 28, 2, "clamp" },
  { "MobileNet v2 f8 dw", 384, 14, 14, 1, "clamp" },
  { "MobileNet v2 f12 dw", 576, 14, 14, 1, "clamp" },
  { "MobileNet v2 f14 dw s2", 576, 14, 14, 2, "clamp" },
  { "MobileNet v2 f15 dw", 960, 7, 7, 1, "clamp" },
  { "ShuffleNet v2 s2 dw s2", 58, 56, 56, 2, nil },
  { "ShuffleNet v2 s2 dw", 58, 28, 28, 1, nil },
  { "ShuffleNet v2 s3 dw", 116, 14, 14, 1, nil },
  { "ShuffleNet v2 s4 dw s2", 232, 14, 14, 2, nil },
}

-- Median of fn's times by clock (ember.now: wall; os.clock: the process's CPU
-- time, the thread's own when one thread runs).
local function median(fn, clock)
  fn()
  local t0 = clock()
  fn()
  local once = math.max(clock() - t0, 1e-6)
  local reps = math.max(7, math.min(400, math.floor(budget / once)))
  local times = {}
  for i = 1, reps do
    local t = clock()
    fn()
    times[i] = clock() - t
  end
  table.sort(times)
  return times[(reps + 1) // 2]
end

-- Every layer is timed on one thread first, then on two: once a team of two
-- has run, its idle worker spins for a while and os.clock would count it.
local layers = {}
local function add(name, shape, layer, bytes, fn)
  if only and not name:find(only) then return end
  layers[#layers + 1] = { name = name, shape = shape, layer = layer, bytes = bytes, fn = fn }
end

ember.manualSeed(1)
for _, kind in ipairs { { "max", maxpools, core.maxpool2d }, { "avg", avgpools, core.avgpool2d } } do
  for _, l in ipairs(kind[2]) do
    local name, c, h, w, k, s, p, ceil = table.unpack(l)
    local x, y, pool = ember.rand(1, c, h, w), core.tensor(), kind[3]
    pool(x, y, k, k, s, s, p, p, ceil)
    add(name, c .. "x" .. h .. "x" .. w, kind[1] .. " " .. k .. "x" .. k .. " s" .. s,
        4 * (x:nElement() + y:nElement()), function() pool(x, y, k, k, s, s, p, p, ceil) end)
  end
end
for _, l in ipairs(depthwise) do
  local name, c, h, w, s, act = table.unpack(l)
  local x, y = ember.rand(1, c, h, w), core.tensor()
  local wt, b = ember.rand(c, 1, 3, 3), ember.rand(c)
  local function run() core.conv2d(x, y, wt, b, nil, s, s, 1, 1, 1, 1, 1, 1, c, act, 0, 6) end
  run()
  add(name, c .. "x" .. h .. "x" .. w, "dw 3x3 s" .. s .. (act and " relu6" or ""),
      4 * (x:nElement() + y:nElement()), run)
end

core.setNumThreads(1)
for _, l in ipairs(layers) do l.t1 = median(l.fn, os.clock) end
core.setNumThreads(2)
for _, l in ipairs(layers) do l.t2 = median(l.fn, ember.now) end

print(string.format("pooling and depthwise, batch 1, isa %s: 1-thread CPU ms, 2-thread wall ms, GB/s (2 threads)",
                    core.getISA()))
print(string.format("%-28s %-13s %-16s %8s %8s %7s", "layer", "input", "kernel", "1t ms", "2t ms", "GB/s"))
local sum1, sum2 = 0, 0
for _, l in ipairs(layers) do
  sum1, sum2 = sum1 + l.t1, sum2 + l.t2
  print(string.format("%-28s %-13s %-16s %8.3f %8.3f %7.1f", l.name, l.shape, l.layer, l.t1 * 1e3,
                      l.t2 * 1e3, l.bytes / l.t2 / 1e9))
end
print(string.format("%-28s %-13s %-16s %8.3f %8.3f", "all (each once)", "", "", sum1 * 1e3, sum2 * 1e3))
