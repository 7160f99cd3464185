-- nn/ReLU6.lua -- min(max(0, x), 6), as Torch7's nn.ReLU6([inplace]) (MobileNet).
-- With inplace = true the output is the input tensor itself: the input is overwritten.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local ReLU6 = class("nn.ReLU6", Module)

function ReLU6:__init(inplace)
  Module.__init(self)
  if inplace ~= nil and type(inplace) ~= "boolean" then
    error("nn.ReLU6([inplace]): inplace must be a boolean, got " .. type(inplace), 2)
  end
  self.inplace = inplace or false
end

function ReLU6:updateOutput(input)
  if self.inplace then self.output:set(input) end
  return core.act(input, self.output, "clamp", 0, 6)
end

return ReLU6
