-- ember/onnx/shape.lua -- ONNX converters: shapes and data movement (Reshape,
-- Concat, Slice, Gather, Pad, Resize...), constants, Shape, Cast; each folds
-- exactly when its inputs are constants.

local nn = require "ember.nn"
local F = require "ember.onnx.fold"
local onnx_fail = function(msg) error({ onnx = true, msg = msg }, 0) end

local ops = {}
local SMALL = 65536

local function O() return require "ember.onnx" end
local function vals(c) return O().values(c) end
local function mk(v, dims, dtype) return O().const_from(v, dims, dtype) end

-- fold only small constants through lists; large float ones go through the
-- module (convert in folding mode)
local function small(cx, ...)
  for _, i in ipairs{ ... } do
    local c = cx:const(i)
    if c and F.numel(c.dims) > SMALL then return false end
  end
  return true
end

---------------------------------------------------------------- no-ops

local function alias_op(doc)
  return { doc = doc, fold = function(cx) cx:set_const(1, cx:const(1)) end, convert = function(cx)
    if cx.node.op_type == "Dropout" then
      local tm = cx:has(3) and cx:const(3)
      if cx:has(3) and not tm then onnx_fail("training_mode must be a constant") end
      local ratio = cx:has(2) and cx:const(2)
      if tm and vals(tm)[1] ~= 0 and not (ratio and vals(ratio)[1] == 0) then
        onnx_fail("training mode (random dropout) is not supported")
      end
    end
    local mask = cx.node.outputs[2]
    if mask and mask ~= "" and cx:readers(mask) > 0 then
      -- inference: the mask keeps everything (ones of the input's shape)
      local z = cx:temp("zero")
      cx:emit(nn.MulConstant(0), cx:input(1), z)
      cx.node.outputs[1], cx.node.outputs[2] = cx.node.outputs[2], cx.node.outputs[1]
      cx:emit(nn.AddConstant(1), z, cx:output())
      cx.node.outputs[1], cx.node.outputs[2] = cx.node.outputs[2], cx.node.outputs[1]
    end
    cx:set_alias(1, 1)
  end }
end
ops.Identity = alias_op("removed at import")
ops.Dropout = alias_op("removed at import (inference; the mask is ones)")

---------------------------------------------------------------- constants

local function constant_value(cx)
  local a = cx.node.attrs
  if type(a.value) == "table" and a.value.tensor then
    return { dims = a.value.dims, dtype = a.value.dtype, tensor = a.value.tensor, ints = a.value.ints }
  end
  if a.value_float then return mk({ a.value_float }, {}, "float") end
  if a.value_floats then return mk(a.value_floats, { #a.value_floats }, "float") end
  if a.value_int then return mk({ a.value_int }, {}, "int64") end
  if a.value_ints then return mk(a.value_ints, { #a.value_ints }, "int64") end
  onnx_fail("Constant without a supported value (value, value_float(s), value_int(s))")
end

ops.Constant = { doc = "value, value_float(s), value_int(s)", no_eval = true,
  foldable = function() return true end,
  fold = function(cx) cx:set_const(1, constant_value(cx)) end,
  convert = function(cx) cx:set_const(1, constant_value(cx)) end }

ops.ConstantOfShape = { doc = "folded, or at run time from a computed shape",
  foldable = function(cx) return cx:const(1) ~= nil or not cx:has(1) end,
  fold = function(cx)
    local dims = cx:has(1) and cx:ints(1, "shape") or {}
    for _, d in ipairs(dims) do if d < 0 then onnx_fail("negative size in shape") end end
    if F.numel(dims) > 2 ^ 26 then onnx_fail("absurd shape {" .. table.concat(dims, ", ") .. "}") end
    local v, dtype = 0, "float"
    local a = cx.node.attrs.value
    if type(a) == "table" and a.tensor then
      v = (a.ints and a.ints[1]) or (a.tensor:nElement() > 0 and a.tensor:contiguous():view(-1):totable()[1]) or 0
      dtype = a.dtype
    end
    local t = require("ember.core").tensor(math.max(F.numel(dims), 1)):fill(v)
    t = #dims == 0 and t:view({}) or t:view(dims)
    local c = { dims = dims, dtype = dtype, tensor = t }
    if O().INTEGRAL[dtype] and F.numel(dims) <= SMALL then
      c.ints = {}
      for i = 1, F.numel(dims) do c.ints[i] = math.tointeger(v) or 0 end
    end
    cx:set_const(1, c)
  end,
  convert = function(cx)
    local a = cx.node.attrs.value
    local v = 0
    if type(a) == "table" and a.tensor and a.tensor:nElement() > 0 then
      v = a.tensor:contiguous():view(-1):totable()[1]
    end
    cx:emit(nn.ConstantOfShape(v), cx:input(1), cx:output())
  end }

-- Shape folds when the input's shape is static (known at import).
-- The 0-based [start, end) range of a Shape node over rank r.
local function shape_range(cx, r)
  local st, en = cx:attr("start", 0), cx:attr("end", r)
  if st < 0 then st = st + r end
  if en < 0 then en = en + r end
  return math.max(0, math.min(st, r)), math.max(0, math.min(en, r))
end

ops.Shape = { doc = "folded where the dims are static (also with a symbolic batch dim), else computed at run time; start/end",
  no_eval = true,
  foldable = function(cx)
    local s = cx:shape(1)
    if not s then return false end
    if cx:const(1) then return true end
    local st, en = shape_range(cx, #s)
    return cx:static_dims(cx:input(1), st + 1, en)
  end,
  fold = function(cx)
    local s = cx:shape(1)
    local r = #s
    local st, en = shape_range(cx, r)
    local v = {}
    for i = st + 1, en do v[#v + 1] = s[i] end
    cx:set_const(1, mk(v, { #v }, "int64"))
  end,
  convert = function(cx)
    -- symbolic input dims: the shape is computed at run time
    local st, en = cx.node.attrs["start"], cx.node.attrs["end"]
    cx:emit(nn.Shape(st, en), cx:input(1), cx:output())
  end }

local CAST = { [1] = "float", [2] = "uint8", [3] = "int8", [4] = "uint16", [5] = "int16", [6] = "int32",
               [7] = "int64", [9] = "bool", [10] = "float16", [11] = "float", [12] = "uint32",
               [13] = "uint64", [16] = "bfloat16" }

ops.Cast = { doc = "exact on integer constants; at run time values stay float32 (truncated for integer types)",
  fold = function(cx)
    local to = CAST[cx:attr("to", 1)]
    if not to then onnx_fail("cast to type " .. tostring(cx:attr("to")) .. " is not supported") end
    local c = cx:const(1)
    if not small(cx, 1) then
      if to ~= "float" then onnx_fail("casting a large constant to " .. to .. " is not supported") end
      cx:set_const(1, { dims = c.dims, dtype = "float", tensor = c.tensor })
      return
    end
    local v = {}
    for i, x in ipairs(vals(c)) do
      if to == "float" or to == "float16" or to == "bfloat16" then v[i] = x + 0.0
      elseif to == "bool" then v[i] = x ~= 0 and 1 or 0
      else
        if x ~= x or x == math.huge or x == -math.huge then onnx_fail("cannot cast " .. tostring(x) .. " to " .. to) end
        v[i] = x >= 0 and math.floor(x) or math.ceil(x)
      end
    end
    if to == "float16" or to == "bfloat16" then
      -- rounded through the run-time module
      local t = nn.Cast(to):forward(mk(v, c.dims, "float").tensor)
      cx:set_const(1, { dims = c.dims, dtype = "float", tensor = t:clone() })
      return
    end
    cx:set_const(1, mk(v, c.dims, to))
  end,
  convert = function(cx)
    local to = CAST[cx:attr("to", 1)]
    if not to then onnx_fail("cast to type " .. tostring(cx:attr("to")) .. " is not supported") end
    if to == "float" then cx:set_alias(1, 1) return end
    cx:emit(nn.Cast(to), cx:input(1), cx:output())
  end }

---------------------------------------------------------------- reshaping

-- Whether shapes x (N,C,H,W), split (N,g,C/g,H,W) and result (N,C,H,W) are a
-- channel shuffle's; returns g.
local function shuffle_groups(x, split, result)
  if not (x and split and result and #x == 4 and #split == 5 and #result == 4) then return nil end
  if split[1] ~= x[1] or split[2] * split[3] ~= x[2] or split[4] ~= x[3] or split[5] ~= x[4] then
    return nil
  end
  for d = 1, 4 do if result[d] ~= x[d] then return nil end end
  return split[2]
end

-- ShuffleNet's channel shuffle as PyTorch exports it: Reshape to N,g,C/g,H,W,
-- Transpose(0, 2, 1, 3, 4), Reshape back to N,C,H,W. Called at the last
-- Reshape; returns the value x and g when its input came from that pattern,
-- so one ChannelShuffle (a copy per channel) replaces a strided 5-d copy and
-- two views. The modules before it are pruned when nothing else reads their
-- values. The probe's shapes (both probes with a symbolic dim) must match;
-- shapes computed at run time (from a symbolic batch) are read there.
local function channel_shuffle(cx)
  local mid = cx:input(1)
  local tr = mid and cx.producer[mid]
  if not cx.probing or not tr or tr.table or tr.module.__typename ~= "nn.Transpose" then return nil end
  local p = tr.module.perm
  if #p ~= 5 or p[1] ~= 1 or p[2] ~= 3 or p[3] ~= 2 or p[4] ~= 4 or p[5] ~= 5 then return nil end
  local split = tr.inputs[1]
  local rs = cx.producer[split]
  if not rs or rs.module.__typename ~= "nn.OnnxReshape" then return nil end
  local x = rs.inputs[1]
  local target = cx:const(2) and cx:ints(2, "shape")
  local groups
  for pass, sh in ipairs{ cx.shapes, cx.shapes2 or false } do
    if sh then
      -- a shape computed at run time (a symbolic batch): its probe value
      local t = target
      if not t then
        local v = cx:has(2) and (pass == 1 and cx.vals or cx.vals2)[cx:input(2)]
        if not v or v:dim() ~= 1 or v:nElement() ~= 4 then return nil end
        t = {}
        for i, f in ipairs(v:totable()) do t[i] = math.tointeger(f) end
        if #t ~= 4 then return nil end
      end
      if not sh[mid] then return nil end
      local ok, out = pcall(nn.OnnxReshape.resolve, t, cx:attr("allowzero", 0) ~= 0, sh[mid], "")
      local g = ok and shuffle_groups(sh[x], sh[split], out)
      if not g or (groups and g ~= groups) then return nil end
      groups = g
    end
  end
  return x, groups
end

-- The inputs of the channel Concat that made value x: the ChannelShuffle
-- reads them instead (ShuffleNet's torch.cat before each shuffle), one copy
-- instead of two. The Concat is pruned unless something else reads x (dead
-- shape arithmetic does not count: it is pruned too).
local function joined_inputs(cx, x)
  local cat = cx.producer[x]
  if not cat or not cat.table or cat.module.__typename ~= "nn.JoinTable" then return nil end
  local s = cx.shapes[x]
  local dim = cat.module.dimension
  if not s or #s ~= 4 or cat.module.nInputDims or (dim ~= 2 and dim ~= -3) then return nil end
  return { table.unpack(cat.inputs) }
end

ops.Reshape = { doc = "0, -1, allowzero; shape constant or computed at run time",
  fold = function(cx)
    if not small(cx, 1) then return false end
    local c = cx:const(1)
    local shape = cx:ints(2, "shape")
    local out = nn.OnnxReshape.resolve(shape, cx:attr("allowzero", 0) ~= 0, c.dims, "{" .. table.concat(c.dims, ", ") .. "}")
    cx:set_const(1, mk(vals(c), out, c.dtype))
  end,
  convert = function(cx)
    local allowzero = cx:attr("allowzero", 0) ~= 0
    local x, groups = channel_shuffle(cx)
    if x then
      cx:emit(nn.ChannelShuffle(groups), joined_inputs(cx, x) or x, cx:output())
      return
    end
    if cx.opset < 5 then
      cx:emit(nn.OnnxReshape(cx:attr("shape"), allowzero), cx:input(1), cx:output())
    elseif cx:const(2) then
      cx:emit(nn.OnnxReshape(cx:ints(2, "shape"), allowzero), cx:input(1), cx:output())
    else
      cx:emit(nn.OnnxReshape(nil, allowzero), { cx:input(1), cx:input(2) }, cx:output())
    end
  end }

local function flatten_dims(dims, axis)
  local a, b = 1, 1
  for i = 1, #dims do if i <= axis then a = a * dims[i] else b = b * dims[i] end end
  return { a, b }
end

ops.Flatten = { doc = "axis",
  fold = function(cx)
    if not small(cx, 1) then return false end
    local c = cx:const(1)
    local axis = cx:attr("axis", 1)
    if axis < 0 then axis = axis + #c.dims end
    cx:set_const(1, mk(vals(c), flatten_dims(c.dims, axis), c.dtype))
  end,
  convert = function(cx)
    local axis = cx:attr("axis", 1)
    local rank = cx:rank(1)
    if axis < 0 then
      if not rank then onnx_fail("a negative axis needs the input's rank") end
      axis = axis + rank
    end
    if axis == 0 then
      cx:emit(nn.OnnxReshape({ 1, -1 }), cx:input(1), cx:output())
    elseif rank and axis == rank then
      cx:emit(nn.OnnxReshape({ -1, 1 }), cx:input(1), cx:output())
    else
      -- dims before axis become one, dims from axis on another
      local t = cx:temp("rows")
      cx:emit(nn.Flatten(1, axis), cx:input(1), t)
      cx:emit(nn.Flatten(2), t, cx:output())
    end
  end }

local function unsq_axes(cx)
  if cx.opset < 13 then return cx:attr("axes") end
  return cx:ints(2, "axes")
end

ops.Unsqueeze = { doc = "axes attribute (< 13) or input (>= 13)",
  fold = function(cx)
    if not small(cx, 1) then return false end
    local c = cx:const(1)
    local axes = unsq_axes(cx)
    local dims = {}
    for i, a in ipairs(axes) do dims[i] = a < 0 and a or a + 1 end
    local ok, out = pcall(nn.Unsqueeze.resolve, dims, c.dims)
    if not ok then onnx_fail(tostring(out)) end
    cx:set_const(1, mk(vals(c), out, c.dtype))
  end,
  convert = function(cx)
    local axes = unsq_axes(cx)
    if not axes then onnx_fail("axes are required") end
    local dims = {}
    for i, a in ipairs(axes) do dims[i] = a < 0 and a or a + 1 end
    cx:emit(nn.Unsqueeze(dims), cx:input(1), cx:output())
  end }

local function sq_axes(cx)
  if cx.opset < 13 then return cx:attr("axes") end
  return cx:has(2) and cx:ints(2, "axes") or nil
end

ops.Squeeze = { doc = "axes attribute (< 13) or input (>= 13)",
  fold = function(cx)
    if not small(cx, 1) then return false end
    local c = cx:const(1)
    local axes, drop, out = sq_axes(cx), {}, {}
    if axes then
      for _, a in ipairs(axes) do drop[F.axis(a, #c.dims) + 1] = true end
    else
      for i, d in ipairs(c.dims) do if d == 1 then drop[i] = true end end
    end
    for i, d in ipairs(c.dims) do
      if drop[i] and d ~= 1 then onnx_fail("cannot squeeze dim " .. i .. " of size " .. d) end
      if not drop[i] then out[#out + 1] = d end
    end
    cx:set_const(1, mk(vals(c), out, c.dtype))
  end,
  convert = function(cx)
    local axes = sq_axes(cx)
    local dims
    if axes then
      dims = {}
      for i, a in ipairs(axes) do dims[i] = a < 0 and a or a + 1 end
    end
    cx:emit(nn.Squeeze(dims), cx:input(1), cx:output())
  end }

local function perm_of(cx, rank)
  local perm = cx:attr("perm")
  if not perm then
    perm = {}
    for i = 1, rank do perm[i] = rank - i end
  end
  return perm
end

ops.Transpose = { doc = "perm",
  fold = function(cx)
    if not small(cx, 1) then return false end
    local c = cx:const(1)
    local perm = perm_of(cx, #c.dims)
    if #perm ~= #c.dims then onnx_fail("perm has " .. #perm .. " dims for rank " .. #c.dims) end
    local dims = {}
    for i, p in ipairs(perm) do dims[i] = c.dims[p + 1] end
    local st, v = F.strides(c.dims), vals(c)
    local src = {}
    local out = F.build(dims, function(idx)
      for i, p in ipairs(perm) do src[p + 1] = idx[i] end
      return F.at(v, st, src)
    end)
    cx:set_const(1, mk(out, dims, c.dtype))
  end,
  convert = function(cx)
    local rank = cx:rank(1)
    local perm = cx:attr("perm")
    if not perm and not rank then onnx_fail("Transpose without perm needs the input's rank") end
    perm = perm_of(cx, rank or #perm)
    local p = {}
    for i, v in ipairs(perm) do p[i] = v + 1 end
    cx:emit(nn.Transpose(p), cx:input(1), cx:output())
  end }

---------------------------------------------------------------- joining, splitting

ops.Concat = { doc = "axis",
  fold = function(cx)
    local ins = {}
    for i = 1, #cx.node.inputs do
      if cx:has(i) then ins[#ins + 1] = cx:const(i) end
    end
    for i = 1, #ins do if F.numel(ins[i].dims) > SMALL then return false end end
    local rank = #ins[1].dims
    local axis = F.axis(cx:attr("axis", 0), rank) + 1
    local dims = { table.unpack(ins[1].dims) }
    dims[axis] = 0
    local integral = true
    for _, c in ipairs(ins) do
      if #c.dims ~= rank then onnx_fail("inputs have different ranks") end
      for d = 1, rank do
        if d ~= axis and c.dims[d] ~= ins[1].dims[d] then onnx_fail("inputs have different sizes off the axis") end
      end
      dims[axis] = dims[axis] + c.dims[axis]
      if not c.ints then integral = false end
    end
    local src = {}
    local out = F.build(dims, function(idx)
      local k = idx[axis]
      for _, c in ipairs(ins) do
        if k < c.dims[axis] then
          for d = 1, rank do src[d] = idx[d] end
          src[axis] = k
          return F.at(vals(c), F.strides(c.dims), src)
        end
        k = k - c.dims[axis]
      end
    end)
    cx:set_const(1, mk(out, dims, integral and ins[1].dtype or "float"))
  end,
  convert = function(cx)
    local axis = cx:attr("axis")
    if not axis then onnx_fail("attribute axis is required") end
    local ins = {}
    for i = 1, #cx.node.inputs do
      if cx:has(i) then
        local s = cx:shape(i)
        -- empty inputs add nothing
        if not (s and F.numel(s) == 0) then ins[#ins + 1] = cx:input(i) end
      end
    end
    if #ins == 0 then onnx_fail("all inputs are empty") end
    cx:emit(nn.JoinTable(axis < 0 and axis or axis + 1), ins, cx:output())
  end }

ops.Split = { doc = "split attribute (< 13) or input (>= 13); equal parts",
  convert = function(cx)
    local axis = cx:attr("axis", 0)
    local sizes
    if cx.opset < 13 then sizes = cx:attr("split") else sizes = cx:has(2) and cx:ints(2, "split") or nil end
    local outs = {}
    for k, n in ipairs(cx.node.outputs) do outs[k] = n ~= "" and n or cx:temp("unused") end
    cx:emit(nn.Split(axis < 0 and axis or axis + 1, sizes or #outs), cx:input(1), outs)
  end }

ops.Slice = { doc = "starts/ends/axes/steps as attributes (< 10) or inputs (>= 10)",
  convert = function(cx)
    local starts, ends, axes, steps
    if cx.opset < 10 then
      starts, ends, axes = cx:attr("starts"), cx:attr("ends"), cx:attr("axes")
    else
      starts, ends = cx:ints(2, "starts"), cx:ints(3, "ends")
      axes = cx:has(4) and cx:ints(4, "axes") or nil
      steps = cx:has(5) and cx:ints(5, "steps") or nil
    end
    if not starts or not ends or #starts ~= #ends then onnx_fail("starts and ends must have the same length") end
    if not axes then
      axes = {}
      for i = 1, #starts do axes[i] = i - 1 end
    end
    if #axes ~= #starts then onnx_fail("axes and starts must have the same length") end
    local dims = {}
    for i, a in ipairs(axes) do dims[i] = a < 0 and a or a + 1 end
    local BIG = 2 ^ 62
    local s, e = {}, {}
    for i = 1, #starts do
      s[i] = math.max(-BIG, math.min(BIG, starts[i]))
      e[i] = math.max(-BIG, math.min(BIG, ends[i]))
    end
    cx:emit(nn.Slice(dims, s, e, steps), cx:input(1), cx:output())
  end }

ops.Gather = { doc = "indices constant or computed at run time",
  fold = function(cx)
    if not small(cx, 1, 2) then return false end
    local data, ind = cx:const(1), cx:const(2)
    local rank = #data.dims
    if rank == 0 then onnx_fail("Gather on a scalar") end
    local axis = F.axis(cx:attr("axis", 0), rank) + 1
    local n = data.dims[axis]
    local iv = vals(ind)
    local dims = {}
    for d = 1, axis - 1 do dims[#dims + 1] = data.dims[d] end
    for _, d in ipairs(ind.dims) do dims[#dims + 1] = d end
    for d = axis + 1, rank do dims[#dims + 1] = data.dims[d] end
    local st, ist, dv, src = F.strides(data.dims), F.strides(ind.dims), vals(data), {}
    local out = F.build(dims, function(idx)
      for d = 1, axis - 1 do src[d] = idx[d] end
      local k = 1
      for j = 1, #ind.dims do k = k + idx[axis - 1 + j] * ist[j] end
      local i = math.tointeger(iv[k])
      if not i or i < -n or i >= n then onnx_fail("index " .. tostring(iv[k]) .. " out of range for size " .. n) end
      src[axis] = i < 0 and i + n or i
      for d = axis + 1, rank do src[d] = idx[d - 1 + #ind.dims] end
      return F.at(dv, st, src)
    end)
    cx:set_const(1, mk(out, dims, data.dtype))
  end,
  convert = function(cx)
    local ind = cx:const(2)
    if not ind then
      local axis = cx:attr("axis", 0)
      cx:emit(nn.Gather(axis < 0 and axis or axis + 1), { cx:input(1), cx:input(2) }, cx:output())
      return
    end
    local axis = cx:attr("axis", 0)
    local idx = {}
    local rank, shape = cx:rank(1), cx:shape(1)
    if rank then axis = F.axis(axis, rank) end
    for i, v in ipairs(vals(ind)) do
      v = math.tointeger(v)
      if not v then onnx_fail("indices must be integers") end
      if v < 0 then
        if not shape then onnx_fail("negative indices need the input's shape") end
        local a = axis < 0 and axis + rank or axis
        v = v + shape[a + 1]
      end
      idx[i] = v + 1
    end
    if #ind.dims == 0 then idx = idx[1] end
    local dim = axis < 0 and axis or axis + 1
    if #ind.dims <= 1 then
      cx:emit(nn.Gather(dim, idx), cx:input(1), cx:output())
      return
    end
    -- N-D indices: gather the flat list, then split that dim into the indices' dims
    if not shape then onnx_fail("N-D indices need the input's shape") end
    local a = axis < 0 and axis + rank or axis
    local dims = {}
    for d = 1, a do dims[#dims + 1] = shape[d] end
    for _, d in ipairs(ind.dims) do dims[#dims + 1] = d end
    for d = a + 2, rank do dims[#dims + 1] = shape[d] end
    local t = cx:temp("flat")
    cx:emit(nn.Gather(dim, idx), cx:input(1), t)
    cx:emit(nn.OnnxReshape(dims), t, cx:output())
  end }

---------------------------------------------------------------- padding, resizing, tiling

ops.Pad = { doc = "constant/reflect/edge; pads attribute (< 11) or input (>= 11)",
  convert = function(cx)
    local mode = cx:attr("mode", "constant")
    local pads, value
    if cx.opset < 11 then
      pads, value = cx:attr("pads"), cx:attr("value", 0.0)
    else
      pads = cx:ints(2, "pads")
      value = cx:has(3) and vals(cx:const(3) or onnx_fail("constant_value must be a constant"))[1] or 0
    end
    if not pads then onnx_fail("pads are required") end
    if mode ~= "constant" and mode ~= "reflect" and mode ~= "edge" then onnx_fail("mode " .. mode .. " is not supported") end
    cx:emit(nn.Pad(pads, mode, value), cx:input(1), cx:output())
  end }

local function resize(cx, scales, sizes, mode, coord, nearest)
  if mode == "bilinear" then mode = "linear" end
  if mode ~= "nearest" and mode ~= "linear" and mode ~= "cubic" then onnx_fail("mode " .. tostring(mode) .. " is not supported") end
  if coord == "tf_crop_and_resize" then onnx_fail("tf_crop_and_resize is not supported") end
  cx:emit(nn.Resize{ mode = mode, coord = coord, nearest = nearest, scales = scales, sizes = sizes,
                     cubic_a = cx:attr("cubic_coeff_a", -0.75), exclude_outside = cx:attr("exclude_outside", 0) ~= 0 },
          cx:input(1), cx:output())
end

ops.Resize = { doc = "nearest/linear/cubic; scales or sizes; half_pixel, pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn",
  convert = function(cx)
    local mode = cx:attr("mode", "nearest")
    local scales, sizes
    if cx.opset < 11 then
      scales = cx:floats(2, "scales")
      return resize(cx, scales, nil, mode, "asymmetric", "floor")
    end
    if cx:has(4) then sizes = cx:ints(4, "sizes") end
    if not sizes and cx:has(3) then
      scales = cx:floats(3, "scales")
      if #scales == 0 then scales = nil end
    end
    if not scales and not sizes then onnx_fail("needs scales or sizes") end
    if sizes and #sizes == 0 then onnx_fail("empty sizes") end
    local axes = cx:attr("axes")
    if axes then onnx_fail("the axes attribute is not supported") end
    resize(cx, scales, sizes, mode, cx:attr("coordinate_transformation_mode", "half_pixel"),
           cx:attr("nearest_mode", "round_prefer_floor"))
  end }

ops.Upsample = { doc = "nearest/linear (opset 7 to 9)",
  convert = function(cx)
    local scales = cx.opset < 9 and cx:attr("scales") or cx:floats(2, "scales")
    resize(cx, scales, nil, cx:attr("mode", "nearest"), "asymmetric", "floor")
  end }

ops.Expand = { doc = "shape constant or computed at run time",
  convert = function(cx)
    if cx:const(2) then
      cx:emit(nn.Expand(cx:ints(2, "shape")), cx:input(1), cx:output())
    else
      cx:emit(nn.Expand(), { cx:input(1), cx:input(2) }, cx:output())
    end
  end }

ops.Tile = { doc = "constant repeats",
  convert = function(cx)
    cx:emit(nn.Tile(cx:ints(2, "repeats")), cx:input(1), cx:output())
  end }

return ops
