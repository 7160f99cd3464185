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
local SpatialConvolution = require "ember.nn.SpatialConvolution"

local positive, nonneg = SpatialConvolution._positive, SpatialConvolution._nonneg

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

function SpatialMaxPooling:setPadding(pt, pl, pb, pr)
  local cls = self.__typename
  nonneg(pt, "top padding", cls)
  nonneg(pl, "left padding", cls)
  nonneg(pb, "bottom padding", cls)
  nonneg(pr, "right padding", cls)
  self.padH, self.padW = pt, pl
  self.pads = (pt ~= pb or pl ~= pr) and { pt, pl, pb, pr } or nil
  return self
end

function SpatialMaxPooling:setDilation(dW, dH)
  positive(dW, "dilationW", self.__typename)
  positive(dH or dW, "dilationH", self.__typename)
  self.dilationW, self.dilationH = dW, dH or dW
  return self
end

-- Right and bottom padding.
function SpatialMaxPooling:_padRB()
  if self.pads then return self.pads[4], self.pads[3] end
  return self.padW, self.padH
end

function SpatialMaxPooling:updateOutput(input)
  local pr, pb = self:_padRB()
  return core.maxpool2d(input, self.output, self.kW, self.kH, self.dW, self.dH,
                        self.padW, self.padH, self.ceil_mode,
                        self.dilationW, self.dilationH, pr, pb)
end

-- Torch7's form, "SpatialMaxPooling(3x3, 2,2, 1,1)" (padding only when
-- set; Torch7 does not show ceil mode); ember's extras after it.
function SpatialMaxPooling:__repr()
  local s = string.format("%s(%dx%d, %d,%d", self.__typename:gsub("^nn%.", ""),
                          self.kW, self.kH, self.dW, self.dH)
  if self.pads then
    s = s .. string.format(", pad %d,%d,%d,%d", table.unpack(self.pads))
  elseif self.padW ~= 0 or self.padH ~= 0 then
    s = s .. string.format(", %d,%d", self.padW, self.padH)
  end
  if (self.dilationW or 1) ~= 1 or (self.dilationH or 1) ~= 1 then
    s = s .. string.format(", dilation %d,%d", self.dilationW, self.dilationH)
  end
  return s .. ")"
end

return SpatialMaxPooling
