-- nn/SpatialUpSamplingBilinear.lua -- bilinear resizing of C,H,W or N,C,H,W.
--   nn.SpatialUpSamplingBilinear(scale)      Torch7: out = (in - 1) * scale + 1
--   nn.SpatialUpSamplingBilinear({oheight = H, owidth = W})   Torch7: fixed size
--   nn.SpatialUpSamplingBilinear({scale_factor = s})          out = floor(in * s)
-- Corners are aligned as in Torch7 (PyTorch's align_corners = true) unless the
-- table says align_corners = false: then pixels are centres (PyTorch's
-- F.interpolate default, ONNX half_pixel). Source positions always use the
-- ratio in/out, i.e. PyTorch's recompute_scale_factor = true.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local SpatialZeroPadding = require "ember.nn.SpatialZeroPadding"

local SpatialUpSamplingBilinear = class("nn.SpatialUpSamplingBilinear", Module)

local function positive_int(v) return math.type(v) == "integer" and v >= 1 end

function SpatialUpSamplingBilinear:__init(params)
  Module.__init(self)
  local usage = "nn.SpatialUpSamplingBilinear(scale | {oheight=, owidth=} | {scale_factor=})"
  self.align_corners = true
  if type(params) == "table" then
    if params.align_corners ~= nil then
      if type(params.align_corners) ~= "boolean" then
        error(usage .. ": align_corners must be a boolean", 2)
      end
      self.align_corners = params.align_corners
    end
    if params.scale_factor ~= nil then
      if type(params.scale_factor) ~= "number" or not (params.scale_factor > 0) then
        error(usage .. ": scale_factor must be a positive number", 2)
      end
      self.scale = params.scale_factor
    elseif positive_int(params.oheight) and positive_int(params.owidth) then
      self.oheight, self.owidth = params.oheight, params.owidth
    else
      error(usage .. ": oheight and owidth must be positive integers", 2)
    end
  elseif positive_int(params) then
    self.scale_factor = params
  else
    error(usage .. ": scale must be a positive integer, got " .. tostring(params), 2)
  end
end

function SpatialUpSamplingBilinear:updateOutput(input)
  SpatialZeroPadding.checkSpatial(input)
  local h, w = input:size(-2), input:size(-1)
  local oh, ow = self.oheight, self.owidth
  if self.scale_factor then
    oh, ow = (h - 1) * self.scale_factor + 1, (w - 1) * self.scale_factor + 1
  elseif self.scale then
    oh, ow = math.floor(h * self.scale), math.floor(w * self.scale)
    if oh < 1 or ow < 1 then
      error(string.format("scale_factor %g makes a %dx%d input %dx%d", self.scale, h, w, oh, ow), 0)
    end
  end
  return core.upsample_bilinear(input, self.output, oh, ow, self.align_corners)
end

function SpatialUpSamplingBilinear:__repr()
  local s
  if self.scale_factor then s = tostring(self.scale_factor)
  elseif self.scale then s = string.format("scale_factor=%g", self.scale)
  else s = string.format("%d, %d", self.oheight, self.owidth) end
  if not self.align_corners then s = s .. ", align_corners=false" end
  return "SpatialUpSamplingBilinear(" .. s .. ")"
end

return SpatialUpSamplingBilinear
