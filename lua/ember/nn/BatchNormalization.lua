-- nn/BatchNormalization.lua -- batch normalisation at inference, over N,C inputs.
-- nn.BatchNormalization(nOutput, [eps=1e-5], [momentum=0.1], [affine=true])
--
-- y = (x - running_mean) / sqrt(running_var + eps) * weight + bias per
-- channel (dim 2 in Lua's numbering). ember only infers: the running
-- statistics are used in training mode too (momentum is kept for Torch7
-- compatibility only). Inputs: N,C or, outside training as Torch7, C alone.
-- SpatialBatchNormalization is the same over N,C,H,W (or C,H,W).
-- :foldInto(layer) folds this layer into the Linear or SpatialConvolution
-- before it, which then computes both; this layer passes its input through.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local util = require "ember.nn.util"

local BatchNormalization, parent = class("nn.BatchNormalization", Module)

BatchNormalization.__params = { "weight", "bias" }
BatchNormalization.__buffers = { "running_mean", "running_var" }
BatchNormalization.nDim = 2

function BatchNormalization:__init(nOutput, eps, momentum, affine)
  parent.__init(self)
  local cls = self.__typename
  util.positive(nOutput, "nOutput", cls)
  if eps ~= nil and (type(eps) ~= "number" or not (eps >= 0)) then
    error(string.format("%s: eps must be a non-negative number, got %s", cls, tostring(eps)), 0)
  end
  if affine ~= nil and type(affine) ~= "boolean" then
    error(string.format("%s: affine must be a boolean, got %s", cls, type(affine)), 0)
  end
  self.nOutput = nOutput
  self.eps = eps or 1e-5
  self.momentum = momentum or 0.1
  self.affine = affine ~= false
  self.running_mean = util.param(nOutput)
  self.running_var = util.param(nOutput)
  if self.affine then
    self.weight = util.param(nOutput)
    self.bias = util.param(nOutput)
  end
  util.initialise(self)   -- reset(), unless deferred (ember.load)
end

-- Torch7's reset(): weight uniform in [0, 1], bias 0, mean 0, var 1 (the
-- weight is 1 in builds whose tensors lack :uniform()).
function BatchNormalization:reset()
  if self.weight then
    if self.weight.uniform then self.weight:uniform(0, 1) else self.weight:fill(1) end
  end
  if self.bias then self.bias:zero() end
  self.running_mean:zero()
  self.running_var:fill(1)
  self.folded = nil
  return self
end

function BatchNormalization:_checkInput(input)
  local d, n = input:dim(), self.nDim
  if d ~= n and d ~= n - 1 then
    error(string.format("expected a %s input, got %s", self._dims,
                        input:nElement() == 0 and d == 0 and "an empty tensor" or
                        string.format("%d-D (%s)", d, input:shape())), 0)
  end
  if d == n - 1 and self.train then
    error(string.format("only mini-batch supported in training mode (%dD tensor), got %dD tensor instead", n, d), 0)
  end
  local c = input:size(d == n and 2 or 1)
  if c ~= self.nOutput then
    error(string.format("expected %d channels, got %d (input %s)", self.nOutput, c, input:shape()), 0)
  end
  return d == n - 1
end
BatchNormalization._dims = "2-D (N,C) or 1-D (C)"

function BatchNormalization:updateOutput(input)
  if self.folded then
    self.output = input
    return input
  end
  local nobatch = self:_checkInput(input)
  if self.output == input then self.output = core.tensor() end
  return core.batchnorm(input, self.output, self.weight, self.bias,
                        self.running_mean, self.running_var, self.eps, nobatch)
end

-- Folds this normalisation into layer (a SpatialConvolution or Linear whose
-- output this layer normalises): layer.weight is scaled per output channel
-- and layer.bias set (created if the layer had none). Afterwards this layer
-- holds the identity (weight 1, bias 0, mean 0, var 1 - eps) and passes its
-- input through, so a saved state stays consistent. Returns layer.
function BatchNormalization:foldInto(layer)
  local cls = self.__typename
  if type(layer) ~= "table" or not layer.weight then
    error(cls .. ":foldInto expects a layer with a weight (SpatialConvolution or Linear)", 2)
  end
  if layer.__typename == "nn.SpatialFullConvolution" then
    error(cls .. ":foldInto cannot fold into a SpatialFullConvolution (its weight is in,out,kH,kW)", 2)
  end
  if self.folded then error(cls .. ":foldInto: this layer is already folded", 2) end
  local ok, bias = pcall(core.batchnorm_fold, layer.weight, layer.bias, self.weight, self.bias,
                         self.running_mean, self.running_var, self.eps)
  if not ok then error(cls .. ":foldInto: " .. tostring(bias), 2) end
  layer.bias = bias
  if layer.weightsChanged then layer:weightsChanged() end   -- written in place
  if self.weight then self.weight:fill(1) end
  if self.bias then self.bias:zero() end
  self.running_mean:zero()
  self.running_var:fill(1 - self.eps)
  self.folded = true
  return layer
end

-- Torch7's form: "BatchNormalization (2D) (64)".
function BatchNormalization:__repr()
  return string.format("%s (%dD) (%d)%s", self.__typename:gsub("^nn%.", ""), self.nDim,
                       self.nOutput, self.folded and " folded" or "")
end

return BatchNormalization
