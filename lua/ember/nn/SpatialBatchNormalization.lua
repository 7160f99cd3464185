-- nn/SpatialBatchNormalization.lua -- batch normalisation over N,C,H,W (or C,H,W).
-- nn.SpatialBatchNormalization(nOutput, [eps=1e-5], [momentum=0.1], [affine=true])
-- Fields weight, bias, running_mean, running_var, eps as Torch7; inference
-- only, and :foldInto(conv) as in BatchNormalization (see there).

local class = require "ember.class"
local BatchNormalization = require "ember.nn.BatchNormalization"

local SpatialBatchNormalization = class("nn.SpatialBatchNormalization", BatchNormalization)

SpatialBatchNormalization.__params = BatchNormalization.__params
SpatialBatchNormalization.__buffers = BatchNormalization.__buffers
SpatialBatchNormalization.nDim = 4
SpatialBatchNormalization._dims = "4-D (N,C,H,W) or 3-D (C,H,W)"

return SpatialBatchNormalization
