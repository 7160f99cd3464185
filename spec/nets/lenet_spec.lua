-- spec/nets/lenet_spec.lua -- the MNIST LeNet on its initial weights: sizes,
-- names, and a single image giving an unbatched output.

local ember = require "ember"
local C = require "nets.check"

describe("nets/lenet.lua", function()
  it("maps a batch of 28x28 digits to 10 scores each", function()
    local _, size = C.output_size("lenet", { 3, 1, 28, 28 })
    assert.same({ 3, 10 }, size)
  end)

  it("takes one 1x28x28 image and returns 10 scores", function()
    local m = ember.load{ net = C.netfile("lenet") }
    assert.same({ 10 }, m:forward(ember.randn(1, 28, 28)):size())
    assert.same({ 1, 28, 28 }, m.input)
    assert.equal("7", m.labels[8])
  end)

  it("names its layers conv1, conv2, fc1, fc2", function()
    assert.same({ 32, 1, 5, 5 }, C.state_size("lenet", "conv1.weight"))
    assert.same({ 64, 32, 5, 5 }, C.state_size("lenet", "conv2.weight"))
    assert.same({ 128, 1024 }, C.state_size("lenet", "fc1.weight"))
    assert.same({ 10 }, C.state_size("lenet", "fc2.bias"))
  end)

  it("names the net and layer when an image has the wrong size", function()
    local m = ember.load{ net = C.netfile("lenet") }
    assert.has_error(function() m:forward(ember.randn(1, 1, 32, 32)) end,
      "lenet[8] Linear(1024 -> 128): expected 1024 input features, got 1600")
  end)

  it("says which size it expected for a 3-channel image", function()
    local m = ember.load{ net = C.netfile("lenet") }
    assert.has_error(function() m:forward(ember.randn(3, 28, 28)) end,
      "lenet: expected 1 input channels, got 3 (3x28x28)")
  end)
end)
