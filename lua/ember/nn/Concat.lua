-- nn/Concat.lua -- Torch7's nn.Concat(dim): every child gets the same input,
-- their outputs are concatenated along dim.
-- dim counts as in Torch7, on the actual tensors (no batch adjustment): for
-- batched N,C,H,W input dim 2 is channels (Inception), for C,H,W it is dim 1.
-- A negative dim counts from the end (-3 is channels for both).

local class = require "ember.class"
local core = require "ember.core"
local isTensor = require("ember").isTensor
local Container = require "ember.nn.Container"

local Concat = class("nn.Concat", Container)

function Concat:__init(dimension)
  Container.__init(self)
  if math.type(dimension) ~= "integer" or dimension == 0 then
    error("nn.Concat(dim): dim must be a nonzero integer, got " .. tostring(dimension), 2)
  end
  self.dimension = dimension
  self.outs = {}   -- the children's outputs of the current pass (kept, no garbage)
end

local function describe(x)
  if type(x) == "userdata" and x.shape then return x:shape() end
  return "a " .. type(x)
end

function Concat:updateOutput(input)
  local outs, n = self.outs, #self.modules
  if n == 0 then error("has no children", 0) end
  for i = 1, n do outs[i] = self:runChild(i, input) end
  for i = n + 1, #outs do outs[i] = nil end
  local first = outs[1]
  if not isTensor(first) then
    error("child 1 output is " .. describe(first) .. ", expected a tensor", 0)
  end
  local nd = first:dim()
  local d = self.dimension < 0 and nd + self.dimension + 1 or self.dimension
  if d < 1 or d > nd then
    error(string.format("dim %d out of range for child outputs of %d dimensions (%s)",
                        self.dimension, nd, first:shape()), 0)
  end
  for i = 2, n do
    local o = outs[i]
    if not isTensor(o) then
      error("child " .. i .. " output is " .. describe(o) .. ", expected a tensor", 0)
    end
    local same = o:dim() == nd
    for k = 1, nd do
      if not same then break end
      if k ~= d and o:size(k) ~= first:size(k) then same = false end
    end
    if not same then
      error(string.format("child %d output %s does not match %s outside dim %d",
                          i, o:shape(), first:shape(), d), 0)
    end
  end
  return core.concat(outs, self.output, d)
end

function Concat:__repr()
  return "Concat(" .. self.dimension .. ")"
end

function Concat:__tostring__()
  return self:branchString("nn.Concat" .. (self.name and (" <" .. self.name .. ">") or ""))
end

return Concat
