-- ember/onnx/pool.lua -- ONNX converters: MaxPool, AveragePool, global pooling,
-- LRN, ReduceMean.

local nn = require "ember.nn"
local util = require "ember.nn.util"
local conv = require "ember.onnx.conv"
local onnx_fail = function(msg) error({ onnx = true, msg = msg }, 0) end

local ops = {}

local function pool(cx, cls)
  local ks = cx:attr("kernel_shape")
  if not ks or (#ks ~= 1 and #ks ~= 2) then onnx_fail("only 1-D and 2-D pooling is supported") end
  for _, k in ipairs(ks) do if k < 1 then onnx_fail("kernel_shape must be positive") end end
  local rank = #ks + 2
  local kernel = { ks[1], ks[2] or 1 }
  local p, s, d = conv._window(cx, kernel, cx:shape(1), rank)
  local m = cls(kernel[2], kernel[1], s[2], s[1])
  m:setPadding(p[1], p[2], p[3], p[4])
  if cx:attr("ceil_mode", 0) ~= 0 then m:ceil() end
  return m, rank, d
end

ops.MaxPool = { doc = "1-D/2-D; pads, auto_pad, ceil_mode, dilations (no Indices output)", convert = function(cx)
  if cx.node.outputs[2] and cx.node.outputs[2] ~= "" and cx:readers(cx.node.outputs[2]) > 0 then
    onnx_fail("the Indices output is not supported")
  end
  if cx:attr("storage_order", 0) ~= 0 then onnx_fail("storage_order = 1 is not supported") end
  local m, rank, d = pool(cx, nn.SpatialMaxPooling)
  m:setDilation(d[2], d[1])
  if rank == 3 then conv._emit_1d(cx, m, cx:input(1)) else cx:emit(m, cx:input(1), cx:output()) end
end }

-- The zero padding of x's producer when it is a Pad (constant 0, on H and W
-- only, not negative) that only this node reads: t, l, b, r; else nil.
local function zero_pad_before(cx, x)
  local p = cx.producer[x]
  if not p or p.module.__typename ~= "nn.Pad" or cx:readers(x) ~= 1 then return nil end
  local m, pads = p.module, p.module.pads
  if m.mode ~= "constant" or m.value ~= 0 or #pads ~= 8 then return nil end
  if pads[1] ~= 0 or pads[2] ~= 0 or pads[5] ~= 0 or pads[6] ~= 0 then return nil end
  for _, v in ipairs(pads) do if v < 0 then return nil end end
  return pads[3], pads[4], pads[7], pads[8]
end

ops.AveragePool = { doc = "1-D/2-D; pads, auto_pad, ceil_mode, count_include_pad; a zero Pad before it is folded in",
  convert = function(cx)
  local m, rank, d = pool(cx, nn.SpatialAveragePooling)
  if d[1] ~= 1 or d[2] ~= 1 then onnx_fail("dilated average pooling is not supported") end
  local include = cx:attr("count_include_pad", 0) ~= 0
  if include then m:setCountIncludePad() else m:setCountExcludePad() end
  -- PyTorch exports avg_pool2d(x, 3, 1, 1) (Inception v3) as Pad + AveragePool:
  -- the pool takes the padding itself, counting the zeros as the Pad made it
  -- do, and the Pad (a copy of the whole tensor) is pruned
  local x = cx:input(1)
  local t, l, b, r = zero_pad_before(cx, x)
  local pt, pl, pb, pr = util.pads(m)
  if rank == 4 and t and not m.ceil_mode and (include or pt + pl + pb + pr == 0) then
    local producer = cx.producer[x]
    m:setPadding(pt + t, pl + l, pb + b, pr + r)
    m:setCountIncludePad()
    cx:emit(m, producer.inputs[1], cx:output())
    return
  end
  if rank == 3 then conv._emit_1d(cx, m, cx:input(1)) else cx:emit(m, cx:input(1), cx:output()) end
end }

local function global(cls, reduce)
  return { doc = "2-D (other ranks through ReduceMean/Max)", convert = function(cx)
    local rank = cx:rank(1)
    if rank == 4 or rank == nil then
      cx:emit(cls(1, 1), cx:input(1), cx:output())
    elseif reduce and rank >= 3 then
      local dims = {}
      for k = 3, rank do dims[#dims + 1] = k end
      cx:emit(nn.ReduceMean(dims, true), cx:input(1), cx:output())
    else
      onnx_fail("only 4-D inputs are supported, got " .. rank .. "-D")
    end
  end }
end
ops.GlobalAveragePool = global(nn.SpatialAdaptiveAveragePooling, true)
ops.GlobalMaxPool = global(nn.SpatialAdaptiveMaxPooling, false)

ops.LRN = { doc = "size, alpha, beta, bias", convert = function(cx)
  local size = cx:attr("size")
  if not size then onnx_fail("attribute size is required") end
  cx:emit(nn.SpatialCrossMapLRN(size, cx:attr("alpha", 1e-4), cx:attr("beta", 0.75), cx:attr("bias", 1.0)),
          cx:input(1), cx:output())
end }

ops.ReduceMean = { doc = "axes attribute, keepdims", convert = function(cx)
  local axes = cx:attr("axes")
  local dims
  if axes then
    dims = {}
    for i, a in ipairs(axes) do dims[i] = a < 0 and a or a + 1 end
  end
  cx:emit(nn.ReduceMean(dims, cx:attr("keepdims", 1) ~= 0), cx:input(1), cx:output())
end }

return ops
