-- ember/sandbox.lua -- runs untrusted Lua (net files) with no I/O, read-only
-- libraries, and limits on instructions, Lua memory and tensor storage.
--
--   local sandbox = require "ember.sandbox"
--   local env = sandbox.env("nets")                    -- what a net file sees
--   local chunk = sandbox.loadfile("nets/x.lua", env)  -- text only, never bytecode
--   local decl = sandbox.run("nets/x.lua", { instructions = 1e8 }, chunk)
--   -- a runaway script: error "nets/x.lua: instruction limit (100000000) exceeded"
--
-- The environment: ember's nn and ember.Tensor, math, string (no dump), table,
-- utf8 and the safe base functions. No io, os, debug, package, require,
-- dofile, loadfile, collectgarbage, print, coroutine. load takes text chunks
-- only and always gives them this environment. include("resnet") runs the
-- net file resnet.lua of the environment's directory (env(dir); loadfile
-- gives the file's own) in this same environment and returns its results, so
-- a family of nets shares one definition; the name is letters, digits and _
-- only (no path), and an include cycle is an error. Library tables are copies;
-- nn, ember.Tensor and every metatable a script did not set itself are seen
-- through read-only proxies, so a script cannot change the host's tables.
-- getmetatable/setmetatable work on tables only (getmetatable("") is nil),
-- and metatables with __gc are refused (a finalizer would run later, outside
-- the limits).
--
-- Limits (sandbox.defaults; per call: run(name, {instructions=, memory=,
-- tensors=}, ...)): instructions counts Lua VM instructions (an
-- instruction-count hook); memory is bytes the Lua state may grow by (a
-- counting allocator, lsandbox.c); tensors is bytes of tensor storage that
-- constructors may create (checked before allocating, so
-- nn.SpatialConvolution(100000, 100000, 3, 3) fails at once), and the process
-- heap may not grow by more than memory + tensors (checked by the hook, for
-- tensors made by arithmetic). A limit hit is sticky: the script's own
-- pcall cannot swallow it. While a session runs, the string metatable serves
-- the sandbox's string table and t:save_npy is disabled, so loading a net
-- never writes a file.
--
-- Not covered: time spent inside one C function (a pathological string
-- pattern, a huge kernel) is not counted as instructions; code a net defines
-- (e.g. its modules' methods) keeps the restricted environment when it runs
-- later, but runs without these limits then.

local core = require "ember.core"

local M = {}

local MB = 1024 * 1024

-- Generous for every net in nets/ (inception_v3's file builds in ~2e6
-- instructions, vgg16 creates ~560 MB of weights).
M.defaults = {
  instructions = 1e9,
  memory = 512 * MB,
  tensors = 4096 * MB,
}

local function bytes_str(n)
  if n >= MB then return string.format("%g MB", math.floor(n / MB * 10 + 0.5) / 10) end
  return string.format("%d bytes", n)
end

local function count_str(n)
  if math.type(n) == "float" and n == math.floor(n) and n < 2^63 then n = math.tointeger(n) end
  return tostring(n)
end

-- The limits of a call: defaults overridden by the given table.
function M.limits(given)
  if given ~= nil and type(given) ~= "table" then
    error("sandbox: limits must be a table {instructions=, memory=, tensors=}, got " .. type(given), 3)
  end
  local lim = {}
  for k, v in pairs(M.defaults) do lim[k] = v end
  for k, v in pairs(given or {}) do
    if M.defaults[k] == nil then
      error("sandbox: unknown limit '" .. tostring(k) .. "' (instructions, memory, tensors)", 3)
    end
    if type(v) ~= "number" or v < 1 then
      error("sandbox: limit " .. k .. " must be a positive number, got " .. tostring(v), 3)
    end
    lim[k] = v
  end
  return lim
end

---------------------------------------------------------------- read-only views

-- A factory of read-only proxies, one cache per environment (so a script's
-- rawset on a proxy stays in its own sandbox). Tables read through a proxy
-- are proxied too; functions and other values are given as they are.
local function index(t, k) return t[k] end

local function proxies()
  local cache = setmetatable({}, { __mode = "k" })
  local function ro(t)
    local p = cache[t]
    if p then return p end
    local function wrap(v)
      if type(v) == "table" then return ro(v) end
      return v
    end
    p = setmetatable({}, {
      __index = function(_, k)
        local v = rawget(t, k)
        if v == nil then
          -- an error of t's own __index (nn's "no layer named") is the
          -- script's: reported at its line, not here
          local ok, r = pcall(index, t, k)
          if not ok then
            if type(r) == "string" then r = r:gsub("^[^\n]-sandbox%.lua:%d+: ", "", 1) end
            error(r, 2)
          end
          v = r
        end
        return wrap(v)
      end,
      __newindex = function(_, k)
        error("attempt to modify a read-only table (field '" .. tostring(k) .. "')", 2)
      end,
      __call = function(_, ...) return t(...) end,
      __len = function() return #t end,
      __pairs = function()
        return function(_, k)
          local k2, v = next(t, k)
          return k2, wrap(v)
        end, p, nil
      end,
      __tostring = function() return tostring(t) end,
      __metatable = "read-only",
    })
    cache[t] = p
    return p
  end
  return ro
end

local function copy(t, except)
  local c = {}
  for k, v in pairs(t) do
    if not (except and except[k]) then c[k] = v end
  end
  return c
end

-- string.rep of an empty string n times loops n times in C; table.move of a
-- huge range too: neither is seen by the instruction hook.
local function safe_rep(s, n, sep)
  if type(n) == "number" and n > 0 and #tostring(s) + #tostring(sep or "") == 0 then return "" end
  return string.rep(s, n, sep)
end

local function safe_move(a1, f, e, t, a2)
  if type(f) == "number" and type(e) == "number" and e - f > 2^24 then
    error("table.move: range of " .. count_str(e - f + 1) .. " elements is too large in a net file", 2)
  end
  return table.move(a1, f, e, t, a2)
end

-- The string table strings index while a session runs (no dump).
local safe_string = copy(string, { dump = true })
safe_string.rep = safe_rep

local function rethrow_limit(ok, ...)
  if not ok and core.sandbox_status() then error((...), 0) end
  return ok, ...
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- include(name) for an environment whose net files live in dir (nil: none).
local function includer(env, dir)
  local active = {}   -- names being included now: a cycle would never end
  return function(name)
    if type(name) ~= "string" or not name:match("^[%w_]+$") then
      error("include: expected a net file name (letters, digits, _), got "
            .. (type(name) == "string" and ("'" .. name .. "'") or type(name)), 2)
    end
    if not dir then
      error("include: '" .. name .. "': this chunk was not loaded from a net file, so it has no directory", 2)
    end
    if active[name] then error("include: '" .. name .. "' is already being included (a cycle)", 2) end
    local chunk, err = loadfile(dir .. "/" .. name .. ".lua", "t", env)
    if not chunk then error("include: " .. err, 2) end
    active[name] = true
    local r = table.pack(pcall(chunk))
    active[name] = nil
    if not r[1] then error(r[2], 0) end
    return table.unpack(r, 2, r.n)
  end
end

-- A fresh environment for one net file; dir: the directory include() reads.
function M.env(dir)
  local ember = require "ember"
  local nn = require "ember.nn"
  local ro = proxies()
  local owned = setmetatable({}, { __mode = "k" })   -- metatables the script set
  local env = {}

  local function safe_setmetatable(t, mt)
    if type(t) ~= "table" then
      error("bad argument #1 to 'setmetatable' (table expected, got " .. type(t) .. ")", 2)
    end
    if mt ~= nil and type(mt) ~= "table" then
      error("bad argument #2 to 'setmetatable' (nil or table expected)", 2)
    end
    if mt ~= nil and rawget(mt, "__gc") ~= nil then
      error("setmetatable: __gc metamethods are not allowed in a net file", 2)
    end
    if mt then owned[mt] = true end
    return setmetatable(t, mt)
  end

  local function safe_getmetatable(t)
    if type(t) ~= "table" then return nil end
    local mt = getmetatable(t)
    if type(mt) ~= "table" or owned[mt] then return mt end
    return ro(mt)
  end

  local function safe_load(chunk, name)
    if type(chunk) ~= "string" and type(chunk) ~= "function" then
      error("bad argument #1 to 'load' (string or function expected)", 2)
    end
    return load(chunk, name, "t", env)
  end

  for _, k in ipairs{ "pairs", "ipairs", "select", "type", "tostring", "tonumber", "error",
                      "assert", "next", "rawget", "rawequal", "rawlen" } do
    env[k] = _G[k]
  end
  env.pcall = function(f, ...) return rethrow_limit(pcall(f, ...)) end
  env.xpcall = function(f, h, ...) return rethrow_limit(xpcall(f, h, ...)) end
  env.setmetatable = safe_setmetatable
  env.getmetatable = safe_getmetatable
  env.load = safe_load
  env.include = includer(env, dir)
  env.unpack = table.unpack
  env._VERSION = _VERSION
  env.math = copy(math)
  env.string = copy(safe_string)
  env.table = copy(table)
  env.table.move = safe_move
  env.utf8 = copy(utf8)
  env.nn = ro(nn)
  env.ember = { Tensor = ro(ember.Tensor), isTensor = ember.isTensor }
  env._G = env
  return env
end

---------------------------------------------------------------- loading

-- Compiles a text chunk with env (a sandbox environment by default); binary
-- chunks are refused. Returns the function, or nil and the message.
function M.load(text, chunkname, env)
  return load(text, chunkname, "t", env or M.env())
end

-- The same for a file; its default environment includes from its directory.
function M.loadfile(path, env)
  return loadfile(path, "t", env or M.env(dirname(path)))
end

---------------------------------------------------------------- running

-- What a session changes in the host, put back afterwards.
local function enter_host()
  local smt = getmetatable("")
  local saved = { string_index = smt.__index, save_npy = core.methods.save_npy }
  smt.__index = safe_string
  if saved.save_npy then
    core.methods.save_npy = function()
      error("save_npy: writing files is not allowed while a net file loads", 2)
    end
  end
  return saved
end

local function leave_host(saved)
  getmetatable("").__index = saved.string_index
  core.methods.save_npy = saved.save_npy
end

local function limit_message(name, hit, lim, err)
  local prefix = name and (name .. ": ") or ""
  if hit == "instructions" then
    return prefix .. "instruction limit (" .. count_str(lim.instructions) .. ") exceeded"
  elseif hit == "memory" then
    return prefix .. "memory limit (" .. bytes_str(lim.memory) .. ") exceeded"
  end
  local detail = type(err) == "string" and err:match("(tensor memory limit %b() exceeded.*)$")
  return prefix .. (detail or ("tensor memory limit (" .. bytes_str(lim.tensors) .. ") exceeded"))
end

-- Statistics of the last session run by M.run: {instructions=, memory=,
-- tensors=} (what it used) and hit (nil or the limit).
M.last = nil

-- Calls fn(...) under the limits and returns its results; raises fn's error,
-- or "<name>: <limit> limit (<value>) exceeded" when a limit stopped it
-- (even if fn caught that error itself). A run inside a run shares the outer
-- session's limits.
function M.run(name, limits, fn, ...)
  local lim = M.limits(limits)
  if core.sandbox_active() then return fn(...) end
  local saved = enter_host()
  local r = table.pack(pcall(core.sandbox_call, lim.instructions, lim.memory, lim.tensors, fn, ...))
  leave_host(saved)
  if not r[1] then error(r[2], 0) end   -- bad limits, or a session already running
  local stats = r[3]
  M.last = stats
  if stats.hit then
    local err = r[4]
    r = nil
    collectgarbage()   -- what the script piled up goes now, not at some later step
    error(limit_message(name, stats.hit, lim, err), 0)
  end
  if not r[2] then error(r[4], 0) end
  return table.unpack(r, 4, r.n)
end

-- Loads and runs a file in a fresh environment under the limits: its results.
function M.dofile(path, limits, ...)
  local f, err = M.loadfile(path)
  if not f then error(err, 0) end
  return M.run(path, limits, f, ...)
end

return M
