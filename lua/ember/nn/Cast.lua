-- nn/Cast.lua -- nn.Cast(to): ONNX Cast at run time. Values stay float32;
-- casting to an integer type truncates toward zero, to bool gives 0 or 1,
-- to float16/bfloat16 rounds to their precision
-- (so integer division done as float division then cast is exact for the
-- sizes shape arithmetic computes).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Cast = class("nn.Cast", Module)

function Cast:__init(to)
  Module.__init(self)
  if type(to) ~= "string" then error("nn.Cast(to): to must be a type name", 2) end
  self.to = to
end

-- x rounded to a float with `bits` mantissa bits and exponents down to emin
-- (round half to even; overflow past max gives infinity): float16 / bfloat16.
local function round_to(x, bits, emin, max)
  if x ~= x or x == 0 or x == math.huge or x == -math.huge then return x end
  local a = math.abs(x)
  local e = math.floor(math.log(a, 2))
  if 2.0 ^ e > a then e = e - 1 elseif 2.0 ^ (e + 1) <= a then e = e + 1 end
  if e < emin then e = emin end
  local q = 2.0 ^ (e - bits)
  local v = a / q
  local f = math.floor(v)
  local d = v - f
  if d > 0.5 or (d == 0.5 and f % 2 == 1) then f = f + 1 end
  local r = f * q
  if r > max then r = math.huge end
  return x < 0 and -r or r
end

function Cast:updateOutput(input)
  self.output:resizeAs(input):copy(input)
  if self.to == "float" or input:nElement() == 0 then return self.output end
  local v = self.output:contiguous():view(-1):totable()
  for i, x in ipairs(v) do
    if self.to == "float16" then v[i] = round_to(x, 10, -14, 65504)
    elseif self.to == "bfloat16" then v[i] = round_to(x, 7, -126, 3.3895313892515355e38)
    elseif self.to == "bool" then v[i] = x ~= 0 and 1 or 0
    elseif x >= 0 then v[i] = math.floor(x)
    else v[i] = math.ceil(x) end
  end
  self.output:copy(core.tensor(v):view(input:dim() == 0 and {} or input:size()))
  return self.output
end

function Cast:__repr() return "Cast(" .. self.to .. ")" end

return Cast
