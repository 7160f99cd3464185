-- spec/load_spec.lua -- ember.load with a weights file builds the net with
-- deferred initialisation (ember.nn.util.deferInit): same model, no value
-- left uninitialised, nothing changed for modules made outside a load.

local ember = require "ember"
local core = require "ember.core"
local nn = require "ember.nn"
local util = require "ember.nn.util"
local weights = require "ember.weights"
local H = require "helper"

-- conv (with and without bias) + bn + relu, a residual-free Sequential, an
-- unnamed Linear whose weights no file can name
local NET = [[
local function build(opts)
  return nn.Sequential()
    :add(nn.SpatialConvolution(3, 6, 3, 3, 1, 1, 1, 1):noBias():named("conv1"))
    :add(nn.SpatialBatchNormalization(6, 1e-5):named("bn1"))
    :add(nn.ReLU(true))
    :add(nn.SpatialConvolution(6, 8, 3, 3, 1, 1, 1, 1):named("conv2"))
    :add(nn.SpatialBatchNormalization(8, 1e-3):named("bn2"))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(8, 5):named("fc"))
    :add(opts.extra and nn.Linear(5, 3) or nn.Identity())
end
return { build = build, input = { 3, 10, 10 } }
]]

local tmpdir, remove_tmp = H.tmpdir("nets", "weights")
teardown(remove_tmp)

local function state()
  ember.manualSeed(5)
  return {
    ["conv1.weight"] = ember.randn(6, 3, 3, 3),
    ["bn1.weight"] = ember.rand(6) + 0.5, ["bn1.bias"] = ember.randn(6),
    ["bn1.running_mean"] = ember.randn(6), ["bn1.running_var"] = ember.rand(6) + 0.5,
    ["conv2.weight"] = ember.randn(8, 6, 3, 3), ["conv2.bias"] = ember.randn(8),
    ["bn2.weight"] = ember.rand(8) + 0.5, ["bn2.bias"] = ember.randn(8),
    ["bn2.running_mean"] = ember.randn(8), ["bn2.running_var"] = ember.rand(8) + 0.5,
    ["fc.weight"] = ember.randn(5, 8), ["fc.bias"] = ember.randn(5),
  }
end

local function files(tensors)
  local d = tmpdir()
  H.write(d .. "/nets/small.lua", NET)
  ember.safetensors.save(d .. "/weights/small.safetensors", tensors or state())
  return d .. "/nets/small.lua", d .. "/weights/small.safetensors"
end

local function input()
  ember.manualSeed(9)
  return ember.randn(2, 3, 10, 10)
end

-- every value of t lies in [lo, hi] (and so is a number, not NaN)
local function within(t, lo, hi)
  for _, v in ipairs(t:contiguous():view(-1):totable()) do
    if not (v >= lo and v <= hi) then return false end
  end
  return true
end

describe("deferred initialisation", function()
  it("gives the same model as building with initial values, then loading", function()
    local net, w = files()
    local deferred = ember.load{ net = net, weights = w }
    -- the old way: a net with its random initial weights, the file applied after
    local plain = ember.load{ net = net }
    weights.load(plain.net, w)
    plain:refold()
    local x = input()
    assert.are.equal(0, H.maxdiff(deferred:forward(x), plain:forward(x)))
    local sd, sp = deferred.net:state(), plain.net:state()
    for name, t in pairs(sp) do assert.are.equal(0, H.maxdiff(sd[name], t), name) end
    -- and the file's values, unchanged by folding
    for name, t in pairs(state()) do assert.are.equal(0, H.maxdiff(sd[name], t), name) end
  end)

  it("folds exactly as BatchNormalization:foldInto does in place, the scale kept apart", function()
    local net, w = files()
    local m = ember.load{ net = net, weights = w, fuse = false }
    local c2, bn2 = m.net.modules[4], m.net.modules[5]
    local conv = nn.SpatialConvolution(6, 8, 3, 3, 1, 1, 1, 1)   -- a copy of conv2, by hand
    conv.weight:copy(c2.weight)
    conv.bias:copy(c2.bias)
    local bn = nn.SpatialBatchNormalization(8, 1e-3)
    for _, f in ipairs{ "weight", "bias", "running_mean", "running_var" } do bn[f]:copy(bn2[f]) end
    bn:foldInto(conv)
    local g = m.graph.modules[4]
    assert.are_not.equal(c2, g)
    -- the weight stays the loaded tensor; the kernel multiplies by bnScale
    assert.is_true(g.weight:isSameStorage(c2.weight))
    assert.are.equal(0, H.maxdiff(g.weight * g.bnScale:view(8, 1, 1, 1), conv.weight))
    assert.are.equal(0, H.maxdiff(g.bias, conv.bias))
  end)

  it("still raises the clear error for a missing tensor, and leaves nothing deferred", function()
    local t = state()
    t["conv2.bias"], t["bn1.running_var"] = nil, nil
    local net, w = files(t)
    local ok, err = pcall(ember.load, { net = net, weights = w })
    assert.is_false(ok)
    assert.matches("small.safetensors: 2 missing %(bn1.running_var, conv2.bias%)", err)
    -- the next module made by hand is initialised as always
    local lin = nn.Linear(4, 3)
    assert.is_true(within(lin.weight, -0.5, 0.5))
    assert.is_true(lin.weight:norm() > 0)
  end)

  it("initialises what the file lacks under strict = false, keeps what it has", function()
    local t = state()
    t["conv2.bias"], t["bn1.running_var"], t["bn1.running_mean"] = nil, nil, nil
    local net, w = files(t)
    local m = ember.load{ net = net, weights = w, strict = false, extra = true }
    local conv2, bn1 = m.net.modules[4], m.net.modules[2]
    -- Torch7's reset: conv in +-1/sqrt(fan-in), batch norm mean 0, var 1
    local stdv = 1 / math.sqrt(6 * 3 * 3)
    assert.is_true(within(conv2.bias, -stdv, stdv))
    assert.is_true(conv2.bias:norm() > 0)
    assert.are.equal(0, bn1.running_mean:norm())
    assert.are.equal(0, H.maxdiff(bn1.running_var, core.tensor(6):fill(1)))
    -- in a module reset for its missing tensors, the file's ones still win
    assert.are.equal(0, H.maxdiff(bn1.weight, t["bn1.weight"]))
    assert.are.equal(0, H.maxdiff(conv2.weight, t["conv2.weight"]))
    -- modules the file covers hold its values
    assert.are.equal(0, H.maxdiff(m.net.modules[1].weight, t["conv1.weight"]))
    assert.are.equal(0, H.maxdiff(m.net.modules[8].weight, t["fc.weight"]))
    -- the unnamed Linear, which no file can name: initialised
    local extra = m.net.modules[9]
    assert.is_true(within(extra.weight, -1 / math.sqrt(5), 1 / math.sqrt(5)))
    assert.is_true(extra.weight:norm() > 0)
    local out = m:forward(input())
    assert.is_true(within(out, -1e30, 1e30))
  end)

  it("fails whole on a mis-shaped tensor", function()
    local t = state()
    t["fc.weight"] = ember.randn(5, 7)
    local net, w = files(t)
    local ok, err = pcall(ember.load, { net = net, weights = w })
    assert.is_false(ok)
    assert.matches("mis%-shaped %(fc.weight: file 5x7, net 5x8%)", err)
  end)

  it("leaves modules made by hand exactly as Torch7 initialises them", function()
    ember.manualSeed(3)
    local conv = nn.SpatialConvolution(4, 5, 3, 3)
    ember.manualSeed(3)
    local stdv = 1 / math.sqrt(4 * 3 * 3)
    local w = core.tensor(5, 4, 3, 3):uniform(-stdv, stdv)
    local b = core.tensor(5):uniform(-stdv, stdv)
    assert.are.equal(0, H.maxdiff(conv.weight, w))
    assert.are.equal(0, H.maxdiff(conv.bias, b))
    local bn = nn.SpatialBatchNormalization(5)
    assert.are.equal(0, bn.running_mean:norm())
    assert.are.equal(0, H.maxdiff(bn.running_var, core.tensor(5):fill(1)))
  end)

  it("deferInit lists the modules that deferred, and restores itself on error", function()
    local list, conv = util.deferInit(function() return nn.SpatialConvolution(2, 3, 1, 1):setGroups(1) end)
    assert.are.equal(1, #list)
    assert.are.equal(conv, list[1])
    conv:reset()
    assert.is_true(within(conv.weight, -1 / math.sqrt(2), 1 / math.sqrt(2)))
    local ok, err = pcall(util.deferInit, function() error("boom", 0) end)
    assert.is_false(ok)
    assert.are.equal("boom", err)
    local lin = nn.Linear(3, 2)   -- not deferred any more
    assert.is_true(lin.weight:norm() > 0)
    assert.is_true(within(lin.weight, -1 / math.sqrt(3), 1 / math.sqrt(3)))
  end)
end)
