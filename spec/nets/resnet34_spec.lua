-- spec/nets/resnet34_spec.lua -- ResNet-34: torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/resnet34.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("resnet34")
  end)

  it("builds fc for num_classes", function()
    assert.equal(10, C.state_size("resnet34", "fc.weight", { num_classes = 10 })[1])
  end)
end)
