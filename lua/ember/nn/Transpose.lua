-- nn/Transpose.lua -- nn.Transpose(perm): the input's dims permuted (ONNX
-- Transpose; perm is 1-based as Lua's dims: {1, 3, 2} swaps the last two of
-- three), copied into a contiguous output (in runs and tiles, core/shape.c).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Transpose = class("nn.Transpose", Module)

function Transpose:__init(perm)
  Module.__init(self)
  if type(perm) ~= "table" or #perm == 0 then
    error("nn.Transpose(perm): expected a list of dims", 2)
  end
  local seen = {}
  for _, d in ipairs(perm) do
    if math.type(d) ~= "integer" or d < 1 or d > #perm or seen[d] then
      error("nn.Transpose(perm): {" .. table.concat(perm, ", ") .. "} is not a permutation", 2)
    end
    seen[d] = true
  end
  self.perm = { table.unpack(perm) }
end

function Transpose:updateOutput(input)
  if input:dim() ~= #self.perm then
    error(string.format("expected a %d-dimensional input, got %s", #self.perm, input:shape()), 0)
  end
  -- a fresh tensor if the old output is the input itself (e.g. after Identity)
  if rawequal(self.output, input) then self.output = core.tensor() end
  return core.permute(input, self.output, self.perm)
end

function Transpose:__repr() return "Transpose(" .. table.concat(self.perm, ", ") .. ")" end

return Transpose
