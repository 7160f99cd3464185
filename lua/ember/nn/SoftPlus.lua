-- nn/SoftPlus.lua -- log(1 + exp(beta * x)) / beta, as Torch7's nn.SoftPlus([beta=1])
-- with PyTorch's [threshold=20]: x itself where beta * x > threshold.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local SoftPlus = class("nn.SoftPlus", Module)

function SoftPlus:__init(beta, threshold)
  Module.__init(self)
  for _, v in ipairs{ beta or 1, threshold or 0 } do
    if type(v) ~= "number" then
      error("nn.SoftPlus([beta], [threshold]): expected numbers, got " .. type(v), 2)
    end
  end
  if beta == 0 then error("nn.SoftPlus([beta], [threshold]): beta must not be 0", 2) end
  self.beta = beta or 1
  self.threshold = threshold or 20
end

function SoftPlus:updateOutput(input)
  return core.act(input, self.output, "softplus", self.beta, self.threshold)
end

function SoftPlus:__repr()
  return string.format("SoftPlus(%g, %g)", self.beta, self.threshold)
end

return SoftPlus
