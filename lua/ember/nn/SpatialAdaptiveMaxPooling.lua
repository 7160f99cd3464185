-- nn/SpatialAdaptiveMaxPooling.lua -- max pooling to a fixed W x H output.
-- nn.SpatialAdaptiveMaxPooling(W, H) (Torch7's order, width first); (1, 1)
-- is global max pooling. Output cell i of oh covers input rows
-- floor(i*H/oh) to ceil((i+1)*H/oh) - 1, as PyTorch. Input N,C,H,W or C,H,W.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local util = require "ember.nn.util"

local SpatialAdaptiveMaxPooling, parent = class("nn.SpatialAdaptiveMaxPooling", Module)

function SpatialAdaptiveMaxPooling:__init(W, H)
  parent.__init(self)
  util.positive(W, "W", self.__typename)
  util.positive(H, "H", self.__typename)
  self.W, self.H = W, H
end

function SpatialAdaptiveMaxPooling:updateOutput(input)
  return core.adaptive_maxpool2d(input, self.output, self.W, self.H)
end

-- Torch7 prints the bare name; the output size is worth seeing.
function SpatialAdaptiveMaxPooling:__repr()
  return string.format("%s(%dx%d)", self.__typename:gsub("^nn%.", ""), self.W, self.H)
end

return SpatialAdaptiveMaxPooling
