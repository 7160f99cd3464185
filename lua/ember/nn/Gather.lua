-- nn/Gather.lua -- nn.Gather(dim, indices[, keepdim]): the slices of the input at
-- the given 1-based positions along dim, in order (ONNX Gather with constant
-- indices). A single index without keepdim drops the dim, as ONNX's scalar index.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Gather = class("nn.Gather", Module)

-- Without indices, the input is a table {data, indices tensor} (0-based,
-- any shape, as ONNX; computed at run time, e.g. an embedding lookup).
function Gather:__init(dim, indices, keepdim)
  Module.__init(self)
  if math.type(dim) ~= "integer" or dim == 0 then
    error("nn.Gather(dim, indices): dim must be a nonzero integer, got " .. tostring(dim), 2)
  end
  if indices == nil then
    self.dim = dim
    return
  end
  if type(indices) == "number" then indices, keepdim = { indices }, false
  elseif type(indices) == "table" then keepdim = keepdim ~= false
  else error("nn.Gather(dim, indices): indices must be a number or a list", 2) end
  for _, i in ipairs(indices) do
    if math.type(i) ~= "integer" or i == 0 then
      error("nn.Gather(dim, indices): indices must be nonzero integers, got " .. tostring(i), 2)
    end
  end
  self.dim, self.indices, self.keepdim = dim, indices, keepdim
end

-- output = the slices of input at positions idx (1-based, already in range)
-- along 1-based dim d, as one contiguous tensor.
function Gather.take(input, output, d, idx)
  local size = input:size()
  size[d] = #idx
  output:resize(table.unpack(size))
  local j = 1
  while j <= #idx do
    -- runs of consecutive indices are copied as one narrow
    local k = j
    while k < #idx and idx[k + 1] == idx[k] + 1 do k = k + 1 end
    output:narrow(d, j, k - j + 1):copy(input:narrow(d, idx[j], k - j + 1))
    j = k + 1
  end
  return output
end

-- {data, indices}: the flat indices gathered, then their dims put in place of dim.
function Gather:_runtime(input)
  if type(input) ~= "table" or #input ~= 2 then error("expected a table {data, indices}", 0) end
  local data, ind = input[1], input[2]
  local nd = data:dim()
  local d = self.dim < 0 and nd + self.dim + 1 or self.dim
  if d < 1 or d > nd then error(string.format("dim %d out of range for %s", self.dim, data:shape()), 0) end
  local n, idx = data:size(d), {}
  local flat = ind:nElement() > 0 and ind:contiguous():view(-1):totable() or {}
  for j, v in ipairs(flat) do
    local i = math.tointeger(v)
    if not i or i < -n or i >= n then error(string.format("index %s out of range for size %d", tostring(v), n), 0) end
    idx[j] = (i < 0 and i + n or i) + 1
  end
  self._buf = self._buf or core.tensor()
  Gather.take(data, self._buf, d, idx)
  local size, s = data:size(), {}
  for k = 1, d - 1 do s[#s + 1] = size[k] end
  if ind:dim() > 0 then for _, v in ipairs(ind:size()) do s[#s + 1] = v end end
  for k = d + 1, nd do s[#s + 1] = size[k] end
  self.output = self._buf:view(#s > 0 and s or {})
  return self.output
end

function Gather:updateOutput(input)
  if not self.indices then return self:_runtime(input) end
  local nd = input:dim()
  local d = self.dim < 0 and nd + self.dim + 1 or self.dim
  if d < 1 or d > nd then error(string.format("dim %d out of range for %s", self.dim, input:shape()), 0) end
  local n, idx = input:size(d), {}
  for j, i in ipairs(self.indices) do
    local p = i < 0 and n + i + 1 or i
    if p < 1 or p > n then
      error(string.format("index %d out of range for size %d at dim %d", i, n, d), 0)
    end
    idx[j] = p
  end
  self._buf = self._buf or core.tensor()
  Gather.take(input, self.keepdim and self.output or self._buf, d, idx)
  if not self.keepdim then
    local size = input:size()
    table.remove(size, d)
    self.output = self._buf:view(size)
  end
  return self.output
end

function Gather:__repr()
  if not self.indices then return "Gather(" .. self.dim .. ", run-time indices)" end
  return "Gather(" .. self.dim .. ", {" .. table.concat(self.indices, ", ") .. "})"
end

return Gather
