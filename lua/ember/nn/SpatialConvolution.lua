-- nn/SpatialConvolution.lua -- 2-D convolution, Torch7's arguments and fields.
-- nn.SpatialConvolution(nInputPlane, nOutputPlane, kW, kH, [dW=1], [dH=1],
--                       [padW=0], [padH=padW], [groups=1])
--
-- weight is out, in/groups, kH, kW (4-D as in PyTorch; Torch7 kept it 2-D),
-- bias is out. groups is the 9th argument, as cudnn.SpatialConvolution has it.
-- Chainable extras, each returning self:
--   :noBias()                   drop the bias (Torch7's name)
--   :setGroups(g)               reallocates (and re-initialises) the weight
--   :setPadding(pt, pl, pb, pr) asymmetric padding, top left bottom right (ONNX's order)
--   :setDilation(dW, dH)
-- Input is N,C,H,W or C,H,W (one image; the output is then C,H,W too).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local SpatialConvolution, parent = class("nn.SpatialConvolution", Module)

SpatialConvolution.__params = { "weight", "bias" }

local function positive(v, what, cls)
  if math.type(v) ~= "integer" or v < 1 then
    error(string.format("%s: %s must be a positive integer, got %s", cls, what, tostring(v)), 0)
  end
end

local function nonneg(v, what, cls)
  if math.type(v) ~= "integer" or v < 0 then
    error(string.format("%s: %s must be a non-negative integer, got %s", cls, what, tostring(v)), 0)
  end
end

SpatialConvolution._positive = positive
SpatialConvolution._nonneg = nonneg

-- t (if present) filled uniformly in [a, b): Torch7's reset().
function SpatialConvolution._uniform(t, a, b)
  if t then t:uniform(a, b) end
end

function SpatialConvolution:__init(nInputPlane, nOutputPlane, kW, kH, dW, dH, padW, padH, groups)
  parent.__init(self)
  local cls = self.__typename
  positive(nInputPlane, "nInputPlane", cls)
  positive(nOutputPlane, "nOutputPlane", cls)
  positive(kW, "kW", cls)
  positive(kH, "kH", cls)
  self.nInputPlane, self.nOutputPlane = nInputPlane, nOutputPlane
  self.kW, self.kH = kW, kH
  self.dW, self.dH = dW or 1, dH or 1
  self.padW = padW or 0
  self.padH = padH or self.padW
  positive(self.dW, "dW", cls)
  positive(self.dH, "dH", cls)
  nonneg(self.padW, "padW", cls)
  nonneg(self.padH, "padH", cls)
  self.dilationW, self.dilationH = 1, 1
  self.groups = 1
  self.finput = core.tensor()   -- im2col scratch, kept so forward allocates nothing
  self.bias = core.tensor(nOutputPlane)
  self:setGroups(groups or 1)
end

-- Weight shape for the current groups (SpatialFullConvolution overrides).
function SpatialConvolution:_weightSize()
  return self.nOutputPlane, self.nInputPlane // self.groups, self.kH, self.kW
end

function SpatialConvolution:setGroups(g)
  local cls = self.__typename
  positive(g, "groups", cls)
  if self.nInputPlane % g ~= 0 or self.nOutputPlane % g ~= 0 then
    error(string.format("%s: %d -> %d planes do not divide into %d groups",
                        cls, self.nInputPlane, self.nOutputPlane, g), 0)
  end
  self.groups = g
  self.weight = core.tensor(self:_weightSize())
  self:reset()
  return self
end

-- Uniform in +-stdv; by default 1/sqrt(fan-in), as Torch7 (fan-in per group).
function SpatialConvolution:reset(stdv)
  if stdv then
    stdv = stdv * math.sqrt(3)
  else
    stdv = 1 / math.sqrt(self.kW * self.kH * self.nInputPlane / self.groups)
  end
  self._uniform(self.weight, -stdv, stdv)
  self._uniform(self.bias, -stdv, stdv)
  return self
end

function SpatialConvolution:noBias()
  self.bias = nil
  return self
end

-- Asymmetric padding (e.g. ONNX pads or TensorFlow's SAME); padW/padH then
-- hold the left and top values.
function SpatialConvolution:setPadding(pt, pl, pb, pr)
  local cls = self.__typename
  nonneg(pt, "top padding", cls)
  nonneg(pl, "left padding", cls)
  nonneg(pb, "bottom padding", cls)
  nonneg(pr, "right padding", cls)
  self.padH, self.padW = pt, pl
  self.pads = (pt ~= pb or pl ~= pr) and { pt, pl, pb, pr } or nil
  return self
end

function SpatialConvolution:setDilation(dW, dH)
  positive(dW, "dilationW", self.__typename)
  positive(dH or dW, "dilationH", self.__typename)
  self.dilationW, self.dilationH = dW, dH or dW
  return self
end

-- Padding as top, left, bottom, right.
function SpatialConvolution:_pads()
  local p = self.pads
  if p then return p[1], p[2], p[3], p[4] end
  return self.padH, self.padW, self.padH, self.padW
end

-- Runs kernel(x, out) on a 4-D input; a 3-D one goes through as a batch of
-- one, its output viewed back to 3-D (self._out4 keeps the 4-D storage).
function SpatialConvolution:_batched(input, kernel)
  local d = input:dim()
  if d == 4 then
    kernel(input, self.output)
    return self.output
  end
  if d ~= 3 then
    error(string.format("expected a 3-D (C,H,W) or 4-D (N,C,H,W) input, got %s",
                        input:dim() == 0 and "empty" or input:shape()), 0)
  end
  local s = input:size()
  self._out4 = self._out4 or core.tensor()
  kernel(input:reshape(1, s[1], s[2], s[3]), self._out4)
  local o = self._out4:size()
  self.output = self._out4:view(o[2], o[3], o[4])
  return self.output
end

function SpatialConvolution:updateOutput(input)
  local t, l, b, r = self:_pads()
  return self:_batched(input, function(x, out)
    core.conv2d(x, out, self.weight, self.bias, self.finput, self.dW, self.dH,
                l, r, t, b, self.dilationW, self.dilationH, self.groups)
  end)
end

function SpatialConvolution:clearState()
  self._out4 = nil
  self.finput = core.tensor()
  return parent.clearState(self)
end

-- Torch7's form: stride and padding only when not the defaults; ember's
-- extras (asymmetric padding, dilation, groups) after them.
function SpatialConvolution:__repr()
  local s = string.format("%s(%d -> %d, %dx%d", self.__typename:gsub("^nn%.", ""),
                          self.nInputPlane, self.nOutputPlane, self.kW, self.kH)
  if self.dW ~= 1 or self.dH ~= 1 or self.padW ~= 0 or self.padH ~= 0 then
    s = s .. string.format(", %d,%d", self.dW, self.dH)
  end
  if self.pads then
    s = s .. string.format(", pad %d,%d,%d,%d", table.unpack(self.pads))
  elseif self.padW ~= 0 or self.padH ~= 0 then
    s = s .. string.format(", %d,%d", self.padW, self.padH)
  end
  s = s .. self:_reprExtra()
  if self.groups ~= 1 then s = s .. ", groups " .. self.groups end
  return s .. (self.bias and ")" or ") without bias")
end

function SpatialConvolution:_reprExtra()
  if self.dilationW ~= 1 or self.dilationH ~= 1 then
    return string.format(", dilation %d,%d", self.dilationW, self.dilationH)
  end
  return ""
end

return SpatialConvolution
