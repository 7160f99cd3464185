-- nn/MatMul.lua -- nn.MatMul(): {a, b} -> a @ b with NumPy's rules (ONNX
-- MatMul): 1-D operands become a row / column, leading dims broadcast.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"

local MatMul = class("nn.MatMul", Module)

function MatMul:__init()
  Module.__init(self)
  self._c = core.tensor()
end

local function batch_index(k, sizes)
  -- k (0-based) as a multi-index over sizes
  local idx = {}
  for i = #sizes, 1, -1 do
    idx[i] = k % sizes[i]
    k = k // sizes[i]
  end
  return idx
end

function MatMul:updateOutput(input)
  if type(input) ~= "table" or #input ~= 2 then error("expected a table of 2 tensors", 0) end
  local a, b = input[1], input[2]
  local da, db = a:dim(), b:dim()
  if da == 0 or db == 0 then error("MatMul operands must have at least one dim", 0) end
  local squeeze_a, squeeze_b = da == 1, db == 1
  if squeeze_a then a = a:reshape(1, a:size(1)) da = 2 end
  if squeeze_b then b = b:reshape(b:size(1), 1) db = 2 end
  local M, K, K2, N = a:size(da - 1), a:size(da), b:size(db - 1), b:size(db)
  if K ~= K2 then
    error(string.format("cannot multiply %s by %s: inner sizes %d and %d differ", input[1]:shape(),
                        input[2]:shape(), K, K2), 0)
  end
  local nb = math.max(da, db) - 2
  local bs, sa, sb = {}, {}, {}
  for i = 1, nb do
    local x = i - (nb - (da - 2)) >= 1 and a:size(i - (nb - (da - 2))) or 1
    local y = i - (nb - (db - 2)) >= 1 and b:size(i - (nb - (db - 2))) or 1
    if x ~= y and x ~= 1 and y ~= 1 then
      error(string.format("batch dims of %s and %s do not broadcast", input[1]:shape(), input[2]:shape()), 0)
    end
    bs[i], sa[i], sb[i] = math.max(x, y), x, y
  end
  local osize = {}
  for i = 1, nb do osize[i] = bs[i] end
  osize[nb + 1], osize[nb + 2] = M, N
  local out = self.output:resize(table.unpack(osize))
  local total = 1
  for i = 1, nb do total = total * bs[i] end
  local a3 = a:reshape(-1, M, K)
  local b3 = b:reshape(-1, K, N)
  local o3 = out:view(total, M, N)
  for k = 0, total - 1 do
    local idx = batch_index(k, bs)
    local ka, kb = 0, 0
    for i = 1, nb do
      ka = ka * sa[i] + (sa[i] == 1 and 0 or idx[i])
      kb = kb * sb[i] + (sb[i] == 1 and 0 or idx[i])
    end
    core.matmul(a3[ka + 1]:contiguous(), b3[kb + 1]:contiguous(), self._c)
    o3[k + 1]:copy(self._c)
  end
  if squeeze_a or squeeze_b then
    local s = {}
    for i = 1, nb do s[#s + 1] = bs[i] end
    if not squeeze_a then s[#s + 1] = M end
    if not squeeze_b then s[#s + 1] = N end
    self.output = out:view(#s > 0 and s or {})
  end
  return self.output
end

return MatMul
