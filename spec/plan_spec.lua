-- spec/plan_spec.lua -- ember.plan: outputs equal with and without the plan,
-- no slot shared by two live buffers, no new storage in the steady state,
-- in-place activations and concat inputs in their slices.

local ember = require "ember"
local nn = require "ember.nn"
local plan = require "ember.plan"

local function conv_relu(nin, nout)
  return nn.Sequential():add(nn.SpatialConvolution(nin, nout, 3, 3, 1, 1, 1, 1)):add(nn.ReLU())
end

-- Sequential + Concat (inception) + ConcatTable/CAddTable (residual)
local function branchy()
  ember.manualSeed(3)
  local inc = nn.Concat(2):add(conv_relu(4, 3)):add(conv_relu(4, 5))
      :add(nn.Sequential():add(nn.SpatialMaxPooling(3, 3, 1, 1, 1, 1)):add(conv_relu(4, 2)))
  local res = nn.Sequential()
      :add(nn.ConcatTable():add(nn.Sequential():add(conv_relu(10, 10)):add(nn.SpatialConvolution(10, 10, 1, 1)))
                           :add(nn.Identity()))
      :add(nn.CAddTable()):add(nn.ReLU())
  return nn.Sequential():add(conv_relu(3, 4)):add(inc):add(res)
      :add(nn.SpatialAveragePooling(2, 2, 2, 2)):add(nn.ReLU())
end

-- a graph with a fork, a residual join and a concat of a value read earlier too
local function graph()
  ember.manualSeed(4)
  local g = nn.Graph({ "x" }, { "y" })
  g:add(nn.SpatialConvolution(3, 6, 3, 3, 1, 1, 1, 1), "x", "a")
  g:add(nn.ReLU(), "a", "b")
  g:add(nn.SpatialConvolution(6, 6, 1, 1), "b", "c")
  g:add(nn.Sigmoid(), "c", "d")
  g:add(nn.CAddTable(), { "d", "b" }, "e")
  g:add(nn.ReLU(), "e", "f")
  g:add(nn.CMulTable(), { "f", "a" }, "m")
  g:add(nn.JoinTable(2), { "m", "c" }, "y")   -- c is read twice, the second time here
  return g:check()
end

local function storages(net)
  local list = {}
  for _, b in ipairs(plan.get(net).buffers) do list[#list + 1] = b.module.output end
  return list
end

for name, make in pairs{ branchy = branchy, graph = graph } do
 for _, dry in ipairs{ false, true } do
  describe("ember.plan on " .. name .. (dry and ", traced dry," or ""), function()
    it("gives the same outputs, keeps live buffers apart and allocates nothing later", function()
      local x = ember.randn(1, 3, 9, 9)
      local ref = make():forward(x):clone()
      local net = plan.attach(make(), { dry = dry })
      local y1 = net:forward(x):clone()
      local y2 = net:forward(x)
      assert.equal(0, (y1 - ref):abs():max())
      assert.equal(0, (y2 - ref):abs():max())
      assert.is_true(plan.check(net))
      local mem = plan.memory(net)
      assert.is_true(mem.buffers > 0)
      assert.is_true(mem.arena_bytes < mem.naive_bytes)
      assert.is_true(mem.inplace > 0)
      assert.is_true(mem.joined > 0)   -- concat inputs written straight into its output
      local before = storages(net)
      local y3 = net:forward(x)
      assert.is_true(y3:isSameStorage(y2))
      for i, t in ipairs(storages(net)) do assert.is_true(t:isSameStorage(before[i]), "buffer " .. i) end
      assert.equal(0, (y3 - ref):abs():max())
      -- clearState drops the plan's outputs: the next forward plans again
      net:clearState()
      assert.equal(0, (net:forward(x) - ref):abs():max())
      local b1 = plan.get(net).buffers[1]
      assert.is_true(rawequal(b1.module.output, b1.view))
      -- a new input shape plans again, still right
      local x2 = ember.randn(2, 3, 7, 7)
      local r2 = make():forward(x2)
      assert.equal(0, (net:forward(x2) - r2):abs():max())
      assert.is_true(plan.check(net))
    end)
  end)
 end
end

-- ShuffleNet's units: a shuffle of a view and a convolution's output, then
-- one of two convolutions' outputs
local function shuffly()
  ember.manualSeed(5)
  local g = nn.Graph({ "x" }, { "z" })
  g:add(nn.SpatialConvolution(3, 8, 3, 3, 1, 1, 1, 1), "x", "a")
  g:add(nn.ReLU(), "a", "r")
  g:add(nn.Narrow(2, 1, 4), "r", "x1")
  g:add(nn.Narrow(2, 5, 4), "r", "x2")
  g:add(nn.SpatialConvolution(4, 4, 1, 1), "x2", "b")
  g:add(nn.ChannelShuffle(2), { "x1", "b" }, "s")
  g:add(nn.SpatialConvolution(8, 6, 1, 1), "s", "c")
  g:add(nn.SpatialConvolution(8, 6, 3, 3, 1, 1, 1, 1), "s", "d")
  g:add(nn.ChannelShuffle(2), { "c", "d" }, "y")
  g:add(nn.SpatialConvolution(12, 5, 1, 1), "y", "z")
  return g:check()
end

describe("ember.plan on channel shuffles", function()
  it("has the convolutions write into the shuffle's output, planes apart", function()
    for _, dry in ipairs{ false, true } do
      local x = ember.randn(1, 3, 7, 7)
      local ref = shuffly():forward(x):clone()
      local net = plan.attach(shuffly(), { dry = dry })
      assert.equal(0, (net:forward(x) - ref):abs():max())
      assert.equal(0, (net:forward(x) - ref):abs():max())
      assert.is_true(plan.check(net))
      local into = 0
      net:apply(function(m)
        if m.__typename == "nn.SpatialConvolution" and m.output:dim() == 4 and not m.output:isContiguous() then
          into = into + 1
          assert.equal(2 * 49, m.output:stride(2))   -- every other plane of the shuffle's output
        end
      end)
      assert.equal(3, into)   -- b, c and d; x1 is a view, copied by its shuffle
      -- a batch of two (planes apart in each image) and back
      local x2 = ember.randn(2, 3, 5, 5)
      assert.equal(0, (net:forward(x2) - shuffly():forward(x2)):abs():max())
      assert.equal(0, (net:forward(x) - ref):abs():max())
    end
  end)
end)

-- ResNet's block ends: convolutions given {h, residual} (as ember.fuse makes
-- them), the residual dying there or not, or a net input
local function residual_graph()
  ember.manualSeed(6)
  local g = nn.Graph({ "x" }, { "y" })
  local function relu(m) m.fusedAct = "relu" return m end
  g:add(relu(nn.SpatialConvolution(8, 8, 3, 3, 1, 1, 1, 1)), "x", "a")
  g:add(relu(nn.SpatialConvolution(8, 8, 1, 1)), { "a", "x" }, "b")           -- x: the net's input
  g:add(relu(nn.SpatialConvolution(8, 16, 3, 3, 1, 1, 1, 1)), "b", "c")
  g:add(relu(nn.SpatialConvolution(16, 8, 1, 1)), { "c", "b" }, "d")          -- b dies here
  g:add(nn.SpatialConvolution(8, 8, 3, 3, 1, 1, 1, 1), "d", "e")
  g:add(relu(nn.SpatialConvolution(8, 8, 3, 3, 1, 1, 1, 1)), { "e", "d" }, "f")   -- d read again after
  g:add(relu(nn.SpatialConvolution(8, 8, 1, 1)), { "f", "d" }, "h")          -- d dies here
  g:add(nn.JoinTable(2), { "h", "f" }, "y")
  return g:check()
end

describe("ember.plan on fused residuals", function()
  it("asks the core which convolutions may take their residual as output", function()
    local core = ember.core
    local q = core.conv2d_residual_in_place   -- cin, wo, kH, kW, dW, dH, dilW, dilH, groups, algo, scaled
    local isa = core.getISA()
    core.setISA("c")   -- OpenBLAS adds the residual after its product: never in place
    local portable = q(64, 14, 1, 1, 1, 1, 1, 1, 1, "auto", false)
    core.setISA(isa)
    assert.is_false(portable)
    if isa == "c" then return end   -- the rest is about the AVX2 paths
    assert.is_true(q(64, 14, 1, 1, 1, 1, 1, 1, 1, "auto", false))     -- the product
    assert.is_true(q(300, 14, 1, 1, 1, 1, 1, 1, 1, "auto", false))    -- k over one block, no scale
    assert.is_false(q(300, 14, 1, 1, 1, 1, 1, 1, 1, "auto", true))    -- with a scale
    assert.is_true(q(40, 14, 1, 1, 1, 1, 1, 1, 1, "auto", true))      -- one block with a scale
    assert.is_true(q(32, 16, 3, 3, 1, 1, 1, 1, 1, "auto", false))     -- Winograd
    assert.is_false(q(16, 16, 3, 3, 1, 1, 1, 1, 16, "auto", false))   -- depthwise
    assert.is_false(q(3, 112, 3, 3, 2, 2, 1, 1, 1, "auto", false))    -- the stems' direct kernel
    local ok, err = pcall(q, 16, 16, 3, 3, 1, 1, 1, 1, 0, "auto", false)
    assert.is_false(ok)
    assert.matches("at least 1", err)
  end)

  it("has a convolution write into the residual that dies at it", function()
    for _, dry in ipairs{ false, true } do
      local x = ember.randn(1, 8, 12, 12)
      local x0 = x:clone()
      local ref = residual_graph():forward(x):clone()
      local net = plan.attach(residual_graph(), { dry = dry })
      assert.equal(0, (net:forward(x) - ref):abs():max())
      assert.equal(0, (net:forward(x) - ref):abs():max())
      assert.equal(0, (x - x0):abs():max())   -- the net's input is never written
      assert.is_true(plan.check(net))
      local convs = {}
      net:apply(function(m) if m.__typename == "nn.SpatialConvolution" then convs[#convs + 1] = m end end)
      local flags = {}
      for i, m in ipairs(convs) do flags[i] = m.inplace and true or false end
      if ember.core.getISA() == "c" then   -- the portable paths: none in place
        assert.same({ false, false, false, false, false, false, false }, flags)
        return
      end
      assert.same({ false, false, false, true, false, false, true }, flags)
      -- the fourth's output is the second's buffer, not one of its own
      assert.is_true(convs[4].output:isSameStorage(convs[2].output))
      assert.is_true(convs[7].output:isSameStorage(convs[4].output))
      -- a new shape plans again from fresh outputs, still right
      local x2 = ember.randn(2, 8, 9, 9)
      assert.equal(0, (net:forward(x2) - residual_graph():forward(x2)):abs():max())
      assert.equal(0, (net:forward(x) - ref):abs():max())
    end
  end)
end)

describe("ember.plan on fused residuals, portable paths", function()
  it("keeps every convolution's own output", function()
    local core = ember.core
    local isa = core.getISA()
    core.setISA("c")
    local ok, err = pcall(function()
      local x = ember.randn(1, 8, 12, 12)
      local ref = residual_graph():forward(x):clone()
      local net = plan.attach(residual_graph())
      assert.equal(0, (net:forward(x) - ref):abs():max())
      assert.equal(0, (net:forward(x) - ref):abs():max())
      net:apply(function(m)
        if m.__typename == "nn.SpatialConvolution" then assert.is_falsy(m.inplace) end
      end)
    end)
    core.setISA(isa)
    assert(ok, err)
  end)
end)

describe("ember.plan traced dry", function()
  -- these layers' transforms are small: deferred only with DEFER_BYTES at 0
  local defer_bytes = plan.DEFER_BYTES
  before_each(function() plan.DEFER_BYTES = 0 end)
  after_each(function() plan.DEFER_BYTES = defer_bytes end)

  -- 32 -> 16 planes at 16x16: a layer the core runs by Winograd
  local function wino_net()
    ember.manualSeed(5)
    return nn.Sequential():add(nn.SpatialConvolution(3, 32, 3, 3, 1, 1, 1, 1)):add(nn.ReLU())
        :add(nn.SpatialConvolution(32, 16, 3, 3, 1, 1, 1, 1)):add(nn.ReLU())
  end

  it("runs the first pass by im2col and prepares Winograd weights in the next forwards", function()
    local x = ember.randn(1, 3, 16, 16)
    local by_im2col = wino_net()
    by_im2col:get(3).algo = "im2col"
    local r1 = by_im2col:forward(x):clone()
    local r2 = wino_net():forward(x):clone()   -- Winograd
    assert.is_true((r1 - r2):abs():max() > 0, "the two algorithms round differently")
    local net = plan.attach(wino_net(), { dry = true })
    local conv = net:get(3)
    assert.equal(0, (net:forward(x) - r1):abs():max())
    assert.equal(0, conv.wino_weight:nElement(), "nothing prepared by the first pass")
    assert.equal(1, #plan.get(net).deferred)
    assert.equal(0, (net:forward(x) - r2):abs():max())
    assert.is_true(conv.wino_weight:nElement() > 0)
    assert.equal(0, #plan.get(net).deferred)
    assert.is_nil(conv.deferPrepare)
    assert.equal(0, (net:forward(x) - r2):abs():max())
  end)

  it("prepares a transform under DEFER_BYTES when it plans, before the first pass", function()
    plan.DEFER_BYTES = defer_bytes
    local x = ember.randn(1, 3, 16, 16)
    local ref = wino_net():forward(x):clone()
    local net = plan.attach(wino_net(), { dry = true })
    plan.prepare(net, ember.Tensor(1, 3, 16, 16))   -- as ember.load plans: nothing runs
    assert.is_true(net:get(3).wino_weight:nElement() > 0, "transformed by the dry plan")
    assert.equal(0, #plan.get(net).deferred)
    assert.equal(0, (net:forward(x) - ref):abs():max())
    assert.is_true(net:get(3).weight:nElement() * 16 < plan.DEFER_BYTES)
  end)

  it("spreads the preparation over forwards, PREPARE_BYTES each", function()
    local x = ember.randn(1, 3, 16, 16)
    local ref = wino_net():forward(x):clone()
    local function make2()
      return wino_net():add(nn.SpatialConvolution(16, 8, 3, 3, 1, 1, 1, 1))   -- 8 outputs: im2col
          :add(nn.SpatialConvolution(8, 32, 3, 3, 1, 1, 1, 1))                 -- 8 inputs: im2col
          :add(nn.SpatialConvolution(32, 32, 3, 3, 1, 1, 1, 1))
    end
    local ref2 = make2():forward(x):clone()
    local net = make2()
    plan.attach(net, { dry = true })
    local keep = plan.PREPARE_BYTES
    plan.PREPARE_BYTES = 1   -- one weight per forward
    local ok, err = pcall(function()
      net:forward(x)
      assert.equal(2, #plan.get(net).deferred)
      net:forward(x)
      assert.equal(1, #plan.get(net).deferred)
      assert.equal(0, (net:forward(x) - ref2):abs():max())
      assert.equal(0, #plan.get(net).deferred)
    end)
    plan.PREPARE_BYTES = keep
    assert(ok, err)
    assert.is_true(ref:nElement() > 0)
  end)

  it("checks shapes as a real pass does", function()
    local net = plan.attach(wino_net(), { dry = true })
    local ok, err = pcall(net.forward, net, ember.randn(1, 4, 16, 16))
    assert.is_false(ok)
    assert.matches("expected 3 input planes, got 4", err)
  end)

  it("plans before the first forward with prepare, unless expect refuses a step", function()
    local x = ember.randn(1, 3, 16, 16)
    local ref = wino_net():forward(x):clone()
    local by_im2col = wino_net()
    by_im2col:get(3).algo = "im2col"
    local r1 = by_im2col:forward(x):clone()
    local net = plan.attach(wino_net())
    local seen = 0
    assert.is_true(plan.prepare(net, ember.Tensor(1, 3, 16, 16), function(m, out)
      seen = seen + 1
      return out:dim() == 4
    end))
    assert.equal(4, seen)
    assert.is_not_nil(plan.memory(net))
    -- the first forward defers the Winograd weight (as without prepare), the next prepares it
    assert.equal(0, (net:forward(x) - r1):abs():max())
    assert.equal(0, (net:forward(x) - ref):abs():max())
    assert.is_true(plan.check(net))
    local net2 = plan.attach(wino_net())
    assert.is_false(plan.prepare(net2, ember.Tensor(1, 3, 16, 16), function(m, out) return out:size(2) ~= 16 end))
    assert.is_nil(plan.memory(net2))
    assert.equal(0, (net2:forward(x) - ref):abs():max())
    assert.is_not_nil(plan.memory(net2))
    local ok, err = pcall(plan.prepare, wino_net(), x)
    assert.is_false(ok)
    assert.matches("attach the plan first", err)
  end)

  it("falls back to a real traced pass when the dry one fails", function()
    local core = require "ember.core"
    local Picky = require("ember.class")("spec.Picky", nn.Module)   -- refuses to run dry
    function Picky:updateOutput(x)
      local was = core.setDry(false)
      core.setDry(was)
      if was then error("garbage") end
      self.output = x:clone()
      return self.output
    end
    local x = ember.randn(1, 3, 16, 16)
    local ref = wino_net():forward(x):clone()
    local net = plan.attach(nn.Sequential():add(wino_net()):add(Picky()), { dry = true })
    assert.equal(0, (net:forward(x) - ref):abs():max())
    assert.equal(0, #plan.get(net).deferred, "the traced pass prepared the weights")
    assert.equal(0, (net:forward(x) - ref):abs():max())
    assert.is_true(plan.check(net))
  end)
end)

describe("ember.plan.check", function()
  it("finds two live buffers in one slot", function()
    local net = plan.attach(graph())
    net:forward(ember.randn(1, 3, 5, 5))
    local bs = plan.get(net).buffers
    bs[2].slot, bs[2].first, bs[2].last = bs[1].slot, bs[1].first, bs[1].last
    local ok, msg = plan.check(net)
    assert.is_false(ok)
    assert.matches("share slot", msg)
  end)
end)

describe("ember.plan slots", function()
  it("keep the storages the traced forward wrote (no second arena on the first forward)", function()
    local x = ember.randn(1, 3, 9, 9)
    local ref = graph():forward(x):clone()
    local net = plan.attach(graph())
    local outs = {}
    local y1 = net:forward(x):clone()
    local mem = plan.memory(net)
    assert.equal(mem.slots, mem.reused)
    assert.equal(0, (y1 - ref):abs():max())
    for _, b in ipairs(plan.get(net).buffers) do outs[#outs + 1] = b.module.output end
    assert.equal(0, (net:forward(x) - ref):abs():max())
    assert.equal(0, (net:forward(x) - ref):abs():max())
    assert.is_true(plan.check(net))
  end)

  it("free the first trace's garbage by collector steps after the next forwards, a replan at once", function()
    local x = ember.randn(1, 3, 9, 9)
    local ref = graph():forward(x):clone()
    local net = plan.attach(graph())
    net:forward(x)
    assert.is_true(plan.get(net).collect, "collection left to the next forwards")
    local n = 0
    repeat
      assert.equal(0, (net:forward(x) - ref):abs():max())
      n = n + 1
    until not plan.get(net).collect or n > 10000
    assert.is_nil(plan.get(net).collect, "a cycle finished")
    net:forward(ember.randn(1, 3, 11, 11))   -- another shape: planned again
    assert.is_nil(plan.get(net).collect, "a replan collects at once")
  end)

  it("never take a storage the module did not make: the net's input, a constant", function()
    -- Identity returns its input (the caller's tensor) as its own output,
    -- Unsqueeze of a constant a view of it: neither may become a slot that
    -- later values are written into
    local g = nn.Graph({ "x" }, { "y" })
    local k = ember.randn(1, 2, 4, 4)
    g:constant("k", k)
    g:add(nn.Identity(), "x", "i")
    g:add(nn.Identity(), "k", "kk")
    g:add(nn.CAddTable(), { "i", "kk" }, "s")
    g:add(nn.Sigmoid(), "s", "t")
    g:add(nn.CMulTable(), { "t", "i" }, "y")
    g:check()
    local x = ember.randn(1, 2, 4, 4)
    local x0, k0 = x:clone(), k:clone()
    local ref = nn.Sigmoid():forward(x0 + k0):clone():cmul(x0)
    plan.attach(g)
    for _ = 1, 3 do
      assert.equal(0, (g:forward(x) - ref):abs():max())
      assert.equal(0, (x - x0):abs():max())
      assert.equal(0, (k - k0):abs():max())
    end
    assert.is_true(plan.check(g))
  end)
end)
