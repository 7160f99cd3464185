-- ember/fuse.lua -- folds activations and residual adds into the convolution
-- before them, so each runs in the convolution's own pass over its output.
--
--   local fuse = require "ember.fuse"
--   graph = fuse.graph(graph)      -- rewrites in place, returns graph
--   fuse.report(graph)             -- {"layer1.0.conv2 + residual + relu", ...}
--
-- Rewrites, on a running graph (model.lua's m.graph, after batch norms are
-- folded; or an nn.Graph from ONNX import):
--   conv -> ReLU / ReLU6 / Clamp       (Sequential neighbours, nn.Identity
--                                       between them skipped; in an nn.Graph,
--                                       the conv's output read by that node only)
--   ConcatTable(body ending in a conv, shortcut) -> CAddTable [-> activation]
--                                      (ResNet's and MobileNet v2's blocks)
--     becomes FusedResidual(body, shortcut): the shortcut runs first, the
--     body's last conv gets {h, shortcut output}; CAddTable and the activation become
--     nn.Identity (positions kept, so error paths read as before)
--   in an nn.Graph: Add(conv output read only there, another node's output
--     or a graph input; not a constant) becomes the conv with a table input
--     {x, residual} (a residual of another shape, as a broadcasting Add may
--     have, falls back to conv, add, activation inside the module).
-- A convolution that gets an epilogue is a copy (shallow: weights shared), so
-- modules shared with m.net keep running unfused there. Containers are
-- changed in place: call it on a copy (model.lua's graph is one).

local class = require "ember.class"
local core = require "ember.core"
local nn = require "ember.nn"
local Container = require "ember.nn.Container"

local M = {}

---------------------------------------------------------------- FusedResidual

-- Internal container made by this pass (not a net-file class): modules are
-- {body, shortcut} as in the ConcatTable it replaces, body a Sequential whose
-- k-th child is its last convolution. forward runs the shortcut first, then
-- the body with that convolution called on the table {h, shortcut output}:
-- the residual is part of its input, so a memory plan tracing what each
-- module reads keeps the shortcut's output alive until then.
local FusedResidual = class("nn.FusedResidual", Container)
M.FusedResidual = FusedResidual

function FusedResidual:__init(body, shortcut, k)
  Container.__init(self)
  self.modules = { body, shortcut }
  self.k = k
end

function FusedResidual:updateOutput(input)
  local s = self:runChild(2, input)
  local body, h = self.modules[1], input
  for i = 1, #body.modules do
    local ok, out = pcall(body.runChild, body, i, i == self.k and { h, s } or h)
    if not ok then
      if type(out) == "table" then out.via = body end   -- the path goes through the body
      error(self:_errorThrough(out), 0)
    end
    h = out
  end
  body.output = h
  self.output = h
  return h
end

function FusedResidual:__tostring__()
  return self:branchString("nn.FusedResidual" .. (self.name and (" <" .. self.name .. ">") or "")
                           .. " (shortcut first, added in the body's last conv)")
end

---------------------------------------------------------------- helpers

local Conv = nn.SpatialConvolution

local function is_conv(m)
  return type(m) == "table" and (m.__typename == "nn.SpatialConvolution"
    or m.__typename == "nn.SpatialDilatedConvolution") and m.updateOutput == Conv.updateOutput
end

-- The epilogue of an activation module: kind, a, b, printed name; or nil.
local function act_of(m)
  local t = type(m) == "table" and m.__typename
  if t == "nn.ReLU" then return "relu", 0, 0, "relu" end
  if t == "nn.ReLU6" then return "clamp", 0, 6, "relu6" end
  if t == "nn.Clamp" then return "clamp", m.min_val, m.max_val, string.format("clamp(%g, %g)", m.min_val, m.max_val) end
  return nil
end

-- A copy of conv that may take an epilogue (its own output tensors).
local function fusable_copy(conv)
  if conv._fusedCopy then return conv end
  local c = {}
  for k, v in pairs(conv) do c[k] = v end
  setmetatable(c, getmetatable(conv))
  c.output, c._out4, c.finput = core.tensor(), nil, core.tensor()
  c.fusedNames = {}
  c._fusedCopy = true
  if conv.fusedNames then for i, n in ipairs(conv.fusedNames) do c.fusedNames[i] = n end end
  return c
end

local function set_act(conv, m)
  local kind, a, b, name = act_of(m)
  conv.fusedAct, conv.fusedA, conv.fusedB = kind, a, b
  conv.fusedNames[#conv.fusedNames + 1] = name
end

local function is_identity(m) return m.__typename == "nn.Identity" end

-- Index of the last module of a Sequential that is not an Identity.
local function last_real(seq)
  for i = #seq.modules, 1, -1 do
    if not is_identity(seq.modules[i]) then return i end
  end
  return nil
end

-- First leaf of a module (through Sequentials).
local function first_leaf(m)
  while m.__typename == "nn.Sequential" and #m.modules > 0 do m = m.modules[1] end
  return m
end

---------------------------------------------------------------- Sequential

local fuse_module

-- conv [Identity...] act  ->  conv+act [Identity...] Identity
local function fuse_acts(seq)
  local mods = seq.modules
  for i = 1, #mods do
    local m = mods[i]
    if is_conv(m) and not m.fusedAct then
      local j = i + 1
      while mods[j] and is_identity(mods[j]) do j = j + 1 end
      if mods[j] and act_of(mods[j]) then
        local c = fusable_copy(m)
        set_act(c, mods[j])
        mods[i], mods[j] = c, nn.Identity()
      end
    end
  end
end

-- ConcatTable(body, shortcut) [Identity...] CAddTable [Identity...] [act]
local function fuse_residuals(seq)
  local mods = seq.modules
  for i = 1, #mods do
    local ct = mods[i]
    if ct.__typename == "nn.ConcatTable" and #ct.modules == 2 then
      local body, shortcut = ct.modules[1], ct.modules[2]
      local j = i + 1
      while mods[j] and is_identity(mods[j]) do j = j + 1 end
      local add = mods[j]
      local k = last_real(body.__typename == "nn.Sequential" and body or { modules = {} })
      local conv = k and body.modules[k]
      -- the body must start with a convolution: then nothing in it writes
      -- into the block's input, which the shortcut may return as its output
      if add and add.__typename == "nn.CAddTable" and conv and is_conv(conv) and not conv.fusedAct
         and is_conv(first_leaf(body)) then
        local c = fusable_copy(conv)
        c.fusedNames[#c.fusedNames + 1] = "residual"
        body.modules[k] = c
        local fr = FusedResidual(body, shortcut, k)
        fr.name = ct.name
        mods[i], mods[j] = fr, nn.Identity()
        local a = j + 1
        while mods[a] and is_identity(mods[a]) do a = a + 1 end
        if mods[a] and act_of(mods[a]) then
          set_act(c, mods[a])
          mods[a] = nn.Identity()
        end
      end
    end
  end
end

---------------------------------------------------------------- nn.Graph

-- Rebuilds the node lists without the removed nodes.
local function compact(g, removed)
  local mods, nodes = {}, {}
  for i, m in ipairs(g.modules) do
    if not removed[i] then
      mods[#mods + 1] = m
      nodes[#mods] = g.nodes[i]
    end
  end
  g.modules, g.nodes = mods, nodes
end

-- Readers of each value name (node indices; graph outputs count as readers).
local function readers(g)
  local r = {}
  for i, node in ipairs(g.nodes) do
    for _, n in ipairs(node.inputs) do
      r[n] = r[n] or {}
      r[n][#r[n] + 1] = i
    end
  end
  for _, n in ipairs(g.outputNames) do
    r[n] = r[n] or {}
    r[n][#r[n] + 1] = 0
  end
  return r
end

local function producers(g)
  local p = {}
  for i, node in ipairs(g.nodes) do
    for _, n in ipairs(node.outputs) do p[n] = i end
  end
  return p
end

local function single_reader(r, name)
  local list = r[name]
  return list and #list == 1 and list[1] > 0 and list[1] or nil
end

-- Add(conv_out, other) -> conv {x, other}: the conv node moves to the Add's
-- position, where both inputs exist (its own input is not written in between:
-- ONNX import makes no in-place modules).
local function graph_residuals(g)
  local r, p = readers(g), producers(g)
  local removed, moved = {}, {}
  for j, add in ipairs(g.modules) do
    local node = g.nodes[j]
    if add.__typename == "nn.CAddTable" and node.table and #node.inputs == 2 and not node.multi then
      for side = 1, 2 do
        local cname, other = node.inputs[side], node.inputs[3 - side]
        local i = p[cname]
        local conv = i and g.modules[i]
        if i and not removed[i] and not moved[i] and is_conv(conv) and not conv.fusedAct
           and not g.nodes[i].table and not g.nodes[i].multi and single_reader(r, cname) == j
           and (p[other] and p[other] ~= i or g._known[other] == "input") then
          local c = fusable_copy(conv)
          c.fusedNames[#c.fusedNames + 1] = "residual"
          g.modules[j] = c
          g.nodes[j] = { inputs = { g.nodes[i].inputs[1], other }, outputs = node.outputs,
                         table = true, multi = false }
          removed[i], moved[j] = true, true
          break
        end
      end
    end
  end
  compact(g, removed)
end

-- conv -> act, the conv's output read by the activation only.
local function graph_acts(g)
  local r = readers(g)
  local removed = {}
  for i, m in ipairs(g.modules) do
    local node = g.nodes[i]
    if is_conv(m) and not m.fusedAct and not node.multi and not removed[i] then
      local j = single_reader(r, node.outputs[1])
      local a = j and g.modules[j]
      if a and act_of(a) and not g.nodes[j].table then
        local c = fusable_copy(m)
        set_act(c, a)
        g.modules[i] = c
        -- a new node table: a copied graph (model.lua's) shares them with m.net
        g.nodes[i] = { inputs = node.inputs, outputs = g.nodes[j].outputs,
                       table = node.table, multi = node.multi }
        removed[j] = true
      end
    end
  end
  compact(g, removed)
end

---------------------------------------------------------------- entry points

fuse_module = function(m)
  if not m.modules then return m end
  for _, child in ipairs(m.modules) do fuse_module(child) end
  if m.__typename == "nn.Sequential" then
    fuse_residuals(m)
    fuse_acts(m)
  elseif m.__typename == "nn.Graph" then
    -- node tables are replaced, never changed, in a list of our own: a copied
    -- graph (model.lua's) shares the list and the tables with m.net
    local nodes = {}
    for i, node in ipairs(m.nodes) do nodes[i] = node end
    m.nodes = nodes
    graph_residuals(m)
    graph_acts(m)
  end
  return m
end

-- Fuses the running graph m (in place) and returns it.
function M.graph(m)
  return fuse_module(m)
end

-- Descriptions of the fused convolutions, in forward order.
function M.report(m, into)
  into = into or {}
  if m.fusedNames and #m.fusedNames > 0 then
    into[#into + 1] = (m.name and (m.name .. ": ") or "") .. m:__repr()
  end
  for _, child in ipairs(m.modules or {}) do M.report(child, into) end
  return into
end

return M
