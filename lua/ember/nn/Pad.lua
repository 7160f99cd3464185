-- nn/Pad.lua -- nn.Pad(pads, mode, value): ONNX Pad on any dims. pads lists
-- {begin_1..begin_n, end_1..end_n} (ONNX order; negative crops); mode
-- "constant" (fill value), "reflect" (mirror without the edge) or "edge".

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local Gather = require "ember.nn.Gather"

local Pad = class("nn.Pad", Module)

local modes = { constant = true, reflect = true, edge = true }

function Pad:__init(pads, mode, value)
  Module.__init(self)
  if type(pads) ~= "table" or #pads % 2 ~= 0 then error("nn.Pad(pads): pads must be an even-length list", 2) end
  for _, p in ipairs(pads) do
    if math.type(p) ~= "integer" then error("nn.Pad(pads): pads must be integers", 2) end
  end
  mode = mode or "constant"
  if not modes[mode] then error("nn.Pad: mode must be constant, reflect or edge, got " .. tostring(mode), 2) end
  self.pads, self.mode, self.value = { table.unpack(pads) }, mode, value or 0
end

-- source positions (1-based) for output positions of one dim, reflect or edge
local function positions(n, b, e, mode)
  local idx = {}
  for o = -b, n + e - 1 do
    local i = o
    if mode == "edge" then
      i = math.max(0, math.min(n - 1, i))
    elseif n > 1 then
      local period = 2 * (n - 1)
      i = i % period
      if i >= n then i = period - i end
    else
      i = 0
    end
    idx[#idx + 1] = i + 1
  end
  return idx
end

function Pad:updateOutput(input)
  local nd, k = input:dim(), #self.pads // 2
  if k ~= nd then
    error(string.format("pads are for %d dims, the input %s has %d", k, input:shape(), nd), 0)
  end
  local size = input:size()
  local total = 1
  for d = 1, nd do total = total * math.max(0, size[d] + self.pads[d] + self.pads[d + nd]) end
  if total > 2 ^ 31 then error("padded output of " .. total .. " elements is too large", 0) end
  for d = 1, nd do
    local b, e = self.pads[d], self.pads[d + nd]
    if size[d] + b + e < 0 then
      error(string.format("pads %d, %d at dim %d crop more than its size %d", b, e, d, size[d]), 0)
    end
    if self.mode == "reflect" and (b >= size[d] or e >= size[d]) and size[d] > 0 then
      error(string.format("reflect pads %d, %d at dim %d need a size above both, got %d", b, e, d, size[d]), 0)
    end
  end
  if self.mode == "constant" then
    local osize, src, dst = {}, input, nil
    for d = 1, nd do osize[d] = size[d] + self.pads[d] + self.pads[d + nd] end
    self.output:resize(table.unpack(osize)):fill(self.value)
    dst = self.output
    for d = 1, nd do
      local b, e = self.pads[d], self.pads[d + nd]
      local sb, se = math.max(0, -b), math.max(0, -e)
      local len = size[d] - sb - se
      if len <= 0 then return self.output end
      src = src:narrow(d, sb + 1, len)
      dst = dst:narrow(d, math.max(0, b) + 1, len)
    end
    dst:copy(src)
    return self.output
  end
  if size[nd] > 0 and nd >= 3 and self.pads[1] == 0 and self.pads[nd + 1] == 0 then
    local only2 = true
    for d = 1, nd - 2 do
      if self.pads[d] ~= 0 or self.pads[d + nd] ~= 0 then only2 = false end
    end
    if only2 then
      return core.pad2d(input, self.output, self.pads[nd], self.pads[2 * nd], self.pads[nd - 1],
                        self.pads[2 * nd - 1], self.mode == "edge" and "replicate" or "reflect")
    end
  end
  local x = input
  for d = 1, nd do
    local b, e = self.pads[d], self.pads[d + nd]
    if b ~= 0 or e ~= 0 then x = Gather.take(x, core.tensor(), d, positions(size[d], b, e, self.mode)) end
  end
  self.output:resizeAs(x):copy(x)
  return self.output
end

function Pad:__repr()
  return "Pad({" .. table.concat(self.pads, ", ") .. "}, " .. self.mode
         .. (self.mode == "constant" and self.value ~= 0 and (", " .. self.value) or "") .. ")"
end

return Pad
