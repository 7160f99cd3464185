-- nn/CSubTable.lua -- Torch7's nn.CSubTable(): {a, b} -> a - b, broadcasting
-- as NumPy (ONNX Sub).

local class = require "ember.class"
local Module = require "ember.nn.Module"
local CAddTable = require "ember.nn.CAddTable"

local CSubTable = class("nn.CSubTable", Module)

function CSubTable:updateOutput(input)
  CAddTable.checkTable(input)
  if #input ~= 2 then error("expected a table of 2 tensors, got " .. #input, 0) end
  self.output = input[1] - input[2]
  return self.output
end

return CSubTable
