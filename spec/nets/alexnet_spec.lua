-- spec/nets/alexnet_spec.lua -- AlexNet: torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/alexnet.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("alexnet")
  end)

  it("builds classifier.6 for num_classes", function()
    assert.equal(10, C.state_size("alexnet", "classifier.6.weight", { num_classes = 10 })[1])
  end)
end)
