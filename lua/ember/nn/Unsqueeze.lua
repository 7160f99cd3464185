-- nn/Unsqueeze.lua -- nn.Unsqueeze(dims): inserts dims of size 1 at the given
-- 1-based positions of the output (ONNX Unsqueeze). A view when contiguous.

local class = require "ember.class"
local View = require "ember.nn.View"
local Module = require "ember.nn.Module"

local Unsqueeze = class("nn.Unsqueeze", View)

function Unsqueeze:__init(dims)
  Module.__init(self)
  if type(dims) ~= "table" or #dims == 0 then error("nn.Unsqueeze(dims): dims must be a non-empty list", 2) end
  self.dims = { table.unpack(dims) }
  self._shape = {}
end

-- Output sizes for input sizes `size` (raises on bad dims).
function Unsqueeze.resolve(dims, size)
  local n = #size + #dims
  local ins = {}
  for _, d in ipairs(dims) do
    local p = d < 0 and n + d + 1 or d
    if p < 1 or p > n or ins[p] then error(string.format("dim %d out of range or repeated for %d dims", d, n), 0) end
    ins[p] = true
  end
  local s, k = {}, 1
  for p = 1, n do
    if ins[p] then s[p] = 1 else s[p] = size[k] k = k + 1 end
  end
  return s
end

function Unsqueeze:updateOutput(input)
  return self:viewInto(input, Unsqueeze.resolve(self.dims, input:size()))
end

function Unsqueeze:__repr()
  return "Unsqueeze({" .. table.concat(self.dims, ", ") .. "})"
end

return Unsqueeze
