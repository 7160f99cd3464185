-- spec/nn/pooling.lua -- what the pooling specs share: reference cases of
-- spec/ref/ref_pool.py run through a module, and the adaptive pooling spec.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"
-- busted's assert is not a global in required modules; luassert is the same one
local assert = require "luassert"

local I = math.tointeger

local P = {}

-- The integer parameters of a case, saved as <case>.params.
function P.params(group, case)
  local t, p = H.ref(group, case .. ".params"), {}
  for i = 1, t:nElement() do p[i] = I(t[i]) end
  return p
end

-- A test of an ONNX conformance case: make(params) gives the module for the
-- case's 12 numbers (kW kH dW dH pt pl pb pr ceil count_include_pad dilW dilH).
function P.onnx_case(case, make)
  return function()
    local m = make(P.params("pool", case))
    H.close(m:forward(H.ref("pool", case .. ".in0")), H.ref("pool", case .. ".out0"))
  end
end

-- A test of a PyTorch case (params as ref_pool.py saves them for the kind);
-- one image (C,H,W) must give the same planes as the batch.
function P.torch_case(case, make)
  return function()
    local m = make(P.params("pool_torch", case))
    local x, ref = H.ref("pool_torch", case .. ".in"), H.ref("pool_torch", case .. ".out")
    H.close(m:forward(x), ref)
    H.close(m:forward(x:select(1, 1)), ref:select(1, 1))
  end
end

local ADAPTIVE = { "ad_5x7_of_11x13", "ad_1x1", "ad_3x3_of_10x9", "ad_7x7_of_7x7",
                   "ad_larger_than_input", "ad_6x4_of_13x8" }

-- The spec of nn.<class> (SpatialAdaptiveAveragePooling or ...MaxPooling):
-- PyTorch's <kind> ("avg" or "max") outputs, and the ONNX global pooling
-- cases given, which (1, 1) must match. it: busted's.
function P.adaptive(it, class, kind, global_cases)
  local new = nn[class]
  for _, case in ipairs(ADAPTIVE) do
    it("matches PyTorch: " .. case, function()
      local size = H.ref("pool_torch", case .. ".size")   -- W, H
      local m = new(I(size[1]), I(size[2]))
      local x, ref = H.ref("pool_torch", case .. ".in"), H.ref("pool_torch", case .. "." .. kind)
      H.close(m:forward(x), ref)
      H.close(m:forward(x:select(1, 1)), ref:select(1, 1))
    end)
  end

  for _, case in ipairs(global_cases) do
    it("as (1, 1) matches ONNX " .. case, function()
      H.close(new(1, 1):forward(H.ref("pool", case .. ".in0")), H.ref("pool", case .. ".out0"))
    end)
  end

  it("takes the width first, as Torch7", function()
    assert.same({ 1, 2, 3, 5 }, new(5, 3):forward(ember.Tensor(1, 2, 9, 10)):size())
  end)

  it("prints its output size", function()
    assert.equal("nn." .. class .. "(7x5)", tostring(new(7, 5)))
  end)

  it("rejects bad sizes and inputs", function()
    assert.matches("nn." .. class .. ": W must be a positive integer, got 0", H.message(function() new(0, 1) end), 1, true)
    assert.matches(class .. "(2x2): expected a 3- or 4-dimensional input (C,H,W or N,C,H,W), got 2 dimensions (3x4)",
                   H.message(function() new(2, 2):forward(ember.Tensor(3, 4)) end), 1, true)
    assert.matches("input 1x3x0x4 has a zero size",
                   H.message(function() new(2, 2):forward(ember.Tensor(1, 3, 0, 4)) end), 1, true)
  end)
end

return P
