-- spec/fuse_spec.lua -- ember.fuse: activations and residual adds folded into
-- convolutions give the unfused graph's outputs, on torchvision nets and nn.Graph.

local ember = require "ember"
local H = require "helper"
local C = require "nets.check"
local fuse = require "ember.fuse"
local nn = ember.nn
local core = ember.core

-- The same net with its reference weights, fused (default) and not.
local function pair(name)
  local w = H.REF .. "/nets/" .. name .. ".safetensors"
  return ember.load{ net = C.netfile(name), weights = w },
         ember.load{ net = C.netfile(name), weights = w, fuse = false }
end

local function count(list, pattern)
  local n = 0
  for _, s in ipairs(list) do if s:find(pattern) then n = n + 1 end end
  return n
end

-- Every module of a tree, containers included.
local function walk(m, fn)
  fn(m)
  for _, c in ipairs(m.modules or {}) do walk(c, fn) end
end

describe("ember.fuse", function()
  for _, case in ipairs{
    { "resnet18", 17, 8, "relu", "layer1%.0%.conv2: .* %+ residual %+ relu$" },
    { "mobilenet_v2", 45, 10, "relu6", "features%.3%.conv%.2: .* %+ residual$" },
  } do
    local name, nfused, nres, act, example = table.unpack(case)
    it(name .. ": fused and unfused outputs agree within 1e-5 of the largest, and match PyTorch", function()
      local fused, plain = pair(name)
      local x = H.ref("nets", name .. ".input")
      local a = fused:forward(x):clone()
      local b = plain:forward(x):clone()
      C.close(a, b, 1e-5)
      C.close(a, H.ref("nets", name .. ".logits"), 1e-4)
      -- a second run with another batch size (the plan and the residuals again)
      local x2 = ember.randn(2, 3, 64, 64)
      C.close(fused:forward(x2):clone(), plain:forward(x2):clone(), 1e-5)
    end)

    it(name .. ": the graph says what was fused; m.net is left unfused", function()
      local fused, plain = pair(name)
      local list = fuse.report(fused.graph)
      assert.equal(nfused, #list)
      assert.equal(nres, count(list, "%+ residual"))
      assert.is_true(count(list, "%+ " .. act .. "$") > 0)
      assert.is_true(count(list, example) == 1, "no line like " .. example)
      assert.equal(0, #fuse.report(plain.graph))
      assert.equal(0, #fuse.report(fused.net))
      local s = tostring(fused.graph)
      assert.truthy(s:find("nn.FusedResidual", 1, true))
      assert.truthy(s:find("+ " .. act, 1, true))
      walk(fused.net, function(m) assert.is_nil(m.fusedAct) end)
      -- no ReLU or ReLU6 left behind a convolution in the running graph
      local acts = 0
      walk(fused.graph, function(m)
        if m.__typename == "nn.ReLU" or m.__typename == "nn.ReLU6" then acts = acts + 1 end
      end)
      assert.equal(0, acts)
    end)
  end

  -- x -> conv1 -> relu -> conv2 -> add(., x) -> relu6 -> y, plus a
  -- broadcasting add (conv3 + pooled) that must keep the unfused order
  local function small_graph(conv1, conv2, conv3)
    local g = nn.Graph({ "x" }, { "y", "z" })
    g:add(conv1, "x", "a")
    g:add(nn.ReLU(), "a", "b")
    g:add(conv2, "b", "c")
    g:add(nn.CAddTable(), { "c", "x" }, "d")
    g:add(nn.ReLU6(), "d", "y")
    g:add(nn.SpatialAdaptiveAveragePooling(1, 1), "x", "p")
    g:add(conv3, "y", "e")
    g:add(nn.CAddTable(), { "p", "e" }, "f")
    g:add(nn.ReLU(), "f", "z")
    return g:check()
  end

  it("nn.Graph: conv -> act and Add(conv, x) fused, equal outputs, original modules untouched", function()
    ember.manualSeed(11)
    local c1 = nn.SpatialConvolution(4, 4, 3, 3, 1, 1, 1, 1)
    local c2 = nn.SpatialConvolution(4, 4, 3, 3, 1, 1, 1, 1, 4)   -- depthwise
    local c3 = nn.SpatialConvolution(4, 4, 1, 1)
    local plain, fused = small_graph(c1, c2, c3), fuse.graph(small_graph(c1, c2, c3))
    local list = fuse.report(fused)
    assert.equal(3, #list)
    assert.truthy(list[1]:find("%) %+ relu$"))
    assert.truthy(list[2]:find("groups 4%) %+ residual %+ relu6$"))
    assert.truthy(list[3]:find("%+ residual %+ relu$"))   -- broadcast: falls back inside
    assert.equal(4, #fused.modules)                        -- 9 nodes, 5 folded away
    assert.is_nil(c1.fusedAct); assert.is_nil(c2.fusedNames)
    local x = ember.randn(2, 4, 9, 7)
    local p = plain:forward(x)
    local py, pz = p[1]:clone(), p[2]:clone()
    local f = fused:forward(x)
    C.close(f[1], py, 1e-5)
    C.close(f[2], pz, 1e-5)
  end)

  it("ember.load of an nn.Graph net: m.graph fused, m.net's graph and nodes left as declared", function()
    local decl = { input = { 4, 8, 8 }, build = function()
      local g = nn.Graph({ "x" }, { "y" })
      g:add(nn.SpatialConvolution(4, 4, 3, 3, 1, 1, 1, 1):named("c1"), "x", "a")
      g:add(nn.ReLU(), "a", "b")
      g:add(nn.SpatialConvolution(4, 4, 1, 1):named("c2"), "b", "c")
      g:add(nn.CAddTable(), { "x", "c" }, "d")
      g:add(nn.ReLU(), "d", "y")
      return g:check()
    end }
    local m = ember.load{ net = decl }
    assert.equal(2, #m.graph.modules)
    assert.equal(5, #m.net.modules)
    assert.same({ "a" }, m.net.nodes[1].outputs)
    ember.manualSeed(5)
    local x = ember.randn(2, 4, 8, 8)
    local want = m.net:forward(x):clone()
    C.close(m:forward(x), want, 1e-5)
  end)

  it("onnx.load fuses (chain.onnx: Conv -> Relu), and fuse = false keeps the Relu node", function()
    local onnx = require "ember.onnx"
    local dir = H.REF .. "/onnx/"
    local f, p = onnx.load(dir .. "chain.onnx"), onnx.load(dir .. "chain.onnx", { fuse = false })
    assert.equal(#p.modules - 1, #f.modules)
    assert.truthy(fuse.report(f)[1]:find("%+ relu$"))
    local x = ember.load_npy(dir .. "chain.in.npy")
    C.close(f:forward(x), p:forward(x), 1e-6)
    C.close(f:forward(x), H.ref("onnx", "chain.out"), 1e-4)
  end)

  it("leaves a ConcatTable alone when the body does not end in a convolution", function()
    local body = nn.Sequential():add(nn.SpatialConvolution(3, 3, 1, 1)):add(nn.ReLU())
    local s = nn.Sequential():add(nn.ConcatTable():add(body):add(nn.Identity())):add(nn.CAddTable())
    ember.manualSeed(2)
    local x = ember.randn(1, 3, 5, 5)
    local before = s:forward(x):clone()
    fuse.graph(s)
    assert.equal("nn.ConcatTable", s.modules[1].__typename)
    assert.equal(1, #fuse.report(s))            -- conv + relu inside the body only
    C.close(s:forward(x), before, 1e-6)
  end)

  it("core.conv2d checks the epilogue's residual and activation", function()
    local x, w, out = ember.randn(1, 2, 5, 5), ember.randn(2, 2, 3, 3), ember.Tensor()
    local bad = ember.randn(1, 2, 5, 5)
    assert.has_error(function()
      core.conv2d(x, out, w, nil, nil, 1, 1, 0, 0, 0, 0, 1, 1, 1, "relu", 0, 0, bad)
    end, "expected a residual of the output's shape 1x2x3x3, got 1x2x5x5")
    local ok, e = pcall(core.conv2d, x, out, w, nil, nil, 1, 1, 0, 0, 0, 0, 1, 1, 1, "bogus")
    assert.is_false(ok)
    assert.truthy(tostring(e):find("invalid option 'bogus'", 1, true))
    -- the residual is added before the activation
    local res = ember.randn(1, 2, 3, 3)
    local plain = core.conv2d(x, ember.Tensor(), w, nil, nil, 1, 1, 0, 0, 0, 0, 1, 1, 1)
    local want = core.act(plain + res, ember.Tensor(), "clamp", -0.5, 0.5)
    C.close(core.conv2d(x, out, w, nil, nil, 1, 1, 0, 0, 0, 0, 1, 1, 1, "clamp", -0.5, 0.5, res),
            want, 1e-6)
  end)
end)
