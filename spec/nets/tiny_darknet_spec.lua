-- spec/nets/tiny_darknet_spec.lua -- Tiny Darknet (darknet's tiny.cfg) on its
-- initial weights: sizes, names in cfg order, probabilities out.

local ember = require "ember"
local C = require "nets.check"
local H = require "helper"

describe("nets/tiny_darknet.lua", function()
  it("maps a 224x224 image to 1000 probabilities", function()
    local m, size = C.output_size("tiny_darknet", { 2, 3, 224, 224 })
    assert.same({ 2, 1000 }, size)
    local out = m.graph.output
    for i = 1, 2 do assert.near(1, out[i]:sum(), 1e-4) end
  end)

  it("keeps darknet's last partial pooling window on odd sizes", function()
    local m = ember.load{ net = C.netfile("tiny_darknet") }
    m:forward(ember.randn(1, 3, 33, 33))
    assert.same({ 1, 16, 17, 17 }, m.net.modules[2].output:size())
  end)

  it("names the sixteen convolutions conv1..conv16 in cfg order", function()
    assert.same({ 16, 3, 3, 3 }, C.state_size("tiny_darknet", "conv1.weight"))
    assert.same({ 16 }, C.state_size("tiny_darknet", "bn1.running_var"))
    assert.same({ 16, 32, 1, 1 }, C.state_size("tiny_darknet", "conv3.weight"))
    assert.same({ 128, 512, 1, 1 }, C.state_size("tiny_darknet", "conv15.weight"))
    assert.same({ 1000, 128, 1, 1 }, C.state_size("tiny_darknet", "conv16.weight"))
    assert.same({ 1000 }, C.state_size("tiny_darknet", "conv16.bias"))
    local state = ember.load{ net = C.netfile("tiny_darknet") }.net:state()
    assert.is_nil(state["conv1.bias"])
    assert.is_nil(state["bn16.weight"])
  end)

  it("reads darknet's labels from ../shared/data when present", function()
    if not H.shared("darknet labels") then return end
    local m = ember.load{ net = C.netfile("tiny_darknet") }
    assert.equal(1000, #m.labels)
    assert.equal("kit fox", m.labels[1])
  end)

  it("gives probabilities straight from its SoftMax in classify", function()
    local m = ember.load{ net = C.netfile("tiny_darknet") }
    ember.manualSeed(3)
    local x = ember.rand(3, 224, 224)
    local top = m:classify(x, 3)
    local out = m:forward(x)
    assert.equal(3, #top)
    assert.near(out[top[1].index], top[1].prob, 1e-6)
    assert.is_true(top[1].prob >= top[2].prob and top[2].prob >= top[3].prob)
  end)
end)
