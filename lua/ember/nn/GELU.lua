-- nn/GELU.lua -- x * Phi(x) (Phi: the normal CDF, exact with erf), nn.GELU([approximate]).
-- approximate = true or "tanh" gives PyTorch's tanh approximation; "none" or nil the exact one.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local GELU = class("nn.GELU", Module)

function GELU:__init(approximate)
  Module.__init(self)
  if approximate == "tanh" or approximate == true then
    self.approximate = "tanh"
  elseif approximate == nil or approximate == false or approximate == "none" then
    self.approximate = "none"
  else
    error("nn.GELU([approximate]): approximate must be 'none' or 'tanh', got " .. tostring(approximate), 2)
  end
end

function GELU:updateOutput(input)
  return core.act(input, self.output, "gelu", self.approximate == "tanh" and 1 or 0)
end

function GELU:__repr()
  return self.approximate == "tanh" and "GELU(tanh)" or "GELU"
end

return GELU
