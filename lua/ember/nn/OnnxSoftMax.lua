-- nn/OnnxSoftMax.lua -- nn.OnnxSoftMax(axis[, log]): softmax as ONNX defined it
-- before opset 13: the input flattened to 2-D at the 1-based axis (dims
-- before it are rows), softmax over each row, reshaped back.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local OnnxSoftMax = class("nn.OnnxSoftMax", Module)

function OnnxSoftMax:__init(axis, log)
  Module.__init(self)
  if math.type(axis) ~= "integer" or axis == 0 then error("nn.OnnxSoftMax(axis): axis must be a nonzero integer", 2) end
  self.axis, self.log = axis, log and true or false
  self._flat = core.tensor()
end

function OnnxSoftMax:updateOutput(input)
  local nd = input:dim()
  local a = self.axis < 0 and nd + self.axis + 1 or self.axis
  if a < 1 or a > nd then error(string.format("axis %d out of range for %s", self.axis, input:shape()), 0) end
  local rows = 1
  for d = 1, a - 1 do rows = rows * input:size(d) end
  local x = input:reshape(rows, -1)
  core.softmax(x, self._flat, 2, self.log)
  self.output = self._flat:view(input:size())
  return self.output
end

function OnnxSoftMax:__repr()
  return (self.log and "OnnxLogSoftMax(" or "OnnxSoftMax(") .. self.axis .. ")"
end

return OnnxSoftMax
