-- spec/onnx_conformance_spec.lua -- ONNX's own test cases (Debian's
-- libonnx-testdata) through ember.onnx.load, for every case whose operators
-- are all supported: input_0 is fed at run time, the other inputs are bound
-- as constants at import (conformance cases pass weights, shapes and axes as
-- inputs); every output_k.pb must match within 1e-4 x max |ref| (exactly for
-- integer outputs). Cases with unsupported operators are not attempted; the
-- SKIP table lists, with reasons, supported-op cases that are left out.

local ember = require "ember"
local core = require "ember.core"
local onnx = require "ember.onnx"
local declare = require "ember.onnx.declare"

local ROOT = "/usr/share/libonnx-testdata/data"
local GROUPS = { "node", "pytorch-converted", "pytorch-operator", "simple" }

-- case (group/name) -> why it is not attempted
local SKIP = {
  ["node/test_cast_BFLOAT16_to_FLOAT"] = "bfloat16 test data is stored as uint16 bit patterns",
  ["node/test_cast_FLOAT_to_BFLOAT16"] = "bfloat16 test data is stored as uint16 bit patterns",
  ["node/test_castlike_BFLOAT16_to_FLOAT_expanded"] = "bfloat16 test data is stored as uint16 bit patterns",
  ["node/test_castlike_FLOAT_to_BFLOAT16_expanded"] = "bfloat16 test data is stored as uint16 bit patterns",
  ["node/test_training_dropout"] = "training-mode (random) Dropout",
  ["node/test_training_dropout_default"] = "training-mode (random) Dropout",
  ["node/test_training_dropout_default_mask"] = "training-mode (random) Dropout",
  ["node/test_training_dropout_mask"] = "training-mode (random) Dropout",
  ["node/test_averagepool_3d_default"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["node/test_batchnorm_epsilon_training_mode"] = "training-mode BatchNormalization",
  ["node/test_batchnorm_example_training_mode"] = "training-mode BatchNormalization",
  ["node/test_convtranspose_3d"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["node/test_maxpool_3d_default"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["node/test_maxpool_with_argmax_2d_precomputed_pads"] = "MaxPool Indices output",
  ["node/test_maxpool_with_argmax_2d_precomputed_strides"] = "MaxPool Indices output",
  ["node/test_resize_tf_crop_and_resize"] = "tf_crop_and_resize is not supported",
  ["pytorch-converted/test_AvgPool3d"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_AvgPool3d_stride"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_AvgPool3d_stride1_pad0_gpu_input"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_BatchNorm3d_eval"] = "5-D (3-D spatial) BatchNormalization",
  ["pytorch-converted/test_BatchNorm3d_momentum_eval"] = "5-D (3-D spatial) BatchNormalization",
  ["pytorch-converted/test_Conv3d"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_Conv3d_dilated"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_Conv3d_dilated_strided"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_Conv3d_groups"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_Conv3d_no_bias"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_Conv3d_stride"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_Conv3d_stride_padding"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_MaxPool3d"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_MaxPool3d_stride"] = "3-D spatial (only 1-D and 2-D are supported)",
  ["pytorch-converted/test_MaxPool3d_stride_padding"] = "3-D spatial (only 1-D and 2-D are supported)",
}

-- Reasons found by inspecting the model rather than listed by hand.
local function auto_skip(model)
  if #model.graph.inputs == #model.graph.initializers then return "no run-time input" end
  -- values are float32 inside ember: other types come in converted, which
  -- is exact for the small integers and float16 of these cases; strings and
  -- non-tensor values cannot
  local OK = { float = true, int64 = true, int32 = true, int16 = true, int8 = true, uint8 = true,
               uint16 = true, uint32 = true, uint64 = true, float16 = true, bfloat16 = true,
               double = true, bool = true }
  for _, v in ipairs(model.graph.inputs) do
    if not v.elem_type then return "input '" .. v.name .. "' is not a tensor (sequence or optional)" end
    if not OK[v.elem_type] then
      return "input '" .. v.name .. "' is " .. v.elem_type .. " (ember computes in float32)"
    end
  end
  for _, v in ipairs(model.graph.outputs) do
    if v.elem_type and not OK[v.elem_type] then
      return "output '" .. v.name .. "' is " .. v.elem_type
    end
  end
  return nil
end

local function list_dir(dir)
  local p = io.popen('ls -1 "' .. dir .. '" 2>/dev/null')
  local out = {}
  for l in p:lines() do out[#out + 1] = l end
  p:close()
  return out
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function pb_list(dir, prefix)
  local out, i = {}, 0
  while exists(dir .. "/" .. prefix .. "_" .. i .. ".pb") do
    out[#out + 1] = dir .. "/" .. prefix .. "_" .. i .. ".pb"
    i = i + 1
  end
  return out
end

local INTEGRAL = onnx.INTEGRAL

-- Writes g as a net file, rebuilds it, loads g's state into it by name and
-- checks that it gives the same outputs; nil or an error message.
local function roundtrip(g, x, out)
  local src = declare.source(g, "roundtrip", nil)
  local env = { nn = ember.nn, math = math }
  local chunk, err = load(src, "=roundtrip", "t", env)
  if not chunk then return err end
  local ok, decl = pcall(chunk)
  if not ok then return tostring(decl) end
  local ok2, net = pcall(decl.build)
  if not ok2 then return tostring(net) end
  local ok3, e3 = pcall(ember.weights.apply, net, g:state(), { copy = true })
  if not ok3 then return tostring(e3) end
  local y = net:forward(x)
  if ember.isTensor(out) then out, y = { out }, { y } end
  for k = 1, #out do
    if out[k]:nElement() > 0 then
      local a, b = out[k]:contiguous():view(-1):totable(), y[k]:contiguous():view(-1):totable()
      for i = 1, #a do
        if a[i] ~= b[i] and (a[i] == a[i] or b[i] == b[i]) then return "output " .. k .. " differs" end
      end
    end
  end
  return nil
end

-- Runs one case; returns nil on success or an error message.
local function run_case(dir, model)
  local real = {}
  for _, v in ipairs(model.graph.inputs) do
    local init = false
    for _, t in ipairs(model.graph.initializers) do if t.name == v.name then init = true end end
    if not init then real[#real + 1] = v.name end
  end
  for _, ds in ipairs(list_dir(dir)) do
    if ds:match("^test_data_set_") then
      local d = dir .. "/" .. ds
      local ins = {}
      for i, p in ipairs(pb_list(d, "input")) do ins[i] = onnx.load_tensor(p) end
      local refs = {}
      for i, p in ipairs(pb_list(d, "output")) do refs[i] = onnx.load_tensor(p) end
      if #ins == 0 or #ins ~= #real then return "test data has " .. #ins .. " inputs for " .. #real end
      local consts = {}
      for k = 2, #ins do consts[real[k]] = ins[k] end
      local ok, g = pcall(onnx.load, dir .. "/model.onnx", { constants = consts })
      if not ok then return "load: " .. tostring(g) end
      local ok2, out = pcall(g.forward, g, ins[1].tensor)
      if not ok2 then return "forward: " .. tostring(out) end
      -- the net-file writer must rebuild the same graph (weights by name)
      local err = roundtrip(g, ins[1].tensor, out)
      if err then return "net file: " .. err end
      if core.tensor and getmetatable(out) and getmetatable(out).__name == "ember.Tensor" then out = { out } end
      for k, ref in ipairs(refs) do
        local o = out[k]
        if not o then return "missing output " .. k end
        local rs, os_ = ref.dims, o:dim() == 0 and {} or o:size()
        if #rs ~= #os_ then return string.format("output %d: shape %s, expected {%s}", k, o:shape(), table.concat(rs, ",")) end
        for i = 1, #rs do
          if rs[i] ~= os_[i] then return string.format("output %d: shape %s, expected {%s}", k, o:shape(), table.concat(rs, ",")) end
        end
        if ref.tensor:nElement() > 0 then
          -- NaN where the reference has NaN (sqrt of negatives) counts as equal
          local a, b = o:contiguous():view(-1):totable(), ref.tensor:contiguous():view(-1):totable()
          local err, scale = 0, 0
          for i = 1, #b do
            if b[i] == b[i] and math.abs(b[i]) ~= math.huge then scale = math.max(scale, math.abs(b[i])) end
          end
          for i = 1, #b do
            local x, y = a[i], b[i]
            local e
            if y ~= y then e = (x ~= x) and 0 or math.huge
            elseif math.abs(y) == math.huge then e = (x == y) and 0 or math.huge
            else e = math.abs(x - y) end
            if not (e <= err) then err = e end
          end
          local tol = INTEGRAL[ref.dtype] and 0 or 1e-4 * math.max(scale, 1e-30)
          if not (err <= tol) then
            return string.format("output %d: max abs error %.3g > %.3g", k, err, tol)
          end
        end
      end
    end
  end
  return nil
end

describe("ONNX conformance (libonnx-testdata)", function()
  local f = io.open(ROOT .. "/node/test_relu/model.onnx", "rb")
  if not f then
    it("needs libonnx-testdata", function() pending("libonnx-testdata is not installed") end)
    return
  end
  f:close()

  local passed, attempted, skipped, failures = 0, 0, {}, {}
  for _, group in ipairs(GROUPS) do
    for _, name in ipairs(list_dir(ROOT .. "/" .. group)) do
      local dir = ROOT .. "/" .. group .. "/" .. name
      local key = group .. "/" .. name
      if exists(dir .. "/model.onnx") then
        local ok, model = pcall(core.onnx_load, dir .. "/model.onnx")
        local supported = ok
        if ok then
          for _, node in ipairs(model.graph.nodes) do
            if (node.domain ~= "" and node.domain ~= "ai.onnx") or not onnx.registry[node.op_type] then
              supported = false
            end
          end
        end
        if supported then
          local why = SKIP[key] or auto_skip(model)
          if why then
            skipped[#skipped + 1] = key .. ": " .. why
          else
            attempted = attempted + 1
            local okr, err = pcall(run_case, dir, model)
            if not okr then err = "error: " .. tostring(err) end
            if err then failures[#failures + 1] = key .. ": " .. err else passed = passed + 1 end
          end
        end
      end
    end
  end

  it("passes every attempted case", function()
    print(string.format("ONNX conformance: %d passed of %d attempted, %d skipped", passed, attempted, #skipped))
    if os.getenv("ONNX_VERBOSE") then
      for _, s in ipairs(skipped) do print("  skipped " .. s) end
    end
    assert(#failures == 0, #failures .. " failed:\n" .. table.concat(failures, "\n"))
    assert(attempted > 100, "too few cases attempted: " .. attempted)
  end)
end)
