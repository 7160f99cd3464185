-- nn/Sqrt.lua -- Torch7's nn.Sqrt(): the square root elementwise (ONNX Sqrt).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Sqrt = class("nn.Sqrt", Module)

function Sqrt:updateOutput(input)
  self.output:resizeAs(input):copy(input):sqrt()
  return self.output
end

return Sqrt
