-- nn/Power.lua -- Torch7's nn.Power(p): x^p elementwise (ONNX Pow with a
-- constant scalar exponent; 0.5, 1, 2, 3 and -1 are exact tensor ops).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Power = class("nn.Power", Module)

function Power:__init(p)
  Module.__init(self)
  if type(p) ~= "number" then error("nn.Power(p): p must be a number", 2) end
  self.pow = p
end

function Power:updateOutput(input)
  local p, out = self.pow, self.output
  out:resizeAs(input):copy(input)
  if p == 1 then return out
  elseif p == 2 then out:cmul(input)
  elseif p == 3 then out:cmul(input):cmul(input)
  elseif p == 0.5 then out:sqrt()
  elseif p == -1 then out:fill(1):cdiv(input)
  elseif p == 0 then out:fill(1)
  else
    -- x^p = exp(p log x), negative bases only for integral p
    local c = input:contiguous():view(-1):totable()
    for i, v in ipairs(c) do c[i] = v ^ p end
    out:copy(core.tensor(c):view(input:size()))
  end
  return out
end

function Power:__repr() return "Power(" .. self.pow .. ")" end

return Power
