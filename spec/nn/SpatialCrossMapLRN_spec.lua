-- SpatialCrossMapLRN_spec.lua -- cross-channel LRN against ONNX's LRN cases
-- and PyTorch's local_response_norm (odd sizes directly; even sizes mirrored,
-- see spec/ref/ref_pool.py), errors and printing.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

local I = math.tointeger

local err = H.message

-- size, alpha, beta, k saved with each case
local function module(group, case)
  local a = H.ref(group, case .. ".lrn")
  return nn.SpatialCrossMapLRN(I(a[1]), a[2], a[3], a[4])
end

describe("nn.SpatialCrossMapLRN", function()
  for _, case in ipairs{ "test_lrn", "test_lrn_default" } do
    it("matches ONNX " .. case, function()
      H.close(module("pool", case):forward(H.ref("pool", case .. ".in0")), H.ref("pool", case .. ".out0"))
    end)
  end

  for _, case in ipairs{ "lrn5_default", "lrn5_big_alpha", "lrn3", "lrn1", "lrn11_wide", "lrn4_even", "lrn2_even" } do
    it("matches PyTorch " .. case, function()
      local m = module("pool_torch", case)
      local x, ref = H.ref("pool_torch", case .. ".in"), H.ref("pool_torch", case .. ".out")
      H.close(m:forward(x), ref)
      H.close(m:forward(x:select(1, 1)), ref:select(1, 1))
      H.close(m:forward(x:transpose(3, 4)), ref:transpose(3, 4))
    end)
  end

  it("has Torch7's defaults", function()
    local m = nn.SpatialCrossMapLRN(5)
    assert.same({ 5, 1e-4, 0.75, 1 }, { m.size, m.alpha, m.beta, m.k })
  end)

  it("prints its parameters", function()
    assert.equal("nn.SpatialCrossMapLRN(5, 0.0001, 0.75, 1)", tostring(nn.SpatialCrossMapLRN(5)))
    assert.equal("SpatialCrossMapLRN(3, 0.5, 0.6, 2)", nn.SpatialCrossMapLRN(3, 0.5, 0.6, 2):__repr())
  end)

  it("rejects bad arguments and inputs", function()
    assert.matches("nn.SpatialCrossMapLRN: size must be a positive integer, got 0",
                   err(function() nn.SpatialCrossMapLRN(0) end), 1, true)
    assert.matches("nn.SpatialCrossMapLRN: beta must be a finite number, got inf",
                   err(function() nn.SpatialCrossMapLRN(5, 1e-4, math.huge) end), 1, true)
    local m = nn.SpatialCrossMapLRN(5)
    assert.matches("SpatialCrossMapLRN(5, 0.0001, 0.75, 1): expected a 3-D (C,H,W) or 4-D (N,C,H,W) input, got 2-D (4x4)",
                   err(function() m:forward(ember.Tensor(4, 4)) end), 1, true)
    assert.matches("input 1x0x3x3 has a zero size", err(function() m:forward(ember.Tensor(1, 0, 3, 3)) end), 1, true)
  end)
end)
