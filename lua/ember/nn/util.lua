-- nn/util.lua -- what several nn classes share: argument checks, Torch7's
-- reset(), and the padding and dilation of windowed layers (conv and pooling).

local core = require "ember.core"

local U = {}

function U.positive(v, what, cls)
  if math.type(v) ~= "integer" or v < 1 then
    error(string.format("%s: %s must be a positive integer, got %s", cls, what, tostring(v)), 0)
  end
end

function U.nonneg(v, what, cls)
  if math.type(v) ~= "integer" or v < 0 then
    error(string.format("%s: %s must be a non-negative integer, got %s", cls, what, tostring(v)), 0)
  end
end

-- Torch7's reset(): weight, then bias (where present) uniform in +-stdv*sqrt(3)
-- when stdv is given, else in +-1/sqrt(fanIn).
function U.reset(self, stdv, fanIn)
  stdv = stdv and stdv * math.sqrt(3) or 1 / math.sqrt(fanIn)
  if self.weight then self.weight:uniform(-stdv, stdv) end
  if self.bias then self.bias:uniform(-stdv, stdv) end
  return self
end

-- Deferred initialisation, for ember.load with a weights file: the file
-- replaces every parameter right after the net is built, so filling them
-- first (zeros, then Torch7's random reset) is wasted work, about 0.5 s for
-- ResNet-50. Inside U.deferInit(fn), constructors that support it allocate
-- their parameters uninitialised (never written, so the pages of a large one
-- are never touched) and, instead of calling reset(), list themselves. The
-- loader (ember.weights.apply with opts.deferred) then calls reset() on every
-- listed module that the file does not fully cover, before binding the
-- file's tensors: no uninitialised value stays reachable from a loaded net.
-- Outside deferInit (a module made by hand, ONNX import, ...), nothing changes.
local deferring = nil   -- the list of the innermost running deferInit, or nil

-- Runs fn(...) with deferred initialisation; returns the list of modules
-- that deferred (each once, in creation order), then fn's results. Raises
-- what fn raises, with the previous state restored.
function U.deferInit(fn, ...)
  local saved, list = deferring, { seen = {} }
  deferring = list
  local r = table.pack(pcall(fn, ...))
  deferring = saved
  if not r[1] then error(r[2], 0) end
  list.seen = nil
  return list, table.unpack(r, 2, r.n)
end

-- A parameter tensor of the given sizes: zeros as always, or uninitialised
-- while deferring (the module must then call U.initialise, not reset()).
function U.param(...)
  if deferring then return core.tensor():resize(...) end
  return core.tensor(...)
end

-- A constructor's last step: self:reset(...), or, while deferring, a note
-- that self's reset() is due unless the weights file covers it.
function U.initialise(self, ...)
  if not deferring then return self:reset(...) end
  if not deferring.seen[self] then
    deferring.seen[self] = true
    deferring[#deferring + 1] = self
  end
  return self
end

-- Lets every convolution of a running graph keep its weight packed for the
-- core's matrix product (SpatialConvolution.packWeight), dropping any packing
-- made before: 4-23% per layer (most on 7x7 outputs), for one more copy of
-- the convolution weights and a first inference that packs them all (about
-- 100 ms for resnet50 on this VM, most of it page faults). So ember.load
-- takes it as an option (ember.load{..., packWeights = true}, for
-- long-running servers); ember.onnx.load packs the layers with small
-- outputs by default, at load (its probe does).
-- Only graphs whose weights change through their owner's API (m.graph,
-- remade by m:refold()) should: a cache cannot see a weight written in
-- place (m.weight:copy(w)).
function U.packWeights(net)
  net:apply(function(m)
    if m._conv then
      m.packed_weight, m._packedOf = nil, nil
      m.packWeight = true
    end
  end)
  return net
end

-- Methods of windowed layers (self.padW/padH/pads, self.dilationW/H).

-- Asymmetric padding, top left bottom right (ONNX's order); padW/padH then
-- hold the left and top values, self.pads all four when they differ.
function U.setPadding(self, pt, pl, pb, pr)
  local cls = self.__typename
  U.nonneg(pt, "top padding", cls)
  U.nonneg(pl, "left padding", cls)
  U.nonneg(pb, "bottom padding", cls)
  U.nonneg(pr, "right padding", cls)
  self.padH, self.padW = pt, pl
  self.pads = (pt ~= pb or pl ~= pr) and { pt, pl, pb, pr } or nil
  return self
end

function U.setDilation(self, dW, dH)
  U.positive(dW, "dilationW", self.__typename)
  U.positive(dH or dW, "dilationH", self.__typename)
  self.dilationW, self.dilationH = dW, dH or dW
  return self
end

-- Padding as top, left, bottom, right.
function U.pads(self)
  local p = self.pads
  if p then return p[1], p[2], p[3], p[4] end
  return self.padH, self.padW, self.padH, self.padW
end

-- The repr's padding (", pad t,l,b,r" or Torch7's ", padW,padH"; nothing
-- when none) and dilation (nothing when 1).
function U.reprPadding(self)
  if self.pads then return string.format(", pad %d,%d,%d,%d", table.unpack(self.pads)) end
  if self.padW ~= 0 or self.padH ~= 0 then return string.format(", %d,%d", self.padW, self.padH) end
  return ""
end

function U.reprDilation(self)
  if (self.dilationW or 1) ~= 1 or (self.dilationH or 1) ~= 1 then
    return string.format(", dilation %d,%d", self.dilationW, self.dilationH)
  end
  return ""
end

return U
