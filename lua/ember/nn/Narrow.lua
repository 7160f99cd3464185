-- nn/Narrow.lua -- Torch7's nn.Narrow(dimension, offset, [length = 1]): the
-- slice offset .. offset + length - 1 of dim, as a view sharing the input's
-- memory (Torch7 copied). Negative dimension / offset count from the end; a
-- negative length leaves that many - 1 elements out at the end, as Torch7.

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Narrow = class("nn.Narrow", Module)

function Narrow:__init(dimension, offset, length)
  Module.__init(self)
  length = length or 1
  for _, v in ipairs{ dimension, offset, length } do
    if math.type(v) ~= "integer" or v == 0 then
      error("nn.Narrow(dimension, offset, [length]): expected nonzero integers, got "
            .. tostring(v), 2)
    end
  end
  self.dimension, self.index, self.length = dimension, offset, length
end

function Narrow:updateOutput(input)
  local nd = input:dim()
  local dim = self.dimension < 0 and nd + self.dimension + 1 or self.dimension
  if dim < 1 or dim > nd then
    error(string.format("dimension %d out of range for input %s", self.dimension, input:shape()), 0)
  end
  local size = input:size(dim)
  local index = self.index < 0 and size + self.index + 1 or self.index
  local length = self.length < 0 and size - index + self.length + 2 or self.length
  if index < 1 or length < 1 or index + length - 1 > size then
    error(string.format("elements %d to %d of dim %d do not fit input %s (size %d)",
                        index, index + length - 1, dim, input:shape(), size), 0)
  end
  self.output = input:narrow(dim, index, length)
  return self.output
end

function Narrow:__repr()
  return string.format("Narrow(%d, %d, %d)", self.dimension, self.index, self.length)
end

return Narrow
