-- nn/Erf.lua -- nn.Erf(): the error function elementwise (ONNX Erf), through
-- the C GELU kernel: gelu(x) = x (1 + erf(x / sqrt 2)) / 2, so
-- erf(y) = 2 gelu(y sqrt 2) / (y sqrt 2) - 1, with erf(0) = 0.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Erf = class("nn.Erf", Module)

function Erf:updateOutput(input)
  local s2 = math.sqrt(2)
  local z = input * s2
  local g = core.act(z, core.tensor(), "gelu", 0, 0)
  -- where |z| is tiny the quotient loses precision: erf(y) ~ 2y/sqrt(pi) there
  local q = (g * 2) / z - 1
  local v, zi = q:contiguous():view(-1):totable(), z:contiguous():view(-1):totable()
  local c = 2 / math.sqrt(math.pi)
  for i = 1, #v do
    local y = zi[i] / s2
    if math.abs(zi[i]) < 1e-3 then v[i] = c * y * (1 - y * y / 3) end
    if zi[i] > 12 then v[i] = 1 elseif zi[i] < -12 then v[i] = -1 end
  end
  self.output:resizeAs(input):copy(core.tensor(v):view(input:size()))
  return self.output
end

return Erf
