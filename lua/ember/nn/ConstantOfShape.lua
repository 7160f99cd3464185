-- nn/ConstantOfShape.lua -- nn.ConstantOfShape([value]): a tensor filled with
-- value whose sizes are the values of the input (ONNX ConstantOfShape with a
-- shape computed at run time).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local ConstantOfShape = class("nn.ConstantOfShape", Module)

function ConstantOfShape:__init(value)
  Module.__init(self)
  if value ~= nil and type(value) ~= "number" then error("nn.ConstantOfShape([value]): value must be a number", 2) end
  self.value = value or 0
end

function ConstantOfShape:updateOutput(input)
  local v = input:nElement() > 0 and input:contiguous():view(-1):totable() or {}
  local total = 1
  for i, x in ipairs(v) do
    v[i] = math.tointeger(x)
    if not v[i] or v[i] < 0 then error("shape value " .. tostring(x) .. " is not a size", 0) end
    total = total * v[i]
  end
  if total > 2 ^ 31 then error("output of " .. total .. " elements is too large", 0) end
  if #v == 0 then
    self.output:resize(1):fill(self.value)
    self.output = self.output:view({})
  else
    self.output:resize(table.unpack(v)):fill(self.value)
  end
  return self.output
end

function ConstantOfShape:__repr() return "ConstantOfShape(" .. self.value .. ")" end

return ConstantOfShape
