-- nn/init.lua -- the layer registry: every nn class, loaded on first use.
-- local nn = require "ember.nn"; local net = nn.Sequential():add(nn.ReLU())

local classes = {
  -- base and containers
  "Module", "Container", "Sequential", "Concat", "ConcatTable", "CAddTable",
  "CMulTable", "Identity", "JoinTable", "Narrow",
  -- convolution and linear
  "SpatialConvolution", "SpatialDilatedConvolution", "SpatialFullConvolution", "Linear",
  -- pooling and normalisation
  "SpatialMaxPooling", "SpatialAveragePooling", "SpatialAdaptiveAveragePooling",
  "SpatialAdaptiveMaxPooling", "SpatialBatchNormalization", "BatchNormalization",
  "SpatialCrossMapLRN",
  -- activations
  "ReLU", "ReLU6", "Clamp", "LeakyReLU", "PReLU", "ELU", "Sigmoid", "Tanh",
  "HardSigmoid", "HardSwish", "SiLU", "GELU", "SoftPlus", "SoftMax", "LogSoftMax",
  -- shape
  "View", "Reshape", "Flatten", "Dropout", "SpatialZeroPadding", "SpatialReflectionPadding",
  "SpatialReplicationPadding", "SpatialUpSamplingNearest", "SpatialUpSamplingBilinear",
  "ChannelShuffle",
  -- ONNX import (ember.onnx): a DAG container and the ops it maps to
  "Graph", "CSubTable", "CDivTable", "MulConstant", "AddConstant", "MatMul", "Transpose",
  "Gather", "Slice", "Split", "Pad", "OnnxReshape", "Squeeze", "Unsqueeze", "Resize",
  "ReduceMean", "OnnxSoftMax", "Expand", "Tile", "Sqrt", "Exp", "Log", "Abs", "Power", "Erf",
  "CPowTable", "Shape", "Cast", "ConstantOfShape",
}

local known = {}
for _, name in ipairs(classes) do known[name] = true end

local nn = { classes = classes }

return setmetatable(nn, {
  __index = function(t, name)
    if not known[name] then
      error("ember.nn has no layer named '" .. tostring(name) .. "'", 2)
    end
    local cls = require("ember.nn." .. name)
    rawset(t, name, cls)
    return cls
  end,
})
