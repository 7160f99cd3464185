-- SpatialAveragePooling_spec.lua -- average pooling against ONNX conformance
-- cases and PyTorch (spec/ref/ref_pool.py): count_include_pad on and off,
-- ceil mode (the overhang never counts), asymmetric pads, errors.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"
local P = require "nn.pooling"

local ONNX = {
  "test_averagepool_1d_default", "test_averagepool_2d_ceil", "test_averagepool_2d_default",
  "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad",
  "test_averagepool_2d_precomputed_pads", "test_averagepool_2d_precomputed_pads_count_include_pad",
  "test_averagepool_2d_precomputed_same_upper", "test_averagepool_2d_precomputed_strides",
  "test_averagepool_2d_same_lower", "test_averagepool_2d_same_upper", "test_averagepool_2d_strides",
}

describe("nn.SpatialAveragePooling against ONNX conformance cases", function()
  for _, case in ipairs(ONNX) do
    it(case, P.onnx_case(case, function(p)
      -- kW kH dW dH pt pl pb pr ceil count_include_pad (ONNX's default: 0)
      local m = nn.SpatialAveragePooling(p[1], p[2], p[3], p[4]):setPadding(p[5], p[6], p[7], p[8])
      if p[9] == 1 then m:ceil() end
      if p[10] == 0 then m:setCountExcludePad() end
      return m
    end))
  end
end)

local TORCH = { "avg_k2s2_nopad_ceil", "avg_k7s1" }
for _, shape in ipairs{ "avg_k3s2p1_", "avg_rect_" } do
  for _, tag in ipairs{ "incl_ceil", "incl_floor", "excl_ceil", "excl_floor" } do
    TORCH[#TORCH + 1] = shape .. tag
  end
end

describe("nn.SpatialAveragePooling against PyTorch", function()
  for _, case in ipairs(TORCH) do
    it(case, P.torch_case(case, function(p)   -- kW kH dW dH padW padH ceil count_include_pad
      local m = nn.SpatialAveragePooling(p[1], p[2], p[3], p[4], p[5], p[6])
      if p[7] == 1 then m:ceil() end
      if p[8] == 0 then m:setCountExcludePad() end
      return m
    end))
  end

  it("counts padding by default, as Torch7, and switches both ways", function()
    local x = H.ref("pool_torch", "avg_k3s2p1_incl_floor.in")
    local m = nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1)
    assert.is_true(m.count_include_pad)
    H.close(m:forward(x), H.ref("pool_torch", "avg_k3s2p1_incl_floor.out"))
    assert.equal(m, m:setCountExcludePad())
    x = H.ref("pool_torch", "avg_k3s2p1_excl_floor.in")
    H.close(m:forward(x), H.ref("pool_torch", "avg_k3s2p1_excl_floor.out"))
    assert.equal(m, m:setCountIncludePad())
    assert.is_true(m.count_include_pad)
  end)
end)

describe("nn.SpatialAveragePooling errors and printing", function()
  local err = H.message

  it("defaults the stride to 1, as Torch7", function()
    local m = nn.SpatialAveragePooling(3, 2)
    assert.same({ 1, 1, 0, 0 }, { m.dW, m.dH, m.padW, m.padH })
    assert.same({ 1, 1, 3, 4 }, m:forward(ember.Tensor(1, 1, 4, 6)):size())
  end)

  it("prints as Torch7", function()
    assert.equal("nn.SpatialAveragePooling(3x3, 2,2, 1,1)", tostring(nn.SpatialAveragePooling(3, 3, 2, 2, 1, 1)))
    assert.equal("nn.SpatialAveragePooling(7x7, 1,1)", tostring(nn.SpatialAveragePooling(7, 7)))
  end)

  it("rejects padding over half the kernel, as PyTorch", function()
    assert.matches("pad should be at most half of kernel size, but got padW = 1, padH = 2, kW = 3, kH = 3",
                   err(function() nn.SpatialAveragePooling(3, 3, 1, 1, 1, 2) end), 1, true)
  end)

  it("names the sizes when the kernel is larger than the padded input", function()
    assert.matches("SpatialAveragePooling(4x4, 1,1, 1,1): kernel 4x4 is larger than the padded input 3x3",
                   err(function() nn.SpatialAveragePooling(4, 4, 1, 1, 1, 1):forward(ember.Tensor(2, 1, 1, 1)) end),
                   1, true)
    -- ceil mode keeps one window there, as PyTorch (max_kernel_over_input_ceil)
    assert.same({ 2, 1, 1, 1 }, nn.SpatialAveragePooling(3, 3, 2, 2):ceil():forward(ember.Tensor(2, 1, 2, 2)):size())
  end)

  it("rejects inputs of the wrong rank", function()
    assert.matches("SpatialAveragePooling(2x2, 1,1): expected a 3- or 4-dimensional input (C,H,W or N,C,H,W), got 1 dimensions (4)",
                   err(function() nn.SpatialAveragePooling(2, 2):forward(ember.Tensor(4)) end), 1, true)
  end)

  it("rejects bad constructor arguments", function()
    assert.matches("nn.SpatialAveragePooling: kH must be a positive integer, got nil",
                   err(function() nn.SpatialAveragePooling(2) end), 1, true)
  end)
end)
