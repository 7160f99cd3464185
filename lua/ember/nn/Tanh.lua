-- nn/Tanh.lua -- the hyperbolic tangent, as Torch7's nn.Tanh().
-- Elementwise, on a tensor of any shape.


local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Tanh = class("nn.Tanh", Module)

function Tanh:updateOutput(input)
  return core.act(input, self.output, "tanh")
end

return Tanh
