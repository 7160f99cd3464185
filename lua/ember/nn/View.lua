-- nn/View.lua -- Torch7's nn.View(sizes...): the input seen with other sizes
-- (sharing its memory; a non-contiguous input is copied first).
-- One size may be -1 (inferred). As in Torch7, elements left over form a
-- leading batch dim: View(4) turns 2x2x2 into 2x4; setNumInputDims(n) says
-- how many trailing dims one sample has, so View(-1):setNumInputDims(3)
-- flattens each sample of N,C,H,W into N x (C*H*W).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local View = class("nn.View", Module)

function View:__init(...)
  Module.__init(self)
  local sizes = select("#", ...) == 1 and type(...) == "table" and { table.unpack(...) } or { ... }
  if #sizes == 0 then error("nn.View(sizes...): expected at least one size", 2) end
  self.size, self.numElements, self.infer = sizes, 1, false
  for _, s in ipairs(sizes) do
    if math.type(s) ~= "integer" or (s < 1 and s ~= -1) then
      error("nn.View(sizes...): sizes must be positive integers or -1, got " .. tostring(s), 2)
    end
    if s == -1 then
      if self.infer then error("nn.View(sizes...): only one size may be -1", 2) end
      self.infer = true
    else
      self.numElements = self.numElements * s
    end
  end
  self.numInputDims = nil
  self._shape = {}           -- the sizes passed to the view, reused
  self._contig = nil         -- copy of a non-contiguous input
end

function View:setNumInputDims(numInputDims)
  if numInputDims ~= nil and (math.type(numInputDims) ~= "integer" or numInputDims < 1) then
    error("setNumInputDims: expected a positive integer, got " .. tostring(numInputDims), 2)
  end
  self.numInputDims = numInputDims
  return self
end

-- Torch7's batch size: nil when the input is one sample.
function View:batchSize(input)
  local nd = input:dim()
  local maxdim = self.numInputDims and math.min(self.numInputDims, nd) or nd
  local ine = 1
  for i = nd, nd - maxdim + 1, -1 do ine = ine * input:size(i) end
  if ine % self.numElements ~= 0 then
    error(string.format("input view (%s) and desired view (%s) do not match",
                        input:shape(), table.concat(self.size, "x")), 0)
  end
  local bsz = self.infer and 1 or ine // self.numElements
  for i = nd - maxdim, 1, -1 do bsz = bsz * input:size(i) end
  if bsz == 1 and (not self.numInputDims or nd <= self.numInputDims) then return nil end
  return bsz
end

-- output becomes a view of input with the given sizes (copying a
-- non-contiguous input into a kept buffer first).
function View:viewInto(input, shape)
  if not input:isContiguous() then
    self._contig = self._contig or core.tensor()
    self._contig:resizeAs(input):copy(input)
    input = self._contig
  end
  -- a fresh tensor if the old output is the input itself (e.g. after Identity)
  if rawequal(self.output, input) then self.output = core.tensor() end
  return core.view_into(input, self.output, shape)
end

function View:updateOutput(input)
  local bsz = self:batchSize(input)
  local shape, n = self._shape, 0
  if bsz then n = 1 shape[1] = bsz end
  for i, s in ipairs(self.size) do shape[n + i] = s end
  for i = n + #self.size + 1, #shape do shape[i] = nil end
  local ok, out = pcall(self.viewInto, self, input, shape)
  if not ok then
    error(string.format("input view (%s) and desired view (%s) do not match",
                        input:shape(), table.concat(shape, "x")), 0)
  end
  return out
end

function View:__repr()
  return "View(" .. table.concat(self.size, ", ") .. ")"
end

return View
