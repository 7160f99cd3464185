-- nn/SpatialDilatedConvolution.lua -- convolution with dilated (atrous) kernels.
-- nn.SpatialDilatedConvolution(nIn, nOut, kW, kH, dW, dH, padW, padH, dilationW, dilationH)

local class = require "ember.class"
local SpatialConvolution = require "ember.nn.SpatialConvolution"

local SpatialDilatedConvolution, parent =
  class("nn.SpatialDilatedConvolution", SpatialConvolution)

function SpatialDilatedConvolution:__init(nInputPlane, nOutputPlane, kW, kH, dW, dH,
                                          padW, padH, dilationW, dilationH)
  parent.__init(self, nInputPlane, nOutputPlane, kW, kH, dW, dH, padW, padH)
  self:setDilation(dilationW or 1, dilationH or dilationW or 1)
end

-- Torch7 prints the dilation bare, after stride and padding.
function SpatialDilatedConvolution:_reprExtra()
  return string.format(", %d,%d", self.dilationW, self.dilationH)
end

return SpatialDilatedConvolution
