-- nn/SpatialUpSamplingNearest.lua -- Torch7's nn.SpatialUpSamplingNearest(scale)
-- (integer scale: each pixel repeated scale x scale times) and, as an ember
-- extra, nn.SpatialUpSamplingNearest({oheight = H, owidth = W}) to a fixed size.
-- Pixels are picked as PyTorch's 'nearest': source = floor(dst * in / out).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local SpatialZeroPadding = require "ember.nn.SpatialZeroPadding"

local SpatialUpSamplingNearest = class("nn.SpatialUpSamplingNearest", Module)

local function positive_int(v) return math.type(v) == "integer" and v >= 1 end

function SpatialUpSamplingNearest:__init(scale)
  Module.__init(self)
  if type(scale) == "table" then
    if not positive_int(scale.oheight) or not positive_int(scale.owidth) then
      error("nn.SpatialUpSamplingNearest({oheight=, owidth=}): sizes must be positive integers", 2)
    end
    self.oheight, self.owidth = scale.oheight, scale.owidth
  elseif positive_int(scale) then
    self.scale_factor = scale
  else
    error("nn.SpatialUpSamplingNearest(scale): scale must be a positive integer, got "
          .. tostring(scale), 2)
  end
end

function SpatialUpSamplingNearest:updateOutput(input)
  SpatialZeroPadding.checkSpatial(input)
  local oh, ow = self.oheight, self.owidth
  if self.scale_factor then
    oh, ow = input:size(-2) * self.scale_factor, input:size(-1) * self.scale_factor
  end
  return core.upsample_nearest(input, self.output, oh, ow)
end

return SpatialUpSamplingNearest
