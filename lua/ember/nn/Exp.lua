-- nn/Exp.lua -- Torch7's nn.Exp(): e^x elementwise (ONNX Exp).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Exp = class("nn.Exp", Module)

function Exp:updateOutput(input)
  self.output:resizeAs(input):copy(input):exp()
  return self.output
end

return Exp
