-- nn/LogSoftMax.lua -- x_i - log(sum_j exp(x_j)) over one dimension, as Torch7's nn.LogSoftMax([dim]).
-- By default over the features: dim 1 of a 1-D (C) or 3-D (C,H,W) input, dim 2 of (N,C) or (N,C,H,W).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local LogSoftMax = class("nn.LogSoftMax", Module)

-- dim may be negative (counts from the end); nil means Torch7's feature dim.
function LogSoftMax:__init(dim)
  Module.__init(self)
  if dim ~= nil and (math.type(dim) ~= "integer" or dim == 0) then
    error("nn.LogSoftMax([dim]): dim must be a nonzero integer, got " .. tostring(dim), 2)
  end
  self.dim = dim
end

local feature_dim = { 1, 2, 1, 2 }

function LogSoftMax:updateOutput(input)
  local dim = self.dim
  if not dim then
    dim = feature_dim[input:dim()]
    if not dim then
      error(string.format("expected a 1-D to 4-D input for the default dim, got %d dimensions "
                          .. "(give nn.LogSoftMax(dim))", input:dim()), 0)
    end
  end
  return core.softmax(input, self.output, dim, true)
end

function LogSoftMax:__repr()
  return self.dim and ("LogSoftMax(" .. self.dim .. ")") or "LogSoftMax"
end

return LogSoftMax
