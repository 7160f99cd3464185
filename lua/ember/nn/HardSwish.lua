-- nn/HardSwish.lua -- x * relu6(x + 3) / 6 (MobileNetV3), nn.HardSwish().
-- Matches PyTorch's Hardswish and ONNX HardSwish.


local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local HardSwish = class("nn.HardSwish", Module)

function HardSwish:updateOutput(input)
  return core.act(input, self.output, "hardswish")
end

return HardSwish
