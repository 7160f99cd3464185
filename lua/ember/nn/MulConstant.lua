-- nn/MulConstant.lua -- Torch7's nn.MulConstant(c): x * c for a number c
-- (a tensor operand goes through nn.CMulTable and a graph constant).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local MulConstant = class("nn.MulConstant", Module)

function MulConstant:__init(c)
  Module.__init(self)
  if type(c) ~= "number" then error("nn.MulConstant(c): c must be a number, got " .. type(c), 2) end
  self.constant_scalar = c
end

function MulConstant:updateOutput(input)
  self.output:resizeAs(input):copy(input):mul(self.constant_scalar)
  return self.output
end

function MulConstant:__repr() return "MulConstant(" .. self.constant_scalar .. ")" end

return MulConstant
