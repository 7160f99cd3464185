-- spec/model_spec.lua -- ember.load: finding net and weights files, errors at
-- the net file's line, no half-loaded model, batch-norm folding, classify.

local ember = require "ember"
local C = require "nets.check"
local H = require "helper"

local write = H.write

-- A small conv-bn-relu net with named layers, as a net file.
local SMALL = [[
local function build(opts)
  local n = opts.num_classes or 4
  return nn.Sequential()
    :add(nn.SpatialConvolution(3, 6, 3, 3, 1, 1, 1, 1):noBias():named("conv"))
    :add(nn.SpatialBatchNormalization(6, 1e-5):named("bn"))
    :add(nn.ReLU(true))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(6, n):named("fc"))
end
return { build = build, input = { 3, 8, 8 }, labels = { "a", "b", "c", "d" },
         preprocess = { mean = { 0.5, 0.25, 0 }, std = { 2, 4, 1 } } }
]]

-- the temporary tree goes when the file's specs are done
local tmpdir, remove_tmp = H.tmpdir("nets", "weights", "lua/ember")
teardown(remove_tmp)

-- Weights for SMALL with non-trivial batch-norm statistics.
local function small_weights()
  ember.manualSeed(11)
  return {
    ["conv.weight"] = ember.randn(6, 3, 3, 3),
    ["bn.weight"] = ember.rand(6) + 0.5,
    ["bn.bias"] = ember.randn(6),
    ["bn.running_mean"] = ember.randn(6),
    ["bn.running_var"] = ember.rand(6) + 0.5,
    ["fc.weight"] = ember.randn(4, 6),
    ["fc.bias"] = ember.randn(4),
  }
end

local function small_files()
  local d = tmpdir()
  write(d .. "/nets/small.lua", SMALL)
  ember.safetensors.save(d .. "/weights/small.safetensors", small_weights())
  return d .. "/nets/small.lua", d .. "/weights/small.safetensors"
end

local function load_error(spec)
  local ok, err = pcall(ember.load, spec)
  assert.is_false(ok)
  return err
end

describe("ember.load", function()
  it("loads a net file with a weights file, by name", function()
    local net, weights = small_files()
    local m = ember.load{ net = net, weights = weights }
    local file = ember.safetensors.load(weights)
    local state = m.net:state()
    for name, t in pairs(file) do
      assert.equal(0, (state[name] - t):abs():max(), name)
    end
    assert.same({ 3, 8, 8 }, m.input)
    assert.same({ "a", "b", "c", "d" }, m.labels)
  end)

  it("finds nets/<name>.lua and weights/<name>.safetensors in the source tree", function()
    local d = tmpdir()
    small_files()
    write(d .. "/lua/ember/init.lua", "")
    local saved = package.path
    package.path = d .. "/lua/?/init.lua;" .. saved
    local ok, m = pcall(ember.load, "small")
    package.path = saved
    assert(ok, m)
    assert.equal(d .. "/lua/ember/../../nets/small.lua", m.path)
    assert.equal(d .. "/lua/ember/../../weights/small.safetensors", m.weights)
  end)

  it("looks in each directory of $EMBER_PATH", function()
    local d = tmpdir()
    write(d .. "/nets/onpath.lua", SMALL)
    local saved = os.getenv
    os.getenv = function(k) if k == "EMBER_PATH" then return "/nonexistent:" .. d end return saved(k) end
    local ok, m = pcall(ember.load, { net = "onpath" })
    os.getenv = saved
    assert(ok, m)
    assert.equal(d .. "/nets/onpath.lua", m.path)
  end)

  it("says where it looked for a missing net or weights file", function()
    local d = tmpdir()
    write(d .. "/nets/lonely.lua", SMALL)
    write(d .. "/lua/ember/init.lua", "")
    local saved = package.path
    package.path = d .. "/lua/?/init.lua;" .. saved
    local e1 = load_error("no_such_net")
    local e2 = load_error("lonely")
    package.path = saved
    assert.matches("no net named 'no_such_net' (looked for nets/no_such_net.lua, "
      .. d .. "/lua/ember/../../nets/no_such_net.lua, "
      .. d .. "/lua/ember/../../../ember/nets/no_such_net.lua)", e1, 1, true)
    assert.matches("no weights for 'lonely' (looked for weights/lonely.safetensors, "
      .. d .. "/lua/ember/../../weights/lonely.safetensors, "
      .. d .. "/lua/ember/../../../ember/weights/lonely.safetensors)", e2, 1, true)
    assert.matches("cannot open net file nets/nope.lua", load_error{ net = "nets/nope.lua" }, 1, true)
  end)

  it("takes a net name in the table form, without weights", function()
    local m = ember.load{ net = "lenet" }
    assert.equal("nets/lenet.lua", m.path)
    assert.is_nil(m.weights)
    assert.equal("lenet", m.name)
  end)

  it("passes options to build (num_classes)", function()
    local net = small_files()
    local m = ember.load{ net = net, num_classes = 9 }
    assert.same({ 9, 6 }, m.net:state()["fc.weight"]:size())
  end)

  it("reports a net file's errors at its file and line", function()
    local d = tmpdir()
    write(d .. "/nets/bad1.lua", "local x = 1\nlocal y = (\n")
    assert.matches(d .. "/nets/bad1.lua:3:", load_error{ net = d .. "/nets/bad1.lua" }, 1, true)
    write(d .. "/nets/bad2.lua", "local function build()\n  return nn.Sequential()\n"
      .. "    :add(nn.SpatialConvolution(3, 8, 0, 3))\nend\nreturn { build = build }\n")
    local err = load_error{ net = d .. "/nets/bad2.lua" }
    assert.matches(d .. "/nets/bad2.lua:3: ", err, 1, true)
    assert.matches("kW must be a positive integer, got 0", err, 1, true)
    write(d .. "/nets/bad3.lua", "return { build = function() return nn.NoSuchLayer() end }\n")
    assert.matches(d .. "/nets/bad3.lua:1: ember.nn has no layer named 'NoSuchLayer'",
      load_error{ net = d .. "/nets/bad3.lua" }, 1, true)
    write(d .. "/nets/bad4.lua", "return 42\n")
    assert.matches("a net file must return a table with a build function, got number",
      load_error{ net = d .. "/nets/bad4.lua" }, 1, true)
    write(d .. "/nets/bad5.lua", "return { build = function() return 1 end }\n")
    assert.matches("build returned number, expected an nn module",
      load_error{ net = d .. "/nets/bad5.lua" }, 1, true)
  end)

  it("runs net files without file access or printing", function()
    local d = tmpdir()
    write(d .. "/nets/io.lua", "io.open('/etc/passwd')\nreturn {}\n")
    assert.matches("io.lua:1: .*global 'io'", load_error{ net = d .. "/nets/io.lua" })
    write(d .. "/nets/pr.lua", "print('hi')\nreturn {}\n")
    assert.matches("pr.lua:1: .*global 'print'", load_error{ net = d .. "/nets/pr.lua" })
  end)

  it("returns no model when the weights do not fit", function()
    local d = tmpdir()
    local net = small_files()
    local w = small_weights()
    w["fc.weight"] = ember.randn(5, 6)
    w["bn.running_var"] = nil
    ember.safetensors.save(d .. "/weights/bad.safetensors", w)
    local ok, m = pcall(ember.load, { net = net, weights = d .. "/weights/bad.safetensors" })
    assert.is_false(ok)
    assert.matches("bad.safetensors: 1 missing (bn.running_var)", m, 1, true)
    assert.matches("fc.weight: file 5x6, net 4x6", m, 1, true)
  end)

  it("loads a partial weights file with strict = false", function()
    local d = tmpdir()
    local net = small_files()
    local w = small_weights()
    w["fc.weight"], w["fc.bias"] = nil, nil
    ember.safetensors.save(d .. "/weights/partial.safetensors", w)
    local p = d .. "/weights/partial.safetensors"
    assert.matches("2 missing (fc.bias, fc.weight)", load_error{ net = net, weights = p }, 1, true)
    local m = ember.load{ net = net, weights = p, strict = false }
    assert.equal(0, (m.net:state()["bn.bias"] - w["bn.bias"]):abs():max())
  end)

  it("rejects a spec that is neither a name nor a table", function()
    assert.matches("expected a net name or a table", load_error(42), 1, true)
    assert.matches("weights must be a path", load_error{ net = "lenet", weights = 1 }, 1, true)
  end)
end)

describe("a loaded model", function()
  it("runs batch norm folded into the convolution, keeping m.net as loaded", function()
    local net, weights = small_files()
    local folded = ember.load{ net = net, weights = weights }
    local plain = ember.load{ net = net, weights = weights, fold = false }
    assert.equal("nn.Identity", folded.graph.modules[2].__typename)
    assert.equal("nn.SpatialBatchNormalization", folded.net.modules[2].__typename)
    -- the folded conv is a copy that keeps the loaded weight (no second set
    -- of weights) and applies the batch norm's scale in the kernel
    assert.is_not.equal(folded.net.modules[1], folded.graph.modules[1])
    assert.equal(folded.net.modules[1].weight, folded.graph.modules[1].weight)
    assert.is_true(ember.isTensor(folded.graph.modules[1].bnScale))
    assert.is_nil(folded.net.modules[1].bnScale)
    ember.manualSeed(5)
    local x = ember.randn(2, 3, 8, 8)
    C.close(folded:forward(x):clone(), plain:forward(x), 1e-5)
    -- m.net still gives the file's values
    local file = ember.safetensors.load(weights)
    assert.equal(0, (folded.net:state()["conv.weight"] - file["conv.weight"]):abs():max())
  end)

  it("is planned at load for its declared input; other shapes plan on their first forward", function()
    local net, weights = small_files()
    local m = ember.load{ net = net, weights = weights }
    local plain = ember.load{ net = net, weights = weights, plan = false }
    local mem = m:memory()
    assert.is_not_nil(mem, "planned for 1x3x8x8 by the load")
    assert.is_nil(plain:memory())
    ember.manualSeed(6)
    local x = ember.randn(1, 3, 8, 8)
    assert.equal(0, (m:forward(x):clone() - plain:forward(x)):abs():max())
    assert.equal(mem.arena_bytes, m:memory().arena_bytes)
    local x2 = ember.randn(2, 3, 10, 10)
    assert.equal(0, (m:forward(x2):clone() - plain:forward(x2)):abs():max())
    assert.is_true(m:memory().arena_bytes > mem.arena_bytes)
  end)

  it("keeps packed weights with packWeights = true: the same outputs, packed again on refold", function()
    local net, weights = small_files()
    local plain = ember.load{ net = net, weights = weights }
    local packed = ember.load{ net = net, weights = weights, packWeights = true }
    ember.manualSeed(6)
    local x = ember.randn(2, 3, 8, 8)
    local function npacked(m)
      local n = 0
      m.graph:apply(function(c) if c.packed_weight and c.packed_weight:nElement() > 0 then n = n + 1 end end)
      return n
    end
    assert.equal(0, npacked(plain))
    local y = plain:forward(x):clone()
    assert.equal(0, (packed:forward(x) - y):abs():max())
    assert.is_true(npacked(packed) > 0)
    -- a weight of m.net changed, then refold: packed again from the new weight
    packed.net.modules[1].weight:mul(2)
    packed:refold()
    assert.equal(0, npacked(packed))
    plain.net.modules[1].weight:mul(2)
    plain:refold()
    assert.equal(0, (packed:forward(x) - plain:forward(x)):abs():max())
  end)

  it("refolds after m.net's weights change", function()
    local net, weights = small_files()
    local m = ember.load{ net = net, weights = weights, fold = true }
    local plain = ember.load{ net = net, weights = weights, fold = false }
    local x = ember.randn(1, 3, 8, 8)
    m.net:state()["bn.running_mean"]:fill(0.25)
    plain.net:state()["bn.running_mean"]:fill(0.25)
    m:refold()
    C.close(m:forward(x):clone(), plain:forward(x), 1e-5)
  end)

  it("takes one C,H,W image and drops the batch dimension", function()
    local net, weights = small_files()
    local m = ember.load{ net = net, weights = weights }
    local x = ember.randn(3, 8, 8)
    local one = m:forward(x):clone()
    assert.same({ 4 }, one:size())
    local batch = m:forward(x:view(1, 3, 8, 8))
    assert.equal(0, (batch[1] - one):abs():max())
  end)

  it("rejects inputs of the wrong rank or channel count", function()
    local net, weights = small_files()
    local m = ember.load{ net = net, weights = weights }
    assert.has_error(function() m:forward(ember.randn(8, 8)) end,
      "small: expected a C,H,W image or an N,C,H,W batch, got a 2-dimensional tensor (8x8)")
    assert.has_error(function() m:forward(ember.randn(1, 4, 8, 8)) end,
      "small: expected 3 input channels, got 4 (1x4x8x8)")
    assert.has_error(function() m:forward("x") end, "small: expected an ember.Tensor, got string")
  end)

  it("classifies: top k of the softmax, with labels", function()
    local net, weights = small_files()
    local m = ember.load{ net = net, weights = weights }
    local x = ember.randn(3, 8, 8)
    local top = m:classify(x, 4)
    local out = m:forward(x):totable()
    local mx = math.max(table.unpack(out))
    local sum = 0
    for _, v in ipairs(out) do sum = sum + math.exp(v - mx) end
    assert.equal(4, #top)
    for j, c in ipairs(top) do
      assert.near(math.exp(out[c.index] - mx) / sum, c.prob, 1e-6)
      assert.equal(({ "a", "b", "c", "d" })[c.index], c.label)
      if j > 1 then assert.is_true(top[j - 1].prob >= c.prob) end
    end
    assert.equal(2, #m:classify(x, 2))
  end)

  it("normalises with the declared mean and std", function()
    local net, weights = small_files()
    local m = ember.load{ net = net, weights = weights }
    local x = ember.rand(3, 8, 8)
    local y = m:normalize(x)
    assert.near((x[2][3][4] - 0.25) / 4, y[2][3][4], 1e-6)
    assert.near((x[1][1][1] - 0.5) / 2, y[1][1][1], 1e-6)
    local a = m:classify(y, 1)[1]
    local b = m:classify(x, 1, { normalize = true })[1]
    assert.equal(a.index, b.index)
    assert.near(a.prob, b.prob, 1e-6)
  end)
  it("keeps m.net runnable and unchanged when the running graph of an nn.Graph net is fused", function()
    local d = tmpdir()
    write(d .. "/g.lua", [[
      local g = nn.Graph({"x"}, {"y"})
      g:add(nn.SpatialConvolution(3, 8, 3, 3, 1, 1, 1, 1):named("c1"), "x", "a")
      g:add(nn.ReLU(), "a", "c")
      g:add(nn.SpatialConvolution(8, 8, 3, 3, 1, 1, 1, 1):named("c2"), "c", "d")
      g:add(nn.CAddTable(), {"d", "c"}, "e")
      g:add(nn.ReLU(), "e", "y")
      return { build = function() return g end, input = {3, 8, 8} }
    ]])
    local m = ember.load{ net = d .. "/g.lua" }
    local wiring = {}
    for i, node in ipairs(m.net.nodes) do wiring[i] = table.concat(node.inputs, ",") .. ">" .. table.concat(node.outputs, ",") end
    ember.manualSeed(3)
    local x = ember.randn(1, 3, 8, 8)
    local a = m:forward(x):clone()
    local b = m.net:forward(x)
    assert(H.maxdiff(a, b) <= 1e-5)
    for i, node in ipairs(m.net.nodes) do
      assert.equal(wiring[i], table.concat(node.inputs, ",") .. ">" .. table.concat(node.outputs, ","))
    end
  end)
end)
