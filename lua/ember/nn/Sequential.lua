-- nn/Sequential.lua -- children applied one after another.

local class = require "ember.class"
local Container = require "ember.nn.Container"

local Sequential = class("nn.Sequential", Container)

function Sequential:updateOutput(input)
  local x = input
  for i = 1, #self.modules do x = self:runChild(i, x) end
  self.output = x
  return x
end

function Sequential:__tostring__()
  local arrow = { "input" }
  for i = 1, #self.modules do arrow[#arrow + 1] = "(" .. i .. ")" end
  arrow[#arrow + 1] = "output"
  local head = "nn.Sequential" .. (self.name and (" <" .. self.name .. ">") or "")
  return head .. " {\n  [" .. table.concat(arrow, " -> ") .. "]\n"
      .. table.concat(self:childLines(""), "\n") .. "\n}"
end

return Sequential
