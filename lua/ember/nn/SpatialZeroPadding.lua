-- nn/SpatialZeroPadding.lua -- Torch7's nn.SpatialZeroPadding(padLeft,
-- [padRight], [padTop], [padBottom]) on C,H,W or N,C,H,W input; missing pads
-- default to padLeft. Negative pads crop, as in Torch7.
-- Also the base of the reflection and replication padding layers.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local SpatialZeroPadding = class("nn.SpatialZeroPadding", Module)
SpatialZeroPadding.mode = "zero"

function SpatialZeroPadding:__init(pad_l, pad_r, pad_t, pad_b)
  Module.__init(self)
  self.pad_l = pad_l
  self.pad_r = pad_r or pad_l
  self.pad_t = pad_t or pad_l
  self.pad_b = pad_b or pad_l
  for _, k in ipairs{ "pad_l", "pad_r", "pad_t", "pad_b" } do
    if math.type(self[k]) ~= "integer" then
      error(self.__typename .. "(padLeft, padRight, padTop, padBottom): pads must be integers, got "
            .. tostring(self[k]), 3)
    end
  end
end

-- Raises unless input is a C,H,W or N,C,H,W tensor (the Spatial* layers).
function SpatialZeroPadding.checkSpatial(input)
  local nd = input:dim()
  if nd ~= 3 and nd ~= 4 then
    error(string.format("expected a 3D or 4D input (C,H,W or N,C,H,W), got %s", input:shape()), 0)
  end
end

function SpatialZeroPadding:updateOutput(input)
  SpatialZeroPadding.checkSpatial(input)
  return core.pad2d(input, self.output, self.pad_l, self.pad_r, self.pad_t, self.pad_b, self.mode)
end

function SpatialZeroPadding:__repr()
  return string.format("%s(l=%d, r=%d, t=%d, b=%d)", (self.__typename:gsub("^nn%.", "")),
                       self.pad_l, self.pad_r, self.pad_t, self.pad_b)
end

return SpatialZeroPadding
