-- spec/nets/mobilenet_v2_spec.lua -- MobileNetV2: torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/mobilenet_v2.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("mobilenet_v2")
  end)

  it("builds classifier.1 for num_classes", function()
    assert.equal(10, C.state_size("mobilenet_v2", "classifier.1.weight", { num_classes = 10 })[1])
  end)

  it("scales its widths by width_mult as torchvision rounds them", function()
    assert.same({ 16, 3, 3, 3 }, C.state_size("mobilenet_v2", "features.0.0.weight", { width_mult = 0.5 }))
    assert.same({ 1000, 1280 }, C.state_size("mobilenet_v2", "classifier.1.weight", { width_mult = 0.5 }))
    local _, size = C.output_size("mobilenet_v2", { 1, 3, 96, 96 }, { width_mult = 0.5, num_classes = 7 })
    assert.same({ 1, 7 }, size)
  end)
end)
