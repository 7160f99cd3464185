-- spec/onnx_spec.lua -- ember.onnx.load: torchvision exports against PyTorch,
-- folding, external data, and every kind of broken file failing cleanly.

local ember = require "ember"
local onnx = require "ember.onnx"
local H = require "helper"

local DIR = H.REF .. "/onnx/"

local function have(name)
  local f = io.open(DIR .. name, "rb")
  if f then f:close() return true end
  return false
end

local function load_err(name, opts)
  local ok, err = pcall(onnx.load, DIR .. name, opts)
  assert.is_false(ok, name .. " loaded")
  return tostring(err)
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

describe("ember.onnx", function()
  if not have("chain.onnx") then
    it("needs make refs", function() pending("run make refs (spec/ref/ref_onnx.py)") end)
    return
  end

  describe("torchvision exports (opset 13) against PyTorch", function()
    for _, name in ipairs{ "resnet18", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x1_0",
                           "googlenet", "inception_v3", "resnet50", "alexnet" } do
      it(name, function()
        local g = onnx.load(DIR .. name .. ".onnx")
        local x = ember.load_npy(DIR .. name .. ".in.npy")
        local rel = H.close(g:forward(x), H.ref("onnx", name .. ".out"))
        print(string.format("onnx %s: max abs error %.3g x max |logit|", name, rel))
        -- BatchNormalization is folded into the convolutions, nothing of
        -- the exporter's shape arithmetic is left, and the zero Pad before
        -- Inception v3's average pools is the pools' own padding
        for _, m in ipairs(g.modules) do
          assert.is_not.equal("nn.SpatialBatchNormalization", m.__typename)
          assert.is_not.equal("nn.Gather", m.__typename)
          assert.is_not.equal("nn.Pad", m.__typename)
        end
      end)
    end
  end)

  describe("a symbolic batch dim (dynamic_axes)", function()
    for _, name in ipairs{ "shufflenet_v2_x1_0_dyn", "resnet18_dyn" } do
      it(name .. " runs batches of 2 and 1", function()
        local g = onnx.load(DIR .. name .. ".onnx")
        local x, ref = ember.load_npy(DIR .. name .. ".in.npy"), H.ref("onnx", name .. ".out")
        local rel = H.close(g:forward(x), ref)
        print(string.format("onnx %s: max abs error %.3g x max |logit|", name, rel))
        H.close(g:forward(x:narrow(1, 2, 1)), ref:narrow(1, 2, 1))
      end)
    end
    it("keeps no shape arithmetic at run time", function()
      -- each of the 16 blocks reads its input's shape twice: for the channel
      -- split (static: folded, pruned) and for the shuffle's views (batch:
      -- computed at run time, until the views and the transpose between them
      -- become one ChannelShuffle, which needs no shape)
      local g = onnx.load(DIR .. "shufflenet_v2_x1_0_dyn.onnx")
      assert.is_nil(require("ember.plan").memory(g), "a symbolic dim: planned by the first forward")
      local count = {}
      for _, m in ipairs(g.modules) do count[m.__typename] = (count[m.__typename] or 0) + 1 end
      assert.equal(16, count["nn.ChannelShuffle"])
      assert.is_nil(count["nn.Shape"])
      assert.is_nil(count["nn.Transpose"])
      assert.is_nil(count["nn.OnnxReshape"])
    end)

    it("keeps Reshape/Transpose/Reshape that is not a channel shuffle", function()
      local g = onnx.load(DIR .. "shuffle_like.onnx")
      local types = {}
      for _, m in ipairs(g.modules) do types[#types + 1] = m.__typename end
      assert.same({ "nn.OnnxReshape", "nn.Transpose", "nn.OnnxReshape" }, types)
      H.close(g:forward(ember.load_npy(DIR .. "shuffle_like.in.npy")), H.ref("onnx", "shuffle_like.out"))
    end)
  end)

  describe("folding", function()
    it("folds Shape/Gather/Unsqueeze/Concat, drops Identity and Dropout, folds BN into Conv", function()
      local g = onnx.load(DIR .. "chain.onnx", { fuse = false })   -- Relu kept (spec/fuse_spec.lua)
      local types = {}
      for _, m in ipairs(g.modules) do types[#types + 1] = m.__typename end
      assert.same({ "nn.SpatialConvolution", "nn.ReLU", "nn.OnnxReshape" }, types)
      assert.same({ 2, -1 }, g.modules[3].shape)
      assert.equal("conv", g.modules[1].name)
      H.close(g:forward(ember.load_npy(DIR .. "chain.in.npy")), H.ref("onnx", "chain.out"))
    end)

    it("keeps the probe's buffers for the first forward, fused copies included", function()
      -- static shapes: every module (the Conv fused with its Relu is a copy)
      -- holds its probe buffer, the first forward writes there and the plan
      -- keeps some as its slots; every forward gives the reference
      local g = onnx.load(DIR .. "chain.onnx")
      assert.equal("nn.SpatialConvolution", g.modules[1].__typename)
      assert.same({ "relu" }, g.modules[1].fusedNames)
      for _, m in ipairs(g.modules) do assert.is_true(m.output:nElement() > 0, m.name) end
      -- planned at load by a dry pass (ember.plan.prepare): the first
      -- forward runs no trace
      local plan = require "ember.plan"
      assert.is_not_nil(plan.memory(g))
      local conv_out = g.modules[1].output
      local x = ember.load_npy(DIR .. "chain.in.npy")
      local ref = H.ref("onnx", "chain.out")
      H.close(g:forward(x), ref)
      assert.is_true(g.modules[1].output:isSameStorage(conv_out))   -- a slot on the probe's storage
      H.close(g:forward(x), ref)
      H.close(g:forward(x), ref)
      -- without the probe nothing is kept
      local g2 = onnx.load(DIR .. "chain.onnx", { probe = false })
      assert.equal(0, g2.modules[1].output:nElement())
    end)

    it("gives the same result without the probe: the shape is then computed at run time", function()
      local g = onnx.load(DIR .. "chain.onnx", { probe = false, fuse = false })
      local types = {}
      for _, m in ipairs(g.modules) do types[#types + 1] = m.__typename end
      assert.same({ "nn.SpatialConvolution", "nn.ReLU", "nn.Shape", "nn.Gather", "nn.Unsqueeze",
                    "nn.JoinTable", "nn.OnnxReshape" }, types)
      H.close(g:forward(ember.load_npy(DIR .. "chain.in.npy")), H.ref("onnx", "chain.out"))
    end)

    it("takes several inputs and gives several outputs", function()
      local g = onnx.load(DIR .. "two.onnx")
      local a, b = ember.Tensor{ { 1, 2, 3 }, { 4, 5, 6 } }, ember.Tensor{ { 2, 2, 2 }, { 3, 3, 3 } }
      local out = g:forward{ a, b }
      assert.same({ { 3, 4, 5 }, { 7, 8, 9 } }, out[1]:totable())
      assert.same({ { 2, 4, 6 }, { 12, 15, 18 } }, out[2]:totable())
      local out2 = g:forward{ b = b, a = a }
      assert.same(out[2]:totable(), out2[2]:totable())
      assert.has_error(function() g:forward(a) end)
    end)
  end)

  describe("external data", function()
    it("reads weights beside the model (offset and length)", function()
      local g = onnx.load(DIR .. "external.onnx")
      H.close(g:forward(ember.load_npy(DIR .. "chain.in.npy")), H.ref("onnx", "chain.out"))
    end)
    it("names the file and the tensor when the data is missing", function()
      assert.matches("external_missing.onnx: tensor 'w': external data file 'nothere.bin' not found",
                     load_err("external_missing.onnx"))
    end)
    it("refuses absolute paths and ..", function()
      assert.matches("tensor 'w': external data location '/etc/passwd' is absolute", load_err("external_abs.onnx"))
      assert.matches("tensor 'w': external data location '../chain_w.bin' leaves the model's directory",
                     load_err("external_dotdot.onnx"))
    end)
    it("checks the length against the dims", function()
      assert.matches("tensor 'w': external data length 436, expected 432 bytes", load_err("external_length.onnx"))
    end)
  end)

  describe("bad models fail with one clear error", function()
    it("lists every unsupported operator with counts and node names", function()
      assert.equal(DIR .. "unsupported.onnx: 3 unsupported operators: NonMaxSuppression x2 (nms_1, nms_2), "
                   .. "TopK x1 (topk_0)", load_err("unsupported.onnx"))
    end)
    it("a cycle", function()
      assert.matches("cycle.onnx: the graph has a cycle through node 'add' %(Add%), node 'relu' %(Relu%)",
                     load_err("cycle.onnx"))
    end)
    it("a dangling input", function()
      assert.matches("dangling.onnx: node 'add' %(Add%): input 'ghost' is produced by nothing", load_err("dangling.onnx"))
    end)
    it("an initializer of the wrong size", function()
      assert.matches("short_init.onnx: tensor 'k': raw_data has 20 bytes, expected 24 %(6 float elements%)",
                     load_err("short_init.onnx"))
    end)
    it("absurd, negative and too many dims", function()
      assert.matches("absurd.onnx: tensor 'k': absurd size", load_err("absurd.onnx"))
      assert.matches("negative_dim.onnx: tensor 'k': dimension 1 is negative %(%-2%)", load_err("negative_dim.onnx"))
      assert.matches("nine_dims.onnx: tensor 'k': 9 dimensions, at most 8", load_err("nine_dims.onnx"))
    end)
    it("a size mismatch found at import names the node", function()
      assert.matches("bad_conv.onnx: node 'conv_7' %(Conv%): .*expected 5 input planes, got 3", load_err("bad_conv.onnx"))
    end)
    it("missing, empty and non-ONNX files", function()
      assert.matches("nothing.onnx: cannot open", load_err("nothing.onnx"))
      write(DIR .. "empty.tmp.onnx", "")
      assert.matches("empty.tmp.onnx: ", load_err("empty.tmp.onnx"))
      write(DIR .. "text.tmp.onnx", "this is not a protobuf\n")
      assert.matches("text.tmp.onnx: not a valid ONNX model", load_err("text.tmp.onnx"))
      os.remove(DIR .. "empty.tmp.onnx")
      os.remove(DIR .. "text.tmp.onnx")
    end)
    it("messages nested beyond any real model", function()
      -- GraphProto.node (field 1) holding NodeProto.attribute (5) holding
      -- AttributeProto.g (6), 200 times: rejected before protobuf-c recurses
      local function varint(n)
        local s = ""
        repeat
          local b = n % 128
          n = n // 128
          s = s .. string.char(n > 0 and b + 128 or b)
        until n == 0
        return s
      end
      local msg = ""
      for _ = 1, 200 do
        local attr = "\50" .. varint(#msg) .. msg              -- attribute.g = graph (field 6)
        local node = "\42" .. varint(#attr) .. attr            -- node.attribute (field 5)
        msg = "\10" .. varint(#node) .. node                   -- graph.node (field 1)
      end
      write(DIR .. "deep.tmp.onnx", "\58" .. varint(#msg) .. msg)   -- model.graph (field 7)
      assert.matches("nested more than", load_err("deep.tmp.onnx"))
      os.remove(DIR .. "deep.tmp.onnx")
    end)
  end)

  describe("fuzzing a real model", function()
    local data = read(DIR .. "chain.onnx")
    local x = ember.load_npy(DIR .. "chain.in.npy")

    it("every truncation fails with an error naming the file", function()
      local path = DIR .. "trunc.tmp.onnx"
      local n = 0
      for len = 0, #data - 1 do
        write(path, data:sub(1, len))
        local ok, err = pcall(onnx.load, path)
        if ok then
          -- a cut at a field boundary can leave a smaller valid model: it must run or fail cleanly
          pcall(err.forward, err, x)
        else
          assert.matches("trunc.tmp.onnx", tostring(err))
          n = n + 1
        end
      end
      os.remove(path)
      assert(n > #data * 0.9, n .. " of " .. #data .. " truncations failed")
    end)

    it("corrupted bytes never crash", function()
      local path = DIR .. "corrupt.tmp.onnx"
      local seed = 12345
      local function rnd(k)
        seed = (seed * 1103515245 + 12345) % 2147483648
        return seed % k
      end
      for _ = 1, 600 do
        local b = { data:byte(1, -1) }
        for _ = 1, 1 + rnd(4) do
          local at = 1 + rnd(#b)
          b[at] = rnd(3) == 0 and 255 or rnd(256)
        end
        write(path, string.char(table.unpack(b)))
        local ok, g = pcall(onnx.load, path)
        if ok then pcall(g.forward, g, x) else assert.matches("corrupt.tmp.onnx", tostring(g)) end
      end
      os.remove(path)
    end)
  end)

  describe("apps/convert.lua onnx", function()
    local exe = os.getenv("EMBER") or "./ember"
    local out = DIR .. "converted"

    it("writes a net file and weights that reload to the same outputs", function()
      os.remove(out .. ".lua")
      os.remove(out .. ".safetensors")
      local ok = os.execute(exe .. " apps/convert.lua onnx " .. DIR .. "chain.onnx --net " .. out
                            .. ".lua --weights " .. out .. ".safetensors > /dev/null")
      assert.is_true(ok)
      local src = read(out .. ".lua")
      -- one line per layer, named after the ONNX nodes, declared with nn.Graph
      assert.matches('nn.Graph%(%{ "x" %}, %{ "y" %}%)', src)
      assert.matches('g:add%(nn.SpatialConvolution%(3, 4, 3, 3, 1, 1, 1, 1%):named%("conv"%), "x", "c"%)', src)
      assert.matches('g:add%(nn.OnnxReshape%(%{ 2, %-1 %}%):named%("reshape"%), "r", "y"%)', src)
      local ok2, m = pcall(ember.load, { net = out .. ".lua", weights = out .. ".safetensors" })
      os.remove(out .. ".lua")
      os.remove(out .. ".safetensors")
      assert(ok2, tostring(m))
      local x = ember.load_npy(DIR .. "chain.in.npy")
      local g = onnx.load(DIR .. "chain.onnx", { fuse = false })
      assert.equal(0, (m:forward(x) - g:forward(x)):abs():max())
    end)

    it("leaves no file behind when the model is bad", function()
      os.remove(out .. ".lua")
      os.remove(out .. ".safetensors")
      local ok = os.execute(exe .. " apps/convert.lua onnx " .. DIR .. "cycle.onnx --net " .. out
                            .. ".lua --weights " .. out .. ".safetensors 2> /dev/null")
      assert.is_not_true(ok)
      for _, p in ipairs{ out .. ".lua", out .. ".safetensors", out .. ".lua.tmp", out .. ".safetensors.tmp" } do
        assert.is_nil(io.open(p, "rb"), p .. " exists")
      end
    end)
  end)

  describe("load_tensor", function()
    it("reads a TensorProto file", function()
      local p = "/usr/share/libonnx-testdata/data/node/test_relu/test_data_set_0/input_0.pb"
      local f = io.open(p, "rb")
      if not f then pending("libonnx-testdata is not installed") return end
      f:close()
      local t = onnx.load_tensor(p)
      assert.equal("float", t.dtype)
      assert.same({ 3, 4, 5 }, t.dims)
      assert.same({ 3, 4, 5 }, t.tensor:size())
      assert.has_error(function() onnx.load_tensor(DIR .. "nothing.pb") end)
    end)
  end)

  describe("nn.Graph", function()
    it("checks wiring when nodes are added", function()
      local nn = ember.nn
      local g = nn.Graph({ "x" }, { "y" })
      assert.has_error(function() g:add(nn.ReLU():named("r"), "nope", "y") end,
                       "nn.Graph:add: r: input 'nope' is produced by nothing before it")
      g:add(nn.ReLU():named("r"), "x", "y")
      assert.has_error(function() g:add(nn.ReLU():named("r2"), "x", "y") end,
                       "nn.Graph:add: r2: output 'y' is already defined")
      assert.same({ { 0, 2 } }, g:forward(ember.Tensor{ { -1, 2 } }):totable())
    end)
    it("names the node in run-time errors", function()
      local nn = ember.nn
      local g = nn.Graph({ "x" }, { "y" })
      g:add(nn.SpatialConvolution(3, 4, 3, 3):named("conv1"), "x", "y")
      local ok, err = pcall(g.forward, g, ember.Tensor(1, 2, 5, 5))
      assert.is_false(ok)
      assert.matches("conv1 SpatialConvolution%(3 %-> 4, 3x3%): expected 3 input planes, got 2", err)
    end)
    it("keeps no value between forwards, after an error either", function()
      local nn = ember.nn
      local g = nn.Graph({ "x" }, { "y" })
      g:add(nn.Narrow(2, 1, 2), "x", "h")
      g:add(nn.ReLU(), "h", "y")
      local seen = setmetatable({}, { __mode = "k" })
      local function run(shape)
        local x = ember.Tensor(table.unpack(shape)):fill(-1)
        seen[x] = true
        return pcall(g.forward, g, x)
      end
      local ok, y = run({ 2, 3 })
      assert.is_true(ok)
      assert.same({ { 0, 0 }, { 0, 0 } }, y:totable())
      assert.is_false((run({ 2, 1 })))   -- narrowing 2 of 1 column fails in the first node
      collectgarbage()
      collectgarbage()
      assert.is_nil(next(seen))   -- neither input is held by the graph
      ok, y = run({ 1, 4 })        -- and the next forward runs as before
      assert.is_true(ok)
      assert.same({ { 0, 0 } }, y:totable())
    end)
  end)
end)
