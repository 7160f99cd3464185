-- apps/demo.lua -- what `make demo` runs: a short tour of ember.
-- Later the demo classifies digits and photos; for now tensors and layers.

local nn = ember.nn

print("ember " .. ember._VERSION .. ", " .. ember.getNumThreads() .. " threads")

local a = ember.Tensor{ { 1, 2 }, { 3, 4 } }
print("a =")
print(a)
print("a:sum() = " .. a:sum())
print("a + 10 * a =")
print(a + a * 10)

ember.manualSeed(1)
local x = ember.randn(1, 3, 8, 8)
local net = nn.Sequential()
  :add(nn.SpatialConvolution(3, 8, 3, 3, 1, 1, 1, 1):named("conv1"))
  :add(nn.ReLU(true))
  :add(nn.SpatialMaxPooling(2, 2, 2, 2))
  :add(nn.View(-1):setNumInputDims(3))
  :add(nn.Linear(8 * 4 * 4, 10):named("fc"))
  :add(nn.SoftMax())
print(net)
local y = net:forward(x)
print("output " .. y:shape() .. ", sums to " .. string.format("%.5f", y:sum()))
local p, i = y:topk(3, 2, true)
for k = 1, 3 do
  print(string.format("  class %d (score = %.5f)", i[1][k], p[1][k]))
end
