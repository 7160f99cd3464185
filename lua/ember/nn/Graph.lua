-- nn/Graph.lua -- a DAG of modules wired by value names, as an ONNX graph:
-- each node reads named values and writes named values; constants are tensors.
--
--   local g = nn.Graph({"x"}, {"y"})
--   g:constant("scale", {1, 64, 1, 1})                 -- loaded from the weights
--   g:add(nn.SpatialConvolution(3, 64, 3, 3):named("conv"), "x", "c")
--   g:add(nn.CMulTable():named("mul"), {"c", "scale"}, "m")   -- a list: table input
--   g:add(nn.ReLU():named("relu"), "m", "y")
--   local y = g:forward(x)      -- several inputs: g:forward{x1, x2} or {x = ..}
--
-- Nodes run in the order they were added; an input must be a graph input, a
-- constant or the output of an earlier node, so a graph is acyclic by
-- construction. A node's outputs: one name (the module's output tensor) or a
-- list of names (the module returns a table of tensors). Constants are part of
-- the state: key "<graph name>.<constant>" (or "<constant>" unnamed).

local class = require "ember.class"
local core = require "ember.core"
local Container = require "ember.nn.Container"
local Module = require "ember.nn.Module"
local runChild = Module.runChild

local Graph, parent = class("nn.Graph", Container)

local function is_tensor(x)
  local mt = getmetatable(x)
  return type(mt) == "table" and mt.__name == "ember.Tensor"
end

local function name_list(v, what)
  if type(v) == "string" then return { v } end
  if type(v) ~= "table" or #v == 0 then
    error("nn.Graph: " .. what .. " must be a name or a non-empty list of names", 3)
  end
  for _, s in ipairs(v) do
    if type(s) ~= "string" then error("nn.Graph: " .. what .. " must be strings", 3) end
  end
  return { table.unpack(v) }
end

function Graph:__init(inputs, outputs)
  parent.__init(self)
  self.inputNames = name_list(inputs, "inputs")
  self.outputNames = name_list(outputs, "outputs")
  self.nodes = {}            -- per module: {inputs = {...}, outputs = {...}, table = bool, multi = bool}
  self.constants = {}        -- value name -> tensor
  self.constantNames = {}    -- in declaration order
  self._known = {}
  for _, n in ipairs(self.inputNames) do self._known[n] = "input" end
end

-- Declares a constant value: a shape (zeros, to be loaded) or a tensor.
function Graph:constant(name, value)
  if type(name) ~= "string" then error("nn.Graph:constant: expected a name", 2) end
  if self._known[name] then error("nn.Graph:constant: '" .. name .. "' is already defined", 2) end
  local t
  if is_tensor(value) then t = value
  elseif type(value) == "table" then t = #value == 0 and core.tensor(1):view({}) or core.tensor(table.unpack(value))
  else error("nn.Graph:constant: expected a shape or a tensor for '" .. name .. "'", 2) end
  self.constants[name] = t
  self.constantNames[#self.constantNames + 1] = name
  self._known[name] = "constant"
  return self
end

-- Adds a node: module reading `inputs` (a name: the tensor; a list: a table
-- of tensors) and writing `outputs` (a name, or a list for a table output).
function Graph:add(module, inputs, outputs)
  if type(module) ~= "table" or type(module.forward) ~= "function" then
    error("nn.Graph:add expects an nn module, got " .. type(module), 2)
  end
  local ins, outs = name_list(inputs, "node inputs"), name_list(outputs, "node outputs")
  for _, n in ipairs(ins) do
    if not self._known[n] then
      error("nn.Graph:add: " .. (module.name or module:__repr()) .. ": input '" .. n
            .. "' is produced by nothing before it", 2)
    end
  end
  for _, n in ipairs(outs) do
    if self._known[n] then
      error("nn.Graph:add: " .. (module.name or module:__repr()) .. ": output '" .. n
            .. "' is already defined", 2)
    end
    self._known[n] = "node"
  end
  self.modules[#self.modules + 1] = module
  self.nodes[#self.modules] = { inputs = ins, outputs = outs,
                                table = type(inputs) == "table", multi = type(outputs) == "table" }
  return self
end

-- Checks that every output is defined (call after the last add).
function Graph:check()
  for _, n in ipairs(self.outputNames) do
    if not self._known[n] then error("nn.Graph: output '" .. n .. "' is produced by nothing", 2) end
  end
  return self
end

local function describe(m)
  return (m.name and (m.name .. " ") or "") .. m:__repr()
end

local function empty(env)
  for k in pairs(env) do env[k] = nil end
end

-- An error of the forward, once its table of values holds no tensor.
local function fail(env, msg)
  empty(env)
  error(msg, 0)
end

function Graph:updateOutput(input)
  -- the values by name: one table kept from forward to forward (a new one
  -- grew by rehashing through every forward: 6% of ShuffleNet's Lua time),
  -- emptied after each (and on an error), so it holds no tensor between forwards
  local env = rawget(self, "_env")
  if not env then
    env = {}
    self._env = env
  end
  for k, t in pairs(self.constants) do env[k] = t end
  local nin = #self.inputNames
  if is_tensor(input) then
    if nin ~= 1 then fail(env, string.format("expected %d inputs (a table), got one tensor", nin)) end
    env[self.inputNames[1]] = input
  elseif type(input) == "table" then
    for i, n in ipairs(self.inputNames) do
      local t = input[n] or input[i]
      if not is_tensor(t) then fail(env, "missing input " .. i .. " ('" .. n .. "')") end
      env[n] = t
    end
  else
    fail(env, "expected a tensor or a table of tensors, got " .. type(input))
  end
  for i, m in ipairs(self.modules) do
    local node = self.nodes[i]
    local x
    if node.table then   -- the node's input table, refilled each forward
      x = node.args or {}
      node.args = x
      for j, n in ipairs(node.inputs) do x[j] = env[n] end
    else
      x = env[node.inputs[1]]
    end
    local ok, out = runChild(m, x)
    if not ok then
      -- the node's name says where; a nested container's path is in its text
      if Module.isModuleError(out) then
        local e = tostring(out)
        if not m.name or e:find(m.name, 1, true) ~= 1 then e = describe(m) .. ": " .. e end
        fail(env, e)
      end
      fail(env, describe(m) .. ": " .. tostring(out))
    end
    if node.multi then
      if type(out) ~= "table" then fail(env, describe(m) .. ": expected a table of outputs") end
      for j, n in ipairs(node.outputs) do env[n] = out[j] end
    else
      env[node.outputs[1]] = out
    end
  end
  if #self.outputNames == 1 then
    self.output = env[self.outputNames[1]]
  else
    local res = {}
    for i, n in ipairs(self.outputNames) do res[i] = env[n] end
    self.output = res
  end
  empty(env)
  return self.output
end

function Graph:state(into)
  into = Module.state(self, into)
  local prefix = self.name and (self.name .. ".") or ""
  for _, n in ipairs(self.constantNames) do
    local t = self.constants[n]
    if t:nElement() > 0 then into[prefix .. n] = t end
  end
  return into
end

function Graph:clearState()
  Module.clearState(self)
  for _, node in ipairs(self.nodes) do node.args = nil end
  self.output = core.tensor()
  return self
end

function Graph:__repr()
  return string.format("Graph(%d nodes)", #self.modules)
end

-- One line per node: "(3) conv1: SpatialConvolution(3 -> 64, 7x7) <- x -> c"
function Graph:__tostring__()
  local lines = { "nn.Graph" .. (self.name and (" <" .. self.name .. ">") or "") .. " {",
                  "  inputs: " .. table.concat(self.inputNames, ", ") }
  if #self.constantNames > 0 then
    lines[#lines + 1] = "  constants: " .. table.concat(self.constantNames, ", ")
  end
  for i, m in ipairs(self.modules) do
    local node = self.nodes[i]
    local s = tostring(m):gsub("\n", "\n    ")
    lines[#lines + 1] = string.format("  (%d) %s <- %s -> %s", i, s,
      table.concat(node.inputs, ", "), table.concat(node.outputs, ", "))
  end
  lines[#lines + 1] = "  outputs: " .. table.concat(self.outputNames, ", ")
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n")
end

return Graph
