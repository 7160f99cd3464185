-- ember/models.lua -- a registry of models over nets/ and weights/ that swaps
-- in new versions while serving: load beside, validate, replace atomically.
--
--   local reg = ember.models.new{ nets = "nets", weights = "weights", probe = true,
--                                 on_error = function(name, err) io.stderr:write(err, "\n") end }
--   local m = reg:get("resnet18")   -- loads nets/resnet18.lua + weights/resnet18.safetensors
--   local out = m:forward(x)        -- hold m for the whole call: a reload meanwhile
--                                   -- does not touch it (it stays valid while held)
--   reg:watch(0.5)                  -- then, in the app's loop:
--   for _, ev in ipairs(reg:poll()) do print(ev.name, ev.ok, ev.tag or ev.err) end
--
-- reg:reload(name) loads the new version beside the old one (ember.load in
-- the sandbox, weights copied into memory so rewriting the file later cannot
-- change a loaded model), validates it (probe: a fixed input of the declared
-- size runs through it; the output must have the expected shape and finite
-- values), then replaces the old one with a single table assignment. On any
-- failure the old version keeps serving: reload returns false, err and calls
-- on_error(name, err, old). Each version is tagged: m.version = 3,
-- m.tag = "resnet18@3", m.files = { net = {path=, mtime=, size=}, weights = ... }.
--
-- Files being written while they are read: the files' mtime, size and inode
-- are taken before and after the load; if they moved, the load is dropped
-- (err says so) and the next poll tries again. A truncated weights file fails
-- the safetensors size checks. Replace files atomically (write, then mv) where
-- you can; an in-place rewrite is detected, but a truncation exactly while the
-- file is being read may still fault.
--
-- Options of models.new: nets, weights (directories; weights = false: nets
-- with their initial weights), probe (default true), limits (the sandbox's),
-- outputs = { name = {sizes...} } (expected output shape per model, batch
-- dimension included; otherwise the previous version's), options = { name =
-- {...ember.load options, e.g. num_classes} }, on_error(name, err, old),
-- on_swap(name, new, old). Watching polls file stamps (lua-inotify has no
-- Lua 5.4 build in Debian): poll() is cheap, one stat per file, and does
-- nothing when called sooner than the watch interval.

local ember = require "ember"
local core = require "ember.core"
local sandbox = require "ember.sandbox"

local M = {}

local Registry = {}
Registry.__index = Registry

local function join(dir, file)
  if dir == "" or dir == "." then return file end
  return (dir:sub(-1) == "/" and dir or dir .. "/") .. file
end

local function stamp(path)
  local mtime, size, ino = core.file_stat(path)
  if not mtime then return nil end
  return { path = path, mtime = mtime, size = size, ino = ino }
end

local function same(a, b)
  if a == nil or b == nil then return a == b end
  return a.mtime == b.mtime and a.size == b.size and a.ino == b.ino
end

function M.new(opts)
  opts = opts or {}
  if type(opts) ~= "table" then error("models.new: expected a table of options, got " .. type(opts), 2) end
  local self = setmetatable({
    nets = opts.nets or "nets",
    weights = opts.weights == nil and "weights" or opts.weights,
    probe = opts.probe ~= false,
    limits = opts.limits,
    outputs = opts.outputs or {},
    options = opts.options or {},
    on_error = opts.on_error,
    on_swap = opts.on_swap,
    current = {},      -- name -> the model serving now
    counter = {},      -- name -> last version number given
    failed = {},       -- name -> stamps of files that failed validation
    probes = {},       -- "c,h,w" -> probe input
    interval = nil,    -- watch interval (seconds), nil when not watching
    last_poll = -math.huge,
  }, Registry)
  return self
end

function Registry:paths(name)
  if type(name) ~= "string" or not name:match("^[%w_%.%-]+$") or name:find("..", 1, true) then
    error("models: bad model name " .. tostring(name), 3)
  end
  local net = join(self.nets, name .. ".lua")
  local weights = self.weights and join(self.weights, name .. ".safetensors") or nil
  return net, weights
end

-- Current stamps of a model's files: {net = stamp, weights = stamp|nil}.
function Registry:stamps(name)
  local net, weights = self:paths(name)
  return { net = stamp(net), weights = weights and stamp(weights) or nil }
end

local function same_stamps(a, b)
  return a ~= nil and b ~= nil and same(a.net, b.net) and same(a.weights, b.weights)
end

-- A fixed, non-constant input of shape 1,C,H,W (kept per shape).
function Registry:probe_input(input)
  local key = table.concat(input, ",")
  local x = self.probes[key]
  if x then return x end
  local n = 1
  for _, s in ipairs(input) do n = n * s end
  local flat = {}
  for i = 1, n do flat[i] = ((i * 7919) % 1009) / 1009 - 0.5 end
  x = core.tensor(flat):view(1, table.unpack(input))
  self.probes[key] = x
  return x
end

-- Runs the probe through m (in the sandbox: a net's own code may run here);
-- returns the output's sizes or raises.
function Registry:validate(name, m, old)
  if not self.probe then return nil end
  local input = m.input
  if type(input) ~= "table" or #input ~= 3 then
    error(name .. ": cannot probe: the net declares no input = {C, H, W}", 0)
  end
  local x = self:probe_input(input)
  local sizes, sum = sandbox.run(name .. " probe", self.limits, function()
    local out = m.graph:forward(x)
    if not ember.isTensor(out) then error("output is a " .. type(out) .. ", not a tensor", 0) end
    return out:size(), out:sum()
  end)
  local want = self.outputs[name] or (old and old.probe_output)
  if want and table.concat(want, "x") ~= table.concat(sizes, "x") then
    error(string.format("%s: probe output is %s, expected %s", name, table.concat(sizes, "x"),
                        table.concat(want, "x")), 0)
  end
  if sum ~= sum or sum == math.huge or sum == -math.huge then
    error(name .. ": probe output has non-finite values (NaN or Inf)", 0)
  end
  return sizes
end

-- Loads and validates a new version beside the current one; does not swap.
function Registry:load_version(name)
  local netpath, wpath = self:paths(name)
  local before = self:stamps(name)
  if not before.net then error(name .. ": no net file " .. netpath, 0) end
  if wpath and not before.weights then error(name .. ": no weights file " .. wpath, 0) end
  local spec = { net = netpath, weights = wpath, copy = true, limits = self.limits }
  for k, v in pairs(self.options[name] or {}) do spec[k] = v end
  local m = ember.load(spec)
  local after = self:stamps(name)
  if not same_stamps(before, after) then
    local e = name .. ": files changed while loading; will retry"
    error(setmetatable({ msg = e, retry = true }, { __tostring = function() return e end }), 0)
  end
  local old = self.current[name]
  m.probe_output = self:validate(name, m, old)
  m.files = before
  m.name = name
  return m
end

-- Loads, validates and swaps in a new version. Returns true, model or
-- false, err (old version still serving, on_error called).
function Registry:reload(name)
  local ok, m = pcall(self.load_version, self, name)
  local old = self.current[name]
  if not ok then
    local err = tostring(m)
    local retry = type(m) == "table" and m.retry
    if not retry then self.failed[name] = self:stamps(name) end
    if self.on_error then self.on_error(name, err, old) end
    return false, err
  end
  local v = (self.counter[name] or 0) + 1
  self.counter[name] = v
  m.version, m.tag = v, name .. "@" .. v
  m.loaded_at = ember.now()
  self.current[name] = m          -- the swap: one assignment
  self.failed[name] = nil
  if self.on_swap then self.on_swap(name, m, old) end
  return true, m
end

-- The model serving now, loaded on first use (raises if that first load fails).
function Registry:get(name)
  local m = self.current[name]
  if m then return m end
  local ok, err = self:reload(name)
  if not ok then error(err, 2) end
  return self.current[name]
end

-- Names of the models loaded so far, sorted.
function Registry:loaded()
  local list = {}
  for name in pairs(self.current) do list[#list + 1] = name end
  table.sort(list)
  return list
end

-- Watch mode: poll() looks at the files at most every interval seconds
-- (default 0: every call).
function Registry:watch(interval)
  self.interval = interval or 0
  return self
end

function Registry:unwatch()
  self.interval = nil
  return self
end

-- Looks at the files of every loaded model (and of models whose load failed)
-- and reloads those that changed. Returns a list of events:
-- { name =, ok = true, tag =, old = old tag } or { name =, ok = false, err = }.
-- force = true ignores the watch interval.
function Registry:poll(force)
  local now = ember.now()
  if not force and self.interval and now - self.last_poll < self.interval then return {} end
  self.last_poll = now
  local names, seen = {}, {}
  for name in pairs(self.current) do names[#names + 1] = name; seen[name] = true end
  for name in pairs(self.failed) do if not seen[name] then names[#names + 1] = name end end
  table.sort(names)
  local events = {}
  for _, name in ipairs(names) do
    local cur = self.current[name]
    local st = self:stamps(name)
    local changed = not (cur and same_stamps(cur.files, st))
    if changed and not same_stamps(self.failed[name], st) then
      local ok, r = self:reload(name)
      if ok then
        events[#events + 1] = { name = name, ok = true, tag = r.tag, old = cur and cur.tag }
      else
        events[#events + 1] = { name = name, ok = false, err = r }
      end
    end
  end
  return events
end

M.Registry = Registry
return M
