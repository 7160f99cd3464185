-- nn/SpatialMaxPooling.lua -- max over kW x kH windows, Torch7's arguments.
-- nn.SpatialMaxPooling(kW, kH, [dW=kW], [dH=kH], [padW=0], [padH=0])
--
-- Padded cells never win. Output size as PyTorch: floor by default,
-- :ceil() (chainable, as Torch7) rounds up, but the last window must start
-- inside the input or the left/top padding. As in PyTorch, padding may be at
-- most half the kernel. ember's extras, each returning self:
--   :setPadding(pt, pl, pb, pr)  asymmetric padding (ONNX order); each side
--                                must be smaller than the kernel (ONNX Runtime's rule)
--   :setDilation(dW, dH)         dilated windows, as PyTorch's dilation
-- Input is N,C,H,W or C,H,W (one image; the output is then C,H,W too).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local util = require "ember.nn.util"

local positive, nonneg = util.positive, util.nonneg

local SpatialMaxPooling, parent = class("nn.SpatialMaxPooling", Module)

-- Shared with SpatialAveragePooling: checks and stores the window.
function SpatialMaxPooling._window(self, kW, kH, dW, dH, padW, padH)
  local cls = self.__typename
  positive(kW, "kW", cls)
  positive(kH, "kH", cls)
  positive(dW, "dW", cls)
  positive(dH, "dH", cls)
  nonneg(padW, "padW", cls)
  nonneg(padH, "padH", cls)
  if padW > kW // 2 or padH > kH // 2 then
    error(string.format("%s: pad should be at most half of kernel size, but got padW = %d, padH = %d, kW = %d, kH = %d",
                        cls, padW, padH, kW, kH), 0)
  end
  self.kW, self.kH, self.dW, self.dH, self.padW, self.padH = kW, kH, dW, dH, padW, padH
  self.ceil_mode = false
end

function SpatialMaxPooling:__init(kW, kH, dW, dH, padW, padH)
  parent.__init(self)
  self:_window(kW, kH, dW or kW, dH or kH, padW or 0, padH or 0)
  self.dilationW, self.dilationH = 1, 1
end

function SpatialMaxPooling:ceil()
  self.ceil_mode = true
  return self
end

function SpatialMaxPooling:floor()
  self.ceil_mode = false
  return self
end

SpatialMaxPooling.setPadding = util.setPadding
SpatialMaxPooling.setDilation = util.setDilation

function SpatialMaxPooling:updateOutput(input)
  local _, _, pb, pr = util.pads(self)
  return core.maxpool2d(input, self.output, self.kW, self.kH, self.dW, self.dH,
                        self.padW, self.padH, self.ceil_mode,
                        self.dilationW, self.dilationH, pr, pb)
end

-- Torch7's form, "SpatialMaxPooling(3x3, 2,2, 1,1)" (padding only when
-- set; Torch7 does not show ceil mode); ember's extras after it.
function SpatialMaxPooling:__repr()
  local s = string.format("%s(%dx%d, %d,%d", self.__typename:gsub("^nn%.", ""),
                          self.kW, self.kH, self.dW, self.dH)
  return s .. util.reprPadding(self) .. util.reprDilation(self) .. ")"
end

return SpatialMaxPooling
