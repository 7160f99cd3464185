-- spec/nets/vgg16_spec.lua -- VGG-16 on its initial weights: output sizes and
-- names. (No torchvision comparison: its weights file would be 550 MB.)

local ember = require "ember"
local C = require "nets.check"

describe("nets/vgg16.lua", function()
  it("maps an image to num_classes scores, names as torchvision", function()
    -- one build (138M weights); a small image is enough: the adaptive pooling
    -- gives the classifier its 512x7x7 from any size of 32 and up
    local m = ember.load{ net = C.netfile("vgg16"), num_classes = 10 }
    ember.manualSeed(1)
    assert.same({ 2, 10 }, m:forward(ember.randn(2, 3, 64, 64)):size())
    local state = m.net:state()
    assert.same({ 64, 3, 3, 3 }, state["features.0.weight"]:size())
    assert.same({ 512, 512, 3, 3 }, state["features.28.weight"]:size())
    assert.same({ 4096, 25088 }, state["classifier.0.weight"]:size())
    assert.same({ 10, 4096 }, state["classifier.6.weight"]:size())
    local n = 0
    for _ in pairs(state) do n = n + 1 end
    assert.equal(32, n)
  end)
end)
