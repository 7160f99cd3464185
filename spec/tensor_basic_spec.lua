-- tensor_basic_spec.lua -- construction, sizes and views of ember.Tensor.
local ember = require "ember"

describe("ember.Tensor construction", function()
  it("builds zeros of given sizes", function()
    local t = ember.Tensor(2, 3)
    assert.same({ 2, 3 }, t:size())
    assert.equal(6, t:nElement())
    assert.equal(0, t[2][3])
  end)
  it("builds from a nested table", function()
    local t = ember.Tensor{ { 1, 2 }, { 3, 4 } }
    assert.same({ { 1, 2 }, { 3, 4 } }, t:totable())
    assert.equal(3, t[2][1])
  end)
  it("rejects a ragged table, naming where", function()
    assert.has_error(function() ember.Tensor{ { 1, 2 }, { 3 } } end,
      "ember.Tensor: ragged table: [2] has 1 entries, expected 2")
  end)
end)

describe("ember.Tensor views", function()
  it("says 6 elements cannot be viewed as 8", function()
    local t = ember.Tensor(2, 3)
    local ok, err = pcall(t.view, t, 4, 2)
    assert.is_false(ok)
    assert.matches("6 elements %(2x3%) cannot be viewed as 8", err)
  end)
  it("shares storage between a tensor and its transpose", function()
    local t = ember.Tensor{ { 1, 2, 3 }, { 4, 5, 6 } }
    local u = t:transpose(1, 2)
    assert.same({ 3, 2 }, u:size())
    u[3][1] = 30
    assert.equal(30, t[1][3])
    assert.same({ { 1, 4 }, { 2, 5 }, { 30, 6 } }, u:contiguous():totable())
  end)
end)
