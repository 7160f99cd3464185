-- nn/SpatialCrossMapLRN.lua -- local response normalisation across channels.
-- nn.SpatialCrossMapLRN(size, [alpha=1e-4], [beta=0.75], [k=1])
--
-- b_c = a_c / (k + alpha/size * sum of a_c'^2 over the window)^beta, the
-- window being channels c - floor((size-1)/2) .. c + ceil((size-1)/2),
-- clipped. alpha is divided by size as in Torch7, PyTorch's
-- nn.LocalResponseNorm and ONNX's LRN; for odd sizes (all nets use 5) the
-- three agree. For even sizes ember follows ONNX, whose window has the extra
-- channel after c; PyTorch puts it before c. Input N,C,H,W or C,H,W.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local util = require "ember.nn.util"

local SpatialCrossMapLRN, parent = class("nn.SpatialCrossMapLRN", Module)

function SpatialCrossMapLRN:__init(size, alpha, beta, k)
  parent.__init(self)
  local cls = self.__typename
  util.positive(size, "size", cls)
  for name, v in pairs{ alpha = alpha, beta = beta, k = k } do
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      error(string.format("%s: %s must be a finite number, got %s", cls, name, tostring(v)), 0)
    end
  end
  self.size = size
  self.alpha = alpha or 1e-4
  self.beta = beta or 0.75
  self.k = k or 1
end

function SpatialCrossMapLRN:updateOutput(input)
  local d = input:dim()
  if d ~= 3 and d ~= 4 then
    error(string.format("expected a 3-D (C,H,W) or 4-D (N,C,H,W) input, got %s",
                        d == 0 and "an empty tensor" or string.format("%d-D (%s)", d, input:shape())), 0)
  end
  return core.lrn(input, self.output, self.size, self.alpha, self.beta, self.k, d == 3)
end

function SpatialCrossMapLRN:__repr()
  return string.format("%s(%d, %g, %g, %g)", self.__typename:gsub("^nn%.", ""),
                       self.size, self.alpha, self.beta, self.k)
end

return SpatialCrossMapLRN
