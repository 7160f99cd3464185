-- spec/nets/vgg16_spec.lua -- VGG-16 on its initial weights: output sizes.
-- (No torchvision comparison: its weights file would be 550 MB.)

local C = require "nets.check"

describe("nets/vgg16.lua", function()
  it("maps a 224x224 image to 1000 scores", function()
    local _, size = C.output_size("vgg16", { 1, 3, 224, 224 })
    assert.same({ 1, 1000 }, size)
  end)

  it("names its layers as torchvision does", function()
    assert.same({ 64, 3, 3, 3 }, C.state_size("vgg16", "features.0.weight"))
    assert.same({ 512, 512, 3, 3 }, C.state_size("vgg16", "features.28.weight"))
    assert.same({ 4096, 25088 }, C.state_size("vgg16", "classifier.0.weight"))
    assert.same({ 10, 4096 }, C.state_size("vgg16", "classifier.6.weight", { num_classes = 10 }))
  end)
end)
