-- nn/Shape.lua -- nn.Shape([start[, stop]]): the input's sizes as a 1-D tensor
-- (ONNX Shape at run time, for inputs with symbolic dims; 0-based start and
-- exclusive stop as ONNX, negatives from the end).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Shape = class("nn.Shape", Module)

function Shape:__init(start, stop)
  Module.__init(self)
  if start ~= nil and math.type(start) ~= "integer" then error("nn.Shape([start[, stop]]): start must be an integer", 2) end
  if stop ~= nil and math.type(stop) ~= "integer" then error("nn.Shape([start[, stop]]): stop must be an integer", 2) end
  self.start, self.stop = start, stop
end

function Shape:updateOutput(input)
  local s = input:dim() == 0 and {} or input:size()
  local r = #s
  local a, b = self.start or 0, self.stop or r
  if a < 0 then a = a + r end
  if b < 0 then b = b + r end
  a, b = math.max(0, math.min(a, r)), math.max(0, math.min(b, r))
  local v = {}
  for i = a + 1, b do v[#v + 1] = s[i] + 0.0 end
  if #v == 0 then
    self.output = core.tensor()
    self.output:resize(0)
  else
    self.output = core.tensor(v)
  end
  return self.output
end

function Shape:__repr()
  if self.start or self.stop then return "Shape(" .. (self.start or 0) .. ", " .. tostring(self.stop) .. ")" end
  return "Shape"
end

return Shape
