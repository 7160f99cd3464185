-- spec/nets/googlenet_spec.lua -- GoogLeNet (Inception v1): torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/googlenet.lua", function()
  C.equivalence("googlenet")

  it("builds fc for num_classes", function()
    assert.equal(10, C.state_size("googlenet", "fc.weight", { num_classes = 10 })[1])
  end)
end)
