-- SpatialBatchNormalization_spec.lua -- inference batch norm against ONNX
-- conformance cases and PyTorch, folding into a SpatialConvolution (checked
-- against PyTorch's conv then bn), errors and printing.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

local I = math.tointeger

local function ref(case, name) return H.ref("pool_torch", case .. "." .. name) end

local err = H.message

describe("nn.SpatialBatchNormalization against references", function()
  for _, case in ipairs{ "test_batchnorm_epsilon", "test_batchnorm_example" } do
    it("ONNX " .. case, function()
      local x = H.ref("pool", case .. ".in0")
      local m = nn.SpatialBatchNormalization(x:size(2), H.ref("pool", case .. ".eps")[1])
      m.weight:copy(H.ref("pool", case .. ".in1"))
      m.bias:copy(H.ref("pool", case .. ".in2"))
      m.running_mean:copy(H.ref("pool", case .. ".in3"))
      m.running_var:copy(H.ref("pool", case .. ".in4"))
      H.close(m:forward(x), H.ref("pool", case .. ".out0"))
    end)
  end

  for _, case in ipairs{ "bn4d", "bn4d_eps", "bn4d_noaffine" } do
    it("PyTorch " .. case, function()
      local x = ref(case, "in")
      local affine = case ~= "bn4d_noaffine"
      local m = nn.SpatialBatchNormalization(x:size(2), ref(case, "eps")[1], nil, affine)
      assert.equal(affine, m.weight ~= nil)
      if affine then
        m.weight:copy(ref(case, "weight"))
        m.bias:copy(ref(case, "bias"))
      end
      m.running_mean:copy(ref(case, "mean"))
      m.running_var:copy(ref(case, "var"))
      H.close(m:forward(x), ref(case, "out"))
      -- one image, C,H,W
      H.close(m:forward(x:select(1, 1)), ref(case, "out"):select(1, 1))
      -- a strided input
      local xt = x:transpose(3, 4)
      H.close(m:forward(xt), ref(case, "out"):transpose(3, 4))
    end)
  end

  it("loads weight, bias and running statistics by name", function()
    local m = nn.SpatialBatchNormalization(3):named("bn1")
    local s = m:state()
    for _, k in ipairs{ "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var" } do
      assert.is_not_nil(s[k], k)
    end
    assert.equal(2, #m:parameters())
    assert.same({ 3 }, m.running_var:size())
    assert.equal(1e-5, m.eps)
  end)
end)

describe("SpatialBatchNormalization:foldInto", function()
  for _, case in ipairs{ "fold_bias", "fold_nobias", "fold_1x1_noaffine" } do
    it("gives PyTorch's conv then bn: " .. case, function()
      local g = ref(case, "geom")   -- cin cout k stride pad has_bias affine
      local cin, cout, k, s, p = I(g[1]), I(g[2]), I(g[3]), I(g[4]), I(g[5])
      local has_bias, affine = g[6] == 1, g[7] == 1
      local conv = nn.SpatialConvolution(cin, cout, k, k, s, s, p, p)
      conv.weight:copy(ref(case, "conv_weight"))
      if has_bias then conv.bias:copy(ref(case, "conv_bias")) else conv:noBias() end
      local bn = nn.SpatialBatchNormalization(cout, 1e-3, nil, affine)
      if affine then
        bn.weight:copy(ref(case, "weight"))
        bn.bias:copy(ref(case, "bias"))
      end
      bn.running_mean:copy(ref(case, "mean"))
      bn.running_var:copy(ref(case, "var"))
      local net = nn.Sequential():add(conv):add(bn)
      local x = ref(case, "in")
      H.close(net:forward(x), ref(case, "out"))
      assert.equal(conv, bn:foldInto(conv))
      assert.is_not_nil(conv.bias)
      assert.same({ cout }, conv.bias:size())
      H.close(conv:forward(x), ref(case, "out"))
      H.close(net:forward(x), ref(case, "out"))
      assert.equal("SpatialBatchNormalization (4D) (" .. cout .. ") folded", bn:__repr())
      -- the bn's own tensors now hold the identity
      local fresh = nn.SpatialBatchNormalization(cout, 1e-3, nil, affine)
      for _, f in ipairs{ "weight", "bias", "running_mean", "running_var" } do
        if affine or f:match("running") then fresh[f]:copy(bn[f]) end
      end
      H.close(fresh:forward(conv.output), conv.output)
    end)
  end

  it("rejects a convolution with another channel count", function()
    local conv = nn.SpatialConvolution(2, 5, 3, 3)
    local before = conv.weight:clone()
    assert.matches("nn.SpatialBatchNormalization:foldInto: the convolution has 5 output channels, the batch normalisation 4",
                   err(function() nn.SpatialBatchNormalization(4):foldInto(conv) end), 1, true)
    assert.equal(0, (conv.weight - before):abs():max())
  end)

  it("rejects what it cannot fold into", function()
    assert.matches("foldInto expects a layer with a weight",
                   err(function() nn.SpatialBatchNormalization(4):foldInto(nn.ReLU()) end), 1, true)
    assert.matches("cannot fold into a SpatialFullConvolution",
                   err(function() nn.SpatialBatchNormalization(4):foldInto(nn.SpatialFullConvolution(4, 4, 3, 3)) end), 1, true)
    local bn = nn.SpatialBatchNormalization(4)
    bn:foldInto(nn.SpatialConvolution(2, 4, 1, 1))
    assert.matches("already folded", err(function() bn:foldInto(nn.SpatialConvolution(2, 4, 1, 1)) end), 1, true)
  end)

  it("is also reachable as core.batchnorm_fold, which creates a missing bias", function()
    local w = ember.Tensor(3, 2, 1, 1):fill(2)
    local bias = ember.core.batchnorm_fold(w, nil, nil, nil, ember.Tensor{ 1, 0, 0 }, ember.Tensor{ 4, 1, 0.25 }, 0)
    H.close(w:view(3, 2), ember.Tensor{ { 1, 1 }, { 2, 2 }, { 4, 4 } })
    H.close(bias, ember.Tensor{ -0.5, 0, 0 })
  end)
end)

describe("nn.SpatialBatchNormalization errors and printing", function()
  it("prints as Torch7", function()
    assert.equal("nn.SpatialBatchNormalization (4D) (64)", tostring(nn.SpatialBatchNormalization(64)))
  end)

  it("names the channel counts", function()
    assert.matches("SpatialBatchNormalization (4D) (4): expected 4 channels, got 3 (input 2x3x5x5)",
                   err(function() nn.SpatialBatchNormalization(4):forward(ember.Tensor(2, 3, 5, 5)) end), 1, true)
  end)

  it("rejects inputs of the wrong rank", function()
    local m = nn.SpatialBatchNormalization(4)
    assert.matches("SpatialBatchNormalization (4D) (4): expected a 4-D (N,C,H,W) or 3-D (C,H,W) input, got 2-D (2x4)",
                   err(function() m:forward(ember.Tensor(2, 4)) end), 1, true)
    assert.matches("got an empty tensor", err(function() m:forward(ember.Tensor()) end), 1, true)
    m:training()
    assert.matches("only mini-batch supported in training mode (4D tensor), got 3D tensor instead",
                   err(function() m:forward(ember.Tensor(4, 2, 2)) end), 1, true)
  end)

  it("rejects bad constructor arguments", function()
    assert.matches("nn.SpatialBatchNormalization: nOutput must be a positive integer, got 0",
                   err(function() nn.SpatialBatchNormalization(0) end), 1, true)
    assert.matches("nn.SpatialBatchNormalization: eps must be a non-negative number, got -1",
                   err(function() nn.SpatialBatchNormalization(3, -1) end), 1, true)
    assert.matches("affine must be a boolean, got string",
                   err(function() nn.SpatialBatchNormalization(3, 1e-5, 0.1, "no") end), 1, true)
  end)

  it("reports statistics of the wrong size", function()
    local m = nn.SpatialBatchNormalization(4)
    m.running_var = ember.Tensor(3)
    assert.matches("expected 4 values in running_var, got 3",
                   err(function() m:forward(ember.Tensor(1, 4, 2, 2)) end), 1, true)
  end)
end)
