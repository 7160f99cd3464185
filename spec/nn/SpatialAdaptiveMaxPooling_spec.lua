-- SpatialAdaptiveMaxPooling_spec.lua -- adaptive and global max pooling
-- against PyTorch's adaptive_max_pool2d and ONNX GlobalMaxPool cases
-- (the spec itself is spec/nn/pooling.lua's, shared with average pooling).

local P = require "nn.pooling"

describe("nn.SpatialAdaptiveMaxPooling", function()
  P.adaptive(it, "SpatialAdaptiveMaxPooling", "max", { "test_globalmaxpool", "test_globalmaxpool_precomputed" })
end)
