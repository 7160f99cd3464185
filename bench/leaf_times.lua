-- bench/leaf_times.lua -- ember's time per layer inside a whole forward, for
-- bench/layercmp.py: each leaf module's forward is timed as the net runs.
--
--   ./ember bench/leaf_times.lua MODEL.onnx INPUT.npy THREADS RUNS
--
-- Prints "whole <ms>" (median forward, untimed leaves, measured first), then
-- one line per leaf in the order they ran, tab-separated: the times of each
-- run in microseconds (comma-separated), the module type, its kind (below),
-- its output shape and its weight's shape ("-" when it has none), and its
-- description.

local ember = require "ember"

local model, input, threads, runs = arg[1], arg[2], tonumber(arg[3]) or 2, tonumber(arg[4]) or 30
ember.setNumThreads(threads)
local g = ember.onnx.load(model)
local x = ember.load_npy(input)
local now = ember.now
for _ = 1, 3 do g:forward(x) end

local whole = {}
for i = 1, runs do
  local t = now()
  g:forward(x)
  whole[i] = now() - t
end
table.sort(whole)
print(string.format("whole %.3f", whole[(runs + 1) // 2] * 1e3))

local leaves, times = {}, {}
g:apply(function(m)
  if m.modules then return end
  local forward = m.updateOutput
  m.updateOutput = function(self, ...)
    local t = now()
    local out = forward(self, ...)
    t = now() - t
    local i = self._leafIndex
    if not i then
      leaves[#leaves + 1] = self
      i = #leaves
      self._leafIndex, times[i] = i, {}
    end
    local ts = times[i]
    ts[#ts + 1] = string.format("%.1f", t * 1e6)
    return out
  end
end)
for _ = 1, runs do g:forward(x) end

local function shape(t)
  return (t and t.size and t:nElement() > 0) and table.concat(t:size(), "x") or "-"
end
-- What bench/layercmp.py sums layers by: convolutions by kernel and stride.
local function kind(m, typename)
  if typename ~= "nn.SpatialConvolution" then return typename:gsub("^nn%.", "") end
  if m.groups > 1 and m.groups == m.nInputPlane then return "conv depthwise" end
  local k = m.kH .. "x" .. m.kW
  if m.nInputPlane / m.groups <= 4 then return "conv stem " .. k end
  if m.dW > 1 or m.dH > 1 then return "conv " .. k .. " strided" end
  return "conv " .. k .. (k == "3x3" and m.wino_weight and m.wino_weight:nElement() > 0 and
                          " winograd" or "")
end

for i, m in ipairs(leaves) do
  local desc = tostring(m):gsub("[\t\n]", " ")
  local typename = m.__typename or desc:match("^[%w%.]+")
  print(table.concat({ table.concat(times[i], ","), typename, kind(m, typename),
                       shape(m.output), shape(m.weight), desc }, "\t"))
end
