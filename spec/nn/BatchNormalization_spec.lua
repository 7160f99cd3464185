-- BatchNormalization_spec.lua -- inference batch norm over N,C inputs against
-- PyTorch's BatchNorm1d, folding into a Linear, errors and printing.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

local function ref(case, name) return H.ref("pool_torch", case .. "." .. name) end

local err = H.message

local function load(m, case)
  m.weight:copy(ref(case, "weight"))
  m.bias:copy(ref(case, "bias"))
  m.running_mean:copy(ref(case, "mean"))
  m.running_var:copy(ref(case, "var"))
  return m
end

describe("nn.BatchNormalization", function()
  it("matches PyTorch on N,C input", function()
    local x = ref("bn2d", "in")
    local m = load(nn.BatchNormalization(x:size(2)), "bn2d")
    H.close(m:forward(x), ref("bn2d", "out"))
    -- one sample (C) outside training, as Torch7
    H.close(m:forward(x:select(1, 2)), ref("bn2d", "out"):select(1, 2))
    -- strided: columns of a transposed tensor
    H.close(m:forward(x:t():contiguous():t()), ref("bn2d", "out"))
  end)

  it("folds into a Linear, as PyTorch's Linear then BatchNorm1d", function()
    local x = ref("fold_linear", "in")
    local lin = nn.Linear(10, 6)
    lin.weight:copy(ref("fold_linear", "lin_weight"))
    lin.bias:copy(ref("fold_linear", "lin_bias"))
    local bn = load(nn.BatchNormalization(6), "fold_linear")
    local net = nn.Sequential():add(lin):add(bn)
    H.close(net:forward(x), ref("fold_linear", "out"))
    bn:foldInto(lin)
    H.close(lin:forward(x), ref("fold_linear", "out"))
    H.close(net:forward(x), ref("fold_linear", "out"))
  end)

  it("prints as Torch7", function()
    assert.equal("nn.BatchNormalization (2D) (64)", tostring(nn.BatchNormalization(64)))
  end)

  it("rejects inputs of the wrong rank or width", function()
    local m = nn.BatchNormalization(4)
    assert.matches("BatchNormalization (2D) (4): expected a 2-D (N,C) or 1-D (C) input, got 4-D (1x4x2x2)",
                   err(function() m:forward(ember.Tensor(1, 4, 2, 2)) end), 1, true)
    assert.matches("BatchNormalization (2D) (4): expected 4 channels, got 5 (input 3x5)",
                   err(function() m:forward(ember.Tensor(3, 5)) end), 1, true)
    assert.matches("expected 4 channels, got 3 (input 3)", err(function() m:forward(ember.Tensor(3)) end), 1, true)
  end)

  it("without affine terms has no parameters", function()
    local m = nn.BatchNormalization(3, 1e-5, 0.1, false)
    assert.is_nil(m.weight)
    assert.equal(0, #m:parameters())
    m.running_mean:copy(ember.Tensor{ 1, 2, 3 })
    m.running_var:fill(4)
    H.close(m:forward(ember.Tensor{ { 3, 2, 1 } }), ember.Tensor{ { 1, 0, -1 } }, 1e-5)
  end)
end)
