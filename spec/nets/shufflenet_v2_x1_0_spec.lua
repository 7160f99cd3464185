-- spec/nets/shufflenet_v2_x1_0_spec.lua -- ShuffleNetV2 1.0x: torchvision's
-- logits on its own random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/shufflenet_v2_x1_0.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("shufflenet_v2_x1_0")
  end)

  it("builds fc for num_classes", function()
    assert.equal(10, C.state_size("shufflenet_v2_x1_0", "fc.weight", { num_classes = 10 })[1])
  end)
end)
