-- spec/nets/resnet18_spec.lua -- ResNet-18: torchvision's logits on its own
-- random weights, and num_classes reaching the classifier.

local C = require "nets.check"

describe("nets/resnet18.lua", function()
  it("gives torchvision's logits for the same weights and input", function()
    local _, m = C.equivalence("resnet18")
    assert.same({ 3, 224, 224 }, m.input)
    assert.equal(1000, #m.labels)
    assert.equal("tench", m.labels[1])
    assert.equal("toilet tissue", m.labels[1000])
  end)

  it("builds fc for num_classes", function()
    assert.equal(10, C.state_size("resnet18", "fc.weight", { num_classes = 10 })[1])
  end)

  it("gives the same logits with batch norms left unfolded", function()
    local _, m = C.equivalence("resnet18", { fold = false })
    assert.equal(m.net, m.graph)
  end)
end)
