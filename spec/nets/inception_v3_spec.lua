-- spec/nets/inception_v3_spec.lua -- Inception v3: torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/inception_v3.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("inception_v3")
  end)

  it("builds fc for num_classes", function()
    assert.equal(10, C.state_size("inception_v3", "fc.weight", { num_classes = 10 })[1])
  end)
end)
