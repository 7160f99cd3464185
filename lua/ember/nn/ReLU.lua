-- nn/ReLU.lua -- max(0, x), as Torch7's nn.ReLU([inplace]).
-- With inplace = true the output is the input tensor itself: the input is overwritten.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local ReLU = class("nn.ReLU", Module)

function ReLU:__init(inplace)
  Module.__init(self)
  if inplace ~= nil and type(inplace) ~= "boolean" then
    error("nn.ReLU([inplace]): inplace must be a boolean, got " .. type(inplace), 2)
  end
  self.inplace = inplace or false
end

function ReLU:updateOutput(input)
  if self.inplace then self.output:set(input) end
  return core.act(input, self.output, "relu")
end

return ReLU
