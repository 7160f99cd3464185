-- spec/sandbox_spec.lua -- net files run in ember.sandbox: no I/O or escape,
-- limits on instructions, memory and tensors, host tables left unchanged.

local ember = require "ember"
local sandbox = require "ember.sandbox"
local core = require "ember.core"
local H = require "helper"

local MB = 1024 * 1024

local tmpdir, remove_tmp = H.tmpdir()
teardown(remove_tmp)

local write, exists = H.write, H.exists

-- Runs code as a net file body in a fresh sandbox: ok, results or error.
local function run(code, limits)
  local f = assert(sandbox.load(code, "=nets/x.lua"))
  return pcall(sandbox.run, "nets/x.lua", limits, f)
end

local function fails(code, limits)
  local ok, err = run(code, limits)
  assert.is_false(ok, "expected an error from: " .. code)
  return err
end

-- A net file in the temp dir whose build runs `body`.
local function net_file(name, body)
  local path = tmpdir() .. "/" .. name .. ".lua"
  write(path, "local function build()\n" .. body .. "\nend\nreturn { build = build, input = { 3, 4, 4 } }\n")
  return path
end

-- Copies of the host's library tables, to compare after a hostile script.
local function snapshot()
  local s = {}
  local function shallow(t)
    local c = {}
    for k, v in pairs(t) do c[k] = v end
    return c
  end
  for _, name in ipairs{ "string", "math", "table", "utf8" } do s[name] = shallow(_G[name]) end
  local _ = ember.nn.Module, ember.nn.Sequential, ember.nn.ReLU   -- nn loads classes on first use
  s.nn = shallow(ember.nn)
  s.Sequential = shallow(ember.nn.Sequential)
  s.Module = shallow(ember.nn.Module)
  s.methods = shallow(core.methods)
  s.string_index = getmetatable("").__index
  return s
end

describe("the sandbox environment", function()
  it("has no io, os, debug, package, require or file loading", function()
    local ok, names = run([[
      local out = {}
      for _, k in ipairs{ "io", "os", "debug", "package", "require", "dofile", "loadfile",
                          "collectgarbage", "print", "coroutine", "rawset" } do
        out[#out + 1] = k .. "=" .. type(_G[k])
      end
      return table.concat(out, " ")
    ]])
    assert.is_true(ok, names)
    assert.equal("io=nil os=nil debug=nil package=nil require=nil dofile=nil loadfile=nil "
      .. "collectgarbage=nil print=nil coroutine=nil rawset=nil", names)
    assert.matches("attempt to index a nil value %(global 'io'%)", fails("return io.open('/etc/passwd')"))
    assert.matches("attempt to index a nil value %(global 'os'%)", fails("return os.execute('true')"))
    assert.matches("attempt to call a nil value %(global 'require'%)", fails("return require('io')"))
    assert.matches("attempt to index a nil value %(global 'debug'%)", fails("return debug.getregistry()"))
  end)

  it("has the libraries a net file needs", function()
    local ok, v = run([[
      local t = {}
      table.insert(t, math.floor(2.5))
      t[#t + 1] = string.format("%d", 3)
      t[#t + 1] = ("ab"):upper()
      t[#t + 1] = utf8.char(72)
      local x = ember.Tensor(2, 3)
      t[#t + 1] = x:nElement()
      t[#t + 1] = nn.Sequential():add(nn.ReLU()).__typename
      return table.concat(t, ",")
    ]])
    assert.is_true(ok, v)
    assert.equal("2,3,AB,H,6,nn.Sequential", v)
  end)

  it("cannot escape through the string metatable or dump functions", function()
    local ok, a, b, c, d = run([[
      return getmetatable(""), ("").dump, string.dump, ("").x
    ]])
    assert.is_true(ok, a)
    assert.is_nil(a)
    assert.is_nil(b)
    assert.is_nil(c)
    assert.is_nil(d)
    -- outside a session, strings index the host's string table again
    assert.equal(string, getmetatable("").__index)
    assert.is_function(("").dump)
  end)

  it("refuses binary chunks, from a file or through load", function()
    local bin = string.dump(function() return 1 end)
    local path = tmpdir() .. "/binary.lua"
    write(path, bin)
    local ok, err = pcall(ember.load, { net = path })
    assert.is_false(ok)
    assert.matches("attempt to load a binary chunk", err)
    local env = sandbox.env()
    env.BIN = bin
    local f = assert(sandbox.load("return load(BIN)", "=x", env))
    local fn, msg = sandbox.run("x", nil, f)
    assert.is_nil(fn)
    assert.matches("attempt to load a binary chunk", msg)
  end)

  it("gives text chunks loaded inside the sandbox the sandbox's environment", function()
    local ok, v = run("return load('return type(io) .. type(os) .. type(nn)')()")
    assert.is_true(ok, v)
    assert.equal("nilniltable", v)
  end)

  it("allows metatables on tables only, without __gc", function()
    assert.matches("table expected", fails("setmetatable(ember.Tensor(1), {})"))
    assert.matches("__gc metamethods are not allowed", fails("setmetatable({}, { __gc = function() end })"))
    local ok, v = run([[
      local mt = { __index = function(_, k) return k .. "!" end }
      local t = setmetatable({}, mt)
      return getmetatable(t) == mt and t.hi
    ]])
    assert.is_true(ok, v)
    assert.equal("hi!", v)
  end)

  it("leaves the host's tables unchanged", function()
    local before = snapshot()
    -- the script's own copies may change freely
    assert.is_true((run([[
      string.upper = nil; math.floor = nil; table.insert = nil; utf8.char = nil
    ]])))
    -- the host's nn and metatables are read-only
    assert.matches("attempt to modify a read%-only table %(field 'forward'%)",
      fails("nn.Sequential.forward = nil"))
    assert.matches("attempt to modify a read%-only table %(field 'ReLU'%)", fails("nn.ReLU = 1"))
    assert.matches("attempt to modify a read%-only table",
      fails("getmetatable(nn.ReLU()).updateOutput = function() end"))
    local ok0, mt = run("return getmetatable(nn.Module)")   -- a class's own metatable is hidden
    assert.is_true(ok0)
    assert.equal("read-only", mt)
    assert.matches("attempt to modify a read%-only table", fails("ember.Tensor.methods.add = nil"))
    assert.matches("cannot change a protected metatable", fails("setmetatable(nn.ReLU, {})"))
    local ok = run("rawequal(nn, nn); local t = nn.classes; return #t")
    assert.is_true(ok)
    local after = snapshot()
    for name, t in pairs(before) do
      if type(t) == "table" then
        for k, v in pairs(t) do assert.equal(v, after[name][k], name .. "." .. tostring(k)) end
        for k in pairs(after[name]) do assert.is_not_nil(t[k], name .. "." .. tostring(k) .. " added") end
      else
        assert.equal(t, after[name], name)
      end
    end
  end)
end)

describe("sandbox limits", function()
  it("stops a script that loops forever, saying which limit", function()
    local err = fails("while true do end", { instructions = 100000 })
    assert.equal("nets/x.lua: instruction limit (100000) exceeded", err)
    assert.is_false(core.sandbox_active())
  end)

  it("does not let the script's pcall swallow a limit", function()
    local err = fails([[
      while true do pcall(function() while true do end end) end
    ]], { instructions = 1e6 })
    assert.equal("nets/x.lua: instruction limit (1000000) exceeded", err)
    err = fails([[
      local ok = xpcall(function() local t = {} while true do t[#t + 1] = {} end end, function(e) return e end)
      return ok
    ]], { memory = 8 * MB })
    assert.equal("nets/x.lua: memory limit (8 MB) exceeded", err)
  end)

  it("stops a script that exhausts memory: a growing table, string.rep", function()
    local used = collectgarbage("count")
    assert.equal("nets/x.lua: memory limit (16 MB) exceeded",
      fails("local t = {} while true do t[#t + 1] = { 1, 2, 3 } end", { memory = 16 * MB }))
    assert.equal("nets/x.lua: memory limit (16 MB) exceeded",
      fails("local s = 'x' while true do s = s .. s end", { memory = 16 * MB }))
    assert.equal("nets/x.lua: memory limit (512 MB) exceeded",
      fails("return string.rep('x', 2^30)"))
    -- the script's garbage went with it; the host allocates as before
    assert(collectgarbage("count") < used + 4 * 1024, "memory not given back")
    local t = {}
    for i = 1, 1e5 do t[i] = { i } end
    assert.equal(1e5, #t)
  end)

  it("ends the session cleanly when the script keeps its hog reachable", function()
    for _ = 1, 3 do
      assert.equal("nets/x.lua: memory limit (16 MB) exceeded",
        fails("big = {} while true do big[#big + 1] = { 1, 2, 3 } end", { memory = 16 * MB }))
      assert.is_false(core.sandbox_active())
      assert.equal(string, getmetatable("").__index)
    end
    local ok, v = run("return 1 + 1")
    assert.is_true(ok)
    assert.equal(2, v)
  end)

  it("stops a giant tensor before it is allocated", function()
    local path = net_file("huge", "return nn.SpatialConvolution(100000, 100000, 3, 3)")
    local ok, err = pcall(ember.load, { net = path })
    assert.is_false(ok)
    assert.matches(path .. ": tensor memory limit (4096 MB) exceeded: a 100000x100000x3x3 tensor "
      .. "needs 343323 MB", err, 1, true)
    -- many moderate ones add up
    err = fails("local t = {} for i = 1, 100 do t[i] = ember.Tensor(1000, 1000) end",
                { tensors = 64 * MB })
    assert.matches("^nets/x.lua: tensor memory limit %(64 MB%) exceeded: a 1000x1000 tensor needs 4 MB, "
      .. "6%d MB already allocated$", err)
  end)

  it("stops tensors made by arithmetic from filling the heap", function()
    local err = fails("local x = ember.Tensor(1000, 1000) local l = {} "
      .. "for i = 1, 1000 do l[i] = x + i end", { tensors = 64 * MB, memory = 16 * MB })
    assert.matches("^nets/x.lua: tensor memory limit %(64 MB%) exceeded: the heap grew by %d+ MB$", err)
  end)

  it("restores the previous hook and sandbox state after a limit", function()
    local function myhook() end
    debug.sethook(myhook, "", 1e9)
    fails("while true do end", { instructions = 5000 })
    local h, mask, count = debug.gethook()
    debug.sethook()
    assert.equal(myhook, h)
    assert.equal("", mask)
    assert.equal(1e9, count)
    assert.is_false(core.sandbox_active())
  end)

  it("takes limits from ember.load and from sandbox.defaults", function()
    local path = net_file("spin", "local n = 0 for i = 1, 1e6 do n = n + i end return nn.ReLU()")
    local ok, err = pcall(ember.load, { net = path, limits = { instructions = 1e5 } })
    assert.is_false(ok)
    assert.equal(path .. ": instruction limit (100000) exceeded", err)
    assert(ember.load{ net = path })   -- the defaults are generous
    local saved = sandbox.defaults.instructions
    sandbox.defaults.instructions = 2e5
    ok, err = pcall(ember.load, { net = path })
    sandbox.defaults.instructions = saved
    assert.is_false(ok)
    assert.equal(path .. ": instruction limit (200000) exceeded", err)
    assert.matches("unknown limit 'time'", select(2, pcall(ember.load, { net = path, limits = { time = 1 } })))
    assert.matches("limit memory must be a positive number",
      select(2, pcall(ember.load, { net = path, limits = { memory = -1 } })))
  end)

  it("loads every net in nets/ with the default limits, with room to spare", function()
    for _, name in ipairs{ "alexnet", "googlenet", "inception_v3", "lenet", "mobilenet_v2",
                           "resnet18", "resnet50", "shufflenet_v2_x1_0", "squeezenet1_1",
                           "tiny_darknet", "vgg16" } do
      local m = ember.load{ net = name }
      assert.equal(name, m.name)
      local s = sandbox.last
      assert(s.instructions < sandbox.defaults.instructions / 100, name .. " instructions " .. s.instructions)
      assert(s.memory < sandbox.defaults.memory / 10, name .. " memory " .. s.memory)
      assert(s.tensors < sandbox.defaults.tensors / 4, name .. " tensors " .. s.tensors)
      m = nil
      collectgarbage()
    end
  end)
end)

describe("loading a net", function()
  it("never writes a file", function()
    local target = tmpdir() .. "/written.npy"
    local path = net_file("writer", "ember.Tensor(2, 2):save_npy('" .. target .. "') return nn.ReLU()")
    local ok, err = pcall(ember.load, { net = path })
    assert.is_false(ok)
    assert.matches("save_npy: writing files is not allowed while a net file loads", err, 1, true)
    assert.is_false(exists(target))
    -- outside a load, save_npy works as before
    ember.Tensor(2, 2):save_npy(target)
    assert.is_true(exists(target))
  end)

  it("never runs code from a weights file: safetensors is data only", function()
    local marker = tmpdir() .. "/ran"
    local code = "os.execute('touch " .. marker .. "')"
    local path = tmpdir() .. "/w.safetensors"
    ember.nn.Linear(2, 2):named("fc")
    local net = ember.nn.Sequential():add(ember.nn.Linear(2, 2):named("fc"))
    ember.save(net, path, { code = code, ["return " .. code] = code })
    local netpath = tmpdir() .. "/lin.lua"
    write(netpath, "return { build = function() return nn.Sequential():add(nn.Linear(2, 2):named('fc')) end }")
    -- spies on every way Lua code could be compiled while loading
    local calls = {}
    local saved = { load = load, loadfile = loadfile, dofile = dofile }
    _G.load = function(...) calls[#calls + 1] = { "load", ... } return saved.load(...) end
    _G.loadfile = function(...) calls[#calls + 1] = { "loadfile", ... } return saved.loadfile(...) end
    _G.dofile = function(...) calls[#calls + 1] = { "dofile", ... } return saved.dofile(...) end
    local ok, m = pcall(ember.load, { net = netpath, weights = path })
    _G.load, _G.loadfile, _G.dofile = saved.load, saved.loadfile, saved.dofile
    assert(ok, m)
    assert.is_false(exists(marker))
    -- the net file, as text, and nothing else
    assert.equal(1, #calls)
    assert.same({ "loadfile", netpath, "t" }, { calls[1][1], calls[1][2], calls[1][3] })
  end)

  it("gives the host a plain copy of the declaration (no script metamethods later)", function()
    local path = tmpdir() .. "/meta.lua"
    write(path, [[
      local pre = setmetatable({}, { __index = function() while true do end end })
      return setmetatable({ build = function() return nn.ReLU() end, preprocess = pre },
                          { __index = function() while true do end end })
    ]])
    local m = ember.load{ net = path }
    assert.is_nil(getmetatable(m.preprocess))
    assert.is_nil(m.preprocess.mean)   -- would spin forever through the script's __index
  end)
end)

describe("include in a net file", function()
  -- a fresh directory of net files for each case
  local n = 0
  local function netdir(files)
    n = n + 1
    local d = tmpdir() .. "/inc" .. n
    assert(os.execute("mkdir -p '" .. d .. "'"))
    for name, text in pairs(files) do write(d .. "/" .. name .. ".lua", text) end
    return d
  end

  local function load_err(path)
    local ok, err = pcall(ember.load, { net = path })
    assert.is_false(ok)
    return err
  end

  it("runs a file beside the net file in the same environment and returns its results", function()
    local d = netdir{
      family = "shared_width = 3\nreturn { linear = function(n) return nn.Linear(shared_width, n):named('fc') end }, 'two'",
      member = [[
        local fam, second = include("family")
        assert(second == 'two' and shared_width == 3)
        return { build = function() return nn.Sequential():add(fam.linear(5)) end, input = { 3 } }
      ]],
    }
    local m = ember.load{ net = d .. "/member.lua" }
    assert.same({ 5, 3 }, m.net:state()["fc.weight"]:size())
  end)

  it("names only a file of the same directory", function()
    local d = netdir{ member = "return include(NAME)" }
    write(tmpdir() .. "/outside.lua", "return { build = function() return nn.ReLU() end }")
    for _, name in ipairs{ "../outside", "/etc/passwd", "outside.lua", "a/b", "", "x y" } do
      local env = sandbox.env(d)
      env.NAME = name
      local f = assert(sandbox.loadfile(d .. "/member.lua", env))
      local ok, err = pcall(sandbox.run, "member", nil, f)
      assert.is_false(ok)
      assert.equal("include: expected a net file name (letters, digits, _), got '" .. name .. "'", err:match("include: .*$"))
    end
    assert.matches("include: expected a net file name %(letters, digits, _%), got number",
                   load_err(netdir{ member = "return include(5)" } .. "/member.lua"))
  end)

  it("says which file is missing", function()
    local d = netdir{ member = "return include('nosuch')" }
    assert.matches("include: cannot open " .. d:gsub("%p", "%%%0") .. "/nosuch%.lua", load_err(d .. "/member.lua"))
  end)

  it("refuses a cycle", function()
    local d = netdir{ a = "return include('b')", b = "return include('a')" }
    assert.matches("include: 'b' is already being included %(a cycle%)", load_err(d .. "/a.lua"))
  end)

  it("needs a directory: not available to chunks loaded from text", function()
    local err = fails("return include('resnet')")
    assert.matches("include: 'resnet': this chunk was not loaded from a net file", err)
  end)

  it("keeps the included file under the session's limits and text-only", function()
    local d = netdir{ spin = "while true do end", member = "return include('spin')" }
    local ok, err = pcall(ember.load, { net = d .. "/member.lua", limits = { instructions = 1e5 } })
    assert.is_false(ok)
    assert.equal(d .. "/member.lua: instruction limit (100000) exceeded", err)
    local bin = netdir{ member = "return include('bin')" }
    write(bin .. "/bin.lua", string.dump(function() return 1 end))
    assert.matches("attempt to load a binary chunk", load_err(bin .. "/member.lua"))
  end)

  it("builds the ResNet family from nets/resnet.lua", function()
    for name, fc in pairs{ resnet18 = 512, resnet34 = 512, resnet50 = 2048 } do
      local m = ember.load{ net = name, fold = false }
      assert.equal(fc, m.net:state()["fc.weight"]:size(2), name)
    end
  end)
end)
