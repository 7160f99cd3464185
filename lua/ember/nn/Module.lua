-- nn/Module.lua -- the base of every layer: forward, names, parameters, errors.
-- A subclass sets __params / __buffers (field names of its tensors) and
-- implements updateOutput(input) and __repr() (e.g. "ReLU" or "Linear(4 -> 2)").

local class = require "ember.class"
local core = require "ember.core"

local Module = class("nn.Module")

function Module:__init()
  self.output = core.tensor()
  self.train = false
end

-- Field names of the tensors a layer loads from a weights file.
Module.__params = {}     -- learnt: weight, bias
Module.__buffers = {}    -- statistics: running_mean, running_var

---------------------------------------------------------------- errors
-- A failure inside forward travels up as a table {msg, module, path}; each
-- container adds its index; the outermost forward raises it as one string:
--   features[4] SpatialConvolution(64 -> 128, 3x3): expected 64 input planes, got 32

local ModuleError = {}
ModuleError.__index = ModuleError

function ModuleError:__tostring()
  local parts = {}
  -- show the chain from the innermost named container on
  local first = 1
  for i, c in ipairs(self.path) do
    if c.name then first = i end
  end
  for i = first, #self.path do
    local c = self.path[i]
    parts[#parts + 1] = (i == first and c.name or "") .. "[" .. c.index .. "]"
  end
  local where = table.concat(parts)
  local leaf = self.module
  local desc = leaf:__repr()
  if leaf.name and #self.path == 0 then desc = leaf.name .. " " .. desc end
  return (where ~= "" and where .. " " or "") .. desc .. ": " .. tostring(self.msg)
end

local raise = error

local function handler(e)
  if getmetatable(e) == ModuleError then return e end
  -- A kernel's message raised by a binding (luaL_error, from C) carries the
  -- position of the Lua line that called it: a message, not a code location,
  -- so it is dropped. error() from Lua and runtime errors keep theirs.
  local where = debug.getinfo(2, "Sf")
  if type(e) == "string" and where and where.what == "C" and where.func ~= raise then
    e = e:gsub("^[^\n]-:%d+: ", "", 1)
  end
  return setmetatable({ msg = e, path = {}, traceback = debug.traceback("", 2) }, ModuleError)
end

local depth = 0   -- nesting of forward calls in this Lua state

function Module:forward(input)
  depth = depth + 1
  local ok, out = xpcall(self.updateOutput, handler, self, input)
  depth = depth - 1
  if ok then return out end
  if not out.module then out.module = self end
  if depth == 0 then error(tostring(out), 0) end
  out.via = self   -- the container above finds its child through this
  error(out, 0)
end

-- For containers: runs child m on x as m:forward does inside another forward,
-- with one protected call instead of two: true and the output, or false and
-- the error (naming m). A class that brings its own forward is called through it.
function Module.runChild(m, x)
  local f = m.forward
  local ok, out = xpcall(f == Module.forward and m.updateOutput or f, handler, m, x)
  if ok then return true, out end
  if not out.module then out.module = m end
  out.via = m
  return false, out
end

-- For containers: records which child (by position) the error came through.
function Module.isModuleError(e) return getmetatable(e) == ModuleError end
function Module:_errorThrough(e)
  if getmetatable(e) ~= ModuleError then return e end
  for i, m in ipairs(self.modules or {}) do
    if m == e.via then
      table.insert(e.path, 1, { name = self.name, index = i })
      break
    end
  end
  return e
end

function Module:updateOutput(input)
  error("updateOutput is not implemented for " .. self.__typename, 0)
end

---------------------------------------------------------------- naming, modes

-- Sets the layer's name: its key prefix in a weights file ("layer1.0.conv1").
function Module:named(name)
  self.name = name
  return self
end

function Module:evaluate()
  self.train = false
  for _, m in ipairs(self.modules or {}) do m:evaluate() end
  return self
end

function Module:training()
  self.train = true
  for _, m in ipairs(self.modules or {}) do m:training() end
  return self
end

function Module:type()
  return self.__typename
end

-- Calls fn on this module and every descendant, depth first.
function Module:apply(fn)
  fn(self)
  for _, m in ipairs(self.modules or {}) do m:apply(fn) end
  return self
end

-- Every module of a given type name ("nn.ReLU"), as Torch7's findModules.
function Module:findModules(typename)
  local found = {}
  self:apply(function(m) if m.__typename == typename then found[#found + 1] = m end end)
  return found
end

---------------------------------------------------------------- tensors

-- The learnt tensors of this module and its descendants, as Torch7.
function Module:parameters()
  local list = {}
  self:apply(function(m)
    for _, f in ipairs(m.__params) do
      if m[f] and m[f]:nElement() > 0 then list[#list + 1] = m[f] end
    end
  end)
  return list
end

-- name -> tensor for every parameter and buffer of named modules
-- ("layer1.0.bn1.running_mean"), the keys of a weights file.
function Module:state(into)
  into = into or {}
  self:apply(function(m)
    if not m.name then return end
    for _, list in ipairs{ m.__params, m.__buffers } do
      for _, f in ipairs(list) do
        if m[f] and m[f]:nElement() > 0 then into[m.name .. "." .. f] = m[f] end
      end
    end
  end)
  return into
end

-- Drops intermediate outputs (they are re-made by the next forward); a
-- module whose output is a Lua table (ConcatTable) gets an empty table.
function Module:clearState()
  self:apply(function(m)
    m.output = type(m.output) == "table" and {} or core.tensor()
  end)
  return self
end

---------------------------------------------------------------- printing

-- Short description, without "nn.": "ReLU", "Linear(4 -> 2)".
function Module:__repr()
  return (self.__typename:gsub("^nn%.", ""))
end

function Module:__tostring__()
  return "nn." .. self:__repr()
end

return Module
