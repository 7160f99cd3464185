-- spec/nets/resnet50_spec.lua -- ResNet-50: torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/resnet50.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("resnet50")
  end)

  it("builds fc for num_classes", function()
    assert.equal(10, C.state_size("resnet50", "fc.weight", { num_classes = 10 })[1])
  end)
end)
