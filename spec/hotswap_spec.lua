-- spec/hotswap_spec.lua -- models swapped while a loop serves calls: every
-- answer complete and from exactly one version, broken replacements rejected
-- with the old version serving, changes noticed by poll, apps/hotswap.lua.

local ember = require "ember"
local H = require "helper"

local NET = [[
local function build(opts)
  return nn.Sequential()
    :add(nn.SpatialConvolution(3, 8, 3, 3, 1, 1, 1, 1):named("conv"))
    :add(nn.SpatialBatchNormalization(8):named("bn"))
    :add(nn.ReLU(true))
    :add(nn.SpatialAdaptiveAveragePooling(1, 1))
    :add(nn.View(-1):setNumInputDims(3))
    :add(nn.Linear(8, 5):named("fc"))
end
return { build = build, input = { 3, 10, 10 } }
]]

local tmpdir, remove_tmp = H.tmpdir()
teardown(remove_tmp)

local read = H.read

-- Atomic replacement (write beside, rename) or, with in_place, a rewrite of
-- the file itself after a pause longer than the file clock's tick.
local function put(path, bytes, in_place)
  if in_place then os.execute("sleep 0.02") end
  local target = in_place and path or path .. ".tmp"
  local f = assert(io.open(target, "wb"))
  f:write(bytes)
  f:close()
  if not in_place then assert(os.rename(target, path)) end
end

local function weights(seed, over)
  ember.manualSeed(seed)
  local w = {
    ["conv.weight"] = ember.randn(8, 3, 3, 3), ["conv.bias"] = ember.randn(8),
    ["bn.weight"] = ember.rand(8) + 0.5, ["bn.bias"] = ember.randn(8),
    ["bn.running_mean"] = ember.randn(8), ["bn.running_var"] = ember.rand(8) + 0.5,
    ["fc.weight"] = ember.randn(5, 8), ["fc.bias"] = ember.randn(5),
  }
  for k, v in pairs(over or {}) do w[k] = v end
  return w
end

-- The bytes of a weights file.
local function weights_file(seed, over)
  local p = tmpdir() .. "/w" .. seed .. ".safetensors"
  ember.safetensors.save(p, weights(seed, over))
  return read(p)
end

-- A fresh registry tree: nets/m.lua and weights/m.safetensors (bytes).
local n = 0
local function setup(wbytes)
  n = n + 1
  local d = tmpdir() .. "/t" .. n
  assert(os.execute("mkdir -p " .. d .. "/nets " .. d .. "/weights"))
  put(d .. "/nets/m.lua", NET)
  put(d .. "/weights/m.safetensors", wbytes)
  return d, d .. "/nets/m.lua", d .. "/weights/m.safetensors"
end

-- What a model gives for x with these weights, loaded directly.
local function expected(wbytes, x)
  local p = tmpdir() .. "/expect.safetensors"
  put(p, wbytes)
  local f = tmpdir() .. "/expect.lua"
  put(f, NET)
  return ember.load{ net = f, weights = p, copy = true }:forward(x):clone()
end

local function maxdiff(a, b) return (a - b):abs():max() end

-- Which of the candidate outputs out equals exactly (nil if none).
local function which(out, cands)
  for name, ref in pairs(cands) do
    if maxdiff(out, ref) <= 1e-6 then return name end
  end
  return nil
end

describe("hot swap", function()
  local A, B, x, outA, outB

  before_each(function()
    if A then return end
    A, B = weights_file(1), weights_file(2)
    ember.manualSeed(7)
    x = ember.rand(2, 3, 10, 10)
    outA, outB = expected(A, x), expected(B, x)
    assert(maxdiff(outA, outB) > 1e-2, "A and B must be distinguishable")
  end)

  it("answers every call completely from exactly one version while files are replaced", function()
    local d, _, wpath = setup(A)
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    reg:watch(0)
    local by_tag, order = {}, {}
    local plan = { [5] = B, [10] = A, [15] = B }   -- call index -> file to put before it
    for i = 1, 20 do
      if plan[i] then put(wpath, plan[i], i == 10) end
      reg:poll()
      local m = reg:get("m")
      local out = m:forward(x)
      local v = which(out, { A = outA, B = outB })
      assert(v, "call " .. i .. " gave an output of neither version")
      if by_tag[m.tag] then
        assert.equal(by_tag[m.tag], v, m.tag .. " answered from two weight sets")
      else
        by_tag[m.tag] = v
        order[#order + 1] = m.tag .. "=" .. v
      end
    end
    assert.same({ "m@1=A", "m@2=B", "m@3=A", "m@4=B" }, order)
  end)

  it("lets a call in progress finish on the model it started with", function()
    local d, _, wpath = setup(A)
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    local m = reg:get("m")                    -- a caller takes the model...
    put(wpath, B, true)                       -- ...the file is rewritten in place...
    assert.is_true((reg:reload("m")))         -- ...and a new version swapped in
    assert(maxdiff(m:forward(x), outA) <= 1e-6, "the held model changed")
    assert(maxdiff(reg:get("m"):forward(x), outB) <= 1e-6)
    assert.equal("m@1", m.tag)
    assert.equal("m@2", reg:get("m").tag)
  end)

  it("notices files replaced by another process while the loop runs", function()
    local d, _, wpath = setup(A)
    local bpath = tmpdir() .. "/B.safetensors"
    put(bpath, B)
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    reg:watch(0.01)
    -- another process: B renamed into place, then A copied over it in place (cp)
    local apath = tmpdir() .. "/A.safetensors"
    put(apath, A)
    assert(os.execute(string.format("(sleep 0.3; cp '%s' '%s.new' && mv '%s.new' '%s'; sleep 0.3; cp '%s' '%s') &",
      bpath, wpath, wpath, wpath, apath, wpath)))
    local seen, last, t0 = {}, nil, ember.now()
    while ember.now() - t0 < 10 do
      reg:poll()
      local m = reg:get("m")
      local v = which(m:forward(x), { A = outA, B = outB })
      assert(v, m.tag .. " gave an output of neither version")
      if m.tag ~= last then seen[#seen + 1] = m.tag .. "=" .. v; last = m.tag end
      if #seen >= 3 then break end
    end
    -- a load that caught cp half-way fails validation and is retried: the
    -- versions seen are A, B, A whatever their numbers
    assert.equal(3, #seen, table.concat(seen, " "))
    assert.matches("=A$", seen[1])
    assert.matches("=B$", seen[2])
    assert.matches("=A$", seen[3])
  end)

  it("keeps the old version serving on a broken replacement and reports why", function()
    local d, npath, wpath = setup(A)
    local errors = {}
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights", limits = { instructions = 1e6 },
      on_error = function(name, err, old) errors[#errors + 1] = name .. " (" .. old.tag .. "): " .. err end }
    assert.equal("m@1", reg:get("m").tag)
    local nan = ember.Tensor{ 0 / 0, 0, 0, 0, 0 }
    local cases = {
      { "syntax error", function() put(npath, NET .. "\nlocal x = (\n") end, "m.lua:%d+: .*near" },
      { "truncated weights", function() put(wpath, A:sub(1, #A - 100)) end, "run past the end of the data" },
      { "half a file written in place", function() put(wpath, A:sub(1, #A // 2), true) end,
        "m%.safetensors: tensor '[%w%.]+': data_offsets %[%d+, %d+%] run past the end" },
      { "wrong shapes", function() put(wpath, weights_file(3, { ["fc.weight"] = ember.randn(5, 9) })) end,
        "mis%-shaped %(fc.weight: file 5x9, net 5x8%)" },
      { "NaN outputs", function() put(wpath, weights_file(4, { ["fc.bias"] = nan })) end,
        "m: probe output has non%-finite values" },
      { "a net that spins", function() put(npath, "while true do end") end,
        "m.lua: instruction limit %(1000000%) exceeded" },
      { "a wrong output size", function() put(npath, (NET:gsub("Linear%(8, 5%)", "Linear(8, 6)")))
          put(wpath, weights_file(5, { ["fc.weight"] = ember.randn(6, 8), ["fc.bias"] = ember.randn(6) })) end,
        "m: probe output is 1x6, expected 1x5" },
    }
    for _, c in ipairs(cases) do
      local before, serving = #errors, reg:get("m").tag
      c[2]()
      local ev = reg:poll()
      assert.equal(1, #ev, c[1])
      assert.is_false(ev[1].ok, c[1])
      assert.matches(c[3], ev[1].err, nil, false, c[1])
      assert.equal(before + 1, #errors, c[1])
      assert.equal("m (" .. serving .. "): " .. ev[1].err, errors[#errors], c[1])
      local m = reg:get("m")
      assert.equal(serving, m.tag, c[1])
      assert(maxdiff(m:forward(x), outA) <= 1e-6, c[1] .. ": the old version changed")
      -- good files again: nothing to reload, the serving version matches them
      put(npath, NET)
      put(wpath, A)
      reg:poll()
      assert(maxdiff(reg:get("m"):forward(x), outA) <= 1e-6, c[1])
    end
  end)

  it("drops a load whose files changed meanwhile and retries at the next poll", function()
    local d, _, wpath = setup(A)
    local reg = ember.models.new{ nets = d .. "/nets", weights = d .. "/weights" }
    reg:get("m")
    put(wpath, B)
    local load = ember.load
    ember.load = function(...)   -- a writer finishing while we read
      local m = load(...)
      ember.load = load
      put(wpath, B, true)
      return m
    end
    local ev = reg:poll()
    ember.load = load
    assert.equal(1, #ev)
    assert.is_false(ev[1].ok)
    assert.matches("m: files changed while loading; will retry", ev[1].err, 1, true)
    ev = reg:poll()
    assert.equal(1, #ev)
    assert.is_true(ev[1].ok, ev[1].err)
    assert(maxdiff(reg:get("m"):forward(x), outB) <= 1e-6)
  end)
end)

describe("apps/hotswap.lua", function()
  it("serves through a demo of good and broken replacements", function()
    local p = io.popen("./ember apps/hotswap.lua --demo --every 2 --iterations 11 2>&1")
    local text = p:read("a")
    local ok = p:close()
    assert(ok, text)
    local calls, tags = 0, {}
    for tag in text:gmatch("\ncall +%d+ +(lenet@%d+) ") do
      calls = calls + 1
      tags[tag] = true
    end
    assert.equal(11, calls, text)
    for _, t in ipairs{ "lenet@1", "lenet@2", "lenet@3", "lenet@4" } do assert(tags[t], t .. "\n" .. text) end
    assert.matches("reload of lenet failed, old version serving: [^\n]*run past the end", text)
    assert.matches("reload of lenet failed, old version serving: [^\n]*lenet.lua:%d+:", text)
    assert.matches("swapped lenet@3 %-> lenet@4", text)
  end)

  it("reports bad usage", function()
    local p = io.popen("./ember apps/hotswap.lua --bogus 2>&1")
    local text = p:read("a")
    local ok, _, code = p:close()
    assert.is_falsy(ok)
    assert.equal(2, code)
    assert.matches("unknown option %-%-bogus", text)
  end)
end)
