-- ember/onnx/fold.lua -- helpers for evaluating ops on constants at import:
-- flat Lua lists with dims, exact for the integers of shape arithmetic.

local F = {}

function F.numel(d)
  local n = 1
  for _, x in ipairs(d) do n = n * x end
  return n
end

function F.strides(d)
  local s, acc = {}, 1
  for i = #d, 1, -1 do s[i] = acc acc = acc * d[i] end
  return s
end

-- A list of numel(dims) values: f(idx) for every 0-based multi-index, row-major.
function F.build(dims, f)
  local n, out, idx = F.numel(dims), {}, {}
  for i = 1, #dims do idx[i] = 0 end
  for k = 1, n do
    out[k] = f(idx)
    for i = #dims, 1, -1 do
      idx[i] = idx[i] + 1
      if idx[i] < dims[i] then break end
      idx[i] = 0
    end
  end
  return out
end

function F.at(vals, st, idx, off)
  local k = 1
  off = off or 0
  for i = 1, #st do k = k + (idx[i + off] or 0) * st[i] end
  return vals[k]
end

-- Broadcast shape of two dims lists (NumPy), or raises.
function F.broadcast(a, b)
  local n = math.max(#a, #b)
  local s = {}
  for i = 1, n do
    local x, y = a[i - (n - #a)] or 1, b[i - (n - #b)] or 1
    if x ~= y and x ~= 1 and y ~= 1 then
      error({ onnx = true, msg = string.format("shapes {%s} and {%s} do not broadcast",
                                               table.concat(a, ", "), table.concat(b, ", ")) }, 0)
    end
    s[i] = x == 1 and y or x
  end
  return s
end

-- Value of a (dims da) at output multi-index idx of a broadcast to dims n.
function F.bget(vals, da, sa, idx, n)
  local k, off = 1, n - #da
  for i = 1, #da do
    local j = da[i] == 1 and 0 or idx[i + off]
    k = k + j * sa[i]
  end
  return vals[k]
end

-- Elementwise f(a, b) with broadcasting over two lists.
function F.binop(va, da, vb, db, f)
  local dims = F.broadcast(da, db)
  local sa, sb, n = F.strides(da), F.strides(db), #dims
  return F.build(dims, function(idx)
    return f(F.bget(va, da, sa, idx, n), F.bget(vb, db, sb, idx, n))
  end), dims
end

function F.axis(a, rank, what)
  local p = a < 0 and a + rank or a
  if p < 0 or p >= rank then
    error({ onnx = true, msg = string.format("%s %d out of range for rank %d", what or "axis", a, rank) }, 0)
  end
  return p
end

return F
