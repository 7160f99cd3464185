-- nn/PReLU.lua -- x for x >= 0, weight[c] * x below, as Torch7's nn.PReLU([nOutputPlane]).
-- nOutputPlane = 0 (default) shares one weight; channels are dim 2 (dim 1 of a 1-D input).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local PReLU = class("nn.PReLU", Module)

PReLU.__params = { "weight" }

function PReLU:__init(nOutputPlane)
  Module.__init(self)
  if nOutputPlane ~= nil and (math.type(nOutputPlane) ~= "integer" or nOutputPlane < 0) then
    error("nn.PReLU([nOutputPlane]): expected a count >= 0, got " .. tostring(nOutputPlane), 2)
  end
  self.nOutputPlane = nOutputPlane or 0
  -- Torch7's initial slope
  self.weight = core.tensor(math.max(self.nOutputPlane, 1)):fill(0.25)
end

function PReLU:updateOutput(input)
  return core.prelu(input, self.output, self.weight)
end

function PReLU:__repr()
  return self.nOutputPlane > 0 and ("PReLU(" .. self.nOutputPlane .. ")") or "PReLU"
end

return PReLU
