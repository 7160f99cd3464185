-- nn/JoinTable.lua -- Torch7's nn.JoinTable(dim, [nInputDims]): concatenates a
-- table of tensors along dim. As in Torch7, a negative dim counts from the end
-- and with nInputDims given, a tensor of nInputDims + 1 dims is a batch (dim
-- is shifted by one): JoinTable(1, 3) joins channels of C,H,W and N,C,H,W.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local JoinTable = class("nn.JoinTable", Module)

function JoinTable:__init(dimension, nInputDims)
  Module.__init(self)
  if math.type(dimension) ~= "integer" or dimension == 0 then
    error("nn.JoinTable(dim, [nInputDims]): dim must be a nonzero integer, got "
          .. tostring(dimension), 2)
  end
  if nInputDims ~= nil and (math.type(nInputDims) ~= "integer" or nInputDims < 1) then
    error("nn.JoinTable(dim, [nInputDims]): nInputDims must be a positive integer, got "
          .. tostring(nInputDims), 2)
  end
  self.dimension, self.nInputDims = dimension, nInputDims
end

function JoinTable:updateOutput(input)
  if type(input) ~= "table" then
    error("expected a table of tensors, got a " .. type(input), 0)
  end
  local dim = self.dimension
  local first = input[1]
  if dim > 0 and self.nInputDims and type(first) == "userdata" and first.dim
     and first:dim() == self.nInputDims + 1 then
    dim = dim + 1
  end
  return core.concat(input, self.output, dim)
end

return JoinTable
