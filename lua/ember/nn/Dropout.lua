-- nn/Dropout.lua -- Torch7's nn.Dropout(p, [v1], [inplace]) for inference:
-- ember does not train, so the output is the input in evaluate() and in
-- training() alike (no random mask). Torch7's old v1 dropout scaled at test
-- time instead of training time; with v1 = true the output is input * (1 - p).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Dropout = class("nn.Dropout", Module)

function Dropout:__init(p, v1, inplace)
  Module.__init(self)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p >= 1 then
    error("nn.Dropout(p): illegal percentage, must be 0 <= p < 1, got " .. tostring(p), 2)
  end
  self.p, self.v2, self.inplace = p, not v1, inplace or false
end

function Dropout:updateOutput(input)
  if self.v2 or self.p == 0 then
    self.output = input
    return input
  end
  -- v1: a broadcast product with the one-element tensor (1 - p)
  if rawequal(self.output, input) then self.output = core.tensor() end
  if self._scaleP ~= self.p then   -- p may have been changed with setp
    self._scale, self._scaleP = core.tensor{ 1 - self.p }, self.p
    self._pair = { nil, self._scale }
  end
  self._pair[1] = input
  if self.inplace then self.output:set(input) end
  local out = core.cmul_table(self._pair, self.output)
  self._pair[1] = nil
  return out
end

function Dropout:setp(p)
  if type(p) ~= "number" or p < 0 or p >= 1 then
    error("setp: illegal percentage, must be 0 <= p < 1, got " .. tostring(p), 2)
  end
  self.p = p
  return self
end

function Dropout:__repr()
  return string.format("Dropout(%f)", self.p)
end

return Dropout
