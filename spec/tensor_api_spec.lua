-- tensor_api_spec.lua -- the Lua API of ember.Tensor (lua/ltensor.c):
-- construction, sizes, views, copies, indexing, comparison and printing.
local ember = require "ember"

local T = ember.Tensor

-- 2x3x4 tensor whose element (i, j, k) is 100i + 10j + k: every value says
-- where it came from.
local function coded()
  local rows = {}
  for i = 1, 2 do
    rows[i] = {}
    for j = 1, 3 do
      rows[i][j] = {}
      for k = 1, 4 do rows[i][j][k] = 100 * i + 10 * j + k end
    end
  end
  return T(rows)
end

local function errmsg(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("construction", function()
  it("makes zeros from sizes, or data from nested tables", function()
    local a = T(2, 3)
    assert.same({ 2, 3 }, a:size())
    assert.same({ { 0, 0, 0 }, { 0, 0, 0 } }, a:totable())
    assert.same({ 3 }, T{ 4, 1, 2 }:size())              -- a flat table is data: 3 values
    assert.same({ 4, 1, 2 }, T{ 4, 1, 2 }:totable())
    local c = coded()
    assert.same({ 2, 3, 4 }, c:size())
    assert.equal(234, c:get(2, 3, 4))
  end)

  it("makes empty tensors", function()
    local e = T()
    assert.equal(0, e:dim())
    assert.equal(0, e:nElement())
    assert.same({}, e:totable())
    assert.equal("[ember.Tensor with no dimension]", tostring(e))
    local z = T(2, 0)
    assert.equal(0, z:nElement())
    assert.equal("[ember.Tensor of size 2x0]", tostring(z))
    assert.same({ 0 }, T{}:size())
  end)

  it("names the bad entry of a table", function()
    assert.has_error(function() T{ 1, { 2 } } end, "ember.Tensor: [2] is a table, expected a number")
    assert.has_error(function() T{ { 1, 2 }, 3 } end, "ember.Tensor: [2] is a number, expected a table")
    assert.has_error(function() T{ { 1, "x" } } end, "ember.Tensor: [1][2] is a string, expected a number")
    assert.has_error(function() T(2, -1) end, "size -1 at dimension 2 is negative")
    assert.has_error(function() T(1, 1, 1, 1, 1, 1, 1, 1, 1) end)
  end)

  it("is recognised by ember.isTensor", function()
    assert.is_true(ember.isTensor(T(1)))
    assert.is_false(ember.isTensor({}))
    assert.is_false(ember.isTensor(3))
  end)
end)

describe("sizes", function()
  it("reports size, stride, dim and element count", function()
    local c = coded()
    assert.equal(3, c:size(2))
    assert.equal(4, c:size(-1))
    assert.same({ 12, 4, 1 }, c:stride())
    assert.equal(4, c:stride(2))
    assert.equal(3, c:dim())
    assert.equal(3, c:nDimension())
    assert.equal(24, c:nElement())
    assert.equal(24, c:numel())
    assert.equal(2, #c)
    assert.equal("2x3x4", c:shape())
    assert.is_true(c:isContiguous())
    assert.is_true(c:isSameSizeAs(T(2, 3, 4)))
    assert.is_false(c:isSameSizeAs(T(2, 4, 3)))
  end)

  it("says the valid range of a bad dim", function()
    local c = coded()
    assert.matches("dimension 4 out of range for a 3-dimensional tensor (expected 1 to 3, or -3 to -1)",
      errmsg(c.size, c, 4), 1, true)
    assert.matches("dimension -4 out of range", errmsg(c.stride, c, -4), 1, true)
    local s = T(1):view()
    assert.matches("0-dimensional tensor (it has none)", errmsg(s.size, s, 1), 1, true)
  end)
end)

describe("views", function()
  it("isSetTo: the same memory, offset, sizes and strides", function()
    local c = coded()
    assert.is_true(c:view(6, 4):isSetTo(c:view(6, 4)))
    assert.is_true(c:isSetTo(c))
    assert.is_false(c:view(6, 4):isSetTo(c))                    -- other sizes
    assert.is_false(c:narrow(1, 2, 1):isSetTo(c:narrow(1, 1, 1)))  -- another offset
    assert.is_false(c:transpose(2, 3):isSetTo(c:transpose(2, 3):contiguous()))
    assert.is_false(c:transpose(1, 2):isSetTo(c:view(3, 2, 4)))    -- other strides
    assert.is_false(T():isSetTo(T()))                           -- empty
  end)

  it("view and reshape, with one inferred size", function()
    local c = coded()
    local v = c:view(6, -1)
    assert.same({ 6, 4 }, v:size())
    assert.is_true(v:isSameStorage(c))
    assert.equal(c:get(2, 1, 3), v:get(4, 3))
    assert.same({ 4, 6 }, c:view{ 4, 6 }:size())
    v[1][1] = -5
    assert.equal(-5, c:get(1, 1, 1))
    assert.matches("24 elements (2x3x4) cannot be viewed as 25", errmsg(c.view, c, 5, 5), 1, true)
    assert.matches("only one size may be -1", errmsg(c.view, c, -1, -1), 1, true)
    local t = c:transpose(1, 3)
    assert.matches("view needs a contiguous tensor", errmsg(t.view, t, 24), 1, true)
    local r = t:reshape(24)                              -- copies when it must
    assert.is_false(r:isSameStorage(c))
    assert.equal(c:get(2, 1, 1), r[2])                   -- t's row-major order
    assert.is_true(c:reshape(4, 6):isSameStorage(c))
  end)

  it("storageId: one table key per storage, shared by its views", function()
    local c = coded()
    local seen = { [c:storageId()] = "c" }
    assert.equal("c", seen[c:view(6, -1):storageId()])
    assert.equal("c", seen[c:narrow(1, 2, 1):storageId()])
    assert.is_nil(seen[c:clone():storageId()])
    assert.is_nil(ember.Tensor():storageId())
  end)

  it("narrow and select share storage and pick the right elements", function()
    local c = coded()
    local n = c:narrow(3, 2, 2)
    assert.same({ 2, 3, 2 }, n:size())
    assert.is_false(n:isContiguous())
    assert.equal(133, n:get(1, 3, 2))
    local s = c:select(2, 3)
    assert.same({ 2, 4 }, s:size())
    assert.equal(231, s:get(2, 1))
    assert.equal(134, c:select(1, -2):select(1, -1)[4])   -- negative indices count from the end
    s:fill(0)
    assert.equal(0, c:get(1, 3, 2))
    assert.equal(121, c:get(1, 2, 1))
    assert.matches("narrow(3, 4, 2) out of range: dimension 3 has size 4",
      errmsg(c.narrow, c, 3, 4, 2), 1, true)
    assert.matches("index 5 out of range: dimension 3 has size 4", errmsg(c.select, c, 3, 5), 1, true)
    assert.matches("tensor is empty", errmsg(function() return T():narrow(1, 1, 1) end), 1, true)
  end)

  it("transpose, t and permute reorder dims", function()
    local c = coded()
    local tr = c:transpose(1, 3)
    assert.same({ 4, 3, 2 }, tr:size())
    assert.equal(c:get(2, 3, 1), tr:get(1, 3, 2))
    local p = c:permute(3, 1, 2)
    assert.same({ 4, 2, 3 }, p:size())
    assert.equal(c:get(1, 3, 2), p:get(2, 1, 3))
    local m = T{ { 1, 2, 3 }, { 4, 5, 6 } }
    assert.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, m:t():totable())
    assert.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, m:transpose():totable())
    assert.matches("t() expects a 2-dimensional tensor", errmsg(c.t, c), 1, true)
    assert.matches("permute: not a permutation of 1..3", errmsg(c.permute, c, 1, 1, 2), 1, true)
    assert.matches("permute: expected 3 dimensions, got 2", errmsg(c.permute, c, 1, 2), 1, true)
  end)

  it("contiguous returns self when it can, else a copy", function()
    local c = coded()
    assert.is_true(rawequal(c, c:contiguous()))
    local tr = c:permute(2, 3, 1)
    local k = tr:contiguous()
    assert.is_true(k:isContiguous())
    assert.is_false(k:isSameStorage(c))
    assert.same(tr:totable(), k:totable())
  end)
end)

describe("data", function()
  it("clone is independent", function()
    local c = coded()
    local d = c:clone()
    d:fill(1)
    assert.equal(111, c:get(1, 1, 1))
    local tc = c:transpose(2, 3):clone()
    assert.is_true(tc:isContiguous())
    assert.same(c:transpose(2, 3):totable(), tc:totable())
    assert.equal(0, T():clone():dim())
  end)

  it("copy goes in row-major order whatever the strides", function()
    local c = coded()
    local flat = T(24):copy(c:transpose(1, 2))
    local want, n = {}, 0
    for j = 1, 3 do for i = 1, 2 do for k = 1, 4 do
      n = n + 1
      want[n] = c:get(i, j, k)
    end end end
    assert.same(want, flat:totable())
    local dst = T(4, 3, 2)
    dst:transpose(1, 3):copy(c)                           -- a strided destination
    assert.is_true(dst:transpose(1, 3) == c)
    assert.matches("copy: source has 3 elements (3), destination 2 (2)",
      errmsg(function() T(2):copy(T(3)) end), 1, true)
  end)

  it("fill, zero, resize, resizeAs and set return self", function()
    local t = T(2, 2)
    assert.is_true(rawequal(t, t:fill(7)))
    assert.same({ { 7, 7 }, { 7, 7 } }, t:totable())
    assert.is_true(rawequal(t, t:zero()))
    assert.equal(0, t:get(2, 2))
    assert.is_true(rawequal(t, t:resize(3, 4)))
    assert.same({ 3, 4 }, t:size())
    assert.is_true(rawequal(t, t:resizeAs(T(5))))
    assert.same({ 5 }, t:size())
    local u = coded()
    assert.is_true(rawequal(t, t:set(u)))
    assert.is_true(t:isSameStorage(u) and t == u)
    assert.has_error(function() t:resize(-1) end, "size -1 at dimension 1 is negative")
  end)

  it("get, item, totable", function()
    local c = coded()
    assert.equal(123, c:get(1, 2, 3))
    assert.equal(234, c:get(-1, -1, -1))
    assert.matches("expected 3 indices, got 2", errmsg(c.get, c, 1, 1), 1, true)
    assert.matches("index 3 out of range: dimension 1 has size 2", errmsg(c.get, c, 3, 1, 1), 1, true)
    assert.equal(5, T{ 5 }:item())
    assert.equal(6, T{ { 6 } }:item())
    assert.matches("item: tensor has 2 elements, expected 1", errmsg(function() return T(2):item() end),
      1, true)
    assert.equal(9, T{ 9 }:view():totable())             -- a 0-d tensor gives its number
  end)
end)

describe("indexing", function()
  it("t[i] selects along dim 1; a 1-d tensor gives numbers", function()
    local c = coded()
    assert.same({ 3, 4 }, c[2]:size())
    assert.equal(213, c[2][1][3])
    assert.equal(213, c[2.0][1][3.0])                     -- integral floats index too
    assert.equal(c[2][3][4], c[-1][-1][-1])
    assert.matches("index 3 out of range: dimension 1 has size 2", errmsg(function() return c[3] end),
      1, true)
    assert.matches("index 0 out of range", errmsg(function() return c[0] end), 1, true)
    assert.matches("cannot index a 0-dimensional tensor",
      errmsg(function() return T{ 1 }:view()[1] end), 1, true)
    assert.is_nil(c.nosuchmethod)
  end)

  it("t[i] = number fills a slice, t[i] = tensor copies into it", function()
    local t = T(2, 3)
    t[2] = 4
    assert.same({ { 0, 0, 0 }, { 4, 4, 4 } }, t:totable())
    t[1] = T{ 1, 2, 3 }
    assert.same({ 1, 2, 3 }, t[1]:totable())
    t[-1][2] = 9
    assert.equal(9, t:get(2, 2))
    assert.matches("copy: source has 2 elements (2), destination 3 (3)",
      errmsg(function() t[1] = T{ 1, 2 } end), 1, true)
    assert.matches("index 3 out of range", errmsg(function() t[3] = 1 end), 1, true)
    assert.has_error(function() t.foo = 1 end)
  end)
end)

describe("comparison and lifetime", function()
  it("== compares sizes and elements", function()
    assert.is_true(T{ { 1, 2 } } == T{ { 1, 2 } })
    assert.is_false(T{ { 1, 2 } } == T{ 1, 2 })
    assert.is_false(T{ 1, 2 } == T{ 1, 3 })
    assert.is_true(T() == T())
    assert.is_false(T() == T(0))
    local n = T{ 0 / 0 }
    assert.is_false(n == n:clone())                      -- NaN is not equal to itself
  end)

  it("a <close> variable releases its storage at once", function()
    local view
    do
      local t <close> = T(3):fill(1)
      view = t
    end
    assert.equal(0, view:nElement())
    assert.equal(0, view:dim())
  end)

  it("views keep storage alive after the base is collected", function()
    local v
    do v = coded():narrow(1, 2, 1) end
    collectgarbage()
    collectgarbage()
    assert.equal(211, v:get(1, 1, 1))
  end)
end)

describe("printing", function()
  it("shows values and the shape", function()
    local s = tostring(T{ { 1, 2 }, { 3, 40 } })
    assert.matches("^%s+1%s+2\n%s+3%s+40\n%[ember%.Tensor of size 2x2%]$", s)
    assert.matches("1%.5000", tostring(T{ 1.5, 2 }))
    assert.matches("e%+10", tostring(T{ 1.5, 2e10 }))
    assert.matches("nan", tostring(T{ 0 / 0 }))
    assert.not_matches("%-nan", tostring(T{ 0 / 0 }))
    local big = tostring(ember.rand(40, 40))
    assert.matches("%.%.%.", big)                         -- abbreviated
    assert.matches("%(1,%.,%.%) =", tostring(T(2, 2, 2)))
  end)
end)
