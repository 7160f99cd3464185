-- nn/SiLU.lua -- x * sigmoid(x), also called Swish (EfficientNet), nn.SiLU().
-- Matches PyTorch's SiLU; exact at large |x| as Sigmoid is.


local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local SiLU = class("nn.SiLU", Module)

function SiLU:updateOutput(input)
  return core.act(input, self.output, "silu")
end

return SiLU
