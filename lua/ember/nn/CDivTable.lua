-- nn/CDivTable.lua -- Torch7's nn.CDivTable([integer]): {a, b} -> a / b,
-- broadcasting as NumPy (ONNX Div; integer: truncated as on integer types).

local class = require "ember.class"
local Module = require "ember.nn.Module"
local CAddTable = require "ember.nn.CAddTable"

local CDivTable = class("nn.CDivTable", Module)

-- integer = true: the quotient truncated toward zero (ONNX Div on integers).
function CDivTable:__init(integer)
  Module.__init(self)
  self.integer = integer and true or false
end

function CDivTable:updateOutput(input)
  CAddTable.checkTable(input)
  if #input ~= 2 then error("expected a table of 2 tensors, got " .. #input, 0) end
  self.output = input[1] / input[2]
  if self.integer and self.output:nElement() > 0 then
    local v = self.output:contiguous():view(-1):totable()
    for i, x in ipairs(v) do
      if x ~= x or x == math.huge or x == -math.huge then error("integer division by zero", 0) end
      v[i] = x >= 0 and math.floor(x) or math.ceil(x)
    end
    self.output = require("ember.core").tensor(v):view(self.output:size())
  end
  return self.output
end

function CDivTable:__repr() return self.integer and "CDivTable(integer)" or "CDivTable" end

return CDivTable
