-- activation_spec.lua -- ReLU ... SoftPlus and PReLU against ONNX conformance
-- cases and PyTorch (spec/ref/ref_act.py), in place, strided, and their errors.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

-- an ONNX attribute or Clip bound saved by ref_act.py
local function attr(case, name) return H.ref("act", case .. "." .. name)[1] end

local onnx_cases = {
  test_relu = function() return nn.ReLU() end,
  test_sigmoid = function() return nn.Sigmoid() end,
  test_sigmoid_example = function() return nn.Sigmoid() end,
  test_tanh = function() return nn.Tanh() end,
  test_tanh_example = function() return nn.Tanh() end,
  test_hardswish = function() return nn.HardSwish() end,
  test_softplus = function() return nn.SoftPlus() end,
  test_softplus_example = function() return nn.SoftPlus() end,
}
for _, c in ipairs{ "test_leakyrelu", "test_leakyrelu_default", "test_leakyrelu_example" } do
  onnx_cases[c] = function() return nn.LeakyReLU(attr(c, "alpha")) end
end
for _, c in ipairs{ "test_elu", "test_elu_default", "test_elu_example" } do
  onnx_cases[c] = function() return nn.ELU(attr(c, "alpha")) end
end
for _, c in ipairs{ "test_hardsigmoid", "test_hardsigmoid_default", "test_hardsigmoid_example" } do
  onnx_cases[c] = function() return nn.HardSigmoid(attr(c, "alpha"), attr(c, "beta")) end
end
for _, c in ipairs{ "test_clip", "test_clip_example", "test_clip_inbounds", "test_clip_outbounds",
                    "test_clip_splitbounds", "test_clip_default_min", "test_clip_default_max",
                    "test_clip_default_inbounds" } do
  onnx_cases[c] = function() return nn.Clamp(attr(c, "min"), attr(c, "max")) end
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

describe("activations against ONNX conformance cases", function()
  for _, case in ipairs(sorted_keys(onnx_cases)) do
    it(case, function()
      local m = onnx_cases[case]()
      H.close(m:forward(H.ref("act", case .. ".in0")), H.ref("act", case .. ".out0"))
    end)
  end

  it("test_prelu_broadcast (slope over the last axis: input viewed as 12x5)", function()
    local x = H.ref("act", "test_prelu_broadcast.in0")
    local m = nn.PReLU(5)
    m.weight = H.ref("act", "test_prelu_broadcast.in1")
    local y = m:forward(x:view(12, 5)):view(3, 4, 5)
    H.close(y, H.ref("act", "test_prelu_broadcast.out0"))
  end)

  it("uses ONNX's defaults where the node has no attribute", function()
    assert.equal(0.01, math.floor(attr("test_leakyrelu_default", "alpha") * 1e6 + 0.5) / 1e6)
    assert.equal(0.2, math.floor(attr("test_hardsigmoid_default", "alpha") * 1e6 + 0.5) / 1e6)
    assert.equal(-math.huge, attr("test_clip_default_max", "min"))
    assert.equal(math.huge, attr("test_clip_default_min", "max"))
  end)
end)

-- module, PyTorch reference name (ref_act.py)
local torch_cases = {
  { function() return nn.ReLU() end, "relu" },
  { function() return nn.ReLU6() end, "relu6" },
  { function() return nn.Clamp(-0.5, 2) end, "clamp" },
  { function() return nn.LeakyReLU(0.2) end, "leakyrelu" },
  { function() return nn.ELU(1.3) end, "elu" },
  { function() return nn.Sigmoid() end, "sigmoid" },
  { function() return nn.Tanh() end, "tanh" },
  { function() return nn.HardSigmoid() end, "hardsigmoid" },
  { function() return nn.HardSwish() end, "hardswish" },
  { function() return nn.SiLU() end, "silu" },
  { function() return nn.GELU() end, "gelu" },
  { function() return nn.GELU("tanh") end, "gelu_tanh" },
  { function() return nn.SoftPlus() end, "softplus" },
  { function() return nn.SoftPlus(2, 5) end, "softplus_b2_t5" },
}

describe("activations against PyTorch", function()
  for _, c in ipairs(torch_cases) do
    it(c[2] .. " (incl. |x| up to 100)", function()
      H.close(c[1]():forward(H.ref("act_torch", "x")), H.ref("act_torch", c[2]))
    end)
  end

  -- within 2e-6 x max |ref| over [-6, 6]: a few float roundings
  for _, c in ipairs(torch_cases) do
    it(c[2] .. " over [-6, 6], tightly", function()
      H.close(c[1]():forward(H.ref("act_torch", "xn")), H.ref("act_torch", c[2] .. "_n"), 2e-6)
    end)
  end

  it("tells exact GELU from its tanh approximation at that tolerance", function()
    local x = H.ref("act_torch", "xn")
    local exact, approx = nn.GELU():forward(x), nn.GELU("tanh"):forward(x)
    assert.is_true(H.maxdiff(exact, H.ref("act_torch", "gelu_tanh_n")) > 2e-6 * 6)
    assert.is_true(H.maxdiff(approx, H.ref("act_torch", "gelu_n")) > 2e-6 * 6)
  end)

  it("is right on a strided input, giving a contiguous output", function()
    for _, c in ipairs(torch_cases) do
      local x = H.ref("act_torch", "x"):transpose(2, 4)
      local y = c[1]():forward(x)
      assert.is_true(y:isContiguous())
      H.close(y, H.ref("act_torch", c[2]):transpose(2, 4))
    end
  end)

  it("reuses its output tensor from one forward to the next", function()
    local m = nn.SiLU()
    local x = H.ref("act_torch", "x")
    local first = m:forward(x)
    local second = m:forward(x * 2)
    assert.equal(first, second)
    H.close(m:forward(x), H.ref("act_torch", "silu"))
  end)
end)

describe("in-place activations", function()
  local inplace = {
    { function() return nn.ReLU(true) end, "relu" },
    { function() return nn.ReLU6(true) end, "relu6" },
    { function() return nn.LeakyReLU(0.2, true) end, "leakyrelu" },
    { function() return nn.ELU(1.3, true) end, "elu" },
  }
  for _, c in ipairs(inplace) do
    it(c[2] .. " overwrites its input and returns it", function()
      local x = H.ref("act_torch", "x")
      local y = c[1]():forward(x)
      assert.is_true(y:isSameStorage(x))
      H.close(x, H.ref("act_torch", c[2]))
      H.close(y, H.ref("act_torch", c[2]))
    end)
    it(c[2] .. " works in place on a strided view, leaving the rest alone", function()
      local base = H.ref("act_torch", "x")
      local keep = base:clone()
      local v = base:transpose(2, 4):narrow(2, 2, 5)   -- 2x5x5x3 of the 2x3x5x7
      c[1]():forward(v)
      local ref = H.ref("act_torch", c[2])
      H.close(v, ref:transpose(2, 4):narrow(2, 2, 5))
      -- columns 1 and 7 of the last dim were outside the view
      for _, col in ipairs{ 1, 7 } do
        assert.equal(0, H.maxdiff(base:select(4, col), keep:select(4, col)))
      end
    end)
  end

  it("leaves the input alone when not in place", function()
    local x = H.ref("act_torch", "x")
    local keep = x:clone()
    nn.ReLU():forward(x)
    assert.equal(0, H.maxdiff(x, keep))
  end)
end)

describe("nn.PReLU", function()
  it("has one shared weight of 0.25 by default, C with nOutputPlane", function()
    local shared, per = nn.PReLU(), nn.PReLU(3)
    assert.same({ 1 }, shared.weight:size())
    assert.equal(0.25, shared.weight[1])
    assert.same({ 3 }, per.weight:size())
    assert.equal(1, #per:parameters())
    assert.same({ "weight" }, nn.PReLU.__params)
  end)

  it("matches torch.nn.functional.prelu per channel and shared", function()
    local x = H.ref("act_torch", "x")
    local m = nn.PReLU(3)
    m.weight = H.ref("act_torch", "prelu_weight")
    H.close(m:forward(x), H.ref("act_torch", "prelu"))
    H.close(m:forward(x:transpose(3, 4)), H.ref("act_torch", "prelu"):transpose(3, 4))
    H.close(m:forward(H.ref("act_torch", "x2")), H.ref("act_torch", "prelu_2d"))
    local s = nn.PReLU()
    s.weight:fill(0.1)
    H.close(s:forward(x), H.ref("act_torch", "prelu_shared"))
  end)

  it("takes a (C,1,1) weight as ONNX stores it", function()
    local m = nn.PReLU(3)
    m.weight = H.ref("act_torch", "prelu_weight"):view(3, 1, 1)
    H.close(m:forward(H.ref("act_torch", "x")), H.ref("act_torch", "prelu"))
  end)

  it("says how many weights it has and how many channels came", function()
    local m = nn.PReLU(3)
    local ok, err = pcall(m.forward, m, ember.Tensor(2, 16, 3, 3))
    assert.is_false(ok)
    assert.matches("PReLU%(3%): .*3 weights but input %(2x16x3x3%) has 16 channels %(expected 1 or 16%)", err)
    local net = nn.Sequential():add(nn.ReLU()):add(nn.PReLU(5))
    ok, err = pcall(net.forward, net, ember.Tensor(1, 4, 2, 2))
    assert.is_false(ok)
    assert.matches("%[2%] PReLU%(5%): .*5 weights but input %(1x4x2x2%) has 4 channels", err)
  end)
end)

describe("activation errors", function()
  it("name the module for an empty or wrong input", function()
    local ok, err = pcall(nn.ReLU().forward, nn.ReLU(), ember.Tensor())
    assert.is_false(ok)
    assert.matches("^ReLU: .*input is empty", err)
    ok, err = pcall(nn.Sigmoid().forward, nn.Sigmoid(), { 1, 2 })
    assert.is_false(ok)
    assert.matches("^Sigmoid: .*ember.Tensor expected", err)
    ok, err = pcall(nn.PReLU().forward, nn.PReLU(), ember.Tensor())
    assert.is_false(ok)
    assert.matches("^PReLU: .*input is empty", err)
  end)

  it("check constructor arguments", function()
    assert.has_error(function() nn.ReLU(1) end, "nn.ReLU([inplace]): inplace must be a boolean, got number")
    assert.has_error(function() nn.LeakyReLU("x") end,
      "nn.LeakyReLU([negval], [inplace]): negval must be a number, got string")
    assert.has_error(function() nn.ELU(1, "yes") end,
      "nn.ELU([alpha], [inplace]): inplace must be a boolean, got string")
    assert.has_error(function() nn.Clamp(1) end, "nn.Clamp(min, max): expected two numbers, got number and nil")
    assert.has_error(function() nn.Clamp(1, -1) end, "nn.Clamp(min, max): min 1 is greater than max -1")
    assert.has_error(function() nn.GELU("fast") end,
      "nn.GELU([approximate]): approximate must be 'none' or 'tanh', got fast")
    assert.has_error(function() nn.SoftPlus(0) end, "nn.SoftPlus([beta], [threshold]): beta must not be 0")
    assert.has_error(function() nn.HardSigmoid("a") end,
      "nn.HardSigmoid([alpha], [beta]): expected numbers, got string")
    assert.has_error(function() nn.PReLU(-1) end, "nn.PReLU([nOutputPlane]): expected a count >= 0, got -1")
    assert.has_error(function() nn.PReLU(2.5) end, "nn.PReLU([nOutputPlane]): expected a count >= 0, got 2.5")
  end)

  it("core.act rejects an unknown kind and bad parameters", function()
    local x, y = ember.Tensor(3), ember.Tensor()
    assert.has_error(function() ember.core.act(x, y, "swish") end)
    local ok, err = pcall(ember.core.act, x, y, "clamp", 0 / 0, 1)
    assert.is_false(ok)
    assert.matches("clamp bounds must be numbers", err)
    ok, err = pcall(ember.core.act, x, y, "softplus", 0, 20)
    assert.is_false(ok)
    assert.matches("softplus beta must be finite and nonzero", err)
  end)
end)

describe("activation printing", function()
  it("prints as Torch7 names them, with parameters", function()
    local expect = {
      { nn.ReLU(), "ReLU" }, { nn.ReLU(true), "ReLU" }, { nn.ReLU6(), "ReLU6" },
      { nn.Clamp(-1, 1), "Clamp(-1, 1)" }, { nn.LeakyReLU(), "LeakyReLU(0.01)" },
      { nn.PReLU(), "PReLU" }, { nn.PReLU(64), "PReLU(64)" }, { nn.ELU(), "ELU(1)" },
      { nn.Sigmoid(), "Sigmoid" }, { nn.Tanh(), "Tanh" },
      { nn.HardSigmoid(0.2, 0.5), "HardSigmoid(0.2, 0.5)" }, { nn.HardSwish(), "HardSwish" },
      { nn.SiLU(), "SiLU" }, { nn.GELU(), "GELU" }, { nn.GELU(true), "GELU(tanh)" },
      { nn.SoftPlus(), "SoftPlus(1, 20)" },
    }
    for _, e in ipairs(expect) do
      assert.equal(e[2], e[1]:__repr())
      assert.equal("nn." .. e[2], tostring(e[1]))
    end
  end)
end)
