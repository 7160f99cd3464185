-- spec/onnx_wire_spec.lua -- how ember.onnx reads a model's weights (lonnx_wire.c): each
-- way of storing a tensor, protobuf's merge rules, broken files, one copy in memory.

local ember = require "ember"
local onnx = require "ember.onnx"
local H = require "helper"

local tmpdir, remove_tmp = H.tmpdir()
teardown(remove_tmp)

---------------------------------------------------------------- a tiny protobuf writer

local function varint(n)
  local s = {}
  repeat
    local b = n & 0x7f
    n = n >> 7
    s[#s + 1] = string.char(n ~= 0 and b | 0x80 or b)
  until n == 0
  return table.concat(s)
end
local function int(num, v) return varint(num * 8) .. varint(v) end
local function len(num, s) return varint(num * 8 + 2) .. varint(#s) .. s end
local function floats(list) return string.pack("<" .. string.rep("f", #list), table.unpack(list)) end

local FLOAT, INT64, FLOAT16 = 1, 7, 10

-- TensorProto: dims (1), data_type (2), name (8), then the values' fields as given.
local function tensor(name, dims, dtype, values)
  local s = ""
  for _, d in ipairs(dims) do s = s .. int(1, d) end
  return s .. int(2, dtype) .. len(8, name) .. values
end
local function raw(bytes) return len(9, bytes) end

-- ValueInfoProto of a float tensor of static dims.
local function value_info(name, dims)
  local shape = ""
  for _, d in ipairs(dims) do shape = shape .. len(1, int(1, d)) end
  return len(1, name) .. len(2, len(1, int(1, FLOAT) .. len(2, shape)))
end

-- NodeProto; attrs: encoded AttributeProto messages.
local function node(op, ins, outs, attrs)
  local s = ""
  for _, n in ipairs(ins) do s = s .. len(1, n) end
  for _, n in ipairs(outs) do s = s .. len(2, n) end
  s = s .. len(3, op:lower()) .. len(4, op)
  for _, a in ipairs(attrs or {}) do s = s .. len(5, a) end
  return s
end

-- GraphProto parts: nodes (1), initializers (5), inputs (11), outputs (12).
local function graph(p)
  local s = ""
  for _, n in ipairs(p.nodes or {}) do s = s .. len(1, n) end
  for _, t in ipairs(p.inits or {}) do s = s .. len(5, t) end
  for _, v in ipairs(p.inputs or {}) do s = s .. len(11, v) end
  for _, v in ipairs(p.outputs or {}) do s = s .. len(12, v) end
  return s
end

-- ModelProto: ir_version 8, opset 13, then each graph part as a field 7 of its own.
local function model(...)
  local s = int(1, 8) .. len(8, len(1, "") .. int(2, 13))
  for _, g in ipairs{ ... } do s = s .. len(7, g) end
  return s
end

local n_file = 0
local function write_model(bytes)
  n_file = n_file + 1
  return H.write(tmpdir() .. "/m" .. n_file .. ".onnx", bytes)
end

-- y = x + w, x and w of dims {2, 3}; w stored as w_fields says.
local W = { 0.5, -1.25, 2, 3.75, -8, 2 ^ -10 }   -- exact in float32
local function add_model(w_fields)
  return model(graph{
    nodes = { node("Add", { "x", "w" }, { "y" }) },
    inits = { tensor("w", { 2, 3 }, FLOAT, w_fields) },
    inputs = { value_info("x", { 2, 3 }) },
    outputs = { value_info("y", { 2, 3 }) },
  })
end

local function run(path, x)
  local g = onnx.load(path)
  return g:forward(x or ember.Tensor(2, 3):fill(0)):contiguous():view(-1):totable()
end

local function near(want, got)
  assert.equal(#want, #got)
  for i = 1, #want do assert(math.abs(want[i] - got[i]) <= 1e-6 * math.max(1, math.abs(want[i])),
                             string.format("element %d: %g, expected %g", i, got[i], want[i])) end
end

-- In a fresh process (so VmHWM is this load's): how much the peak resident
-- set grows (MB) loading the model at path, and then running it once on
-- ones of sizes (text "1, 4096"); and the output's first element. ASan's
-- quarantine would keep freed memory resident: off for this process.
local function peak_growth(path, sizes)
  local script = H.write(tmpdir() .. "/peak.lua", [[
    local ember = require "ember"
    local onnx = require "ember.onnx"
    local function hwm()
      local f = assert(io.open("/proc/self/status"))
      local kb = tonumber(f:read("a"):match("VmHWM:%s*(%d+)"))
      f:close()
      return kb / 1024
    end
    local before = hwm()
    local g = onnx.load(arg[1])
    local loaded = hwm()
    local y = g:forward(ember.Tensor(]] .. sizes .. [[):fill(1)):contiguous():view(-1)
    print(string.format("%.1f %.1f %.1f %.6f", before, loaded, hwm(), y[1]))
  ]])
  local exe = os.getenv("EMBER") or "./ember"
  local asan = (os.getenv("ASAN_OPTIONS") or "") .. ":quarantine_size_mb=0"
  local p = io.popen("ASAN_OPTIONS='" .. asan .. "' " .. exe .. " " .. script .. " " .. path)
  local out = p:read("a")
  p:close()
  local before, loaded, after, y = out:match("([%d.]+) ([%d.]+) ([%d.]+) ([%-%d.]+)")
  assert(before, "no output: " .. out)
  return tonumber(loaded) - tonumber(before), tonumber(after) - tonumber(before), tonumber(y)
end

describe("ember.onnx weights", function()
  it("raw_data and float_data give the same values", function()
    assert.same(W, run(write_model(add_model(raw(floats(W))))))
    assert.same(W, run(write_model(add_model(len(4, floats(W))))))   -- packed float_data
  end)

  it("float_data in several packed chunks, or mixed with single floats, keeps its order", function()
    local a, b = floats{ W[1], W[2] }, floats{ W[3], W[4], W[5], W[6] }
    assert.same(W, run(write_model(add_model(len(4, a) .. len(4, b)))))
    local single = ""   -- float_data one value at a time: key (4, wire type 5), then the value
    for i = 3, 6 do single = single .. varint(4 * 8 + 5) .. floats{ W[i] } end
    assert.same(W, run(write_model(add_model(len(4, a) .. single))))
  end)

  it("a field numbered like the walk's float_data slots is ignored", function()
    local fake = len(1000, string.pack("<I8<I8", 0, 24))   -- would read 24 bytes at offset 0
    assert.same(W, run(write_model(add_model(fake .. len(4, floats(W)) .. fake))))
    assert.same(W, run(write_model(add_model(raw(floats(W)) .. fake))))
  end)

  it("float_data of the wrong size names the tensor", function()
    assert.matches("tensor 'w': float_data has 20 bytes, expected 24 %(6 float elements%)",
                   H.message(onnx.load, write_model(add_model(len(4, floats{ 1, 2, 3, 4, 5 })))))
  end)

  it("a raw_data given twice: the last one counts", function()
    local junk = floats{ 9, 9, 9, 9, 9, 9 }
    assert.same(W, run(write_model(add_model(raw(junk) .. raw(floats(W))))))
  end)

  it("a graph in two parts is merged (initializers in the second)", function()
    local g1 = graph{ nodes = { node("Add", { "x", "w" }, { "y" }) },
                      inputs = { value_info("x", { 2, 3 }) }, outputs = { value_info("y", { 2, 3 }) } }
    local g2 = graph{ inits = { tensor("w", { 2, 3 }, FLOAT, raw(floats(W))) } }
    assert.same(W, run(write_model(model(g1, g2))))
  end)

  it("int64 and float16 raw_data are converted", function()
    -- Reshape to a raw int64 shape, then add a raw float16 tensor
    local shape = string.pack("<i8<i8", 3, 2)
    local half = string.pack("<I2<I2<I2<I2<I2<I2", 0x3c00, 0xc000, 0x3800, 0x0000, 0x8001, 0x7bff)
    local path = write_model(model(graph{
      nodes = { node("Reshape", { "x", "shape" }, { "r" }), node("Add", { "r", "h" }, { "y" }) },
      inits = { tensor("shape", { 2 }, INT64, raw(shape)), tensor("h", { 3, 2 }, FLOAT16, raw(half)) },
      inputs = { value_info("x", { 2, 3 }) },
      outputs = { value_info("y", { 3, 2 }) },
    }))
    local x = ember.Tensor{ { 1, 2, 3 }, { 4, 5, 6 } }
    near({ 1 + 1, 2 - 2, 3 + 0.5, 4, 5 - 2 ^ -24, 6 + 65504 }, run(path, x))
  end)

  it("a Constant node's tensor (not an initializer) keeps its raw_data", function()
    -- AttributeProto: name (1), t (5), type (20) = TENSOR (4)
    local attr = len(1, "value") .. len(5, tensor("c", { 2, 3 }, FLOAT, raw(floats(W)))) .. int(20, 4)
    local path = write_model(model(graph{
      nodes = { node("Constant", {}, { "c" }, { attr }), node("Add", { "x", "c" }, { "y" }) },
      inputs = { value_info("x", { 2, 3 }) },
      outputs = { value_info("y", { 2, 3 }) },
    }))
    assert.same(W, run(path))
  end)

  it("load_tensor reads a TensorProto's raw_data", function()
    local p = H.write(tmpdir() .. "/t.pb", tensor("t", { 3, 2 }, FLOAT, raw(floats(W))))
    local t = onnx.load_tensor(p)
    assert.same({ 3, 2 }, t.dims)
    assert.same(W, t.tensor:view(-1):totable())
  end)

  it("a cut anywhere in a large initializer fails naming the file", function()
    local big = {}
    for i = 1, 3000 do big[i] = i / 7 end
    local bytes = model(graph{
      nodes = { node("Add", { "x", "w" }, { "y" }) },
      inits = { tensor("w", { 3000 }, FLOAT, raw(floats(big))) },
      inputs = { value_info("x", { 3000 }) },
      outputs = { value_info("y", { 3000 }) },
    })
    near(big, run(write_model(bytes), ember.Tensor(3000):fill(0)))
    local path = tmpdir() .. "/cut.onnx"
    for cut = 1, #bytes - 1, 97 do
      H.write(path, bytes:sub(1, cut))
      local ok, err = pcall(onnx.load, path)
      assert.is_false(ok, "cut at " .. cut .. " loaded")
      assert.matches("cut.onnx", tostring(err))
    end
  end)

  it("a raw_data length past the end of its tensor is rejected", function()
    -- the length varint says 2^40 bytes: the walk keeps it, protobuf-c refuses it
    local t = int(1, 4) .. int(2, FLOAT) .. len(8, "w") .. varint(9 * 8 + 2) .. varint(1 << 40) .. floats{ 1, 2, 3, 4 }
    local bytes = model(graph{ nodes = { node("Relu", { "x" }, { "y" }) }, inits = { t },
                               inputs = { value_info("x", { 4 }) }, outputs = { value_info("y", { 4 }) } })
    local path = write_model(bytes)
    assert.matches("not a valid ONNX model", H.message(onnx.load, path))
  end)

  for _, field in ipairs{ "raw_data", "float_data" } do
    it("a Gemm's weight in " .. field .. " is held once: peak memory grows by about the weights", function()
      -- a 64 MB fc weight (transB = 1) in two tensors, as torch exports a
      -- Linear split in two: float_data then sits in protobuf-c's message too
      local K, N = 4096, 2048
      local wbytes = floats{ 0.25, -0.5, 0.75, 1 }:rep(K * N // 4)
      local values = field == "raw_data" and raw(wbytes) or len(4, wbytes)
      wbytes = nil
      local trans_b = len(1, "transB") .. int(3, 1) .. int(20, 2)   -- AttributeProto i (3), type INT (2)
      local bytes = model(graph{
        nodes = { node("Gemm", { "x", "w1" }, { "y1" }, { trans_b }),
                  node("Gemm", { "y1", "w2" }, { "y" }, { trans_b }) },
        inits = { tensor("w1", { N, K }, FLOAT, values), tensor("w2", { K, N }, FLOAT, values) },
        inputs = { value_info("x", { 1, K }) },
        outputs = { value_info("y", { 1, K }) },
      })
      values = nil
      local path = write_model(bytes)
      bytes = nil
      collectgarbage()
      local _, grew, y = peak_growth(path, "1, " .. K)
      local row = 0.25 - 0.5 + 0.75 + 1
      assert.equal(N / 4 * row * (K / 4 * row), y)
      local weights = 2 * K * N * 4 / 2 ^ 20
      print(string.format("onnx Gemm import (%s): peak grew %.0f MB for %.0f MB of weights", field, grew, weights))
      assert(grew < 1.4 * weights, string.format("peak grew %.0f MB for %.0f MB of weights", grew, weights))
    end)
  end

  it("the import's probe keeps its buffers for the first forward, which needs them anyway", function()
    -- ten Sigmoids in a chain on 1x64x256x256 (16 MB each): with static
    -- shapes the probe's buffers stay for the first forward (its traced pass
    -- holds one buffer per value before the memory plan pools them), so the
    -- import's peak is the first forward's, and the forward adds none
    local nodes, prev = {}, "x"
    for i = 1, 10 do
      nodes[i] = node("Sigmoid", { prev }, { "s" .. i })
      prev = "s" .. i
    end
    local dims = { 1, 64, 256, 256 }
    local path = write_model(model(graph{ nodes = nodes, inputs = { value_info("x", dims) },
                                          outputs = { value_info(prev, dims) } }))
    local grew, total, y = peak_growth(path, "1, 64, 256, 256")
    local v = 1
    for _ = 1, 10 do v = 1 / (1 + math.exp(-v)) end
    assert(math.abs(y - v) < 1e-6, y .. " vs " .. v)
    print(string.format("onnx probe: import peak grew %.0f MB, with the first forward %.0f MB, "
                        .. "for 10 activations of 16 MB", grew, total))
    -- the input (16 MB), the ten values, the probe's input awaiting collection
    -- (the plan's slots are the traced buffers: no arena beside them)
    assert(total < 12.5 * 16, string.format("peak grew %.0f MB", total))
    assert(total - grew < 16, string.format("the forward grew the peak %.0f MB past the import's", total - grew))
  end)
end)

-- x convolved with w (out,in,3,3, no padding) by im2col, without bias.
local function nn_conv(w, x)
  local conv = require("ember.nn").SpatialConvolution(w:size(2), w:size(1), 3, 3):noBias()
  conv.weight:copy(w)
  conv.algo = "im2col"
  return conv:forward(x):clone()
end

describe("ember.onnx Conv then BatchNormalization", function()
  it("folds the batch norm into a weight the probe already transformed (Winograd): no stale copy", function()
    -- a 3x3 conv, 32 -> 16 planes on 18x18 (Winograd's shape): the import's
    -- probe runs it, which transforms its weight; the batch norm after it is
    -- then folded into that weight in place, which must drop the transform
    ember.manualSeed(11)
    local cin, cout, n = 32, 16, 18
    local w = ember.randn(cout, cin, 3, 3)
    local scale, b, mean = ember.randn(cout), ember.randn(cout), ember.randn(cout)
    local var = ember.rand(cout) + 0.5
    local function init(name, t)
      local dims = t:size()
      return tensor(name, dims, FLOAT, raw(floats(t:contiguous():view(-1):totable())))
    end
    local path = write_model(model(graph{
      nodes = { node("Conv", { "x", "w" }, { "c" }),
                node("BatchNormalization", { "c", "s", "b", "m", "v" }, { "y" }) },
      inits = { init("w", w), init("s", scale), init("b", b), init("m", mean), init("v", var) },
      inputs = { value_info("x", { 1, cin, n, n }) },
      outputs = { value_info("y", { 1, cout, n - 2, n - 2 }) },
    }))
    local g = onnx.load(path)
    local conv = g.modules[1]
    assert.equal("nn.SpatialConvolution", conv.__typename)
    local x = ember.randn(1, cin, n, n)
    local y = g:forward(x):clone()
    assert.is_true(conv.wino_weight ~= nil and conv.wino_weight:nElement() > 0, "ran by Winograd")
    -- reference: the unfused convolution by im2col, then the batch norm by hand
    local ref = nn_conv(w, x)
    local yt, rt = y:view(-1):totable(), ref:view(-1):totable()
    local per = (n - 2) * (n - 2)
    for i = 1, #rt do
      local c = (i - 1) // per + 1
      local want = (rt[i] - mean:get(c)) / math.sqrt(var:get(c) + 1e-5) * scale:get(c) + b:get(c)
      assert(math.abs(yt[i] - want) < 1e-3 * math.max(1, math.abs(want)),
             string.format("element %d: %g, expected %g", i, yt[i], want))
    end
  end)
end)

describe("ember.onnx packed convolution weights", function()
  -- one 5x5 Conv (never Winograd) from cin to cout planes on an n x n input
  local function conv_model(cin, cout, n, with_bn)
    local w = ember.randn(cout, cin, 5, 5)
    local function init(name, t)
      return tensor(name, t:size(), FLOAT, raw(floats(t:contiguous():view(-1):totable())))
    end
    local nodes, inits = { node("Conv", { "x", "w" }, { with_bn and "c" or "y" }) }, { init("w", w) }
    local bn = {}
    if with_bn then
      bn.scale, bn.b, bn.mean, bn.var = ember.randn(cout), ember.randn(cout), ember.randn(cout), ember.rand(cout) + 0.5
      nodes[2] = node("BatchNormalization", { "c", "s", "b", "m", "v" }, { "y" })
      for k, v in pairs{ s = bn.scale, b = bn.b, m = bn.mean, v = bn.var } do inits[#inits + 1] = init(k, v) end
    end
    local path = write_model(model(graph{
      nodes = nodes, inits = inits,
      inputs = { value_info("x", { 1, cin, n, n }) },
      outputs = { value_info("y", { 1, cout, n - 4, n - 4 }) },
    }))
    return path, w, bn
  end
  -- the same convolution by a fresh module that packs nothing
  local function reference(w, x)
    local conv = require("ember.nn").SpatialConvolution(w:size(2), w:size(1), 5, 5):noBias()
    conv.weight:copy(w)
    return conv:forward(x):clone()
  end
  local function packed(g)
    local conv = g.modules[1]
    assert.equal("nn.SpatialConvolution", conv.__typename)
    return conv.packed_weight ~= nil and conv.packed_weight:nElement() > 0
  end
  local function max_diff(a, b) return (a - b):abs():max() end

  it("packs a small output's weight at load and gives the unpacked result", function()
    ember.manualSeed(21)
    local path, w = conv_model(8, 13, 21)   -- 17 x 17 = 289 output pixels
    local g = onnx.load(path)
    assert.is_true(packed(g), "packed by the probe, before the first forward")
    local x = ember.randn(1, 8, 21, 21)
    local y, ref = g:forward(x):clone(), reference(w, x)
    assert(max_diff(y, ref) < 1e-5 * ref:abs():max(), "packed result differs: " .. max_diff(y, ref))
    assert.is_false(packed(onnx.load(path, { packWeights = false })))
  end)

  it("keeps packing per call past the pixel limit, unless told to pack all", function()
    ember.manualSeed(22)
    local path, w = conv_model(8, 13, 23)   -- 19 x 19 = 361 output pixels
    assert.is_false(packed(onnx.load(path)))
    local g = onnx.load(path, { packWeights = true })
    assert.is_true(packed(g))
    local x = ember.randn(1, 8, 23, 23)
    local ref = reference(w, x)
    assert(max_diff(g:forward(x), ref) < 1e-5 * ref:abs():max())
  end)

  it("repacks a weight a batch norm was folded into after the probe packed it", function()
    ember.manualSeed(23)
    local path, w, bn = conv_model(8, 13, 20, true)
    local g = onnx.load(path)
    assert.is_true(packed(g))
    local x = ember.randn(1, 8, 20, 20)
    local y, ref = g:forward(x):clone(), reference(w, x)
    local yt, rt, per = y:view(-1):totable(), ref:view(-1):totable(), 16 * 16
    for i = 1, #rt do
      local c = (i - 1) // per + 1
      local want = (rt[i] - bn.mean:get(c)) / math.sqrt(bn.var:get(c) + 1e-5) * bn.scale:get(c) + bn.b:get(c)
      assert(math.abs(yt[i] - want) < 1e-3 * math.max(1, math.abs(want)),
             string.format("element %d: %g, expected %g", i, yt[i], want))
    end
  end)
end)
