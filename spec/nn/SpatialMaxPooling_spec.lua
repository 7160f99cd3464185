-- SpatialMaxPooling_spec.lua -- max pooling against ONNX conformance cases and
-- PyTorch (spec/ref/ref_pool.py): ceil mode, dilation, asymmetric pads, errors.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"
local P = require "nn.pooling"

local ONNX = {
  "test_maxpool_1d_default", "test_maxpool_2d_ceil", "test_maxpool_2d_default",
  "test_maxpool_2d_dilations", "test_maxpool_2d_pads", "test_maxpool_2d_precomputed_pads",
  "test_maxpool_2d_precomputed_same_upper", "test_maxpool_2d_precomputed_strides",
  "test_maxpool_2d_same_lower", "test_maxpool_2d_same_upper", "test_maxpool_2d_strides",
  "test_maxpool_2d_uint8", "test_maxpool_with_argmax_2d_precomputed_pads",
  "test_maxpool_with_argmax_2d_precomputed_strides",
}

describe("nn.SpatialMaxPooling against ONNX conformance cases", function()
  for _, case in ipairs(ONNX) do
    it(case, P.onnx_case(case, function(p)   -- kW kH dW dH pt pl pb pr ceil cip dilW dilH
      local m = nn.SpatialMaxPooling(p[1], p[2], p[3], p[4])
        :setPadding(p[5], p[6], p[7], p[8]):setDilation(p[11], p[12])
      return p[9] == 1 and m:ceil() or m
    end))
  end
end)

local TORCH = {
  "max_k3s2p1_ceil", "max_k3s2_ceil", "max_k2s2_ceil_odd", "max_k2s2_floor_odd", "max_rect",
  "max_rect_ceil", "max_dilated", "max_dilated_ceil", "max_ceil_dropped",
  "max_kernel_over_input_ceil",
}

describe("nn.SpatialMaxPooling against PyTorch", function()
  for _, case in ipairs(TORCH) do
    it(case, P.torch_case(case, function(p)   -- kW kH dW dH padW padH ceil dilW dilH
      local m = nn.SpatialMaxPooling(p[1], p[2], p[3], p[4], p[5], p[6]):setDilation(p[8], p[9])
      return p[7] == 1 and m:ceil() or m
    end))
  end

  it("ceil and floor are chainable and switch the output size", function()
    local x = H.ref("pool_torch", "max_k2s2_ceil_odd.in")   -- 2x2x7x9
    local m = nn.SpatialMaxPooling(2, 2, 2, 2)
    assert.same({ 2, 2, 3, 4 }, m:forward(x):size())
    assert.equal(m, m:ceil())
    assert.same({ 2, 2, 4, 5 }, m:forward(x):size())
    assert.same({ 2, 2, 3, 4 }, m:floor():forward(x):size())
  end)

  it("reuses its output tensor", function()
    local x = H.ref("pool_torch", "max_rect.in")
    local m = nn.SpatialMaxPooling(3, 2, 2, 1, 1, 0)
    local y1 = m:forward(x)
    assert.equal(y1, m:forward(x))
  end)
end)

describe("nn.SpatialMaxPooling errors and printing", function()
  local err = H.message

  it("defaults the stride to the kernel, as Torch7", function()
    local m = nn.SpatialMaxPooling(3, 2)
    assert.same({ 3, 2, 3, 2, 0, 0 }, { m.kW, m.kH, m.dW, m.dH, m.padW, m.padH })
  end)

  it("prints as Torch7", function()
    assert.equal("nn.SpatialMaxPooling(3x3, 2,2, 1,1)", tostring(nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1)))
    assert.equal("nn.SpatialMaxPooling(2x2, 2,2)", tostring(nn.SpatialMaxPooling(2, 2)))
    assert.equal("SpatialMaxPooling(3x2, 1,1, pad 0,1,1,0, dilation 2,2)",
                 nn.SpatialMaxPooling(3, 2, 1, 1):setPadding(0, 1, 1, 0):setDilation(2):__repr())
  end)

  it("rejects padding over half the kernel, as PyTorch", function()
    assert.matches("nn.SpatialMaxPooling: pad should be at most half of kernel size, but got padW = 2, padH = 0, kW = 3, kH = 3",
                   err(function() nn.SpatialMaxPooling(3, 3, 1, 1, 2, 0) end), 1, true)
  end)

  it("rejects bad constructor arguments", function()
    assert.matches("kW must be a positive integer, got 0", err(function() nn.SpatialMaxPooling(0, 2) end), 1, true)
    assert.matches("dH must be a positive integer, got -1",
                   err(function() nn.SpatialMaxPooling(2, 2, 1, -1) end), 1, true)
    assert.matches("padW must be a non-negative integer, got 1.5",
                   err(function() nn.SpatialMaxPooling(2, 2, 1, 1, 1.5) end), 1, true)
  end)

  it("names the sizes when the kernel is larger than the padded input", function()
    local e = err(function() nn.SpatialMaxPooling(3, 3, 1, 1, 1, 0):forward(ember.Tensor(1, 2, 1, 4)) end)
    assert.matches("SpatialMaxPooling(3x3, 1,1, 1,0): kernel 3x3 is larger than the padded input 6x1", e, 1, true)
    e = err(function() nn.SpatialMaxPooling(2, 2):setDilation(3):forward(ember.Tensor(1, 2, 3, 3)) end)
    assert.matches("dilated kernel 4x4 is larger than the padded input 3x3", e, 1, true)
  end)

  it("rejects padding as wide as the kernel", function()
    local e = err(function() nn.SpatialMaxPooling(2, 2):setPadding(0, 2, 0, 0):forward(ember.Tensor(1, 1, 4, 4)) end)
    assert.matches("padding (top 0, left 2, bottom 0, right 0) must be smaller than the kernel 2x2", e, 1, true)
  end)

  it("rejects inputs of the wrong rank or empty", function()
    local m = nn.SpatialMaxPooling(2, 2)
    assert.matches("SpatialMaxPooling(2x2, 2,2): expected a 3- or 4-dimensional input (C,H,W or N,C,H,W), got 2 dimensions (5x5)",
                   err(function() m:forward(ember.Tensor(5, 5)) end), 1, true)
    assert.matches("got 5 dimensions (1x1x2x4x4)", err(function() m:forward(ember.Tensor(1, 1, 2, 4, 4)) end), 1, true)
    assert.matches("got an empty tensor", err(function() m:forward(ember.Tensor()) end), 1, true)
    assert.matches("input 0x2x4x4 has a zero size", err(function() m:forward(ember.Tensor(0, 2, 4, 4)) end), 1, true)
  end)

  it("names its place in a container", function()
    local net = nn.Sequential():add(nn.ReLU()):add(nn.SpatialMaxPooling(3, 3, 2, 2))
    assert.matches("[2] SpatialMaxPooling(3x3, 2,2): kernel 3x3 is larger than the padded input 2x2",
                   err(function() net:forward(ember.Tensor(1, 1, 2, 2)) end), 1, true)
  end)
end)
