-- SpatialAdaptiveAveragePooling_spec.lua -- adaptive and global average pooling
-- against PyTorch's adaptive_avg_pool2d and ONNX GlobalAveragePool cases
-- (the spec itself is spec/nn/pooling.lua's, shared with max pooling).

local P = require "nn.pooling"

describe("nn.SpatialAdaptiveAveragePooling", function()
  P.adaptive(it, "SpatialAdaptiveAveragePooling", "avg",
             { "test_globalaveragepool", "test_globalaveragepool_precomputed" })
end)
