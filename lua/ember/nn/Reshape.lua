-- nn/Reshape.lua -- Torch7's nn.Reshape(sizes..., [batchMode]): the input
-- seen with the given sizes, keeping a leading batch dim when the input has
-- more elements (or when batchMode is true; false forbids a batch). As in
-- Torch7, an input of exactly the sizes' element count whose first dim is 1
-- counts as a batch of one.

local class = require "ember.class"
local View = require "ember.nn.View"

local Reshape = class("nn.Reshape", View)

function Reshape:__init(...)
  local args = { ... }
  local batchMode
  if type(args[#args]) == "boolean" then batchMode = table.remove(args) end
  if #args == 1 and type(args[1]) == "table" then args = { table.unpack(args[1]) } end
  for _, s in ipairs(args) do
    if math.type(s) ~= "integer" or s < 1 then
      error("nn.Reshape(sizes..., [batchMode]): sizes must be positive integers, got "
            .. tostring(s), 2)
    end
  end
  View.__init(self, table.unpack(args))
  self.batchMode = batchMode
end

function Reshape:updateOutput(input)
  local n, shape = input:nElement(), self._shape
  local batch = not (self.batchMode == false or
                     (self.batchMode == nil and n == self.numElements and input:size(1) ~= 1))
  local k = 0
  if batch then
    k = 1
    shape[1] = input:size(1)
  end
  for i, s in ipairs(self.size) do shape[k + i] = s end
  for i = k + #self.size + 1, #shape do shape[i] = nil end
  local want = (batch and input:size(1) or 1) * self.numElements
  if want ~= n then
    error(string.format("input %s (%d elements) cannot be reshaped to %s (%d elements)",
                        input:shape(), n, table.concat(shape, "x"), want), 0)
  end
  return self:viewInto(input, shape)
end

function Reshape:__repr()
  return "Reshape(" .. table.concat(self.size, "x") .. ")"
end

return Reshape
