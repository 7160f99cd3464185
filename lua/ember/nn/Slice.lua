-- nn/Slice.lua -- nn.Slice(dims, starts, ends, steps): ONNX Slice with constant
-- bounds. dims are 1-based, starts/ends 0-based as ONNX (ends exclusive,
-- negatives count from the end, out-of-range values clamped), steps nonzero.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local Gather = require "ember.nn.Gather"

local dim_of, size_of, narrow_view = core.methods.dim, core.methods.size, core.narrow_view

local Slice = class("nn.Slice", Module)

local function ints(v, what)
  if type(v) ~= "table" then error("nn.Slice: " .. what .. " must be a list of integers", 3) end
  for _, x in ipairs(v) do
    if math.type(x) ~= "integer" then error("nn.Slice: " .. what .. " must be integers", 3) end
  end
  return { table.unpack(v) }
end

function Slice:__init(dims, starts, ends, steps)
  Module.__init(self)
  self.dims, self.starts, self.ends = ints(dims, "dims"), ints(starts, "starts"), ints(ends, "ends")
  self.steps = steps and ints(steps, "steps") or {}
  if #self.starts ~= #self.dims or #self.ends ~= #self.dims then
    error("nn.Slice: dims, starts and ends must have the same length", 2)
  end
  for i = 1, #self.dims do
    self.steps[i] = self.steps[i] or 1
    if self.steps[i] == 0 then error("nn.Slice: steps must be nonzero", 2) end
  end
end

local function clamp(v, lo, hi)
  if v < lo then return lo elseif v > hi then return hi end
  return v
end

-- The 1-based positions one dim keeps (ONNX's clamping rules).
function Slice.positions(n, start, stop, step)
  if start < 0 then start = start + n end
  if stop < 0 then stop = stop + n end
  local idx = {}
  if step > 0 then
    start, stop = clamp(start, 0, n), clamp(stop, 0, n)
    for i = start, stop - 1, step do idx[#idx + 1] = i + 1 end
  else
    start, stop = clamp(start, -1, n - 1), clamp(stop, -1, n - 1)
    for i = start, stop + 1, step do idx[#idx + 1] = i + 1 end
  end
  return idx
end

-- Step 1 (a run of positions, by arithmetic: no list per forward): the first
-- 1-based position and the count; other steps: also the positions.
function Slice.span(n, start, stop, step)
  if step ~= 1 then
    local idx = Slice.positions(n, start, stop, step)
    return idx[1], #idx, idx
  end
  if start < 0 then start = start + n end
  if stop < 0 then stop = stop + n end
  start, stop = clamp(start, 0, n), clamp(stop, 0, n)
  return start + 1, stop > start and stop - start or 0
end

function Slice:updateOutput(input)
  local nd = dim_of(input)
  if #self.dims == 1 and self.steps[1] == 1 then
    -- one run of positions (ShuffleNet's channel split): a view when
    -- contiguous, with no tensor made per forward
    local dim = self.dims[1]
    local d = dim < 0 and nd + dim + 1 or dim
    if d >= 1 and d <= nd then
      local first, count = Slice.span(size_of(input, d), self.starts[1], self.ends[1], 1)
      if count > 0 then
        if rawequal(self.output, input) then self.output = core.tensor() end
        if narrow_view(input, self.output, d, first, count) then return self.output end
      end
    end
  end
  local x = input
  for i, dim in ipairs(self.dims) do
    local d = dim < 0 and nd + dim + 1 or dim
    if d < 1 or d > nd then error(string.format("dim %d out of range for %s", dim, input:shape()), 0) end
    local first, count, idx = Slice.span(x:size(d), self.starts[i], self.ends[i], self.steps[i])
    if count == 0 then
      local size = x:size()
      size[d] = 0
      self.output = core.tensor(table.unpack(size))
      return self.output
    end
    if not idx then
      x = x:narrow(d, first, count)
    else
      x = Gather.take(x, core.tensor(), d, idx)
    end
  end
  if x:isContiguous() then
    -- a contiguous part of the input (channels of one image, rows): a view
    -- of it, as nn.Narrow, instead of a copy
    if rawequal(self.output, input) then self.output = core.tensor() end
    return core.view_into(x, self.output, x:size())
  end
  if rawequal(self.output, input) then self.output = core.tensor() end
  self.output:resizeAs(x):copy(x)
  return self.output
end

function Slice:__repr()
  return "Slice(dims {" .. table.concat(self.dims, ", ") .. "}, starts {" .. table.concat(self.starts, ", ")
         .. "}, ends {" .. table.concat(self.ends, ", ") .. "})"
end

return Slice
