-- nn/ReduceMean.lua -- nn.ReduceMean(dims, keepdims): the mean over 1-based
-- dims (nil: all), keeping them as size 1 or dropping them (ONNX ReduceMean).

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local ReduceMean = class("nn.ReduceMean", Module)

function ReduceMean:__init(dims, keepdims)
  Module.__init(self)
  if dims ~= nil and type(dims) ~= "table" then error("nn.ReduceMean(dims): dims must be a list", 2) end
  self.dims = dims and { table.unpack(dims) } or nil
  self.keepdims = keepdims ~= false
end

function ReduceMean:updateOutput(input)
  local nd = input:dim()
  local dims, drop = {}, {}
  if self.dims and #self.dims > 0 then
    for _, d in ipairs(self.dims) do
      local p = d < 0 and nd + d + 1 or d
      if p < 1 or p > nd then error(string.format("dim %d out of range for %s", d, input:shape()), 0) end
      dims[#dims + 1] = p
    end
  else
    for d = 1, nd do dims[d] = d end
  end
  local x = input
  for _, d in ipairs(dims) do drop[d] = true end
  -- the last k dims of a contiguous input (a global average pool: H and W)
  -- are one run of memory: reduced in one pass over a view
  local k = 0
  while k < nd and drop[nd - k] do k = k + 1 end
  if k == 2 and #dims == 2 and nd == 4 then
    -- H and W of N,C,H,W: the core's global average pool (vectorised, on
    -- the threads: ShuffleNet's 1x1024x7x7 mean 31.7 -> 12-15 us), into a
    -- buffer of this module's
    self._pooled = self._pooled or core.tensor()
    x = core.adaptive_avgpool2d(input, self._pooled, 1, 1)
  elseif k == #dims and k > 1 and input:isContiguous() then
    local size = input:size()
    local flat = {}
    for d = 1, nd - k do flat[d] = size[d] end
    flat[nd - k + 1] = -1
    for d = nd - k + 1, nd do size[d] = 1 end
    x = input:view(flat):mean(nd - k + 1):view(size)
  else
    for _, d in ipairs(dims) do x = x:mean(d) end
  end
  if not self.keepdims then
    local s = {}
    for d = 1, nd do if not drop[d] then s[#s + 1] = x:size(d) end end
    x = x:reshape(#s > 0 and s or {})
  end
  self.output = x
  return x
end

function ReduceMean:__repr()
  return "ReduceMean(" .. (self.dims and ("{" .. table.concat(self.dims, ", ") .. "}") or "all")
         .. (self.keepdims and "" or ", drop") .. ")"
end

return ReduceMean
