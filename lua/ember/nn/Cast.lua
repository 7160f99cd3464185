-- nn/Cast.lua -- nn.Cast(to): ONNX Cast at run time. Values stay float32;
-- casting to an integer type truncates toward zero, to bool gives 0 or 1
-- (so integer division done as float division then cast is exact for the
-- sizes shape arithmetic computes).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local Cast = class("nn.Cast", Module)

function Cast:__init(to)
  Module.__init(self)
  if type(to) ~= "string" then error("nn.Cast(to): to must be a type name", 2) end
  self.to = to
end

function Cast:updateOutput(input)
  self.output:resizeAs(input):copy(input)
  if self.to == "float" or input:nElement() == 0 then return self.output end
  local v = self.output:contiguous():view(-1):totable()
  for i, x in ipairs(v) do
    if self.to == "bool" then v[i] = x ~= 0 and 1 or 0
    elseif x >= 0 then v[i] = math.floor(x)
    else v[i] = math.ceil(x) end
  end
  self.output:copy(core.tensor(v):view(input:dim() == 0 and {} or input:size()))
  return self.output
end

function Cast:__repr() return "Cast(" .. self.to .. ")" end

return Cast
