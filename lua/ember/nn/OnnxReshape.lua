-- nn/OnnxReshape.lua -- nn.OnnxReshape(shape[, allowzero]): ONNX Reshape with a
-- constant shape: 0 copies the input's size at that position (unless
-- allowzero), one -1 is inferred. A view of the input when it is contiguous.

local class = require "ember.class"
local View = require "ember.nn.View"
local Module = require "ember.nn.Module"

local OnnxReshape = class("nn.OnnxReshape", View)

-- Without a shape, the input is a table {x, shape tensor} (a shape computed
-- at run time).
function OnnxReshape:__init(shape, allowzero)
  Module.__init(self)
  self.allowzero, self._shape = allowzero and true or false, {}
  if shape == nil then return end
  if type(shape) ~= "table" then error("nn.OnnxReshape(shape): shape must be a list", 2) end
  local infer = 0
  for _, s in ipairs(shape) do
    if math.type(s) ~= "integer" or s < -1 then
      error("nn.OnnxReshape(shape): sizes must be integers >= -1, got " .. tostring(s), 2)
    end
    if s == -1 then infer = infer + 1 end
  end
  if infer > 1 then error("nn.OnnxReshape(shape): only one size may be -1", 2) end
  self.shape, self.allowzero = { table.unpack(shape) }, allowzero and true or false
  self._shape = {}
end

-- The output sizes for an input of the given sizes (raises when they do not fit).
function OnnxReshape.resolve(shape, allowzero, size, shapestr)
  local out, known, at = {}, 1, nil
  local n = 1
  for _, s in ipairs(size) do n = n * s end
  for i, s in ipairs(shape) do
    if s == 0 and not allowzero then
      if i > #size then error(string.format("shape {%s}: no input size to copy at %d for %s",
                                            table.concat(shape, ", "), i, shapestr), 0) end
      s = size[i]
    end
    if s == -1 then at = i else known = known * s end
    out[i] = s
  end
  if at then
    if known == 0 or n % known ~= 0 then
      error(string.format("cannot reshape %s (%d elements) to {%s}", shapestr, n, table.concat(shape, ", ")), 0)
    end
    out[at] = n // known
  elseif known ~= n then
    error(string.format("cannot reshape %s (%d elements) to {%s}", shapestr, n, table.concat(shape, ", ")), 0)
  end
  return out
end

function OnnxReshape:updateOutput(input)
  local shape = self.shape
  if not shape then
    if type(input) ~= "table" or #input ~= 2 then error("expected a table {input, shape}", 0) end
    local s = input[2]:nElement() > 0 and input[2]:contiguous():view(-1):totable() or {}
    shape = {}
    for i, v in ipairs(s) do
      shape[i] = math.tointeger(v)
      if not shape[i] or shape[i] < -1 then error("shape value " .. tostring(v) .. " is not a size", 0) end
    end
    input = input[1]
  end
  local out = OnnxReshape.resolve(shape, self.allowzero, input:size(), input:shape())
  return self:viewInto(input, out)
end

function OnnxReshape:__repr()
  if not self.shape then return "OnnxReshape(run-time shape)" end
  return "OnnxReshape({" .. table.concat(self.shape, ", ") .. "})"
end

return OnnxReshape
