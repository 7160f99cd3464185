-- SpatialConvolution_spec.lua -- nn.SpatialConvolution and SpatialDilatedConvolution
-- against ONNX Conv cases and PyTorch's F.conv2d; printing, options, errors.
local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

-- Parameters of a reference case, written by spec/ref/ref_conv.py.
local function params(name) return dofile(H.REF .. "/conv/" .. name .. ".lua") end

-- A SpatialConvolution set up as case p, holding weight w and bias b (or none).
local function conv_for(w, b, p)
  local s, g = w:size(), p.groups
  local m = nn.SpatialConvolution(s[2] * g, s[1], s[4], s[3], p.stride[2], p.stride[1], 0, 0, g)
    :setPadding(p.pads[1], p.pads[2], p.pads[3], p.pads[4])
    :setDilation(p.dilation[2], p.dilation[1])
  m.weight:copy(w)
  if b then m.bias:copy(b) else m:noBias() end
  return m
end

local message = H.message

describe("nn.SpatialConvolution against ONNX Conv", function()
  for _, case in ipairs{ "test_basic_conv_with_padding", "test_basic_conv_without_padding",
                         "test_conv_with_strides_padding", "test_conv_with_strides_no_padding",
                         "test_conv_with_strides_and_asymmetric_padding",
                         "test_conv_with_autopad_same" } do
    it(case, function()
      local x, w = H.ref("conv", case .. ".in0"), H.ref("conv", case .. ".in1")
      local m = conv_for(w, nil, params(case))
      H.close(m:forward(x), H.ref("conv", case .. ".out0"))
    end)
  end
end)

describe("nn.SpatialConvolution against PyTorch F.conv2d", function()
  for _, case in ipairs{ "conv_groups2", "conv_groups4", "conv_depthwise", "conv_depthwise_s1",
                         "conv_depthwise_mult", "conv_dilation2", "conv_dilation23",
                         "conv_asym_pad", "conv_batch3", "conv_pointwise", "conv_pointwise_g4",
                         "conv_stem7x7", "conv_big3x3" } do
    it(case, function()
      local p = params(case)
      local m = conv_for(H.ref("conv", case .. ".w"), p.bias and H.ref("conv", case .. ".b"), p)
      local x, ref = H.ref("conv", case .. ".x"), H.ref("conv", case .. ".y")
      H.close(m:forward(x), ref)
      -- the second call reuses output and scratch and gives the same result
      local out = m.output
      assert.equal(out, m:forward(x))
      H.close(m.output, ref)
    end)
  end

  it("takes dilation from SpatialDilatedConvolution's constructor", function()
    local p = params("conv_dilation23")
    local w, b = H.ref("conv", "conv_dilation23.w"), H.ref("conv", "conv_dilation23.b")
    local m = nn.SpatialDilatedConvolution(3, 4, 3, 3, 2, 1, 3, 2, 3, 2)
    assert.same({ 3, 2 }, { m.dilationW, m.dilationH })
    assert.same(p.pads, { m.padH, m.padW, m.padH, m.padW })
    m.weight:copy(w)
    m.bias:copy(b)
    H.close(m:forward(H.ref("conv", "conv_dilation23.x")), H.ref("conv", "conv_dilation23.y"))
  end)

  it("runs one C,H,W image as a batch of one", function()
    local p = params("conv_groups4")
    local m = conv_for(H.ref("conv", "conv_groups4.w"), H.ref("conv", "conv_groups4.b"), p)
    local x, ref = H.ref("conv", "conv_groups4.x"), H.ref("conv", "conv_groups4.y")
    local s, r = x:size(), ref:size()
    H.close(m:forward(x:view(s[2], s[3], s[4])), ref:view(r[2], r[3], r[4]))
  end)
end)

describe("nn.SpatialConvolution module", function()
  it("has Torch7's fields and a 4-D weight", function()
    local m = nn.SpatialConvolution(3, 64, 5, 3, 2, 1, 2)
    assert.same({ 3, 64, 5, 3, 2, 1, 2, 2 }, { m.nInputPlane, m.nOutputPlane, m.kW, m.kH,
                                               m.dW, m.dH, m.padW, m.padH })
    assert.same({ 64, 3, 3, 5 }, m.weight:size())
    assert.same({ 64 }, m.bias:size())
    assert.equal(2, #m:parameters())
    assert.equal(1, #m:noBias():parameters())
  end)

  it("initialises weights within +-1/sqrt(fan-in), not all equal", function()
    local m = nn.SpatialConvolution(16, 8, 3, 3)
    local stdv = 1 / math.sqrt(16 * 9)
    local w = m.weight:view(-1)
    local lo, hi = math.huge, -math.huge
    for i = 1, w:nElement() do
      lo, hi = math.min(lo, w[i]), math.max(hi, w[i])
    end
    assert.is_true(lo >= -stdv and hi <= stdv)
    assert.is_true(hi > lo)
  end)

  it("reallocates the weight on setGroups", function()
    local m = nn.SpatialConvolution(32, 64, 3, 3):setGroups(4)
    assert.equal(4, m.groups)
    assert.same({ 64, 8, 3, 3 }, m.weight:size())
    assert.same({ 64, 1, 3, 3 }, nn.SpatialConvolution(64, 64, 3, 3, 1, 1, 1, 1, 64).weight:size())
  end)

  it("prints like Torch7", function()
    assert.equal("SpatialConvolution(3 -> 64, 3x3, 1,1, 1,1)",
                 nn.SpatialConvolution(3, 64, 3, 3, 1, 1, 1, 1):__repr())
    assert.equal("SpatialConvolution(64 -> 128, 3x3)", nn.SpatialConvolution(64, 128, 3, 3):__repr())
    assert.equal("nn.SpatialConvolution(64 -> 128, 1x1, 2,2) without bias",
                 tostring(nn.SpatialConvolution(64, 128, 1, 1, 2, 2):noBias()))
    assert.equal("SpatialConvolution(32 -> 32, 3x3, 1,1, 1,1, groups 32)",
                 nn.SpatialConvolution(32, 32, 3, 3, 1, 1, 1, 1, 32):__repr())
    assert.equal("SpatialConvolution(8 -> 4, 3x3, 1,1, pad 0,1,1,2, dilation 2,2)",
                 nn.SpatialConvolution(8, 4, 3, 3):setPadding(0, 1, 1, 2):setDilation(2, 2):__repr())
    assert.equal("SpatialDilatedConvolution(8 -> 4, 3x3, 1,1, 2,2, 2,2)",
                 nn.SpatialDilatedConvolution(8, 4, 3, 3, 1, 1, 2, 2, 2, 2):__repr())
  end)
end)

describe("nn.SpatialConvolution errors", function()
  it("names the layer and the plane counts", function()
    local net = nn.Sequential():named("features")
      :add(nn.SpatialConvolution(3, 64, 3, 3, 1, 1, 1, 1))
      :add(nn.SpatialConvolution(32, 128, 3, 3))
    local err = message(net.forward, net, ember.Tensor(1, 3, 8, 8))
    assert.matches("^features%[2%] SpatialConvolution%(32 %-> 128, 3x3%): .*expected 32 input planes, got 64$", err)
    local m = nn.SpatialConvolution(64, 128, 3, 3)
    assert.matches("expected 64 input planes, got 32$", message(m.forward, m, ember.Tensor(2, 32, 5, 5)))
  end)

  it("names the layer when the input is not a tensor", function()
    local m = nn.SpatialConvolution(3, 4, 3, 3)
    assert.matches("^SpatialConvolution%(3 %-> 4, 3x3%): .*ember.Tensor expected, got number",
                   message(m.forward, m, 5))
    assert.matches("^SpatialConvolution%(3 %-> 4, 3x3%): .*ember.Tensor expected, got number",
                   message(m.forward, m, { 1 }))
    assert.matches("^SpatialConvolution%(3 %-> 4, 3x3%): expected a tensor or a table {input, residual} "
                   .. "of tensors, got a number residual", message(m.forward, m, { ember.Tensor(1, 3, 5, 5), 2 }))
  end)

  it("refuses a kernel larger than the padded input", function()
    local m = nn.SpatialConvolution(3, 4, 7, 7)
    assert.matches("kernel 7x7 %(dilated%) larger than padded input 5x5$",
                   message(m.forward, m, ember.Tensor(1, 3, 5, 5)))
    m = nn.SpatialDilatedConvolution(3, 4, 3, 3, 1, 1, 1, 0, 3, 3)
    assert.matches("kernel 7x7 %(dilated%) larger than padded input 6x8$",
                   message(m.forward, m, ember.Tensor(1, 3, 6, 6)))
  end)

  it("refuses inputs of the wrong rank", function()
    local m = nn.SpatialConvolution(3, 4, 3, 3)
    assert.matches("expected a 3%-D %(C,H,W%) or 4%-D %(N,C,H,W%) input, got 3x8$",
                   message(m.forward, m, ember.Tensor(3, 8)))
    assert.matches("expected a 3%-D %(C,H,W%) or 4%-D %(N,C,H,W%) input, got 1x1x3x8x8$",
                   message(m.forward, m, ember.Tensor(1, 1, 3, 8, 8)))
  end)

  it("checks its constructor arguments", function()
    assert.matches("3 %-> 4 planes do not divide into 2 groups",
                   message(nn.SpatialConvolution, 3, 4, 3, 3, 1, 1, 0, 0, 2))
    assert.matches("kW must be a positive integer, got 0", message(nn.SpatialConvolution, 3, 4, 0, 3))
    assert.matches("dW must be a positive integer, got 0", message(nn.SpatialConvolution, 3, 4, 3, 3, 0))
    assert.matches("top padding must be a non%-negative integer, got %-1",
                   message(nn.SpatialConvolution(3, 4, 3, 3).setPadding, nn.SpatialConvolution(3, 4, 3, 3), -1, 0, 0, 0))
  end)

  it("checks the bias length", function()
    local m = nn.SpatialConvolution(3, 4, 3, 3)
    m.bias = ember.Tensor(5)
    assert.matches("expected a bias of 4 elements, got 5$", message(m.forward, m, ember.Tensor(1, 3, 5, 5)))
  end)
end)
