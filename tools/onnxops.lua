-- tools/onnxops.lua -- prints the markdown table of the ONNX operators
-- ember.onnx imports, from the importer's own registry (make onnx-ops).

local onnx = require "ember.onnx"

local family = { conv = "convolution, linear, batch norm", act = "activation, elementwise", pool = "pooling, normalisation",
                 math = "arithmetic", shape = "shape, data movement" }

print(string.format("ONNX operators imported by `ember.onnx.load` (opsets %d to %d):", onnx.MIN_OPSET, onnx.MAX_OPSET))
print("")
print("| Operator | Family | Notes |")
print("|---|---|---|")
for _, op in ipairs(onnx.operators()) do
  print(string.format("| %s | %s | %s |", op.op, family[op.family] or op.family, op.doc))
end
