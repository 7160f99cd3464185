-- weights_spec.lua -- ember.weights.apply/load and ember.save: tensors put into a
-- net by name, every mismatch reported at once, the net untouched on failure.
local ember = require "ember"
local H = require "helper"
local class = require "ember.class"
local nn = ember.nn
local weights = ember.weights

local tmp, remove_tmp = H.tmpfiles()
teardown(remove_tmp)

-- Layers of the spec's own, so these tests need no other layer's kernels.
local Affine, Module = class("spec.Affine", nn.Module)
Affine.__params = { "weight", "bias" }
function Affine:__init(nin, nout)
  Module.__init(self)
  self.weight = ember.Tensor(nout, nin):fill(0.5)
  self.bias = ember.Tensor(nout):fill(-1)
end

local Stats = class("spec.Stats", nn.Module)
Stats.__params = { "weight", "bias" }
Stats.__buffers = { "running_mean", "running_var" }
function Stats:__init(n)
  Module.__init(self)
  self.weight = ember.Tensor(n):fill(1)
  self.bias = ember.Tensor(n):fill(0)
  self.running_mean = ember.Tensor(n):fill(0)
  self.running_var = ember.Tensor(n):fill(1)
end

local function tinynet(kernel)
  kernel = kernel or 3
  return nn.Sequential()
    :add(Affine(3 * kernel * kernel, 4):named("conv1"))
    :add(Stats(4):named("bn1"))
    :add(Affine(4, 2):named("fc"))
end

local function flat(t)
  return t:contiguous():view(t:nElement()):totable()
end

local function counter(start)
  local v = start
  return function(...)
    local t = ember.Tensor(...)
    local f = t:view(t:nElement())
    for i = 1, t:nElement() do v = v + 1; f[i] = v / 8 end
    return t
  end
end

-- The file's tensors for tinynet(), with values unlike the net's.
local function file_for(kernel)
  local make = counter(0)
  kernel = kernel or 3
  return {
    ["conv1.weight"] = make(4, 3 * kernel * kernel), ["conv1.bias"] = make(4),
    ["bn1.weight"] = make(4), ["bn1.bias"] = make(4),
    ["bn1.running_mean"] = make(4), ["bn1.running_var"] = make(4),
    ["bn1.num_batches_tracked"] = make(1),   -- PyTorch's counter: ignored
    ["fc.weight"] = make(2, 4), ["fc.bias"] = make(2),
  }
end

-- A copy of every value of the net, by name, to see it unchanged.
local function snapshot(net)
  local s = {}
  for name, t in pairs(net:state()) do s[name] = { tensor = t, values = flat(t), size = t:size() } end
  return s
end

local function assert_unchanged(net, snap)
  for name, t in pairs(net:state()) do
    assert.equal(snap[name].tensor, t, name)
    assert.same(snap[name].size, t:size(), name)
    assert.same(snap[name].values, flat(t), name)
  end
end

describe("weights.apply", function()
  it("puts every tensor into the net by name (as views of the file's tensors)", function()
    local net, file = tinynet(), file_for()
    local before = net:state()
    local _, report = weights.apply(net, file, { source = "w.safetensors" })
    assert.equal(8, report.loaded)
    for name, t in pairs(net:state()) do
      assert.equal(before[name], t, name .. " stays the same tensor object")
      assert.same(flat(file[name]), flat(t), name)
      assert.is_true(t:isSameStorage(file[name]), name)
    end
  end)

  it("copies instead with copy = true", function()
    local net, file = tinynet(), file_for()
    weights.apply(net, file, { copy = true })
    for name, t in pairs(net:state()) do
      assert.same(flat(file[name]), flat(t), name)
      assert.is_false(t:isSameStorage(file[name]), name)
    end
  end)

  it("lists every missing, unexpected and mis-shaped name in one error", function()
    local net = tinynet(5)           -- conv1 wants 4x75, the file has 4x27
    local file = file_for(3)
    file["fc.weight"], file["fc.bias"] = nil, nil
    file.foo = ember.Tensor(1)
    file["zz.extra"] = ember.Tensor(2)
    file["bn1.running_var"] = ember.Tensor(5)
    local snap = snapshot(net)
    local ok, err = pcall(weights.apply, net, file, { source = "resnet18.safetensors" })
    assert.is_false(ok)
    assert.equal("resnet18.safetensors: 2 missing (fc.bias, fc.weight), 2 unexpected (foo, zz.extra), "
              .. "2 mis-shaped (bn1.running_var: file 5, net 4; conv1.weight: file 4x27, net 4x75)", err)
    assert_unchanged(net, snap)
  end)

  it("leaves the net untouched when a single tensor does not fit", function()
    local net, file = tinynet(), file_for()
    file["fc.bias"] = ember.Tensor(3)
    local snap = snapshot(net)
    local ok, err = pcall(weights.apply, net, file)
    assert.is_false(ok)
    assert.equal("weights: 1 mis-shaped (fc.bias: file 3, net 2)", err)
    assert_unchanged(net, snap)
  end)

  it("with strict = false ignores missing and unexpected names, never mis-shaped ones", function()
    local net, file = tinynet(), file_for()
    file["fc.weight"], file["fc.bias"] = nil, nil
    file.extra = ember.Tensor(1)
    local fc_before = flat(net.modules[3].weight)
    local _, report = weights.apply(net, file, { strict = false })
    assert.equal(6, report.loaded)
    assert.same({ "fc.bias", "fc.weight" }, report.missing)
    assert.same({ "extra" }, report.unexpected)
    assert.same(flat(file["conv1.weight"]), flat(net.modules[1].weight))
    assert.same(fc_before, flat(net.modules[3].weight))
    local net2 = tinynet()
    file["conv1.bias"] = ember.Tensor(5)
    local snap = snapshot(net2)
    local ok, err = pcall(weights.apply, net2, file, { strict = false, source = "w" })
    assert.is_false(ok)
    assert.equal("w: 1 mis-shaped (conv1.bias: file 5, net 4)", err)
    assert_unchanged(net2, snap)
  end)

  it("reports a value that is not a tensor as mis-shaped", function()
    local net, file = tinynet(), file_for()
    file["fc.bias"] = { 1, 2 }
    local ok, err = pcall(weights.apply, net, file)
    assert.is_false(ok)
    assert.matches("fc.bias: file has a table, not a tensor", err, 1, true)
  end)

  it("checks its arguments", function()
    assert.has_error(function() weights.apply({}, {}) end, "weights.apply: expected an nn module")
    assert.has_error(function() weights.apply(tinynet(), nil) end, "weights.apply: expected a table of tensors")
  end)
end)

describe("ember.save and weights.load", function()
  it("round-trips a net through a .safetensors file", function()
    local net, file = tinynet(), file_for()
    weights.apply(net, file, { copy = true })
    local path = tmp(".net.safetensors")
    ember.save(net, path)
    local saved = ember.safetensors.load(path)
    local n = 0
    for name, t in pairs(saved) do
      n = n + 1
      assert.same(flat(file[name]), flat(t), name)
    end
    assert.equal(8, n)   -- num_batches_tracked is not the net's
    local fresh = tinynet()
    weights.load(fresh, path)
    for name, t in pairs(fresh:state()) do assert.same(flat(file[name]), flat(t), name) end
  end)

  it("names the file in its errors", function()
    local path = tmp(".small.safetensors")
    ember.safetensors.save(path, { ["fc.weight"] = ember.Tensor(2, 4) })
    local net = tinynet()
    local ok, err = pcall(weights.load, net, path)
    assert.is_false(ok)
    assert.equal(path .. ": ", err:sub(1, #path + 2))
    assert.matches("7 missing", err, 1, true)
    weights.load(net, path, { strict = false })
  end)

  it("loads a PyTorch-written file into nn.SpatialConvolution layers with PyTorch's output", function()
    local net = nn.Sequential()
      :add(nn.SpatialConvolution(3, 4, 3, 3, 1, 1, 1, 1):named("conv1"))
      :add(nn.SpatialConvolution(4, 2, 1, 1):named("conv2"))
    weights.load(net, H.REF .. "/safetensors/tiny.safetensors")
    local y = net:forward(H.ref("safetensors", "tiny.input"))
    local ref = H.ref("safetensors", "tiny.output")
    assert.same(ref:size(), y:size())
    local a, b, err, scale = flat(y), flat(ref), 0, 0
    for i = 1, #a do
      err = math.max(err, math.abs(a[i] - b[i]))
      scale = math.max(scale, math.abs(b[i]))
    end
    assert(err <= 1e-4 * scale, ("max abs error %g, max |ref| %g"):format(err, scale))
  end)
end)
