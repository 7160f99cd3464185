-- nn/Identity.lua -- Torch7's nn.Identity(): the output is the input itself
-- (tensor or table), a ConcatTable's shortcut branch.

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Identity = class("nn.Identity", Module)

function Identity:updateOutput(input)
  self.output = input
  return input
end

return Identity
