-- nn/Squeeze.lua -- nn.Squeeze([dims]): drops the given 1-based dims (each of
-- size 1), or every dim of size 1 (ONNX Squeeze). A view when contiguous.

local class = require "ember.class"
local View = require "ember.nn.View"
local Module = require "ember.nn.Module"

local Squeeze = class("nn.Squeeze", View)

function Squeeze:__init(dims)
  Module.__init(self)
  if dims ~= nil and type(dims) ~= "table" then error("nn.Squeeze([dims]): dims must be a list", 2) end
  self.dims = dims and #dims > 0 and { table.unpack(dims) } or nil
  self._shape = {}
end

function Squeeze:updateOutput(input)
  local nd, size, drop = input:dim(), input:size(), {}
  if self.dims then
    for _, d in ipairs(self.dims) do
      local p = d < 0 and nd + d + 1 or d
      if p < 1 or p > nd then error(string.format("dim %d out of range for %s", d, input:shape()), 0) end
      if size[p] ~= 1 then error(string.format("dim %d of %s has size %d, not 1", p, input:shape(), size[p]), 0) end
      drop[p] = true
    end
  else
    for d = 1, nd do if size[d] == 1 then drop[d] = true end end
  end
  local s = {}
  for d = 1, nd do if not drop[d] then s[#s + 1] = size[d] end end
  return self:viewInto(input, s)
end

function Squeeze:__repr()
  return "Squeeze(" .. (self.dims and ("{" .. table.concat(self.dims, ", ") .. "}") or "") .. ")"
end

return Squeeze
