-- nn/Tile.lua -- nn.Tile(repeats): the input repeated along each dim (ONNX Tile).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local Gather = require "ember.nn.Gather"

local Tile = class("nn.Tile", Module)

function Tile:__init(repeats)
  Module.__init(self)
  if type(repeats) ~= "table" then error("nn.Tile(repeats): repeats must be a list", 2) end
  for _, r in ipairs(repeats) do
    if math.type(r) ~= "integer" or r < 0 then error("nn.Tile(repeats): repeats must be non-negative integers", 2) end
  end
  self.repeats = { table.unpack(repeats) }
end

function Tile:updateOutput(input)
  if #self.repeats ~= input:dim() then
    error(string.format("%d repeats for the %d-dimensional input %s", #self.repeats, input:dim(), input:shape()), 0)
  end
  local total = input:nElement()
  for _, r in ipairs(self.repeats) do total = total * r end
  if total > 2 ^ 31 then error("tiled output of " .. total .. " elements is too large", 0) end
  local x = input
  for d, r in ipairs(self.repeats) do
    if r ~= 1 then
      local idx, n = {}, x:size(d)
      for _ = 1, r do for i = 1, n do idx[#idx + 1] = i end end
      x = Gather.take(x, core.tensor(), d, idx)
    end
  end
  self.output:resizeAs(x):copy(x)
  return self.output
end

function Tile:__repr() return "Tile({" .. table.concat(self.repeats, ", ") .. "})" end

return Tile
