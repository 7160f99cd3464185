-- tensor_math_spec.lua -- arithmetic, reductions, topk, softmax and random
-- numbers of ember.Tensor, each checked against a plain Lua loop.
local ember = require "ember"

local T = ember.Tensor

-- -------------------------------------------------------------- helpers

local function sizes_count(sizes)
  local n = 1
  for _, s in ipairs(sizes) do n = n * s end
  return n
end

-- Row-major multi-indices (1-based) of a shape, as a list of tables.
local function indices(sizes)
  local out, idx = {}, {}
  for i = 1, #sizes do idx[i] = 1 end
  if sizes_count(sizes) == 0 then return out end
  while true do
    out[#out + 1] = table.move(idx, 1, #idx, 1, {})
    local d = #sizes
    while d >= 1 do
      idx[d] = idx[d] + 1
      if idx[d] <= sizes[d] then break end
      idx[d] = 1
      d = d - 1
    end
    if d < 1 then return out end
  end
end

local function get(t, idx) return t:get(table.unpack(idx)) end

-- A tensor of these sizes with values in [-1, 1] from Lua's own generator,
-- rounded to floats so the Lua side sees exactly what the tensor holds.
local function randt(sizes, lo, hi)
  lo, hi = lo or -1, hi or 1
  local t = T(table.unpack(sizes))
  for _, idx in ipairs(indices(sizes)) do
    local i1 = table.remove(idx, 1)
    local row = t
    if #sizes == 1 then t[i1] = lo + (hi - lo) * math.random()
    else
      row = t[i1]
      for k = 1, #idx - 1 do row = row[idx[k]] end
      row[idx[#idx]] = lo + (hi - lo) * math.random()
    end
  end
  return t
end

-- The value at idx of t broadcast to a shape of n dims.
local function bget(t, n, idx)
  local sz, j = t:size(), {}
  for i = 1, #sz do
    local k = idx[i + n - #sz]
    j[i] = sz[i] == 1 and 1 or k
  end
  return get(t, j)
end

local function f32(x) return string.unpack("f", string.pack("f", x)) end

local ops = {
  add = function(x, y) return f32(x + y) end,
  sub = function(x, y) return f32(x - y) end,
  mul = function(x, y) return f32(x * y) end,
  div = function(x, y) return f32(x / y) end,
}

local function assert_all(t, f, tol, what)
  tol = tol or 0
  for _, idx in ipairs(indices(t:size())) do
    local want, got = f(idx), get(t, idx)
    if not (math.abs(got - want) <= tol * math.max(1, math.abs(want))) then
      error(string.format("%s at {%s}: got %.9g, expected %.9g", what or "value",
        table.concat(idx, ","), got, want), 2)
    end
  end
end

math.randomseed(20261127)

-- ----------------------------------------------------------- arithmetic

describe("tensor operators", function()
  local cases = {
    { { 2, 3, 4 }, { 3, 1 } }, { { 4 }, { 2, 3, 4 } }, { { 2, 1, 4 }, { 1, 3, 1 } },
    { { 5, 3 }, { 5, 3 } }, { { 1 }, { 3, 2 } }, { { 3, 2 }, {} },
  }
  for _, case in ipairs(cases) do
    local sa, sb = case[1], case[2]
    it("broadcasts " .. table.concat(sa, "x") .. " with " .. table.concat(sb, "x"), function()
      local a = randt(sa)
      local b = #sb > 0 and randt(sb, 0.5, 2) or ember.rand(1):view()
      if #sb == 0 then b = b + 1.5 end
      local n = math.max(#sa, #sb)
      for name, f in pairs(ops) do
        local r = ({ add = a + b, sub = a - b, mul = a * b, div = a / b })[name]
        assert.equal(n, r:dim())
        assert_all(r, function(idx) return f(bget(a, n, idx), bget(b, n, idx)) end, 0, name)
        local s = ({ add = b + a, sub = b - a, mul = b * a, div = b / a })[name]
        assert_all(s, function(idx) return f(bget(b, n, idx), bget(a, n, idx)) end, 0, name)
      end
    end)
  end

  it("broadcasts transposed and narrowed inputs", function()
    local a = randt({ 4, 3 }):t()                 -- 3x4, strided
    local b = randt({ 3, 6 }):narrow(2, 2, 1)     -- 3x1, strided
    local r = a - b
    assert.same({ 3, 4 }, r:size())
    assert_all(r, function(idx) return f32(get(a, idx) - get(b, { idx[1], 1 })) end)
  end)

  it("mixes numbers and tensors on either side", function()
    local a = randt({ 2, 3 }, 0.5, 2)
    local before = a:clone()
    assert_all(a + 2, function(i) return f32(get(a, i) + 2) end)
    assert_all(2 + a, function(i) return f32(get(a, i) + 2) end)
    assert_all(a - 2, function(i) return f32(get(a, i) - 2) end)
    assert_all(2 - a, function(i) return f32(2 - get(a, i)) end)
    assert_all(a * 3, function(i) return f32(get(a, i) * 3) end)
    assert_all(3 * a, function(i) return f32(get(a, i) * 3) end)
    assert_all(a / 4, function(i) return f32(get(a, i) / 4) end)
    assert_all(4 / a, function(i) return f32(4 / get(a, i)) end)
    assert_all(-a, function(i) return -get(a, i) end)
    assert.is_true(a == before)                   -- operators leave inputs alone
  end)

  it("says both shapes when they do not broadcast", function()
    local ok, err = pcall(function() return T(2, 3) + T(4, 3) end)
    assert.is_false(ok)
    assert.matches("cannot broadcast 2x3 with 4x3", err, 1, true)
    ok, err = pcall(function() return T(2, 3) * T(2) end)
    assert.matches("cannot broadcast 2x3 with 2", err, 1, true)
  end)

  it("rejects what is neither number nor tensor", function()
    assert.has_error(function() return T(2) + "x" end)
    assert.has_error(function() return {} * T(2) end)
    assert.has_error(function() return T() + T(2) end, "binop: tensor is empty (no storage)")
  end)
end)

describe("in-place arithmetic", function()
  it("add and sub take a value, a tensor, or value and tensor, and return self", function()
    local a, b = randt({ 3, 4 }), randt({ 4 })
    local r = a:clone()
    assert.is_true(rawequal(r, r:add(2)))
    assert_all(r, function(i) return f32(get(a, i) + 2) end)
    r = a:clone()
    assert.is_true(rawequal(r, r:add(b)))
    assert_all(r, function(i) return f32(get(a, i) + get(b, { i[2] })) end)
    r = a:clone()
    assert.is_true(rawequal(r, r:add(3, b)))
    assert_all(r, function(i) return f32(get(a, i) + f32(3 * get(b, { i[2] }))) end)
    r = a:clone():sub(b)
    assert_all(r, function(i) return f32(get(a, i) - get(b, { i[2] })) end)
    r = a:clone():sub(0.5)
    assert_all(r, function(i) return f32(get(a, i) - 0.5) end)
    r = a:clone():sub(2, b)
    assert_all(r, function(i) return f32(get(a, i) - f32(2 * get(b, { i[2] }))) end)
  end)

  it("mul, div, cmul and cdiv work in place", function()
    local a, b = randt({ 2, 5 }), randt({ 2, 1 }, 1, 2)
    assert_all(a:clone():mul(3), function(i) return f32(get(a, i) * 3) end)
    assert_all(a:clone():div(3), function(i) return f32(get(a, i) / 3) end)
    assert_all(a:clone():cmul(b), function(i) return f32(get(a, i) * get(b, { i[1], 1 })) end)
    assert_all(a:clone():cdiv(b), function(i) return f32(get(a, i) / get(b, { i[1], 1 })) end)
    local c = a:clone()
    assert.is_true(rawequal(c, c:cmul(b)))
  end)

  it("writes through a strided view into its parent", function()
    local base = randt({ 4, 3 })
    local orig = base:clone()
    local v = base:t()                            -- 3x4 view
    v:add(10)
    assert_all(base, function(i) return f32(get(orig, i) + 10) end)
    base:narrow(2, 2, 1):mul(0)
    for r = 1, 4 do assert.equal(0, base[r][2]) end
  end)

  it("keeps self's shape: the other tensor must broadcast to it", function()
    local ok, err = pcall(function() return T(1, 3):add(T(2, 3)) end)
    assert.is_false(ok)
    assert.matches("cannot broadcast 1x3 with 2x3 in place", err, 1, true)
    ok, err = pcall(function() return T(2, 3):cmul(T(4, 3)) end)
    assert.matches("cannot broadcast 2x3 with 4x3", err, 1, true)
    assert.has_error(function() T(2):mul(T(2)) end)
    assert.has_error(function() T(2):add("x") end)
  end)

  it("abs, exp, log, sqrt and neg are in place and return self", function()
    local a = randt({ 3, 3 }, -3, 3)
    local fns = {
      abs = math.abs, exp = math.exp, neg = function(x) return -x end,
      log = function(x) return math.log(math.abs(x)) end,
      sqrt = function(x) return math.sqrt(math.abs(x)) end,
    }
    for name, f in pairs(fns) do
      local r = a:clone()
      if name == "log" or name == "sqrt" then r:abs() end
      assert.is_true(rawequal(r, r[name](r)))
      assert_all(r, function(i) return f(get(a, i)) end, 1e-6, name)
    end
    local n = T{ -1 }:sqrt()
    assert.is_true(n[1] ~= n[1])                  -- NaN, as in C
  end)
end)

-- ----------------------------------------------------------- reductions

describe("reductions", function()
  local function naive(t, dim, op)
    local sz = t:size()
    local out = table.move(sz, 1, #sz, 1, {})
    out[dim] = 1
    local vals, idxs = {}, {}
    for _, idx in ipairs(indices(out)) do
      local acc, pos = (op == "max" and -math.huge) or (op == "min" and math.huge) or 0, 0
      for k = 1, sz[dim] do
        local j = table.move(idx, 1, #idx, 1, {})
        j[dim] = k
        local x = get(t, j)
        if op == "sum" or op == "mean" then acc = acc + x
        elseif (op == "max" and x > acc) or (op == "min" and x < acc) then acc, pos = x, k end
      end
      if op == "mean" then acc = acc / sz[dim] end
      vals[table.concat(idx, ",")], idxs[table.concat(idx, ",")] = acc, pos
    end
    return out, vals, idxs
  end

  it("over everything return numbers", function()
    local t = randt({ 3, 4, 5 }):transpose(1, 3)
    local s, mx, mn = 0, -math.huge, math.huge
    for _, idx in ipairs(indices(t:size())) do
      local x = get(t, idx)
      s, mx, mn = s + x, math.max(mx, x), math.min(mn, x)
    end
    assert.is_number(t:sum())
    assert.near(s, t:sum(), 1e-9)
    assert.near(s / 60, t:mean(), 1e-9)
    assert.equal(mx, t:max())
    assert.equal(mn, t:min())
  end)

  for _, op in ipairs{ "sum", "mean", "max", "min" } do
    it(op .. " along each dim keeps that dim with size 1", function()
      local t = randt({ 3, 4, 5 })
      t[2][3][4] = t[2][3][1]                     -- a tie: the first index wins
      for _, view in ipairs{ t, t:transpose(1, 2) } do
        for dim = 1, 3 do
          local v, ix = view[op](view, dim)
          local shape, vals, idxs = naive(view, dim, op)
          assert.same(shape, v:size())
          assert_all(v, function(i) return vals[table.concat(i, ",")] end, 1e-6, op)
          if op == "max" or op == "min" then
            assert.same(shape, ix:size())
            assert_all(ix, function(i) return idxs[table.concat(i, ",")] end, 0, "index")
            local v2, ix2 = view[op](view, dim - 4)   -- negative dims count from the end
            assert.is_true(v2 == v and ix2 == ix)
          else
            assert.is_nil(ix)
          end
        end
      end
    end)
  end

  it("argmax and argmin give 1-based positions", function()
    local t = T{ { 1, 9, 3 }, { 7, 2, 9 } }
    assert.equal(2, t:argmax())
    assert.equal(1, t:argmin())
    assert.same({ { 2, 1, 2 } }, t:argmax(1):totable())
    assert.same({ { 1 }, { 2 } }, t:argmin(2):totable())
    assert.equal(3, t:t():argmax())               -- row-major order of the view
    assert.has_error(function() T(0):argmax() end, "argmax of a tensor with no elements")
  end)

  it("say the range of a bad dim, and refuse empty maxima", function()
    local ok, err = pcall(function() return T(2, 3):sum(3) end)
    assert.is_false(ok)
    assert.matches("dimension 3 out of range for a 2-dimensional tensor (expected 1 to 2, or -2 to -1)",
      err, 1, true)
    assert.has_error(function() T(2, 3):max(-3) end)
    assert.has_error(function() T(0, 3):max() end, "max of a tensor with no elements")
    assert.has_error(function() T():sum() end, "sum: tensor is empty (no storage)")
    assert.equal(0, T(0, 3):sum())
  end)

  it("norm is the Euclidean norm by default", function()
    local t = randt({ 4, 5 })
    local s2, s1, m = 0, 0, 0
    for _, idx in ipairs(indices(t:size())) do
      local x = math.abs(get(t, idx))
      s2, s1, m = s2 + x * x, s1 + x, math.max(m, x)
    end
    assert.near(math.sqrt(s2), t:norm(), 1e-9)
    assert.near(s1, t:norm(1), 1e-9)
    assert.near(m, t:norm(math.huge), 0)
    local s3 = 0
    for _, idx in ipairs(indices(t:size())) do s3 = s3 + math.abs(get(t, idx)) ^ 3 end
    assert.near(s3 ^ (1 / 3), t:norm(3), 1e-9)
    assert.has_error(function() t:norm(0) end)
  end)
end)

-- ----------------------------------------------------------------- topk

describe("topk", function()
  -- full sort of (value, position), best first, ties by position
  local function sorted(list, largest)
    local p = {}
    for i, v in ipairs(list) do p[i] = { v, i } end
    table.sort(p, function(a, b)
      if a[1] ~= b[1] then
        if largest then return a[1] > b[1] else return a[1] < b[1] end
      end
      return a[2] < b[2]
    end)
    return p
  end

  it("matches a full sort along every dim, both directions", function()
    local t = randt({ 4, 6, 5 })
    t[1][1][1], t[1][2][1] = 0.25, 0.25           -- a tie
    for _, view in ipairs{ t, t:permute(3, 1, 2) } do
      local sz = view:size()
      for dim = 1, 3 do
        for _, dir in ipairs{ true, false } do
          local k = math.min(3, sz[dim])
          local v, ix = view:topk(k, dim, dir, true)
          local shape = table.move(sz, 1, 3, 1, {})
          shape[dim] = k
          assert.same(shape, v:size())
          assert.same(shape, ix:size())
          local other = table.move(sz, 1, 3, 1, {})
          other[dim] = 1
          for _, idx in ipairs(indices(other)) do
            local list = {}
            for i = 1, sz[dim] do
              local j = table.move(idx, 1, 3, 1, {})
              j[dim] = i
              list[i] = get(view, j)
            end
            local want = sorted(list, dir)
            for r = 1, k do
              local j = table.move(idx, 1, 3, 1, {})
              j[dim] = r
              assert.equal(want[r][1], get(v, j))
              assert.equal(want[r][2], get(ix, j))
            end
          end
        end
      end
    end
  end)

  it("defaults to the last dim and the k smallest (Torch7)", function()
    local t = T{ { 5, 1, 4, 2 }, { 0, 8, 6, 7 } }
    local v, ix = t:topk(2)
    assert.same({ { 1, 2 }, { 0, 6 } }, v:totable())
    assert.same({ { 2, 4 }, { 1, 3 } }, ix:totable())
    v, ix = t:topk(1, 1, true)
    assert.same({ { 5, 8, 6, 7 } }, v:totable())
    assert.same({ { 1, 2, 2, 2 } }, ix:totable())
  end)

  it("selects from a large vector", function()
    local n = 20000
    local t = ember.rand(n)
    local list = {}
    for i = 1, n do list[i] = t[i] end
    local want = sorted(list, true)
    local v, ix = t:topk(10, 1, true)
    for r = 1, 10 do
      assert.equal(want[r][1], v[r])
      assert.equal(want[r][2], ix[r])
    end
  end)

  it("checks k and dim", function()
    local t = T(2, 5)
    assert.has_error(function() t:topk(6) end, "topk: k = 6 out of range: dimension 2 has size 5")
    assert.has_error(function() t:topk(-1) end)
    assert.has_error(function() t:topk(1, 3) end)
    assert.has_error(function() t:topk(1, 1, "yes") end)
    local v = t:topk(0)
    assert.same({ 2, 0 }, v:size())
  end)
end)

-- -------------------------------------------------------------- softmax

describe("softmax", function()
  local function naive(t, dim, log)
    local sz = t:size()
    return function(idx)
      local mx, sum = -math.huge, 0
      local j = table.move(idx, 1, #idx, 1, {})
      for k = 1, sz[dim] do j[dim] = k; mx = math.max(mx, get(t, j)) end
      for k = 1, sz[dim] do j[dim] = k; sum = sum + math.exp(get(t, j) - mx) end
      local x = get(t, idx)
      if log then return x - mx - math.log(sum) end
      return math.exp(x - mx) / sum
    end
  end

  it("matches the formula along every dim, as new tensors", function()
    local t = randt({ 3, 4, 5 }, -4, 4)
    local copy = t:clone()
    for _, view in ipairs{ t, t:transpose(1, 3) } do
      for dim = 1, 3 do
        local s, l = view:softmax(dim), view:logsoftmax(dim)
        assert.is_false(s:isSameStorage(view))
        assert_all(s, naive(view, dim, false), 2e-6, "softmax")
        assert_all(l, naive(view, dim, true), 2e-6, "logsoftmax")
      end
    end
    assert.is_true(t == copy)
  end)

  it("does not overflow on large inputs", function()
    local t = T{ 1000, 1001, 1002 }
    local s = t:softmax()
    local e = { math.exp(-2), math.exp(-1), 1 }
    local sum = e[1] + e[2] + e[3]
    for i = 1, 3 do assert.near(e[i] / sum, s[i], 1e-6) end
    assert.near(-math.log(sum), t:logsoftmax()[3], 1e-6)
  end)

  it("defaults to Torch7's dim: 1 for 1-d and 3-d, else 2", function()
    local t1, t2, t3, t4 = randt({ 5 }), randt({ 2, 5 }), randt({ 3, 2, 2 }), randt({ 2, 3, 2, 2 })
    assert.is_true(t1:softmax() == t1:softmax(1))
    assert.is_true(t2:softmax() == t2:softmax(2))
    assert.is_true(t3:softmax() == t3:softmax(1))
    assert.is_true(t4:logsoftmax() == t4:logsoftmax(2))
  end)

  it("checks dims", function()
    local ok, err = pcall(function() return T(2, 3):softmax(3) end)
    assert.is_false(ok)
    assert.matches("expected 1 to 2", err, 1, true)
    assert.has_error(function() T(1):view():softmax() end,
      "softmax: expected a tensor with at least 1 dimension")
    assert.has_error(function() T():softmax(1) end)
  end)
end)

-- --------------------------------------------------------------- random

describe("random numbers", function()
  -- splitmix64 seeding and xoshiro256**, written again with Lua's wrapping
  -- 64-bit integers: the reference for rand().
  local function reference(seed)
    local x, s = seed, {}
    for i = 1, 4 do
      x = x + 0x9e3779b97f4a7c15
      local z = x
      z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
      z = (z ~ (z >> 27)) * 0x94d049bb133111eb
      s[i] = z ~ (z >> 31)
    end
    local function rotl(v, k) return (v << k) | (v >> (64 - k)) end
    return function()
      local r = rotl(s[2] * 5, 7) * 9
      local t = s[2] << 17
      s[3] = s[3] ~ s[1]; s[4] = s[4] ~ s[2]; s[2] = s[2] ~ s[3]; s[1] = s[1] ~ s[4]
      s[3] = s[3] ~ t
      s[4] = rotl(s[4], 45)
      return (r >> 11) * 2.0 ^ -53
    end
  end

  it("rand follows xoshiro256** seeded by splitmix64", function()
    for _, seed in ipairs{ 0, 1, 42, 123456789 } do
      ember.manualSeed(seed)
      local t, u = ember.rand(3, 4), reference(seed)
      assert_all(t, function() return f32(u()) end, 0, "rand")
    end
  end)

  it("the same seed gives the same stream; another seed another", function()
    ember.manualSeed(7)
    local a, b = ember.rand(100), ember.randn(2, 50)
    ember.manualSeed(7)
    assert.is_true(a == ember.rand(100))
    assert.is_true(b == ember.randn(2, 50))
    ember.manualSeed(8)
    assert.is_false(a == ember.rand(100))
    assert.same({ 2, 3 }, ember.rand{ 2, 3 }:size())
  end)

  it("fills tensors in place with uniform and normal values", function()
    ember.manualSeed(3)
    local t = T(200, 100)
    assert.is_true(rawequal(t, t:uniform(-2, 5)))
    assert.is_true(t:min() >= -2 and t:max() <= 5)
    assert.near(1.5, t:mean(), 0.05)
    assert.is_true(rawequal(t, t:normal(1, 3)))
    local m = t:mean()
    local var = ((t - m) * (t - m)):mean()
    assert.near(1, m, 0.05)
    assert.near(3, math.sqrt(var), 0.05)
    local r = ember.randn(20000)
    assert.near(0, r:mean(), 0.03)
    assert.near(1, r:norm() / math.sqrt(20000), 0.03)
    local v = ember.rand(20000)
    assert.is_true(v:min() >= 0 and v:max() < 1)
  end)

  it("rejects bad bounds", function()
    assert.has_error(function() T(2):uniform(1, 0) end,
      "uniform: expected finite bounds a <= b, got 1 and 0")
    assert.has_error(function() T(2):normal(0, -1) end)
    assert.has_error(function() ember.rand(2, -1) end, "size -1 at dimension 2 is negative")
    assert.has_error(function() ember.manualSeed("x") end)
  end)
end)
