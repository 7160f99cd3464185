-- nn/SpatialFullConvolution.lua -- transposed convolution (Torch7's name).
-- nn.SpatialFullConvolution(nInputPlane, nOutputPlane, kW, kH, [dW=1], [dH=1],
--                           [padW=0], [padH=padW], [adjW=0], [adjH=0])
--
-- Output size (W) = (W_in - 1)*dW - 2*padW + dilationW*(kW - 1) + 1 + adjW,
-- as PyTorch's conv_transpose2d with output_padding = adj. weight is
-- in, out/groups, kH, kW; bias is out. The options of SpatialConvolution
-- (noBias, setGroups, setPadding with padding cropped from each side,
-- setDilation) apply here too.

local class = require "ember.class"
local core = require "ember.core"
local SpatialConvolution = require "ember.nn.SpatialConvolution"
local util = require "ember.nn.util"

local SpatialFullConvolution, parent = class("nn.SpatialFullConvolution", SpatialConvolution)

function SpatialFullConvolution:__init(nInputPlane, nOutputPlane, kW, kH, dW, dH,
                                       padW, padH, adjW, adjH)
  self.adjW, self.adjH = adjW or 0, adjH or 0
  util.nonneg(self.adjW, "adjW", self.__typename)
  util.nonneg(self.adjH, "adjH", self.__typename)
  parent.__init(self, nInputPlane, nOutputPlane, kW, kH, dW, dH, padW, padH)
end

function SpatialFullConvolution:_weightSize()
  return self.nInputPlane, self.nOutputPlane // self.groups, self.kH, self.kW
end

-- Torch7 takes the fan-in as kW*kH*nInputPlane here as well.
function SpatialFullConvolution:reset(stdv)
  return util.reset(self, stdv, self.kW * self.kH * self.nInputPlane)
end

function SpatialFullConvolution:updateOutput(input)
  local t, l, b, r = self:_pads()
  return self:_batched(input, function(x, out)
    core.conv_transpose2d(x, out, self.weight, self.bias, self.finput, self.dW, self.dH,
                          l, r, t, b, self.adjW, self.adjH, self.dilationW, self.dilationH,
                          self.groups)
  end)
end

function SpatialFullConvolution:_reprExtra()
  local s = ""
  if self.adjW ~= 0 or self.adjH ~= 0 then s = string.format(", %d,%d", self.adjW, self.adjH) end
  return s .. parent._reprExtra(self)
end

return SpatialFullConvolution
