-- nn/AddConstant.lua -- Torch7's nn.AddConstant(c): x + c for a number c
-- (a tensor operand goes through nn.CAddTable and a graph constant).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local AddConstant = class("nn.AddConstant", Module)

function AddConstant:__init(c)
  Module.__init(self)
  if type(c) ~= "number" then error("nn.AddConstant(c): c must be a number, got " .. type(c), 2) end
  self.constant_scalar = c
end

function AddConstant:updateOutput(input)
  self.output:resizeAs(input):copy(input):add(self.constant_scalar)
  return self.output
end

function AddConstant:__repr() return "AddConstant(" .. self.constant_scalar .. ")" end

return AddConstant
