-- nn/Linear.lua -- fully connected layer: y = W x + b.
-- nn.Linear(inputSize, outputSize, [bias=true]); weight out,in; bias out.
-- Input is (N, in) or (in); :noBias() drops the bias, as in Torch7.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local util = require "ember.nn.util"

local Linear, parent = class("nn.Linear", Module)

Linear.__params = { "weight", "bias" }

function Linear:__init(inputSize, outputSize, bias)
  parent.__init(self)
  util.positive(inputSize, "inputSize", self.__typename)
  util.positive(outputSize, "outputSize", self.__typename)
  self.weight = util.param(outputSize, inputSize)
  if bias ~= false then self.bias = util.param(outputSize) end
  util.initialise(self)   -- reset(), unless deferred (ember.load)
end

-- Uniform in +-1/sqrt(inputSize), as Torch7.
function Linear:reset(stdv)
  return util.reset(self, stdv, self.weight:size(2))
end

function Linear:noBias()
  self.bias = nil
  return self
end

function Linear:updateOutput(input)
  core.linear(input, self.output, self.weight, self.bias)
  return self.output
end

function Linear:__repr()
  return string.format("Linear(%d -> %d)%s", self.weight:size(2), self.weight:size(1),
                       self.bias and "" or " without bias")
end

return Linear
