-- spec/models_spec.lua -- ember.models: the registry's loading, versions,
-- validation, callbacks and poll/watch bookkeeping.

local ember = require "ember"
local H = require "helper"

local NET = [[
local function build(opts)
  return nn.Sequential()
    :add(nn.SpatialConvolution(3, 4, 3, 3, 1, 1, 1, 1):named("conv"))
    :add(nn.ReLU(true))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(4, opts.num_classes or 3):named("fc"))
end
return { build = build, input = { 3, 6, 6 } }
]]

local tmpdir, remove_tmp = H.tmpdir("nets", "weights")
teardown(remove_tmp)

-- Replaces a file atomically (write beside, rename), as a deploy would.
local function replace(path, text)
  local f = assert(io.open(path .. ".tmp", "wb"))
  f:write(text)
  f:close()
  assert(os.rename(path .. ".tmp", path))
end

local function weights(seed, classes)
  ember.manualSeed(seed)
  return {
    ["conv.weight"] = ember.randn(4, 3, 3, 3), ["conv.bias"] = ember.randn(4),
    ["fc.weight"] = ember.randn(classes or 3, 4), ["fc.bias"] = ember.randn(classes or 3),
  }
end

-- A fresh registry directory with model "m": its net and weights (seed).
local n = 0
local function setup(seed)
  n = n + 1
  local d = tmpdir() .. "/r" .. n
  assert(os.execute("mkdir -p " .. d .. "/nets " .. d .. "/weights"))
  replace(d .. "/nets/m.lua", NET)
  ember.safetensors.save(d .. "/weights/m.safetensors", weights(seed or 1))
  return d
end

describe("ember.models", function()
  it("loads a model on first use and keeps serving the same one", function()
    local d = setup()
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    local m = reg:get("m")
    assert.equal(m, reg:get("m"))
    assert.equal(1, m.version)
    assert.equal("m@1", m.tag)
    assert.equal(d .. "/nets/m.lua", m.files.net.path)
    assert.equal(d .. "/weights/m.safetensors", m.files.weights.path)
    assert(m.files.weights.size > 0 and m.files.net.mtime > 0)
    assert.same({ 1, 3 }, m.probe_output)
    assert.same({ "m" }, reg:loaded())
  end)

  it("reloads into a new version and calls on_swap", function()
    local d = setup()
    local swaps = {}
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights",
      on_swap = function(name, new, old) swaps[#swaps + 1] = name .. ":" .. (old and old.tag or "none") .. "->" .. new.tag end }
    local m1 = reg:get("m")
    local ok, m2 = reg:reload("m")
    assert.is_true(ok)
    assert.equal("m@2", m2.tag)
    assert.equal(m2, reg:get("m"))
    assert.are_not.equal(m1, m2)
    assert.same({ "m:none->m@1", "m:m@1->m@2" }, swaps)
  end)

  it("keeps the old version when a reload fails, reporting the error", function()
    local d = setup()
    local errors = {}
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights",
      on_error = function(name, err, old) errors[#errors + 1] = { name, err, old and old.tag } end }
    local m1 = reg:get("m")
    replace(d .. "/nets/m.lua", "return {")
    local ok, err = reg:reload("m")
    assert.is_false(ok)
    assert.matches("m.lua:1: .*expected", err)
    assert.equal(m1, reg:get("m"))
    assert.equal(1, #errors)
    assert.same({ "m", err, "m@1" }, errors[1])
  end)

  it("raises on a first load that fails (nothing to serve)", function()
    local d = setup()
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    local ok, err = pcall(reg.get, reg, "nope")
    assert.is_false(ok)
    assert.matches("nope: no net file " .. d .. "/nets/nope.lua", err, 1, true)
    os.remove(d .. "/weights/m.safetensors")
    ok, err = pcall(reg.get, reg, "m")
    assert.is_false(ok)
    assert.matches("m: no weights file", err, 1, true)
    ok, err = pcall(reg.get, reg, "../etc/passwd")
    assert.is_false(ok)
    assert.matches("bad model name", err, 1, true)
  end)

  it("checks the output shape against outputs = {...} or the previous version", function()
    local d = setup()
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights", outputs = { m = { 1, 5 } } }
    local ok, err = pcall(reg.get, reg, "m")
    assert.is_false(ok)
    assert.matches("m: probe output is 1x3, expected 1x5", err, 1, true)
    reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    reg:get("m")
    replace(d .. "/nets/m.lua", NET:gsub("opts.num_classes or 3", "5"))
    ember.safetensors.save(d .. "/weights/m.safetensors", weights(1, 5))
    ok, err = reg:reload("m")
    assert.is_false(ok)
    assert.matches("m: probe output is 1x5, expected 1x3", err, 1, true)
  end)

  it("passes per-model options to ember.load; weights = false uses initial weights", function()
    local d = setup()
    local reg = ember.models.new{ nets = d .. "/nets", weights = false, options = { m = { num_classes = 7 } } }
    local m = reg:get("m")
    assert.same({ 1, 7 }, m.probe_output)
    assert.is_nil(m.files.weights)
  end)

  it("poll reloads changed files once, and only after the watch interval", function()
    local d = setup()
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    reg:get("m")
    assert.same({}, reg:poll())
    ember.safetensors.save(d .. "/weights/m.safetensors.tmp", weights(2))
    assert(os.rename(d .. "/weights/m.safetensors.tmp", d .. "/weights/m.safetensors"))
    reg:watch(3600)
    reg.last_poll = ember.now()
    assert.same({}, reg:poll())           -- too soon
    local ev = reg:poll(true)
    assert.same({ { name = "m", ok = true, tag = "m@2", old = "m@1" } }, ev)
    assert.same({}, reg:poll(true))       -- nothing changed since
    -- a broken file is tried once, not on every poll
    replace(d .. "/weights/m.safetensors", "garbage")
    ev = reg:poll(true)
    assert.equal(1, #ev)
    assert.is_false(ev[1].ok)
    assert.same({}, reg:poll(true))
    assert.equal("m@2", reg:get("m").tag)
  end)
end)
