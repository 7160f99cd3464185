-- nn/Log.lua -- Torch7's nn.Log(): the natural logarithm elementwise (ONNX Log).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Log = class("nn.Log", Module)

function Log:updateOutput(input)
  self.output:resizeAs(input):copy(input):log()
  return self.output
end

return Log
