-- nn/Abs.lua -- Torch7's nn.Abs(): |x| elementwise (ONNX Abs).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Abs = class("nn.Abs", Module)

function Abs:updateOutput(input)
  self.output:resizeAs(input):copy(input):abs()
  return self.output
end

return Abs
