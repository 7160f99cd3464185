-- nn/CMulTable.lua -- Torch7's nn.CMulTable(): the elementwise product of a
-- table of tensors, broadcasting as NumPy (squeeze-and-excitation's x * s,
-- s being N,C,1,1).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local CAddTable = require "ember.nn.CAddTable"

local CMulTable = class("nn.CMulTable", Module)

function CMulTable:updateOutput(input)
  CAddTable.checkTable(input)
  return core.cmul_table(input, self.output)
end

return CMulTable
