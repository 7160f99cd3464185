-- Linear_spec.lua -- nn.Linear against ONNX Gemm cases and PyTorch's F.linear;
-- fields, printing, errors.
local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

local function params(name) return dofile(H.REF .. "/conv/" .. name .. ".lua") end

local message = H.message

describe("nn.Linear against ONNX Gemm", function()
  -- Gemm computes alpha A' B' + beta C; ref_conv.py folded alpha into .B and
  -- beta into .bias; transA / transB become transposed (strided) views here.
  for _, case in ipairs{ "test_gemm_all_attributes", "test_gemm_alpha", "test_gemm_beta",
                         "test_gemm_default_no_bias", "test_gemm_default_scalar_bias",
                         "test_gemm_default_single_elem_vector_bias",
                         "test_gemm_default_vector_bias", "test_gemm_default_zero_bias",
                         "test_gemm_transposeA", "test_gemm_transposeB" } do
    it(case, function()
      local p = params(case)
      local a, b = H.ref("conv", case .. ".in0"), H.ref("conv", case .. ".B")
      local x = p.transA == 1 and a:t() or a
      local w = p.transB == 1 and b or b:t()          -- Linear wants (out, in)
      local m = nn.Linear(w:size(2), w:size(1), p.bias)
      m.weight = w
      if p.bias then m.bias:copy(H.ref("conv", case .. ".bias")) end
      H.close(m:forward(x), H.ref("conv", case .. ".out0"))
    end)
  end
end)

describe("nn.Linear against PyTorch F.linear", function()
  for _, case in ipairs{ "linear_vec", "linear_row", "linear_batch", "linear_nobias" } do
    it(case, function()
      local p = params(case)
      local w = H.ref("conv", case .. ".w")
      local m = nn.Linear(w:size(2), w:size(1), p.bias)
      m.weight:copy(w)
      if p.bias then m.bias:copy(H.ref("conv", case .. ".b")) end
      local x, ref = H.ref("conv", case .. ".x"), H.ref("conv", case .. ".y")
      H.close(m:forward(x), ref)
      assert.equal(m.output, m:forward(x))
      H.close(m.output, ref)
    end)
  end
end)

describe("nn.Linear module", function()
  it("has Torch7's fields", function()
    local m = nn.Linear(20, 7)
    assert.same({ 7, 20 }, m.weight:size())
    assert.same({ 7 }, m.bias:size())
    assert.is_nil(nn.Linear(20, 7, false).bias)
    assert.is_nil(nn.Linear(20, 7):noBias().bias)
    assert.same({ 3, 7 }, m:forward(ember.Tensor(3, 20)):size())
    assert.same({ 7 }, m:forward(ember.Tensor(20)):size())
  end)

  it("initialises weights within +-1/sqrt(inputSize), not all equal", function()
    local w = nn.Linear(25, 10).weight:view(-1)
    local lo, hi = math.huge, -math.huge
    for i = 1, w:nElement() do lo, hi = math.min(lo, w[i]), math.max(hi, w[i]) end
    assert.is_true(lo >= -0.2 and hi <= 0.2)
    assert.is_true(hi > lo)
  end)

  it("prints like Torch7", function()
    assert.equal("nn.Linear(2048 -> 1000)", tostring(nn.Linear(2048, 1000)))
    assert.equal("Linear(4 -> 2) without bias", nn.Linear(4, 2, false):__repr())
  end)
end)

describe("nn.Linear errors", function()
  it("names the feature counts", function()
    local net = nn.Sequential():add(nn.Linear(512, 10))
    assert.matches("^%[1%] Linear%(512 %-> 10%): .*expected 512 input features, got 256$",
                   message(net.forward, net, ember.Tensor(2, 256)))
  end)

  it("refuses inputs of the wrong rank", function()
    local m = nn.Linear(4, 2)
    assert.matches("expected a 1%-D or 2%-D input %(N, in%), got 2x2x4$",
                   message(m.forward, m, ember.Tensor(2, 2, 4)))
    assert.matches("expected a 1%-D or 2%-D input %(N, in%), got empty$",
                   message(m.forward, m, ember.Tensor()))
  end)

  it("checks its constructor arguments", function()
    assert.matches("outputSize must be a positive integer, got 0", message(nn.Linear, 4, 0))
  end)
end)
