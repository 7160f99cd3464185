-- spec/nets/squeezenet1_1_spec.lua -- SqueezeNet 1.1: torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/squeezenet1_1.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("squeezenet1_1")
  end)

  it("builds classifier.1 for num_classes", function()
    assert.equal(10, C.state_size("squeezenet1_1", "classifier.1.weight", { num_classes = 10 })[1])
  end)
end)
