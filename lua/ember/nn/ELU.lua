-- nn/ELU.lua -- x for x > 0, alpha * (exp(x) - 1) below, as Torch7's
-- nn.ELU([alpha=1], [inplace]). In place, the input is overwritten.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local ELU = class("nn.ELU", Module)

function ELU:__init(alpha, inplace)
  Module.__init(self)
  if alpha ~= nil and type(alpha) ~= "number" then
    error("nn.ELU([alpha], [inplace]): alpha must be a number, got " .. type(alpha), 2)
  end
  if inplace ~= nil and type(inplace) ~= "boolean" then
    error("nn.ELU([alpha], [inplace]): inplace must be a boolean, got " .. type(inplace), 2)
  end
  self.alpha = alpha or 1
  self.inplace = inplace or false
end

function ELU:updateOutput(input)
  if self.inplace then self.output:set(input) end
  return core.act(input, self.output, "elu", self.alpha)
end

function ELU:__repr()
  return string.format("ELU(%g)", self.alpha)
end

return ELU
