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
--   :weightsChanged()           after writing into weight in place (drops the
--                               cached Winograd weight; see _winograd below)
--   algo                        nil ("auto"), "im2col", "winograd" (F(4x4,3x3))
--                               or "winograd2" (F(2x2,3x3), on 5x5 layers
--                               F(2x2,5x5), on 1x7 and 7x1 ones F(2,7)): forces
--                               the core's algorithm (tests, benchmarks)
--
-- Fused epilogue (set by ember.fuse on a running graph, not by net files):
-- output = act(conv + bias + residual) in the kernel's pass over the output.
--   fusedAct      nil, or a core.act kind ("relu", "clamp"...), with
--   fusedA, fusedB its parameters (ReLU6: "clamp", 0, 6)
--   fusedNames    what was folded in, for printing ({"relu"}, {"residual", "relu6"})
-- A fused residual comes as the input table {x, residual} (an nn.Graph node
-- or ember.fuse's FusedResidual), so a memory plan sees the conv read it; a
-- residual of another shape (a broadcasting Add) is added after the conv.
-- inplace (set by ember.plan where the residual dies at the conv and the
-- core allows it): the output is the residual tensor, overwritten.

local class = require "ember.class"
local core = require "ember.core"
-- tensor methods called straight, not through the tensor's __index (a C
-- function, for t[i]): a convolution's Lua side runs on every forward
local dim, isSetTo, conv2d = core.methods.dim, core.methods.isSetTo, core.conv2d
local isTensor = require("ember").isTensor
local Module = require "ember.nn.Module"
local util = require "ember.nn.util"

local positive, nonneg, pads = util.positive, util.nonneg, util.pads

local SpatialConvolution, parent = class("nn.SpatialConvolution", Module)

SpatialConvolution.__params = { "weight", "bias" }

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
  self.bias = util.param(nOutputPlane)
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
  self.weight = util.param(self:_weightSize())
  util.initialise(self)   -- reset(), unless deferred (ember.load)
  return self
end

-- Uniform in +-stdv; by default 1/sqrt(fan-in), as Torch7 (fan-in per group).
function SpatialConvolution:reset(stdv)
  return util.reset(self, stdv, self.kW * self.kH * self.nInputPlane / self.groups)
end

function SpatialConvolution:noBias()
  self.bias = nil
  return self
end

-- Asymmetric padding (e.g. ONNX pads or TensorFlow's SAME), top left bottom
-- right; padW/padH then hold the left and top values.
SpatialConvolution.setPadding = util.setPadding
SpatialConvolution.setDilation = util.setDilation
SpatialConvolution._pads = util.pads   -- top, left, bottom, right

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
  local res
  if type(input) == "table" then   -- {x, residual}: fused with the Add after it
    input, res = input[1], input[2]
    if res ~= nil and not isTensor(res) then
      error("expected a tensor or a table {input, residual} of tensors, got a " .. type(res) .. " residual", 0)
    end
    if res and not self:_residualFits(input, res) then return self:_addAfter(input, res) end
    if res and self.inplace then self.output:set(res) end   -- ember/plan.lua's choice
  end
  if dim(input) == 4 then   -- the common case first, with no closure per call
    self:_conv(input, self.output, res)
    return self.output
  end
  return self:_batched(input, function(x, out) self:_conv(x, out, res) end)
end

-- The core's convolution of a 4-D x into out. packed_weight: the weight
-- packed for the core's matrix product (panels of 6 output
-- planes, as large as the weight), made by the core on the first forward
-- that multiplies and reused after, with the same rule as _winograd: kept
-- with a view of the weight it came from. Saves packing the weight on every
-- call: 13-23% of a layer with a 7x7 or 8x8 output, 4-10% from 14x14 to
-- 28x28 (weights read from memory, 2 threads). Never saved. Only when
-- self.packWeight is set: true, or the most output pixels a layer may have
-- to be packed (the core checks it: ember.onnx.load sets it,
-- ember.nn.util.packWeights sets true); nil otherwise.
function SpatialConvolution:_conv(x, out, res)
  local t, l, b, r = pads(self)
  local limit = self.packWeight
  conv2d(x, out, self.weight, self.bias, self.finput, self.dW, self.dH,
         l, r, t, b, self.dilationW, self.dilationH, self.groups,
         self.fusedAct, self.fusedA, self.fusedB, res, self:_winograd(), self.algo, self.bnScale,
         limit and self:_weightCache("packed_weight", "_packedOf"), self.deferPrepare,
         limit ~= true and limit or nil)
end

-- self[field], a tensor the core fills from the weight and reuses: kept with
-- a view of the weight it came from (self[of]), and empty again whenever the
-- weight is another tensor or of another size.
function SpatialConvolution:_weightCache(field, of)
  local v, w = self[of], self.weight
  if not (self[field] and v and isSetTo(v, w)) then
    self[field], self[of] = core.tensor(), core.tensor():set(w)
  end
  return self[field]
end

-- Winograd's transformed weight (36 x out x in, 4x the weight; 16 x out x in
-- for F(2x2, 3x3) on 7x7 and 8x8 outputs; 36 x out x in, 36/25 of the
-- weight, for F(2x2, 5x5); 8 x out x in, 8/7 of it, for F(2, 7)), for 3x3,
-- 5x5, 1x7 and 7x1 stride-1 convolutions:
-- the core fills it on the first forward that runs by Winograd (its choice,
-- or self.algo = "winograd" or "winograd2"; "im2col" forbids it) and reuses
-- it after, redoing it if an input of another size needs the other tile.
-- It is kept with a view of the weight it came from, so a
-- weight replaced by another tensor (weights.apply, folding into a copy) is
-- transformed again; after writing into the weight in place, call
-- :weightsChanged(). Not a parameter: never saved.
function SpatialConvolution:_winograd()
  local square = (self.kW == 3 or self.kW == 5) and self.kH == self.kW
  local line = (self.kW == 7 and self.kH == 1) or (self.kW == 1 and self.kH == 7)
  if not (square or line) or self.dW ~= 1 or self.dH ~= 1 or self.groups ~= 1 or
     self.dilationW ~= 1 or self.dilationH ~= 1 or self.algo == "im2col" then
    return nil
  end
  return self:_weightCache("wino_weight", "_winoOf")
end

-- Output rows and columns for an h x w input and padding t, l, b, r.
local function out_size(self, h, w, t, l, b, r)
  return (h + t + b - (self.kH - 1) * self.dilationH - 1) // self.dH + 1,
         (w + l + r - (self.kW - 1) * self.dilationW - 1) // self.dW + 1
end

-- Whether a forward of input to output (as a trace saw them) would first
-- transform the weight for Winograd: the core runs the layer so and the
-- transform is not made yet (ember/plan.lua defers it; deferPrepare). The
-- side of its output blocks (4 or 2, core.winograd_prepare's m) if so.
function SpatialConvolution:_winogradPending(input, output)
  if not self:_winograd() or self.wino_weight:nElement() > 0 then return false end
  local x = type(input) == "table" and input[1] or input
  local d, o = x:dim(), output:dim()
  if d < 3 or o < 3 then return false end
  return core.conv2d_winograd(x:size(d - 2), self.nOutputPlane, output:size(o - 1), output:size(o),
                              self.kH, self.kW, self.dW, self.dH, self.dilationW, self.dilationH,
                              self.groups, self.algo)
end

function SpatialConvolution:weightsChanged()
  self.wino_weight, self._winoOf = nil, nil
  self.packed_weight, self._packedOf = nil, nil
  return self
end

-- An ONNX Add may broadcast; the fused kernel takes only the output's shape.
function SpatialConvolution:_residualFits(x, res)
  if x:dim() ~= 4 or res:dim() ~= 4 or res:size(1) ~= x:size(1) or res:size(2) ~= self.nOutputPlane then
    return false
  end
  local ho, wo = out_size(self, x:size(3), x:size(4), self:_pads())
  return res:size(3) == ho and res:size(4) == wo
end

-- For ember/plan.lua, given what a traced forward read (inputs) and
-- returned: 2 if the residual (inputs[2]) may become the output, its values
-- overwritten as they are added (the core's path allows it, see
-- em_conv2d_residual_in_place); then self.inplace makes it so.
function SpatialConvolution:_inPlaceInput(inputs, output)
  local x, res = inputs[1], inputs[2]
  if #inputs ~= 2 or x:dim() ~= 4 or not self:_residualFits(x, res) then
    return nil
  end
  return core.conv2d_residual_in_place(x:size(2), output:size(4), self.kH, self.kW, self.dW, self.dH,
                                       self.dilationW, self.dilationH, self.groups, self.algo,
                                       self.bnScale ~= nil) and 2 or nil
end

-- The unfused order for a residual of another shape: conv, add, activation.
function SpatialConvolution:_addAfter(x, res)
  local act, a, b = self.fusedAct, self.fusedA, self.fusedB
  self._convOut = self._convOut or core.tensor()
  self.output, self.fusedAct = self._convOut, nil
  local ok, y = pcall(self.updateOutput, self, x)
  self.fusedAct = act
  if not ok then error(y, 0) end
  self._sum = core.cadd_table({ y, res }, self._sum or core.tensor())
  self.output = self._sum
  if act then core.act(self.output, self.output, act, a, b) end
  return self.output
end

function SpatialConvolution:clearState()
  self._out4 = nil
  self.finput = core.tensor()
  self:weightsChanged()
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
  s = s .. util.reprPadding(self) .. self:_reprExtra()
  if self.groups ~= 1 then s = s .. ", groups " .. self.groups end
  s = s .. (self.bias and ")" or ") without bias")
  if self.fusedNames then s = s .. " + " .. table.concat(self.fusedNames, " + ") end
  return s
end

SpatialConvolution._reprExtra = util.reprDilation

return SpatialConvolution
