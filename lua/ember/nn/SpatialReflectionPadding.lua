-- nn/SpatialReflectionPadding.lua -- Torch7's nn.SpatialReflectionPadding(l,
-- [r], [t], [b]): pads by mirroring without repeating the edge (PyTorch's
-- 'reflect'); each pad must be less than the input size on its side.

local class = require "ember.class"
local SpatialZeroPadding = require "ember.nn.SpatialZeroPadding"

local SpatialReflectionPadding = class("nn.SpatialReflectionPadding", SpatialZeroPadding)
SpatialReflectionPadding.mode = "reflect"

return SpatialReflectionPadding
