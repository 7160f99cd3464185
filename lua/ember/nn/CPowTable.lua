-- nn/CPowTable.lua -- nn.CPowTable(): {x, y} -> x^y elementwise with NumPy
-- broadcasting (ONNX Pow with a tensor exponent). Computed in Lua: meant for
-- the small tensors such exponents come with.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local CAddTable = require "ember.nn.CAddTable"

local CPowTable = class("nn.CPowTable", Module)

function CPowTable:updateOutput(input)
  CAddTable.checkTable(input)
  if #input ~= 2 then error("expected a table of 2 tensors, got " .. #input, 0) end
  -- broadcast both to the result's shape, then one pass over flat lists
  local zero = input[1] * 0 + input[2] * 0
  local x = (zero + input[1]):contiguous():view(-1):totable()
  local y = (zero + input[2]):contiguous():view(-1):totable()
  for i = 1, #x do x[i] = x[i] ^ y[i] end
  local size = zero:size()
  self.output:resizeAs(zero)
  if #x > 0 then self.output:copy(core.tensor(x):view(size)) end
  return self.output
end

return CPowTable
