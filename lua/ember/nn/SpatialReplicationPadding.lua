-- nn/SpatialReplicationPadding.lua -- Torch7's nn.SpatialReplicationPadding(l,
-- [r], [t], [b]): pads by repeating the edge pixels (PyTorch's 'replicate').

local class = require "ember.class"
local SpatialZeroPadding = require "ember.nn.SpatialZeroPadding"

local SpatialReplicationPadding = class("nn.SpatialReplicationPadding", SpatialZeroPadding)
SpatialReplicationPadding.mode = "replicate"

return SpatialReplicationPadding
