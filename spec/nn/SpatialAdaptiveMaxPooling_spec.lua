-- SpatialAdaptiveMaxPooling_spec.lua -- adaptive and global max pooling
-- against PyTorch's adaptive_max_pool2d and ONNX GlobalMaxPool cases.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

local I = math.tointeger

local CASES = { "ad_5x7_of_11x13", "ad_1x1", "ad_3x3_of_10x9", "ad_7x7_of_7x7",
                "ad_larger_than_input", "ad_6x4_of_13x8" }

describe("nn.SpatialAdaptiveMaxPooling", function()
  for _, case in ipairs(CASES) do
    it("matches PyTorch: " .. case, function()
      local size = H.ref("pool_torch", case .. ".size")   -- W, H
      local m = nn.SpatialAdaptiveMaxPooling(I(size[1]), I(size[2]))
      local x, ref = H.ref("pool_torch", case .. ".in"), H.ref("pool_torch", case .. ".max")
      H.close(m:forward(x), ref)
      H.close(m:forward(x:select(1, 1)), ref:select(1, 1))
    end)
  end

  for _, case in ipairs{ "test_globalmaxpool", "test_globalmaxpool_precomputed" } do
    it("as (1, 1) matches ONNX " .. case, function()
      H.close(nn.SpatialAdaptiveMaxPooling(1, 1):forward(H.ref("pool", case .. ".in0")),
              H.ref("pool", case .. ".out0"))
    end)
  end

  it("takes the width first, as Torch7", function()
    assert.same({ 1, 2, 3, 5 }, nn.SpatialAdaptiveMaxPooling(5, 3):forward(ember.Tensor(1, 2, 9, 10)):size())
  end)

  it("prints its output size", function()
    assert.equal("nn.SpatialAdaptiveMaxPooling(7x5)", tostring(nn.SpatialAdaptiveMaxPooling(7, 5)))
  end)

  it("rejects bad sizes and inputs", function()
    local ok, e = pcall(nn.SpatialAdaptiveMaxPooling, 0, 1)
    assert.is_false(ok)
    assert.matches("nn.SpatialAdaptiveMaxPooling: W must be a positive integer, got 0", e, 1, true)
    ok, e = pcall(function() nn.SpatialAdaptiveMaxPooling(2, 2):forward(ember.Tensor(3, 4)) end)
    assert.is_false(ok)
    assert.matches("SpatialAdaptiveMaxPooling(2x2): expected a 3- or 4-dimensional input (C,H,W or N,C,H,W), got 2 dimensions (3x4)",
                   e, 1, true)
    ok, e = pcall(function() nn.SpatialAdaptiveMaxPooling(2, 2):forward(ember.Tensor(1, 3, 0, 4)) end)
    assert.is_false(ok)
    assert.matches("input 1x3x0x4 has a zero size", e, 1, true)
  end)
end)
