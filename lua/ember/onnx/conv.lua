-- ember/onnx/conv.lua -- ONNX converters: Conv, ConvTranspose, Gemm, MatMul,
-- BatchNormalization (folded into the Conv before it when it is the only reader).

local core = require "ember.core"
local nn = require "ember.nn"
local util = require "ember.nn.util"
local onnx_fail = function(msg) error({ onnx = true, msg = msg }, 0) end

local ops = {}

-- pads {top, left, bottom, right}, strides {h, w}, dilations {h, w} of a 2-D
-- window op; 1-D ops come as kernel {k, 1}. inshape is N,C,H(,W) or nil.
local function window(cx, kernel, inshape, rank)
  local strides = cx:attr("strides", {})
  local dil = cx:attr("dilations", {})
  local pads = cx:attr("pads", {})
  local auto = cx:attr("auto_pad", "NOTSET")
  local n = rank - 2
  if type(strides) ~= "table" or type(dil) ~= "table" or type(pads) ~= "table" then
    onnx_fail("strides, dilations and pads must be lists")
  end
  if #strides > 0 and #strides ~= n then onnx_fail(string.format("strides has %d values, expected %d", #strides, n)) end
  if #dil > 0 and #dil ~= n then onnx_fail(string.format("dilations has %d values, expected %d", #dil, n)) end
  for _, v in ipairs(strides) do if v < 1 then onnx_fail("strides must be positive") end end
  for _, v in ipairs(dil) do if v < 1 then onnx_fail("dilations must be positive") end end
  if #pads > 0 and #pads ~= 2 * n then onnx_fail(string.format("pads has %d values, expected %d", #pads, 2 * n)) end
  local s = { strides[1] or 1, n > 1 and strides[2] or 1 }
  local d = { dil[1] or 1, n > 1 and dil[2] or 1 }
  local p
  if auto == "NOTSET" or auto == "" then
    if n == 1 then p = { pads[1] or 0, 0, pads[2] or 0, 0 }
    else p = { pads[1] or 0, pads[2] or 0, pads[3] or 0, pads[4] or 0 } end
  elseif auto == "VALID" then
    p = { 0, 0, 0, 0 }
  elseif auto == "SAME_UPPER" or auto == "SAME_LOWER" then
    if not inshape then onnx_fail("auto_pad " .. auto .. " needs the input's shape, which is unknown") end
    p = { 0, 0, 0, 0 }
    for i = 1, n do
      local size = inshape[2 + i]
      local out = (size + s[i] - 1) // s[i]
      local total = math.max(0, (out - 1) * s[i] + (kernel[i] - 1) * d[i] + 1 - size)
      local small = total // 2
      if auto == "SAME_UPPER" then p[i], p[i + 2] = small, total - small
      else p[i], p[i + 2] = total - small, small end
    end
  else
    onnx_fail("unknown auto_pad " .. tostring(auto))
  end
  for _, v in ipairs(p) do if v < 0 then onnx_fail("negative pads are not supported") end end
  return p, s, d
end
ops._window = window

-- Runs a 2-D module on a 3-D (N,C,L) input as N,C,L,1: Unsqueeze, m, Squeeze.
local function emit_1d(cx, m, x)
  local t1, t2 = cx:temp("as2d"), cx:temp("conv2d")
  cx:emit(nn.Unsqueeze({ 4 }), x, t1)
  cx:emit(m, t1, t2)
  cx:emit(nn.Squeeze({ 4 }), t2, cx:output())
end
ops._emit_1d = emit_1d

ops.Conv = { doc = "2-D and 1-D; group, dilations, pads, auto_pad", convert = function(cx)
  local W = cx:tensor(2, "weight W")
  local rank = W:dim()
  if rank ~= 4 and rank ~= 3 then onnx_fail("only 1-D and 2-D convolutions are supported, weight is " .. W:shape()) end
  local kernel = { W:size(3), rank == 4 and W:size(4) or 1 }
  local ins = cx:shape(1)
  if ins and #ins ~= rank then onnx_fail("the input has rank " .. #ins .. ", the weight " .. rank) end
  local ks = cx:attr("kernel_shape")
  if ks and (ks[1] ~= kernel[1] or (rank == 4 and ks[2] ~= kernel[2])) then
    onnx_fail("kernel_shape {" .. table.concat(ks, ", ") .. "} does not match the weight " .. W:shape())
  end
  local group = cx:attr("group", 1)
  local p, s, d = window(cx, kernel, cx:shape(1), rank)
  local nin, nout = W:size(2) * group, W:size(1)
  if group < 1 or nout % group ~= 0 then onnx_fail("group " .. group .. " does not divide " .. nout .. " output planes") end
  -- built without initial values: the weight is W and the bias B or none,
  -- both set below (Torch7's random fill took 10% of mobilenet_v2's import)
  local _, m = util.deferInit(nn.SpatialConvolution, nin, nout, kernel[2], kernel[1], s[2], s[1],
                              0, 0, group)
  m:setPadding(p[1], p[2], p[3], p[4])
  m:setDilation(d[2], d[1])
  m.weight = rank == 4 and W or W:view(nout, W:size(2), kernel[1], 1)
  m.packWeight = cx.packWeight   -- packed by the probe, at load (ember.onnx.load)
  -- weights read by this Conv alone: a BatchNormalization after it folds
  -- into them in place, no second copy (memory plan, ember/plan.lua)
  cx.sole = cx.sole or setmetatable({}, { __mode = "k" })
  cx.sole[m] = cx:readers(cx:input(2)) == 1 and (not cx:has(3) or cx:readers(cx:input(3)) == 1)
  if cx:has(3) then
    local B = cx:tensor(3, "bias B")
    if B:nElement() ~= nout then onnx_fail(string.format("bias has %d values for %d output planes", B:nElement(), nout)) end
    m.bias = B:view(nout)
  else
    m:noBias()
  end
  if rank == 3 then emit_1d(cx, m, cx:input(1)) else cx:emit(m, cx:input(1), cx:output()) end
end }

ops.ConvTranspose = { doc = "1-D and 2-D; group, dilations, pads, output_padding, output_shape", convert = function(cx)
  local W = cx:tensor(2, "weight W")
  local rank = W:dim()
  if rank ~= 4 and rank ~= 3 then onnx_fail("only 1-D and 2-D transposed convolutions are supported, weight is " .. W:shape()) end
  if rank == 3 then W = W:view(W:size(1), W:size(2), W:size(3), 1) end
  local kernel = { W:size(3), W:size(4) }
  local group = cx:attr("group", 1)
  local n = rank - 2
  local strides, dil = cx:attr("strides", { 1, 1 }), cx:attr("dilations", { 1, 1 })
  local adj = cx:attr("output_padding", { 0, 0 })
  local p = cx:attr("pads", { 0, 0, 0, 0 })
  local oshape = cx:attr("output_shape")
  local auto = cx:attr("auto_pad", "NOTSET")
  local inshape = cx:shape(1)
  for _, what in ipairs{ "strides", "dilations", "output_padding" } do
    local l = cx.node.attrs[what]
    if l ~= nil and #l ~= n then onnx_fail(string.format("%s has %d values, expected %d", what, #l, n)) end
  end
  if cx.node.attrs.pads ~= nil and #p ~= 2 * n then onnx_fail(string.format("pads has %d values, expected %d", #p, 2 * n)) end
  if oshape and #oshape < n then onnx_fail("output_shape has " .. #oshape .. " values, expected " .. n) end
  if inshape and #inshape ~= rank then onnx_fail("the input has rank " .. #inshape .. ", the weight " .. rank) end
  if rank == 3 then
    -- 1-D as 2-D with width 1
    strides, dil, adj = { strides[1] or 1, 1 }, { dil[1] or 1, 1 }, { adj[1] or 0, 0 }
    p = { p[1] or 0, 0, p[2] or 0, 0 }
    if oshape then oshape = { oshape[#oshape], 1 } end
    if inshape then inshape = { inshape[1], inshape[2], inshape[3], 1 } end
  end
  if oshape or auto == "SAME_UPPER" or auto == "SAME_LOWER" then
    if not inshape then onnx_fail("output_shape/auto_pad need the input's shape, which is unknown") end
    p, adj = { 0, 0, 0, 0 }, { adj[1] or 0, adj[2] or 0 }
    for i = 1, 2 do
      local size = inshape[2 + i]
      local want = oshape and oshape[#oshape - 2 + i] or size * strides[i]
      local total = strides[i] * (size - 1) + adj[i] + (kernel[i] - 1) * dil[i] + 1 - want
      if total < 0 then adj[i] = adj[i] - total total = 0 end
      local half = total // 2
      if auto == "SAME_LOWER" then p[i], p[i + 2] = total - half, half
      else p[i], p[i + 2] = half, total - half end
    end
  elseif auto == "VALID" then
    p = { 0, 0, 0, 0 }
  end
  local nin, nout = W:size(1), W:size(2) * group
  local m = nn.SpatialFullConvolution(nin, nout, kernel[2], kernel[1], strides[2], strides[1], 0, 0, adj[2] or 0, adj[1] or 0)
  m:setGroups(group)
  m:setPadding(p[1], p[2], p[3], p[4])
  m:setDilation(dil[2], dil[1])
  m.weight = W
  if cx:has(3) then m.bias = cx:tensor(3, "bias B") else m:noBias() end
  if rank == 3 then emit_1d(cx, m, cx:input(1)) else cx:emit(m, cx:input(1), cx:output()) end
end }

-- y = alpha op(A) op(B) + beta C
ops.Gemm = { doc = "alpha, beta, transA, transB; constant B becomes nn.Linear", convert = function(cx)
  local alpha, beta = cx:attr("alpha", 1.0), cx:attr("beta", 1.0)
  local ta, tb = cx:attr("transA", 0) ~= 0, cx:attr("transB", 0) ~= 0
  local a = cx:input(1)
  if ta then
    local t = cx:temp("At")
    cx:emit(nn.Transpose({ 2, 1 }), a, t)
    a = t
  end
  local out = cx:output()
  local C = cx:has(3) and cx:const(3)
  local has_c = cx:has(3) and beta ~= 0
  local y = has_c and cx:temp("AB") or out
  local N
  if cx:const(2) then
    local B = cx:tensor(2)
    if B:dim() ~= 2 then onnx_fail("B must be 2-D, got " .. B:shape()) end
    -- transB (how torch exports nn.Linear): B is the weight as it is, shared
    -- with the initializer; copied only to transpose or scale it
    local w = tb and B:contiguous() or B:t():clone()
    if alpha ~= 1 then w = (w == B and w:clone() or w):mul(alpha) end
    N = w:size(1)
    -- a 1x1 Linear given w: sized (N, K), its constructor would fill a random
    -- weight as large as B just to be replaced (the Linear's sizes are w's)
    local m = nn.Linear(1, 1)
    m.weight = w
    -- a bias of N values (or one) folds into the Linear
    if has_c and C and (C.tensor:nElement() == N or C.tensor:nElement() == 1) and
       (#C.dims <= 1 or (#C.dims == 2 and C.dims[1] == 1)) then
      m.bias = core.tensor(N):fill(0):add(C.tensor:reshape(C.tensor:nElement())):mul(beta)
      cx:emit(m, a, out)
      return
    end
    m:noBias()
    cx:emit(m, a, y)
  else
    local b = cx:input(2)
    if tb then
      local t = cx:temp("Bt")
      cx:emit(nn.Transpose({ 2, 1 }), b, t)
      b = t
    end
    local yy = alpha ~= 1 and cx:temp("matmul") or y
    cx:emit(nn.MatMul(), { a, b }, yy)
    if alpha ~= 1 then cx:emit(nn.MulConstant(alpha), yy, y) end
  end
  if has_c then
    local c = cx:input(3)
    if beta ~= 1 then
      local t = cx:temp("betaC")
      cx:emit(nn.MulConstant(beta), c, t)
      c = t
    end
    cx:emit(nn.CAddTable(), { y, c }, out)
  end
end }

ops.MatMul = { doc = "NumPy broadcasting; constant 2-D B after a 2-D A becomes nn.Linear", convert = function(cx)
  local B = cx:const(2)
  if B and #B.dims == 2 and cx:rank(1) == 2 then
    local w = B.tensor:t():clone()
    local m = nn.Linear(1, 1):noBias()   -- sized by w (see Gemm)
    m.weight = w
    cx:emit(m, cx:input(1), cx:output())
    return
  end
  cx:emit(nn.MatMul(), { cx:input(1), cx:input(2) }, cx:output())
end }

ops.BatchNormalization = { doc = "inference; folded into a preceding Conv", convert = function(cx)
  if cx:attr("training_mode", 0) ~= 0 then onnx_fail("training_mode is not supported") end
  if cx:attr("spatial", 1) ~= 1 then onnx_fail("spatial = 0 is not supported") end
  local eps = cx:attr("epsilon", 1e-5)
  local scale, bias = cx:tensor(2, "scale"), cx:tensor(3, "B")
  local mean, var = cx:tensor(4, "mean"), cx:tensor(5, "var")
  local C = scale:nElement()
  for _, t in ipairs{ bias, mean, var } do
    if t:nElement() ~= C then onnx_fail(string.format("scale has %d values but B/mean/var has %d", C, t:nElement())) end
  end
  for k = 2, #cx.node.outputs do
    if cx.node.outputs[k] ~= "" and cx:readers(cx.node.outputs[k]) > 0 then
      onnx_fail("the training outputs (running mean/var) are read: training mode is not supported")
    end
  end
  local x = cx:input(1)
  local p = cx.producer[x]
  if not cx.folding and p and p.module.__typename == "nn.SpatialConvolution" and cx:readers(x) == 1
     and p.module.nOutputPlane == C then
    local conv = p.module
    local sole = cx.sole and cx.sole[conv]
    if not sole then conv.weight = conv.weight:clone() end
    local b = conv.bias and (sole and conv.bias or conv.bias:clone()) or nil
    conv.bias = core.batchnorm_fold(conv.weight, b, scale, bias, mean, var, eps)
    -- folded in place (sole): the probe's Winograd/packed weight is stale
    conv:weightsChanged()
    cx:set_alias(1, 1)
    cx:reprobe(x)
    return
  end
  local rank = cx:rank(1)
  local function bn(m)
    m.weight, m.bias = scale:view(C), bias:view(C)
    m.running_mean, m.running_var = mean:view(C), var:view(C)
    return m
  end
  if rank == 2 then
    cx:emit(bn(nn.BatchNormalization(C, eps)), x, cx:output())
  elseif rank == 3 then
    emit_1d(cx, bn(nn.SpatialBatchNormalization(C, eps)), x)
  elseif rank == 4 or rank == nil then
    cx:emit(bn(nn.SpatialBatchNormalization(C, eps)), x, cx:output())
  else
    onnx_fail("only 2-D to 4-D inputs are supported, got " .. rank .. "-D")
  end
end }

return ops
