-- SoftMax_spec.lua -- nn.SoftMax and nn.LogSoftMax against ONNX (opset 13,
-- per-axis) cases and PyTorch: every dim, Torch7's default dims, large inputs, errors.

local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"

local function lua_dim(axis) return axis >= 0 and axis + 1 or axis end

describe("SoftMax and LogSoftMax against ONNX conformance cases", function()
  for _, op in ipairs{ { "softmax", nn.SoftMax }, { "logsoftmax", nn.LogSoftMax } } do
    local cases = { "axis_0", "axis_1", "axis_2", "default_axis", "negative_axis", "large_number",
                    op[1] == "softmax" and "example" or "example_1" }
    for _, c in ipairs(cases) do
      local case = "test_" .. op[1] .. "_" .. c
      it(case, function()
        local axis = math.tointeger(H.ref("act", case .. ".axis")[1])
        local m = op[2](lua_dim(axis))
        H.close(m:forward(H.ref("act", case .. ".in0")), H.ref("act", case .. ".out0"))
      end)
    end
  end
end)

describe("SoftMax and LogSoftMax against PyTorch", function()
  it("works over each of 4 dims, and negative dims count from the end", function()
    local x = H.ref("act_torch", "sx")
    for d = 1, 4 do
      H.close(nn.SoftMax(d):forward(x), H.ref("act_torch", "softmax_dim" .. d))
      H.close(nn.LogSoftMax(d):forward(x), H.ref("act_torch", "logsoftmax_dim" .. d))
      H.close(nn.SoftMax(d - 5):forward(x), H.ref("act_torch", "softmax_dim" .. d))
    end
  end)

  it("defaults to Torch7's feature dim: 1 for 1-D and 3-D, 2 for 2-D and 4-D", function()
    H.close(nn.SoftMax():forward(H.ref("act_torch", "s1")), H.ref("act_torch", "softmax_1d"))
    H.close(nn.LogSoftMax():forward(H.ref("act_torch", "x2")), H.ref("act_torch", "logsoftmax_2d"))
    H.close(nn.SoftMax():forward(H.ref("act_torch", "s3")), H.ref("act_torch", "softmax_3d"))
    H.close(nn.SoftMax():forward(H.ref("act_torch", "sx")), H.ref("act_torch", "softmax_dim2"))
    H.close(nn.LogSoftMax():forward(H.ref("act_torch", "sx")), H.ref("act_torch", "logsoftmax_dim2"))
  end)

  it("stays finite for inputs in the thousands", function()
    local x = H.ref("act_torch", "sx_big")
    H.close(nn.SoftMax():forward(x), H.ref("act_torch", "softmax_big"))
    H.close(nn.LogSoftMax():forward(x), H.ref("act_torch", "logsoftmax_big"))
  end)

  it("is right on a strided input", function()
    local x = H.ref("act_torch", "sx"):transpose(2, 4)
    H.close(nn.SoftMax(4):forward(x), H.ref("act_torch", "softmax_dim2"):transpose(2, 4))
    H.close(nn.LogSoftMax(2):forward(x), H.ref("act_torch", "logsoftmax_dim4"):transpose(2, 4))
  end)

  it("leaves its input alone and reuses its output", function()
    local x = H.ref("act_torch", "sx")
    local keep = x:clone()
    local m = nn.SoftMax()
    local first = m:forward(x)
    assert.equal(0, H.maxdiff(x, keep))
    assert.equal(first, m:forward(x))
  end)
end)

describe("SoftMax errors and printing", function()
  it("says a dim is out of range, naming the module", function()
    local m = nn.SoftMax(5)
    local ok, err = pcall(m.forward, m, ember.Tensor(2, 3, 4, 5))
    assert.is_false(ok)
    assert.matches("^SoftMax%(5%): .*softmax: dimension 5 out of range for a 4%-dimensional tensor", err)
    m = nn.LogSoftMax(-3)
    ok, err = pcall(m.forward, m, ember.Tensor(2, 3))
    assert.is_false(ok)
    assert.matches("^LogSoftMax%(%-3%): .*logsoftmax: dimension %-3 out of range for a 2%-dimensional tensor", err)
  end)

  it("needs an explicit dim beyond 4-D", function()
    local m = nn.SoftMax()
    local ok, err = pcall(m.forward, m, ember.Tensor(1, 2, 1, 1, 3))
    assert.is_false(ok)
    assert.equal("SoftMax: expected a 1-D to 4-D input for the default dim, got 5 dimensions "
                 .. "(give nn.SoftMax(dim))", err)
    local y = nn.SoftMax(5):forward(ember.Tensor(1, 2, 1, 1, 3))
    assert.same({ 1, 2, 1, 1, 3 }, y:size())
    assert.is_true(math.abs(y[1][2][1][1][3] - 1 / 3) < 1e-6)
  end)

  it("rejects an empty input and a bad dim argument", function()
    local ok, err = pcall(nn.LogSoftMax(1).forward, nn.LogSoftMax(1), ember.Tensor())
    assert.is_false(ok)
    assert.matches("^LogSoftMax%(1%): ", err)
    assert.has_error(function() nn.SoftMax(0) end, "nn.SoftMax([dim]): dim must be a nonzero integer, got 0")
    assert.has_error(function() nn.LogSoftMax(1.5) end,
      "nn.LogSoftMax([dim]): dim must be a nonzero integer, got 1.5")
  end)

  it("prints as Torch7, with an explicit dim", function()
    assert.equal("nn.SoftMax", tostring(nn.SoftMax()))
    assert.equal("LogSoftMax", nn.LogSoftMax():__repr())
    assert.equal("SoftMax(3)", nn.SoftMax(3):__repr())
  end)
end)
