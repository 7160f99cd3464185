-- nn/Split.lua -- nn.Split(dim, sizes): a table of consecutive pieces of the
-- input along dim (ONNX Split; sizes a list, or a count of equal pieces).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Split = class("nn.Split", Module)

function Split:__init(dim, sizes)
  Module.__init(self)
  if math.type(dim) ~= "integer" or dim == 0 then error("nn.Split(dim, sizes): dim must be a nonzero integer", 2) end
  if math.type(sizes) == "integer" then
    if sizes < 1 then error("nn.Split(dim, sizes): count must be positive", 2) end
  elseif type(sizes) == "table" then
    for _, s in ipairs(sizes) do
      if math.type(s) ~= "integer" or s < 0 then error("nn.Split(dim, sizes): sizes must be non-negative integers", 2) end
    end
  else
    error("nn.Split(dim, sizes): sizes must be a count or a list", 2)
  end
  self.dim, self.sizes = dim, sizes
  self.output = {}
end

function Split:updateOutput(input)
  local nd = input:dim()
  local d = self.dim < 0 and nd + self.dim + 1 or self.dim
  if d < 1 or d > nd then error(string.format("dim %d out of range for %s", self.dim, input:shape()), 0) end
  local n, sizes = input:size(d), self.sizes
  if type(sizes) == "number" then
    local k = sizes
    local each = (n + k - 1) // k       -- ONNX 18: the last piece may be smaller
    sizes = {}
    for i = 1, k do sizes[i] = math.max(0, math.min(each, n - (i - 1) * each)) end
  end
  local total = 0
  for _, s in ipairs(sizes) do total = total + s end
  if total ~= n then
    error(string.format("split sizes {%s} add up to %d, but dim %d has size %d",
                        table.concat(sizes, ", "), total, d, n), 0)
  end
  local out, at = self.output, 1
  for i, s in ipairs(sizes) do
    out[i] = out[i] or require("ember.core").tensor()
    local piece = input:narrow(d, at, s)
    out[i]:resizeAs(piece):copy(piece)
    at = at + s
  end
  for i = #sizes + 1, #out do out[i] = nil end
  return out
end

function Split:__repr()
  return "Split(" .. self.dim .. ", " .. (type(self.sizes) == "table" and ("{" .. table.concat(self.sizes, ", ") .. "}") or self.sizes) .. ")"
end

return Split
