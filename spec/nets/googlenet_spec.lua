-- spec/nets/googlenet_spec.lua -- GoogLeNet (Inception v1): torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/googlenet.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    C.equivalence("googlenet")
  end)

  it("builds fc for num_classes", function()
    assert.equal(10, C.state_size("googlenet", "fc.weight", { num_classes = 10 })[1])
  end)
end)
