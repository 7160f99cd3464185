-- nn/LeakyReLU.lua -- x for x >= 0, negval * x below, as Torch7's
-- nn.LeakyReLU([negval=0.01], [inplace]). In place, the input is overwritten.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local LeakyReLU = class("nn.LeakyReLU", Module)

function LeakyReLU:__init(negval, inplace)
  Module.__init(self)
  if negval ~= nil and type(negval) ~= "number" then
    error("nn.LeakyReLU([negval], [inplace]): negval must be a number, got " .. type(negval), 2)
  end
  if inplace ~= nil and type(inplace) ~= "boolean" then
    error("nn.LeakyReLU([negval], [inplace]): inplace must be a boolean, got " .. type(inplace), 2)
  end
  self.negval = negval or 0.01
  self.inplace = inplace or false
end

function LeakyReLU:updateOutput(input)
  if self.inplace then self.output:set(input) end
  return core.act(input, self.output, "leakyrelu", self.negval)
end

function LeakyReLU:__repr()
  return string.format("LeakyReLU(%g)", self.negval)
end

return LeakyReLU
