-- nn/Flatten.lua -- an ember extra with PyTorch's nn.Flatten semantics in
-- Lua's 1-based dims: nn.Flatten([startDim = 2[, endDim = -1]]) merges dims
-- startDim..endDim, so N,C,H,W becomes N x (C*H*W) and the batch dim is kept
-- even when N = 1 (unlike View(-1)). Negative dims count from the end.

local class = require "ember.class"
local View = require "ember.nn.View"
local Module = require "ember.nn.Module"

local Flatten = class("nn.Flatten", View)

function Flatten:__init(startDim, endDim)
  Module.__init(self)
  startDim, endDim = startDim or 2, endDim or -1
  if math.type(startDim) ~= "integer" or startDim == 0 or math.type(endDim) ~= "integer"
     or endDim == 0 then
    error("nn.Flatten([startDim[, endDim]]): dims must be nonzero integers, got "
          .. tostring(startDim) .. " and " .. tostring(endDim), 2)
  end
  self.startDim, self.endDim = startDim, endDim
  self._shape = {}
end

function Flatten:updateOutput(input)
  local nd = input:dim()
  local s = self.startDim < 0 and nd + self.startDim + 1 or self.startDim
  local e = self.endDim < 0 and nd + self.endDim + 1 or self.endDim
  if s < 1 or e > nd or s > e then
    error(string.format("dims %d to %d do not fit a %d-dimensional input %s", self.startDim,
                        self.endDim, nd, input:shape()), 0)
  end
  local shape, k, merged = self._shape, 0, 1
  for i = 1, s - 1 do k = k + 1 shape[k] = input:size(i) end
  for i = s, e do merged = merged * input:size(i) end
  k = k + 1
  shape[k] = merged
  for i = e + 1, nd do k = k + 1 shape[k] = input:size(i) end
  for i = k + 1, #shape do shape[i] = nil end
  return self:viewInto(input, shape)
end

function Flatten:__repr()
  if self.endDim == -1 then return "Flatten(" .. self.startDim .. ")" end
  return "Flatten(" .. self.startDim .. ", " .. self.endDim .. ")"
end

return Flatten
