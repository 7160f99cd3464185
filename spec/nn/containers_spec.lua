-- containers_spec.lua -- Sequential, Concat, ConcatTable and CAddTable nested:
-- forward against PyTorch (spec/ref/ref_shape.py), Torch7's printing,
-- parameters(), state() names and the path an error names.

local nn = require "ember.nn"
local core = require "ember.core"
local H = require "helper"

local function ref(name) return H.ref("shape_torch", name) end

local function conv(nin, nout, k, pad, w, b)
  local m = nn.SpatialConvolution(nin, nout, k, k, 1, 1, pad, pad)
  if w then m.weight:copy(w) m.bias:copy(b) end
  return m
end

local function fails(m, input) return H.message(m.forward, m, input) end

describe("containers run their children", function()
  it("a residual block: ConcatTable, CAddTable(true), ReLU", function()
    local block = nn.Sequential()
      :add(nn.ConcatTable()
        :add(nn.Sequential():add(conv(4, 4, 3, 1, ref("res_w"), ref("res_b"))))
        :add(nn.Identity()))
      :add(nn.CAddTable(true))
      :add(nn.ReLU(true))
    local x = ref("res_x")
    local keep = x:clone()
    H.close(block:forward(x), ref("res_out"))
    H.close(block:forward(x), ref("res_out"))   -- again, on kept buffers
    assert.equal(0, H.maxdiff(x, keep))          -- the shortcut's input was not summed into
  end)

  local function inception(dim)
    return nn.Concat(dim)
      :add(conv(4, 3, 1, 0, ref("inc_w1"), ref("inc_b1")))
      :add(nn.Sequential():add(conv(4, 5, 3, 1, ref("inc_w3"), ref("inc_b3"))):add(nn.ReLU()))
  end

  it("an Inception-like Concat(2) of two branches", function()
    H.close(inception(2):forward(ref("res_x")), ref("inc_out"))
  end)

  it("counts dim on the actual tensors, as Torch7: -3 is channels for C,H,W too", function()
    -- for one C,H,W image dim 2 is rows, so the branches' channels must agree
    assert.equal("Concat(2): child 2 output 5x6x6 does not match 3x6x6 outside dim 2",
                 fails(inception(2), ref("res_x")[1]))
    H.close(inception(-3):forward(ref("res_x")[1]), ref("inc_out")[1])
    H.close(inception(-3):forward(ref("res_x")), ref("inc_out"))
  end)

  it("ConcatTable returns a table, kept across forwards and clearState", function()
    local m = nn.ConcatTable():add(nn.Identity()):add(nn.ReLU())
    local x = ref("res_x")
    local out = m:forward(x)
    assert.equal(2, #out)
    assert.is_true(rawequal(out[1], x))
    assert.is_true(rawequal(m:forward(x), out))
    m:clearState()
    assert.equal("table", type(m.output))
    assert.equal(2, #m:forward(x))
  end)

  it("evaluate() and training() reach the children of every container", function()
    local d = nn.Dropout()
    local net = nn.Sequential():add(nn.Concat(2):add(nn.ConcatTable():add(d)))
    net:training()
    assert.is_true(d.train)
    net:evaluate()
    assert.is_false(d.train)
  end)
end)

describe("containers print as Torch7", function()
  it("nests Sequential, Concat and ConcatTable", function()
    local net = nn.Sequential()
      :add(nn.Concat(2):add(nn.Identity()):add(nn.Sequential():add(nn.ReLU()):add(nn.Identity())))
      :add(nn.ConcatTable():add(nn.Identity()):add(nn.Identity()))
      :add(nn.CAddTable(true))
    assert.equal(table.concat({
      "nn.Sequential {",
      "  [input -> (1) -> (2) -> (3) -> output]",
      "  (1): nn.Concat {",
      "    input",
      "      |`-> (1): nn.Identity",
      "       `-> (2): nn.Sequential {",
      "             [input -> (1) -> (2) -> output]",
      "             (1): nn.ReLU",
      "             (2): nn.Identity",
      "           }",
      "       ... -> output",
      "  }",
      "  (2): nn.ConcatTable {",
      "    input",
      "      |`-> (1): nn.Identity",
      "       `-> (2): nn.Identity",
      "       ... -> output",
      "  }",
      "  (3): nn.CAddTable",
      "}" }, "\n"), tostring(net))
  end)

  it("continues a branch's lines with a bar, except the last", function()
    local m = nn.ConcatTable():add(nn.Sequential():add(nn.ReLU())):add(nn.Identity())
    assert.equal(table.concat({
      "nn.ConcatTable {",
      "  input",
      "    |`-> (1): nn.Sequential {",
      "    |      [input -> (1) -> output]",
      "    |      (1): nn.ReLU",
      "    |    }",
      "     `-> (2): nn.Identity",
      "     ... -> output",
      "}" }, "\n"), tostring(m))
  end)
end)

describe("parameters() and state() through every container", function()
  local function net()
    return nn.Sequential()
      :add(nn.Sequential():named("stem"):add(conv(3, 8, 3, 1):named("stem.conv")))
      :add(nn.Concat(2)
        :add(conv(8, 4, 1, 0):named("mixed.b1"))
        :add(nn.Sequential():add(conv(8, 4, 1, 0):named("mixed.b2.0")):add(nn.ReLU())))
      :add(nn.ConcatTable():add(conv(8, 8, 1, 0):noBias():named("res.conv")):add(nn.Identity()))
      :add(nn.CAddTable())
  end

  it("lists weights and biases depth first", function()
    local m = net()
    local p = m:parameters()
    assert.equal(7, #p)
    assert.is_true(rawequal(p[1], m:get(1):get(1).weight))
    assert.is_true(rawequal(p[2], m:get(1):get(1).bias))
    assert.is_true(rawequal(p[5], m:get(2):get(2):get(1).weight))
    assert.is_true(rawequal(p[7], m:get(3):get(1).weight))
  end)

  it("names every tensor of a named layer", function()
    local keys = {}
    for k in pairs(net():state()) do keys[#keys + 1] = k end
    table.sort(keys)
    assert.same({ "mixed.b1.bias", "mixed.b1.weight", "mixed.b2.0.bias", "mixed.b2.0.weight",
                  "res.conv.weight", "stem.conv.bias", "stem.conv.weight" }, keys)
  end)

  it("runs end to end", function()
    assert.same({ 2, 8, 6, 6 }, net():forward(core.tensor(2, 3, 6, 6)):size())
  end)
end)

describe("errors name the path to the failing layer", function()
  it("features[4]: the conv inside a named Sequential", function()
    local net = nn.Sequential():add(nn.Sequential():named("features")
      :add(conv(3, 32, 3, 1)):add(nn.ReLU(true)):add(nn.SpatialMaxPooling(2, 2, 2, 2))
      :add(nn.SpatialConvolution(64, 128, 3, 3)))
    assert.equal("features[4] SpatialConvolution(64 -> 128, 3x3): expected 64 input planes, got 32",
                 fails(net, core.tensor(1, 3, 16, 16)))
  end)

  it("through Concat and ConcatTable children", function()
    local mixed = nn.Sequential():add(nn.Identity())
      :add(nn.Concat(2):named("mixed"):add(nn.Identity()):add(nn.SpatialConvolution(64, 128, 3, 3)))
    assert.equal("mixed[2] SpatialConvolution(64 -> 128, 3x3): expected 64 input planes, got 32",
                 fails(mixed, core.tensor(1, 32, 8, 8)))
    local block = nn.Sequential():named("layer1.0")
      :add(nn.ConcatTable():add(nn.Identity()):add(nn.SpatialConvolution(64, 128, 3, 3)))
      :add(nn.CAddTable())
    assert.equal("layer1.0[1][2] SpatialConvolution(64 -> 128, 3x3): expected 64 input planes, got 32",
                 fails(block, core.tensor(1, 32, 8, 8)))
  end)

  it("Concat children whose sizes differ", function()
    local net = nn.Sequential():named("stem"):add(nn.Identity())
      :add(nn.Concat(2):add(nn.Identity()):add(nn.SpatialConvolution(64, 32, 2, 2)))
    assert.equal("stem[2] Concat(2): child 2 output 1x32x7x7 does not match 1x64x8x8 outside dim 2",
                 fails(net, core.tensor(1, 64, 8, 8)))
  end)

  it("a residual sum whose branches differ", function()
    local block = nn.Sequential():named("layer2.0")
      :add(nn.ConcatTable():add(nn.SpatialConvolution(8, 16, 1, 1, 2, 2)):add(nn.Identity()))
      :add(nn.CAddTable(true))
    local msg = fails(block, core.tensor(1, 8, 6, 6))
    assert.truthy(msg:find("^layer2%.0%[2%] CAddTable: input 2 %(1x8x6x6%) does not broadcast "
                           .. "with 1x16x3x3", 1))
  end)

  it("the same net runs once the input fits", function()
    local net = nn.Sequential():add(nn.Sequential():named("features")
      :add(conv(3, 64, 3, 1)):add(nn.SpatialConvolution(64, 128, 3, 3)))
    assert.same({ 1, 128, 14, 14 }, net:forward(core.tensor(1, 3, 16, 16)):size())
  end)

  it("a child whose class brings its own forward is run through it", function()
    local class = require "ember.class"
    local Doubling = class("nn.Doubling", nn.Identity)
    function Doubling:forward(x)
      if x:size(2) ~= 4 then error("Doubling wants 4 planes", 0) end
      return nn.Identity.forward(self, x) * 2
    end
    local net = nn.Sequential():named("twice"):add(nn.Identity()):add(Doubling())
    local x = core.tensor(1, 4, 2, 2):fill(1.5)
    assert.same(x:totable(), net:forward(x):clone():div(2):totable())
    assert.equal("twice[2] Doubling: Doubling wants 4 planes", fails(net, core.tensor(1, 3, 2, 2)))
  end)

  it("add() refuses what is not a module", function()
    assert.has_error(function() nn.Sequential():add(42) end)
    assert.has_error(function() nn.Concat(2):add({}) end)
    assert.has_error(function() nn.ConcatTable():add(nil) end)
  end)
end)
