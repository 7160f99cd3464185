-- nn/Sigmoid.lua -- the logistic function, as Torch7's nn.Sigmoid().
-- 1 / (1 + exp(-x)), kept exact at large |x| (no overflow, no cancellation).


local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Sigmoid = class("nn.Sigmoid", Module)

function Sigmoid:updateOutput(input)
  return core.act(input, self.output, "sigmoid")
end

return Sigmoid
