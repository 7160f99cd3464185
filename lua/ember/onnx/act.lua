-- ember/onnx/act.lua -- ONNX converters: activations, softmax and elementwise
-- unary functions.

local nn = require "ember.nn"
local onnx_fail = function(msg) error({ onnx = true, msg = msg }, 0) end

local ops = {}

-- An op that is one module on input 1.
local function simple(doc, make)
  return { doc = doc, convert = function(cx)
    cx:emit(make(cx), cx:input(1), cx:output())
  end }
end

ops.Relu = simple("", function() return nn.ReLU() end)
ops.Sigmoid = simple("", function() return nn.Sigmoid() end)
ops.Tanh = simple("", function() return nn.Tanh() end)
ops.HardSwish = simple("", function() return nn.HardSwish() end)
ops.LeakyRelu = simple("alpha", function(cx) return nn.LeakyReLU(cx:attr("alpha", 0.01)) end)
ops.Elu = simple("alpha", function(cx) return nn.ELU(cx:attr("alpha", 1.0)) end)
ops.HardSigmoid = simple("alpha, beta", function(cx)
  return nn.HardSigmoid(cx:attr("alpha", 0.2), cx:attr("beta", 0.5))
end)
ops.Sqrt = simple("", function() return nn.Sqrt() end)
ops.Exp = simple("", function() return nn.Exp() end)
ops.Log = simple("", function() return nn.Log() end)
ops.Abs = simple("", function() return nn.Abs() end)
ops.Neg = simple("", function() return nn.MulConstant(-1) end)
ops.Erf = simple("", function() return nn.Erf() end)

local BIG = 3.4028234663852886e38   -- float32's largest finite value

ops.Clip = { doc = "min/max attributes (opset < 11) or inputs (>= 11)", convert = function(cx)
  local lo, hi
  if cx.opset < 11 then
    lo, hi = cx:attr("min", -BIG), cx:attr("max", BIG)
  else
    lo = cx:has(2) and cx:floats(2, "min")[1] or -BIG
    hi = cx:has(3) and cx:floats(3, "max")[1] or BIG
  end
  if lo > hi then
    -- ONNX: every value becomes max when min > max
    cx:emit(nn.Clamp(hi, hi), cx:input(1), cx:output())
    return
  end
  cx:emit(nn.Clamp(lo, hi), cx:input(1), cx:output())
end }

ops.PRelu = { doc = "slope per channel (fast) or any broadcast", convert = function(cx)
  local slope = cx:tensor(2, "slope")
  local n, s = slope:nElement(), cx:shape(1)
  local c = s and s[2]
  local sd = slope:dim()
  -- 1 value, or C values laid out along dim 2 (C or C,1,1 for N,C,H,W)
  local per_channel = n == 1 or (c and n == c and s and (sd == #s - 1 or sd == 1))
  if not per_channel then
    -- any other broadcast: relu(x) - slope * relu(-x)
    local x = cx:input(1)
    local pos, negx, neg, sneg = cx:temp("pos"), cx:temp("negx"), cx:temp("neg"), cx:temp("sneg")
    cx:emit(nn.ReLU(), x, pos)
    cx:emit(nn.MulConstant(-1), x, negx)
    cx:emit(nn.ReLU(), negx, neg)
    cx:emit(nn.CMulTable(), { neg, cx:input(2) }, sneg)
    cx:emit(nn.CSubTable(), { pos, sneg }, cx:output())
    return
  end
  local m = nn.PReLU(n == 1 and 0 or n)
  m.weight = slope:reshape(n)
  cx:emit(m, cx:input(1), cx:output())
end }

-- Softmax and LogSoftmax: from opset 13 over one axis; before, over the input
-- flattened to 2-D at axis (the same when axis is the last dim).
local function softmax(log)
  return { doc = "axis; opset < 13 flattens at axis", convert = function(cx)
    local rank = cx:rank(1)
    local axis = cx:attr("axis", cx.opset >= 13 and -1 or 1)
    local cls = log and nn.LogSoftMax or nn.SoftMax
    if axis < 0 and rank then axis = axis + rank end
    if cx.opset >= 13 or (rank and axis == rank - 1) then
      cx:emit(cls(axis < 0 and axis or axis + 1), cx:input(1), cx:output())
    else
      cx:emit(nn.OnnxSoftMax(axis < 0 and axis or axis + 1, log), cx:input(1), cx:output())
    end
  end }
end
ops.Softmax = softmax(false)
ops.LogSoftmax = softmax(true)

ops.Pow = { doc = "scalar constant exponent (fast) or any broadcast exponent", convert = function(cx)
  local e = cx:const(2)
  local rank = cx:rank(1)
  if e and e.tensor:nElement() == 1 and rank and #e.dims <= rank then
    local v = e.ints or e.tensor:contiguous():view(-1):totable()
    cx:emit(nn.Power(v[1] + 0.0), cx:input(1), cx:output())
    return
  end
  cx:emit(nn.CPowTable(), { cx:input(1), cx:input(2) }, cx:output())
end }

return ops
