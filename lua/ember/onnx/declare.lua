-- ember/onnx/declare.lua -- the source of a net file for an nn.Graph: one
-- readable line per node (constructor, name, input and output values).
-- local src = require("ember.onnx.declare").source(g, "title", {3, 224, 224})

---------------------------------------------------------------- Lua literals

local function num(v)
  if math.type(v) == "integer" then return tostring(v) end
  if v == math.huge then return "math.huge" end
  if v == -math.huge then return "-math.huge" end
  if v ~= v then return "0/0" end
  if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return string.format("%.1f", v) end
  return string.format("%.17g", v)
end

local function lit(v)
  local t = type(v)
  if t == "number" then return num(v) end
  if t == "string" then return string.format("%q", v) end
  if t == "boolean" or t == "nil" then return tostring(v) end
  if t == "table" then
    local parts = {}
    if #v > 0 or next(v) == nil then
      for i = 1, #v do parts[i] = lit(v[i]) end
    else
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys)
      for _, k in ipairs(keys) do parts[#parts + 1] = k .. " = " .. lit(v[k]) end
    end
    return "{ " .. table.concat(parts, ", ") .. " }"
  end
  error("cannot write a " .. t .. " as a Lua literal", 0)
end

local function call(name, ...)
  local args = table.pack(...)
  local parts = {}
  for i = 1, args.n do parts[i] = lit(args[i]) end
  -- drop trailing nils
  while #parts > 0 and parts[#parts] == "nil" do parts[#parts] = nil end
  return "nn." .. name .. "(" .. table.concat(parts, ", ") .. ")"
end

---------------------------------------------------------------- module declarations
-- typename -> function(m) returning the constructor expression (with setters)
-- that rebuilds m with tensors of the right shapes (values come from weights).

local function pads_of(m)
  if m.pads then return string.format(":setPadding(%d, %d, %d, %d)", m.pads[1], m.pads[2], m.pads[3], m.pads[4]) end
  return ""
end

local function no_bias(m)
  return (m.bias == nil or m.bias:nElement() == 0) and ":noBias()" or ""
end

local function dilation(m)
  if (m.dilationW or 1) ~= 1 or (m.dilationH or 1) ~= 1 then
    return string.format(":setDilation(%d, %d)", m.dilationW, m.dilationH)
  end
  return ""
end

local declare = {
  ["nn.SpatialConvolution"] = function(m)
    return call("SpatialConvolution", m.nInputPlane, m.nOutputPlane, m.kW, m.kH, m.dW, m.dH, m.padW, m.padH,
                m.groups ~= 1 and m.groups or nil) .. pads_of(m) .. dilation(m) .. no_bias(m)
  end,
  ["nn.SpatialFullConvolution"] = function(m)
    return call("SpatialFullConvolution", m.nInputPlane, m.nOutputPlane, m.kW, m.kH, m.dW, m.dH, m.padW, m.padH,
                m.adjW, m.adjH) .. (m.groups ~= 1 and (":setGroups(" .. m.groups .. ")") or "")
           .. pads_of(m) .. dilation(m) .. no_bias(m)
  end,
  ["nn.Linear"] = function(m) return call("Linear", m.weight:size(2), m.weight:size(1)) .. no_bias(m) end,
  ["nn.SpatialBatchNormalization"] = function(m) return call("SpatialBatchNormalization", m.nOutput, m.eps) end,
  ["nn.BatchNormalization"] = function(m) return call("BatchNormalization", m.nOutput, m.eps) end,
  ["nn.SpatialMaxPooling"] = function(m)
    return call("SpatialMaxPooling", m.kW, m.kH, m.dW, m.dH) .. pads_of(m)
           .. (m.pads and "" or ((m.padW ~= 0 or m.padH ~= 0) and string.format(":setPadding(%d, %d, %d, %d)", m.padH, m.padW, m.padH, m.padW) or ""))
           .. dilation(m) .. (m.ceil_mode and ":ceil()" or "")
  end,
  ["nn.SpatialAveragePooling"] = function(m)
    return call("SpatialAveragePooling", m.kW, m.kH, m.dW, m.dH) .. pads_of(m)
           .. (m.pads and "" or ((m.padW ~= 0 or m.padH ~= 0) and string.format(":setPadding(%d, %d, %d, %d)", m.padH, m.padW, m.padH, m.padW) or ""))
           .. (m.ceil_mode and ":ceil()" or "")
           .. (m.count_include_pad and ":setCountIncludePad()" or ":setCountExcludePad()")
  end,
  ["nn.SpatialAdaptiveAveragePooling"] = function(m) return call("SpatialAdaptiveAveragePooling", m.W, m.H) end,
  ["nn.SpatialAdaptiveMaxPooling"] = function(m) return call("SpatialAdaptiveMaxPooling", m.W, m.H) end,
  ["nn.SpatialCrossMapLRN"] = function(m) return call("SpatialCrossMapLRN", m.size, m.alpha, m.beta, m.k) end,
  ["nn.LeakyReLU"] = function(m) return call("LeakyReLU", m.negval) end,
  ["nn.ELU"] = function(m) return call("ELU", m.alpha) end,
  ["nn.HardSigmoid"] = function(m) return call("HardSigmoid", m.alpha, m.beta) end,
  ["nn.Clamp"] = function(m) return call("Clamp", m.min_val, m.max_val) end,
  ["nn.PReLU"] = function(m) return call("PReLU", m.nOutputPlane) end,
  ["nn.SoftMax"] = function(m) return call("SoftMax", m.dim) end,
  ["nn.LogSoftMax"] = function(m) return call("LogSoftMax", m.dim) end,
  ["nn.OnnxSoftMax"] = function(m) return call("OnnxSoftMax", m.axis, m.log) end,
  ["nn.JoinTable"] = function(m) return call("JoinTable", m.dimension, m.nInputDims) end,
  ["nn.MulConstant"] = function(m) return call("MulConstant", m.constant_scalar) end,
  ["nn.AddConstant"] = function(m) return call("AddConstant", m.constant_scalar) end,
  ["nn.Transpose"] = function(m) return call("Transpose", m.perm) end,
  ["nn.ConstantOfShape"] = function(m) return call("ConstantOfShape", m.value) end,
  ["nn.Gather"] = function(m)
    if not m.indices then return call("Gather", m.dim) end
    if not m.keepdim and #m.indices == 1 then return call("Gather", m.dim, m.indices[1]) end
    return call("Gather", m.dim, m.indices)
  end,
  ["nn.Slice"] = function(m) return call("Slice", m.dims, m.starts, m.ends, m.steps) end,
  ["nn.Split"] = function(m) return call("Split", m.dim, m.sizes) end,
  ["nn.Pad"] = function(m) return call("Pad", m.pads, m.mode, m.value) end,
  ["nn.OnnxReshape"] = function(m) return call("OnnxReshape", m.shape, m.allowzero or nil) end,
  ["nn.Squeeze"] = function(m) return call("Squeeze", m.dims) end,
  ["nn.Unsqueeze"] = function(m) return call("Unsqueeze", m.dims) end,
  ["nn.Resize"] = function(m)
    return call("Resize", { mode = m.mode, coord = m.coord, nearest = m.nearest, scales = m.scales, sizes = m.sizes,
                            cubic_a = m.mode == "cubic" and m.cubic_a or nil,
                            exclude_outside = m.exclude_outside or nil })
  end,
  ["nn.ReduceMean"] = function(m) return call("ReduceMean", m.dims, m.keepdims) end,
  ["nn.Expand"] = function(m) return call("Expand", m.sizes) end,
  ["nn.Shape"] = function(m) return call("Shape", m.start, m.stop) end,
  ["nn.Cast"] = function(m) return call("Cast", m.to) end,
  ["nn.CDivTable"] = function(m) return m.integer and call("CDivTable", true) or "nn.CDivTable()" end,
  ["nn.Tile"] = function(m) return call("Tile", m.repeats) end,
  ["nn.Power"] = function(m) return call("Power", m.pow) end,
  ["nn.Flatten"] = function(m) return call("Flatten", m.startDim, m.endDim) end,
}
for _, name in ipairs{ "ReLU", "Sigmoid", "Tanh", "HardSwish", "Identity", "CAddTable", "CSubTable",
                       "CMulTable", "CPowTable", "MatMul", "Sqrt", "Exp", "Log", "Abs", "Erf" } do
  declare["nn." .. name] = function() return "nn." .. name .. "()" end
end

-- The text of a net file declaring graph g (an nn.Graph).
local function graph_source(g, title, input)
  local L = {}
  L[#L + 1] = "-- " .. title
  L[#L + 1] = "-- One line per node: module, named after the ONNX node; its input value(s)"
  L[#L + 1] = "-- and output value(s). Weights and constants come from the weights file."
  L[#L + 1] = ""
  L[#L + 1] = "return {"
  if input then L[#L + 1] = "  input = " .. lit(input) .. "," end
  L[#L + 1] = "  build = function()"
  L[#L + 1] = "    local g = nn.Graph(" .. lit(g.inputNames) .. ", " .. lit(g.outputNames) .. ")"
  for _, n in ipairs(g.constantNames) do
    local t = g.constants[n]
    L[#L + 1] = "    g:constant(" .. lit(n) .. ", " .. lit(t:dim() == 0 and {} or t:size()) .. ")"
  end
  for i, m in ipairs(g.modules) do
    local d = declare[m.__typename]
    if not d then error("cannot declare a " .. m.__typename .. " (node " .. tostring(m.name) .. ")", 0) end
    local node = g.nodes[i]
    local ins = node.table and lit(node.inputs) or lit(node.inputs[1])
    local outs = node.multi and lit(node.outputs) or lit(node.outputs[1])
    L[#L + 1] = string.format("    g:add(%s:named(%s), %s, %s)", d(m), lit(m.name), ins, outs)
  end
  L[#L + 1] = "    return g"
  L[#L + 1] = "  end,"
  L[#L + 1] = "}"
  return table.concat(L, "\n") .. "\n"
end

local M = { declare = declare, literal = lit }

-- The text of a net file (see ember/model.lua) whose build returns graph g
-- again, with freshly allocated weights and constants of the same shapes.
M.source = graph_source
return M
