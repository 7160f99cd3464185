-- nn/SpatialAveragePooling.lua -- mean over kW x kH windows, Torch7's arguments.
-- nn.SpatialAveragePooling(kW, kH, [dW=1], [dH=1], [padW=0], [padH=0])
--
-- As Torch7, padded cells count in the divisor by default
-- (:setCountIncludePad()); :setCountExcludePad() divides by the input cells
-- only. The divisor never counts the overhang that :ceil() adds past the
-- padding (PyTorch's rule). :ceil() / :floor() and :setPadding(pt, pl, pb, pr)
-- as in SpatialMaxPooling, all chainable. Input is N,C,H,W or C,H,W.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local SpatialMaxPooling = require "ember.nn.SpatialMaxPooling"
local util = require "ember.nn.util"

local SpatialAveragePooling, parent = class("nn.SpatialAveragePooling", Module)

function SpatialAveragePooling:__init(kW, kH, dW, dH, padW, padH)
  parent.__init(self)
  SpatialMaxPooling._window(self, kW, kH, dW or 1, dH or 1, padW or 0, padH or 0)
  self.count_include_pad = true
  self.divide = true   -- Torch7's field; always true here
end

SpatialAveragePooling.ceil = SpatialMaxPooling.ceil
SpatialAveragePooling.floor = SpatialMaxPooling.floor
SpatialAveragePooling.setPadding = util.setPadding
SpatialAveragePooling.__repr = SpatialMaxPooling.__repr

function SpatialAveragePooling:setCountIncludePad()
  self.count_include_pad = true
  return self
end

function SpatialAveragePooling:setCountExcludePad()
  self.count_include_pad = false
  return self
end

function SpatialAveragePooling:updateOutput(input)
  local _, _, pb, pr = util.pads(self)
  return core.avgpool2d(input, self.output, self.kW, self.kH, self.dW, self.dH,
                        self.padW, self.padH, self.ceil_mode, self.count_include_pad, pr, pb)
end

return SpatialAveragePooling
