-- nn/HardSigmoid.lua -- max(0, min(1, alpha * x + beta)), nn.HardSigmoid([alpha], [beta]).
-- Defaults are PyTorch's Hardsigmoid (relu6(x + 3) / 6: 1/6, 1/2); ONNX's are 0.2, 0.5.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local HardSigmoid = class("nn.HardSigmoid", Module)

function HardSigmoid:__init(alpha, beta)
  Module.__init(self)
  for _, v in ipairs{ alpha or 0, beta or 0 } do
    if type(v) ~= "number" then
      error("nn.HardSigmoid([alpha], [beta]): expected numbers, got " .. type(v), 2)
    end
  end
  self.alpha = alpha or 1 / 6
  self.beta = beta or 0.5
end

function HardSigmoid:updateOutput(input)
  return core.act(input, self.output, "hardsigmoid", self.alpha, self.beta)
end

function HardSigmoid:__repr()
  return string.format("HardSigmoid(%g, %g)", self.alpha, self.beta)
end

return HardSigmoid
