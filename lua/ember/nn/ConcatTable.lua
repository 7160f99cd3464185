-- nn/ConcatTable.lua -- Torch7's nn.ConcatTable: every child gets the same
-- input; the output is the Lua table of their outputs (a residual block's fork).

local class = require "ember.class"
local Container = require "ember.nn.Container"

local ConcatTable = class("nn.ConcatTable", Container)

function ConcatTable:__init()
  Container.__init(self)
  self.output = {}
end

function ConcatTable:updateOutput(input)
  local out = self.output
  if type(out) ~= "table" then out = {} self.output = out end
  for i = 1, #self.modules do out[i] = self:runChild(i, input) end
  for i = #self.modules + 1, #out do out[i] = nil end
  return out
end

function ConcatTable:__tostring__()
  return self:branchString("nn.ConcatTable" .. (self.name and (" <" .. self.name .. ">") or ""))
end

return ConcatTable
