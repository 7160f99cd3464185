-- nn/Clamp.lua -- min(max(x, min_value), max_value), as Torch7's nn.Clamp(min, max).
-- ONNX Clip maps here (math.huge for a missing bound); NaN passes through.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Clamp = class("nn.Clamp", Module)

function Clamp:__init(min_value, max_value)
  Module.__init(self)
  if type(min_value) ~= "number" or type(max_value) ~= "number" then
    error("nn.Clamp(min, max): expected two numbers, got " .. type(min_value)
          .. " and " .. type(max_value), 2)
  end
  if not (min_value <= max_value) then
    error(string.format("nn.Clamp(min, max): min %g is greater than max %g", min_value, max_value), 2)
  end
  self.min_val, self.max_val = min_value, max_value
end

function Clamp:updateOutput(input)
  return core.act(input, self.output, "clamp", self.min_val, self.max_val)
end

function Clamp:__repr()
  return string.format("Clamp(%g, %g)", self.min_val, self.max_val)
end

return Clamp
