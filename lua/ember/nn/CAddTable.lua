-- nn/CAddTable.lua -- Torch7's nn.CAddTable([inplace]): the elementwise sum of
-- a table of tensors, broadcasting as NumPy (the residual connection).
-- inplace = true writes the sum into the first tensor of the table.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local CAddTable = class("nn.CAddTable", Module)

function CAddTable:__init(inplace)
  Module.__init(self)
  if inplace ~= nil and type(inplace) ~= "boolean" then
    error("nn.CAddTable([inplace]): inplace must be a boolean, got " .. type(inplace), 2)
  end
  self.inplace = inplace or false
end

-- Shared by CAddTable and CMulTable: checks the input is a table of tensors.
function CAddTable.checkTable(input)
  if type(input) ~= "table" then
    local what = type(input) == "userdata" and input.shape and ("a tensor " .. input:shape())
                 or ("a " .. type(input))
    error("expected a table of tensors, got " .. what, 0)
  end
  if #input == 0 then error("expected a table of tensors, got an empty table", 0) end
end

function CAddTable:updateOutput(input)
  CAddTable.checkTable(input)
  if self.inplace then self.output:set(input[1]) end
  return core.cadd_table(input, self.output)
end

return CAddTable
