-- SpatialFullConvolution_spec.lua -- transposed convolution against ONNX
-- ConvTranspose cases and PyTorch's F.conv_transpose2d; printing, errors.
local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

local function params(name) return dofile(H.REF .. "/conv/" .. name .. ".lua") end

-- A SpatialFullConvolution set up as case p with weight w (in, out/g, kH, kW), bias b or none.
local function deconv_for(w, b, p)
  local s, g = w:size(), p.groups
  local m = nn.SpatialFullConvolution(s[1], s[2] * g, s[4], s[3], p.stride[2], p.stride[1],
                                      0, 0, p.adj[2], p.adj[1])
    :setGroups(g)
    :setPadding(p.pads[1], p.pads[2], p.pads[3], p.pads[4])
    :setDilation(p.dilation[2], p.dilation[1])
  m.weight:copy(w)
  if b then m.bias:copy(b) else m:noBias() end
  return m
end

local message = H.message

describe("nn.SpatialFullConvolution against ONNX ConvTranspose", function()
  for _, case in ipairs{ "test_convtranspose", "test_convtranspose_autopad_same",
                         "test_convtranspose_dilations", "test_convtranspose_kernel_shape",
                         "test_convtranspose_output_shape", "test_convtranspose_pad",
                         "test_convtranspose_pads", "test_convtranspose_with_kernel" } do
    it(case, function()
      local m = deconv_for(H.ref("conv", case .. ".in1"), nil, params(case))
      H.close(m:forward(H.ref("conv", case .. ".in0")), H.ref("conv", case .. ".out0"))
    end)
  end
end)

describe("nn.SpatialFullConvolution against PyTorch F.conv_transpose2d", function()
  for _, case in ipairs{ "deconv_up2x", "deconv_adj", "deconv_groups2", "deconv_dilated",
                         "deconv_pointwise" } do
    it(case, function()
      local p = params(case)
      local m = deconv_for(H.ref("conv", case .. ".w"), p.bias and H.ref("conv", case .. ".b"), p)
      local x, ref = H.ref("conv", case .. ".x"), H.ref("conv", case .. ".y")
      H.close(m:forward(x), ref)
      assert.equal(m.output, m:forward(x))
      H.close(m.output, ref)
    end)
  end

  it("takes Torch7's constructor arguments (pad and adj)", function()
    local p = params("deconv_adj")   -- stride 3,2 (W,H), pad 0,1, adj 2,1
    local m = nn.SpatialFullConvolution(6, 3, 3, 3, p.stride[2], p.stride[1], p.pads[2], p.pads[1],
                                        p.adj[2], p.adj[1])
    m.weight:copy(H.ref("conv", "deconv_adj.w"))
    m.bias:copy(H.ref("conv", "deconv_adj.b"))
    H.close(m:forward(H.ref("conv", "deconv_adj.x")), H.ref("conv", "deconv_adj.y"))
  end)
end)

describe("nn.SpatialFullConvolution module", function()
  it("has Torch7's fields and an in,out,kH,kW weight", function()
    local m = nn.SpatialFullConvolution(16, 8, 4, 3, 2, 2, 1, 1, 1, 0)
    assert.same({ 16, 8, 4, 3, 2, 2, 1, 1, 1, 0 }, { m.nInputPlane, m.nOutputPlane, m.kW, m.kH,
                                                    m.dW, m.dH, m.padW, m.padH, m.adjW, m.adjH })
    assert.same({ 16, 8, 3, 4 }, m.weight:size())
    assert.same({ 8 }, m.bias:size())
    assert.same({ 16, 2, 3, 4 }, m:setGroups(4).weight:size())
    -- (5-1)*2 - 2*1 + 4 + 1 = 11 wide, (5-1)*2 - 2 + 3 + 0 = 9 high
    assert.same({ 1, 8, 9, 11 }, m:forward(ember.Tensor(1, 16, 5, 5)):size())
  end)

  it("prints like Torch7", function()
    assert.equal("SpatialFullConvolution(16 -> 8, 4x4, 2,2, 1,1)",
                 nn.SpatialFullConvolution(16, 8, 4, 4, 2, 2, 1, 1):__repr())
    assert.equal("nn.SpatialFullConvolution(16 -> 8, 3x3, 2,2, 1,1, 1,1) without bias",
                 tostring(nn.SpatialFullConvolution(16, 8, 3, 3, 2, 2, 1, 1, 1, 1):noBias()))
    assert.equal("SpatialFullConvolution(4 -> 2, 1x1)", nn.SpatialFullConvolution(4, 2, 1, 1):__repr())
  end)
end)

describe("nn.SpatialFullConvolution errors", function()
  it("names the plane counts", function()
    local m = nn.SpatialFullConvolution(16, 8, 4, 4, 2, 2, 1, 1)
    assert.matches("^SpatialFullConvolution%(16 %-> 8, 4x4, 2,2, 1,1%): .*expected 16 input planes, got 8$",
                   message(m.forward, m, ember.Tensor(1, 8, 5, 5)))
  end)

  it("refuses an output padding not below the stride", function()
    local m = nn.SpatialFullConvolution(4, 4, 3, 3, 2, 2, 1, 1, 2, 0)
    assert.matches("output padding 0x2 must be smaller than stride 2x2 or dilation 1x1$",
                   message(m.forward, m, ember.Tensor(1, 4, 5, 5)))
  end)

  it("refuses padding that leaves no output", function()
    local m = nn.SpatialFullConvolution(4, 4, 3, 3, 1, 1, 2, 2)
    assert.matches("padding 2,2,2,2 leaves no output for input 1x4x1x1 %(%-1x%-1%)$",
                   message(m.forward, m, ember.Tensor(1, 4, 1, 1)))
  end)

  it("refuses inputs of the wrong rank", function()
    local m = nn.SpatialFullConvolution(4, 4, 3, 3)
    assert.matches("expected a 3%-D %(C,H,W%) or 4%-D %(N,C,H,W%) input, got 4x5$",
                   message(m.forward, m, ember.Tensor(4, 5)))
  end)
end)
