-- nn/Expand.lua -- nn.Expand(sizes): the input broadcast with the given sizes
-- (ONNX Expand: NumPy rules, so the result is the broadcast of both shapes).

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Expand = class("nn.Expand", Module)

-- Without sizes, the input is a table {x, sizes tensor} (computed at run time).
function Expand:__init(sizes)
  Module.__init(self)
  if sizes == nil then return end
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
  local sizes = self.sizes
  if not sizes then
    if type(input) ~= "table" or #input ~= 2 then error("expected a table {input, sizes}", 0) end
    sizes = {}
    for i, v in ipairs(input[2]:nElement() > 0 and input[2]:contiguous():view(-1):totable() or {}) do
      sizes[i] = math.tointeger(v)
      if not sizes[i] or sizes[i] < 0 then error("size " .. tostring(v) .. " is not a size", 0) end
    end
    input = input[1]
  end
  local s = Expand.shape(input:dim() == 0 and {} or input:size(), sizes)
  local total = 1
  for _, v in ipairs(s) do total = total * v end
  if total > 2 ^ 31 then error("expanded output of " .. total .. " elements is too large", 0) end
  self.output:resize(table.unpack(s)):zero():add(input)
  return self.output
end

function Expand:__repr()
  return self.sizes and ("Expand({" .. table.concat(self.sizes, ", ") .. "})") or "Expand(run-time sizes)"
end

return Expand
