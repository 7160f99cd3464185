-- nn/Expand.lua -- nn.Expand(sizes): the input broadcast with the given sizes
-- (ONNX Expand: NumPy rules, so the result is the broadcast of both shapes).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Expand = class("nn.Expand", Module)

function Expand:__init(sizes)
  Module.__init(self)
  if type(sizes) ~= "table" then error("nn.Expand(sizes): sizes must be a list", 2) end
  self.sizes = { table.unpack(sizes) }
end

function Expand.shape(a, b, what)
  local n = math.max(#a, #b)
  local s = {}
  for i = 1, n do
    local x = a[i - (n - #a)] or 1
    local y = b[i - (n - #b)] or 1
    if x ~= y and x ~= 1 and y ~= 1 then
      error(string.format("cannot broadcast {%s} with {%s}", table.concat(a, ", "), table.concat(b, ", ")), 0)
    end
    s[i] = x == 1 and y or x
  end
  return s
end

function Expand:updateOutput(input)
  local s = Expand.shape(input:size(), self.sizes)
  self.output:resize(table.unpack(s)):zero():add(input)
  return self.output
end

function Expand:__repr() return "Expand({" .. table.concat(self.sizes, ", ") .. "})" end

return Expand
