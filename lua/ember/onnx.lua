-- ember/onnx.lua -- ONNX import: a model file becomes an nn.Graph of ember's modules.
-- local g = require("ember.onnx").load("resnet18.onnx"); local y = g:forward(x)
--
-- The C binding (lonnx.c) decodes the protobuf into Lua tables with every size
-- checked. Here the graph is checked (each input produced by something, no
-- cycle, every operator known), sorted, and converted node by node through
-- the converters of lua/ember/onnx/*.lua (the registry below). Along the way:
--   * nodes whose inputs are all constants (initializers, Constant outputs,
--     Shape of a value whose shape is static) are evaluated at import, so the
--     shape arithmetic exporters emit (Shape, Gather, Unsqueeze, Concat, ...)
--     leaves only constants behind; integer values stay exact;
--   * Identity and Dropout vanish; a BatchNormalization right after a Conv
--     whose output has no other reader is folded into the Conv's weights;
--   * one probe forward on zeros (when the input shapes are static) gives
--     every value's shape to the converters that need it (auto_pad, Shape),
--     and reports size mismatches at import, naming the node.

local core = require "ember.core"
local nn = require "ember.nn"
local check = require "ember.onnx.check"

local M = {}

-- op_type -> {convert = fn(cx, node), fold = fn(cx, node) | nil, doc = "..."}
M.families = { "conv", "act", "pool", "math", "shape" }
M.registry = {}
for _, fam in ipairs(M.families) do
  for op, def in pairs(require("ember.onnx." .. fam)) do
    if type(def) == "table" and def.convert then   -- "_helpers" are functions
      def.family = fam
      M.registry[op] = def
    end
  end
end

M.MIN_OPSET, M.MAX_OPSET = 7, 17

-- A new tensor of sizes s ({} for a scalar); its values are not set.
local function shaped(s)
  return #s == 0 and core.tensor(1):view({}) or core.tensor(table.unpack(s))
end

local function is_tensor(x)
  local mt = getmetatable(x)
  return type(mt) == "table" and mt.__name == "ember.Tensor"
end

---------------------------------------------------------------- constants

-- A constant value: {dims = {...}, dtype = "float" | "int64" | ..., tensor =
-- ember.Tensor (float32), ints = exact integers (integral dtypes)}.
local INTEGRAL = { int64 = true, int32 = true, int16 = true, int8 = true, uint8 = true,
                   uint16 = true, uint32 = true, uint64 = true, bool = true }
M.INTEGRAL = INTEGRAL

-- A constant from a flat list of numbers.
function M.const_from(values, dims, dtype)
  local n = 1
  for _, d in ipairs(dims) do n = n * d end
  if n ~= #values then error(string.format("internal: %d values for %d elements", #values, n), 0) end
  local t
  if n == 0 then
    t = core.tensor(table.unpack(dims))
  else
    local fl = {}
    for i, v in ipairs(values) do fl[i] = v + 0.0 end
    t = core.tensor(fl)
    t = #dims == 0 and t:view({}) or t:view(dims)
  end
  local c = { dims = { table.unpack(dims) }, dtype = dtype or "float", tensor = t }
  if INTEGRAL[c.dtype] then
    c.ints = {}
    for i, v in ipairs(values) do c.ints[i] = math.tointeger(v) or math.floor(v) end
  end
  return c
end

-- A constant of dtype float from a tensor.
function M.const_tensor(t)
  return { dims = t:dim() == 0 and {} or t:size(), dtype = "float", tensor = t }
end

-- Flat list of a constant's values (exact integers when it has them).
function M.values(c)
  if c.ints then return c.ints end
  if not c.list then
    local n = 1
    for _, d in ipairs(c.dims) do n = n * d end
    c.list = n == 0 and {} or c.tensor:contiguous():view(-1):totable()
  end
  return c.list
end

---------------------------------------------------------------- import context

local Cx = {}
Cx.__index = Cx

local function fail(cx, msg)
  error({ onnx = true, msg = msg }, 0)
end
M.fail = fail

function Cx:resolve(name) return self.alias[name] or name end

-- Name of input i of the current node ("" when absent).
function Cx:input(i)
  local n = self.node.inputs[i]
  if n == nil or n == "" then return nil end
  return self:resolve(n)
end

function Cx:has(i) return self:input(i) ~= nil end
function Cx:const(i)
  local n = self:input(i)
  return n and self.consts[n]
end

-- Integer list of a constant input (raises naming the input otherwise).
function Cx:ints(i, what)
  local c = self:const(i)
  if not c then fail(self, (what or ("input " .. i)) .. " must be a constant (computed at run time here)") end
  local v = M.values(c)
  local out = {}
  for k, x in ipairs(v) do
    out[k] = math.tointeger(x)
    if not out[k] then fail(self, (what or ("input " .. i)) .. " must hold integers, got " .. tostring(x)) end
  end
  return out
end

function Cx:floats(i, what)
  local c = self:const(i)
  if not c then fail(self, (what or ("input " .. i)) .. " must be a constant (computed at run time here)") end
  return M.values(c)
end

function Cx:tensor(i, what)
  local c = self:const(i)
  if not c then fail(self, (what or ("input " .. i)) .. " must be a constant (weights computed at run time are not supported)") end
  return c.tensor
end

-- Sizes of input i: a constant's dims or the probe's; nil when unknown.
function Cx:shape(i)
  local n = self:input(i)
  if not n then return nil end
  if self.consts[n] then return self.consts[n].dims end
  return self.shapes[n]
end

-- Whether input i is known to have an integer type (a constant's dtype or
-- a graph input's declared type).
function Cx:integral(i)
  local n = self:input(i)
  if not n then return false end
  local c = self.consts[n]
  if c then return INTEGRAL[c.dtype] or false end
  return INTEGRAL[self.input_types[n] or ""] or false
end

function Cx:rank(i)
  local s = self:shape(i)
  return s and #s
end

-- Attribute name, or default; a value of another kind than the default
-- (number, string, list of numbers) is an error naming the attribute.
function Cx:attr(name, default)
  local v = self.node.attrs[name]
  if v == nil then return default end
  local want = default ~= nil and type(default) or nil
  if want and type(v) ~= want then
    fail(self, string.format("attribute %s must be a %s, got a %s", name, want, type(v)))
  end
  if type(v) == "table" and not v.tensor then
    for _, x in ipairs(v) do
      if type(x) ~= "number" and type(x) ~= "string" then
        fail(self, "attribute " .. name .. " holds a " .. type(x))
      end
    end
  end
  return v
end

function Cx:output(i) return self.node.outputs[i or 1] end

-- The output as a constant (folding).
function Cx:set_const(i, c)
  local n = self.node.outputs[i]
  if n and n ~= "" then self.consts[n] = c end
end

-- Output i is input j itself (Identity, Dropout).
function Cx:set_alias(i, j)
  local n = self.node.outputs[i]
  if n and n ~= "" then
    local src = self:input(j)
    if not src then fail(self, "missing input " .. j) end
    self.alias[n] = src
  end
end

-- A fresh internal value name for multi-module nodes.
function Cx:temp(what)
  self.ntemp = self.ntemp + 1
  return (self.node.name ~= "" and self.node.name or self.node.op_type) .. "/" .. what .. "_" .. self.ntemp
end

-- Adds module m reading `inputs` (a name, or a list: table input) and writing
-- `outputs` (a name or a list). Inputs that are constants become graph
-- constants. Names the module after the node; runs it on the probe values.
function Cx:emit(m, inputs, outputs)
  local ins = type(inputs) == "table" and inputs or { inputs }
  for k, n in ipairs(ins) do ins[k] = self:resolve(n) end
  local base = self.node.name ~= "" and self.node.name or (self.node.op_type .. "_" .. self.nodeindex)
  local name, k = base, 1
  while self.names[name] do k = k + 1; name = base .. "_" .. k end
  self.names[name] = true
  m:named(name)
  -- one im2col scratch for every convolution of the graph (ember/plan.lua)
  if m.finput then self.scratch = self.scratch or core.tensor(); m.finput = self.scratch end
  -- a layer's constructor made random weights the converter replaced: Lua
  -- sees small userdata, not their storage, so collect before they pile up
  if m.weight then collectgarbage() end
  if self.folding then
    -- all inputs constant: evaluate now instead of adding a node
    local x
    if type(inputs) == "table" then
      x = {}
      for j, n in ipairs(ins) do x[j] = self.consts[n].tensor end
    else
      x = self.consts[ins[1]].tensor
    end
    local out = m:forward(x)
    -- data movement on integer constants (Slice of a shape...) keeps them
    -- integers: the first input's type, when every input has exact values
    local dtype = self.consts[ins[1]].ints and self.consts[ins[1]].dtype
    for _, n in ipairs(ins) do if not self.consts[n].ints then dtype = nil end end
    local outs = type(outputs) == "table" and outputs or { outputs }
    for j, n in ipairs(outs) do
      local t = type(outputs) == "table" and out[j] or out
      local c = M.const_tensor(t:clone())
      if dtype and t:nElement() <= 65536 then
        local v = t:nElement() > 0 and t:contiguous():view(-1):totable() or {}
        for k, x in ipairs(v) do v[k] = math.tointeger(x) or (x >= 0 and math.floor(x) or math.ceil(x)) end
        c.dtype, c.ints = dtype, v
      end
      self.consts[n] = c
    end
    return out
  end
  for _, n in ipairs(ins) do
    if self.consts[n] and not self.graph.constants[n] then
      self.graph:constant(n, self.consts[n].tensor)
    end
  end
  local is_table, multi = type(inputs) == "table", type(outputs) == "table"
  self.graph:add(m, is_table and ins or ins[1], outputs)
  local outs = multi and outputs or { outputs }
  for _, n in ipairs(outs) do
    self.producer[n] = { module = m, inputs = ins, table = is_table, outs = outs, multi = multi }
  end
  if self.probing then self:probe(m, ins, is_table, outs, multi) end
  return m
end

-- Runs m on the probe values of its inputs (vals; with symbolic input dims
-- also vals2, the probe with those dims at 2, so dims that differ are known
-- to be dynamic) and records its outputs' values and shapes.
function Cx:probe(m, ins, is_table, outs, multi)
  for _, n in ipairs(ins) do self:revive(n) end
  for pass = 1, self.vals2 and 2 or 1 do
    local vals = pass == 1 and self.vals or self.vals2
    local x
    if is_table then
      x = {}
      for j, n in ipairs(ins) do x[j] = vals[n] or (self.consts[n] and self.consts[n].tensor) end
    else
      x = vals[ins[1]] or (self.consts[ins[1]] and self.consts[ins[1]].tensor)
    end
    local ok, out = pcall(m.forward, m, x)
    if not ok then fail(self, tostring(out)) end
    for j, n in ipairs(outs) do
      local t = multi and out[j] or out
      -- the module reuses its output tensor: the first pass keeps a copy
      if self.vals2 and pass == 1 then t = t:clone() end
      vals[n] = t
      if pass == 1 then self.shapes[n] = t:dim() == 0 and {} or t:size()
      else self.shapes2[n] = t:dim() == 0 and {} or t:size() end
    end
  end
  -- a value computed from shapes alone that is the same in both probes does
  -- not depend on the symbolic dims: it becomes a constant (the modules that
  -- made it are dropped at the end if nothing else reads them)
  if self.vals2 and self.derived_node then
    for _, n in ipairs(outs) do
      self.derived[n] = true
      local a, b = self.vals[n], self.vals2[n]
      if a:nElement() <= 4096 and a:isSameSizeAs(b) then
        local va = a:nElement() > 0 and a:contiguous():view(-1):totable() or {}
        local vb = b:nElement() > 0 and b:contiguous():view(-1):totable() or {}
        local same, integral = true, true
        for i = 1, #va do
          if va[i] ~= vb[i] then same = false break end
          if va[i] ~= math.floor(va[i]) then integral = false end
        end
        if same then
          local dims = a:dim() == 0 and {} or a:size()
          self.consts[n] = M.const_from(va, dims, integral and "int64" or "float")
        end
      end
    end
  end
end

-- Re-runs the producer of value n on the probe (after its weights changed).
-- When an input's probe value is already released (see Cx:release), n keeps
-- its old value: a new one would differ in numbers only, and later nodes
-- read shapes (values derived from shapes never come from weights).
function Cx:reprobe(n)
  local p = self.producer[n]
  if not self.probing or not p then return end
  for _, i in ipairs(p.inputs) do
    if not self.vals[i] and not self.consts[i] then return end
  end
  self:probe(p.module, p.inputs, p.table, { n }, false)
end

-- Layers whose buffer the first forward does not want: ember.fuse folds them
-- into the convolution before them, or the memory plan runs them in place.
local TRANSIENT = { ["nn.ReLU"] = true, ["nn.ReLU6"] = true, ["nn.Clamp"] = true,
                    ["nn.CAddTable"] = true }

-- Drops the probe value of n once no node still to convert reads it (left:
-- readers not yet converted, per name; graph outputs never reach 0), nor any
-- name aliased to it; its producer's output buffer goes with it. The probe
-- then holds the live activations, not every one of the net at once. Values
-- computed from shapes alone stay: their numbers matter, and they are small.
function Cx:release(n, left)
  local r = self:resolve(n)
  local p = self.producer[r]
  if (left[n] or 0) > 0 or (left[r] or 0) > 0 or not self.vals[r] or not p or self.derived[r] then
    return
  end
  for a, root in pairs(self.alias) do
    if root == r and (left[a] or 0) > 0 then return end
  end
  self.garbage = self.garbage + self.vals[r]:nElement() * 4
  self.vals[r] = nil
  if self.vals2 then self.vals2[r] = nil end
  for _, o in ipairs(p.outs) do if self.vals[o] then return end end
  -- with static input shapes the module keeps its buffer: the first forward
  -- runs on the same shapes and writes there, into memory already mapped
  -- (fresh memory costs a page fault per 4 KB), and the memory plan then
  -- keeps a few of these buffers as its slots (ember/plan.lua)
  if not self.static or TRANSIENT[p.module.__typename] then
    p.module.output = p.multi and {} or core.tensor()
  end
end

-- A released value asked for again: a converter that rewrites a pattern may
-- read a value from before its node's inputs (ShuffleNet's channel shuffle).
-- Zeros of its shape: only shapes matter in a value not derived from shapes.
function Cx:revive(n)
  if self.vals[n] or self.consts[n] or not self.producer[n] or not self.shapes[n] then return end
  local function zeros(s) return #s == 0 and core.tensor(1):fill(0):view({}) or core.tensor(table.unpack(s)) end
  self.vals[n] = zeros(self.shapes[n])
  if self.vals2 and self.shapes2[n] then self.vals2[n] = zeros(self.shapes2[n]) end
  self.revived[#self.revived + 1] = n   -- released again after the node
end

-- Whether dims [from, to] (1-based) of value name are the same in both
-- probes (always, without symbolic dims).
function Cx:static_dims(name, from, to)
  if self.static then return true end
  if not self.vals2 then return false end
  local a, b = self.shapes[name], self.shapes2[name]
  if not a or not b then return false end
  for d = from, to do if a[d] ~= b[d] then return false end end
  return true
end

-- Number of readers of value n (node inputs and graph outputs).
function Cx:readers(n) return self.uses[n] or 0 end

---------------------------------------------------------------- load

-- The graph's modules by weight tensor (a fused copy shares its original's).
local function weighted(graph)
  local by = {}
  graph:apply(function(m) if m ~= graph and is_tensor(m.weight) then by[m.weight] = m end end)
  return by
end

-- ember.fuse put copies with empty outputs in place of the modules it gave
-- an epilogue: each takes its original's probe buffer (same shape; the
-- original left the graph), so the first forward writes into memory the
-- probe already mapped instead of new memory (see Cx:release).
local function adopt_buffers(graph, before)
  local inside = {}
  graph:apply(function(m) inside[m] = true end)
  for w, m in pairs(weighted(graph)) do
    local orig = before[w]
    if orig and not inside[orig] and is_tensor(orig.output) and is_tensor(m.output)
       and m.output:nElement() == 0 then
      m.output = orig.output
    end
  end
end

local function all_const(cx, node)
  local any = false
  for _, n in ipairs(node.inputs) do
    if n ~= "" then
      any = true
      if not cx.consts[cx:resolve(n)] then return false end
    end
  end
  return any
end

-- Loads an ONNX model: an nn.Graph whose forward takes the graph inputs
-- (a tensor, or a table of them in order or by name) and returns the output
-- (a tensor, or a list for several). opts.probe = false skips the probe
-- forward (shapes then unknown: auto_pad and Shape need them); opts.fuse =
-- false keeps activations and residual Adds as nodes of their own;
-- opts.packWeights: which convolutions keep their weight packed for the
-- matrix product (SpatialConvolution.packWeight): by default those with
-- outputs of up to M.PACK_PIXELS pixels, where packing on every call costs
-- most (7-23% of such a layer: 17x17 outputs and down) and the weights are
-- the largest; true for all, false for none. The probe packs them, so it
-- happens at load.
M.PACK_PIXELS = 320

function M.load(path, opts)
  opts = opts or {}
  if type(path) ~= "string" then error("ember.onnx.load: expected a file name", 2) end
  local model = core.onnx_load(path)
  -- the decoded protobuf (as large as the weights) is garbage now; Lua sees
  -- only a small userdata, so collect it before the probe allocates
  collectgarbage()
  local file = path
  local opset = model.opsets[""] or model.opsets["ai.onnx"]
  if not opset then error(file .. ": the model imports no ai.onnx opset", 0) end
  if opset < 1 or opset > M.MAX_OPSET then
    error(string.format("%s: opset %d is not supported (%d to %d)", file, opset, M.MIN_OPSET, M.MAX_OPSET), 0)
  end
  local g = model.graph
  if g.sparse_initializers then error(file .. ": sparse initializers are not supported", 0) end

  local consts, defined = {}, {}
  for _, t in ipairs(g.initializers) do
    consts[t.name] = { dims = t.dims, dtype = t.dtype, tensor = t.tensor, ints = t.ints }
    defined[t.name] = true
  end
  -- opts.constants: graph inputs bound at import (name -> tensor or a
  -- load_tensor record), e.g. the weights a conformance case feeds as inputs
  for name, v in pairs(opts.constants or {}) do
    local rec = is_tensor(v) and M.const_tensor(v) or v
    consts[name] = { dims = rec.dims, dtype = rec.dtype, tensor = rec.tensor, ints = rec.ints }
    defined[name] = true
  end
  -- static: every input dim is a number (Shape then folds); probe: every
  -- input has a shape (symbolic dims probed as 1, for ranks and sizes)
  local inputs, static, probe = {}, true, opts.probe ~= false
  for _, v in ipairs(g.inputs) do
    if not consts[v.name] then
      if defined[v.name] then error(file .. ": graph input '" .. v.name .. "' is listed twice", 0) end
      defined[v.name] = true
      inputs[#inputs + 1] = v
      if not v.shape then static, probe = false, false
      else
        for _, d in ipairs(v.shape) do if math.type(d) ~= "integer" then static = false end end
      end
    end
  end
  if not probe then static = false end
  if #inputs == 0 then error(file .. ": the graph has no inputs", 0) end
  if #g.outputs == 0 then error(file .. ": the graph has no outputs", 0) end

  check.ops(file, g.nodes, M.registry)
  local order = check.sort(file, g, defined)

  local in_names, out_names = {}, {}
  for i, v in ipairs(inputs) do in_names[i] = v.name end
  for i, v in ipairs(g.outputs) do out_names[i] = v.name end
  local graph = nn.Graph(in_names, out_names)

  local cx = setmetatable({
    file = file, opset = opset, consts = consts, alias = {}, graph = graph,
    vals = {}, shapes = {}, producer = {}, names = {}, ntemp = 0,
    uses = check.uses(g), probing = probe, static = static, derived = {}, input_types = {}, revived = {}, garbage = 0,
    packWeight = opts.packWeights == nil and M.PACK_PIXELS or opts.packWeights or nil,
  }, Cx)
  for _, v in ipairs(inputs) do cx.input_types[v.name] = v.elem_type end
  local probe_shapes = {}
  if probe then
    for i, v in ipairs(inputs) do
      local n, s = 1, {}
      for k, d in ipairs(v.shape) do
        s[k] = math.type(d) == "integer" and d or 1
        n = n * s[k]
      end
      probe_shapes[i] = s
      if n > (opts.probe_limit or 2 ^ 25) then cx.probing, cx.static = false, false end
    end
  end
  if cx.probing then
    if not cx.static then cx.vals2, cx.shapes2 = {}, {} end
    for i, v in ipairs(inputs) do
      local s = probe_shapes[i]
      local t = shaped(s)
      cx.vals[v.name] = t
      cx.shapes[v.name] = s
      if cx.vals2 then
        local s2 = {}
        for k, d in ipairs(v.shape) do s2[k] = math.type(d) == "integer" and d or 2 end
        cx.vals2[v.name] = shaped(s2)
        cx.shapes2[v.name] = s2
      end
    end
  end

  local left = {}   -- readers not yet converted, per value (Cx:release)
  for n, k in pairs(cx.uses) do left[n] = k end
  for _, i in ipairs(order) do
    local node = g.nodes[i]
    local def = M.registry[node.op_type]
    cx.node, cx.nodeindex = node, i
    -- computed from shapes alone (Shape at run time, constants, such values)?
    cx.derived_node = false
    if cx.vals2 then
      local d, any = true, false
      for _, n in ipairs(node.inputs) do
        if n ~= "" then
          local r = cx:resolve(n)
          if not cx.consts[r] and not cx.derived[r] then d = false end
          any = true
        end
      end
      cx.derived_node = node.op_type == "Shape" or (d and any)
    end
    local ok, err = pcall(function()
      if def.fold and (all_const(cx, node) or (def.foldable and def.foldable(cx, node))) then
        cx.folding = true
        -- false: too large for lists, evaluate through the module instead
        if def.fold(cx, node) == false then def.convert(cx, node) end
      elseif all_const(cx, node) and not def.no_eval then
        cx.folding = true
        def.convert(cx, node)
      else
        cx.folding = false
        def.convert(cx, node)
      end
      cx.folding = false
    end)
    cx.folding = false
    if not ok then
      local msg = type(err) == "table" and err.msg or tostring(err)
      -- a constructor's or kernel's message, without the Lua position it carries
      msg = tostring(msg):gsub("^[^\n]-%.lua:%d+: ", "")
      error(string.format("%s: %s: %s", file, check.label(node, i), msg), 0)
    end
    if cx.probing then
      for _, n in ipairs(node.inputs) do
        if n ~= "" then left[n] = left[n] - 1 end
      end
      for _, list in ipairs{ node.inputs, node.outputs, cx.revived } do
        for _, n in ipairs(list) do if n ~= "" then cx:release(n, left) end end
      end
      cx.revived = {}
      -- Lua sees small userdata, not the storage: collect once enough is released
      if cx.garbage > 2 ^ 25 then
        collectgarbage()
        cx.garbage = 0
      end
    end
  end

  -- graph outputs that are constants or other values' aliases
  for _, o in ipairs(out_names) do
    local r = cx:resolve(o)
    if consts[r] then
      local cname = r == o and (o .. "/value") or r
      if not graph.constants[cname] then graph:constant(cname, consts[r].tensor) end
      graph:add(nn.Identity():named(o .. "/output"), cname, o)
    elseif r ~= o then
      graph:add(nn.Identity():named(o .. "/output"), r, o)
    end
  end
  graph:check()
  check.prune(graph)
  -- static shapes: the probe's buffers stay for the first forward (see
  -- Cx:release); the pruned modules' go with them as garbage
  if cx.static then graph.output = core.tensor() else graph:clearState() end
  graph:evaluate()
  -- Relu/Clip and residual Adds into the Conv before them (ember/fuse.lua)
  if opts.fuse ~= false then
    local before = cx.static and weighted(graph) or nil
    require("ember.fuse").graph(graph)
    if before then adopt_buffers(graph, before) end
  end
  -- every convolution on the import's one im2col scratch, which the probe
  -- already grew to the largest (fuse's copies came with empty ones)
  if cx.scratch then graph:apply(function(m) if m.finput then m.finput = cx.scratch end end) end
  -- activations pooled, buffers reused once dead, from the first forward on
  if opts.plan ~= false then
    local ok, plan = pcall(require, "ember.plan")   -- the memory plan, where present
    if ok then
      plan.attach(graph)
      -- planned now by a dry pass of the probe's shapes, each step's output
      -- as the probe made it: the first forward runs planned, in the probe's
      -- buffers (already mapped), with no trace of its own
      if cx.static then
        local seen, x = {}, {}
        graph:apply(function(m)
          if is_tensor(m.output) and m.output:nElement() > 0 then seen[m] = m.output:shape() end
        end)
        for i, s in ipairs(probe_shapes) do x[i] = shaped(s) end
        plan.prepare(graph, #x == 1 and x[1] or x, function(m, out) return not seen[m] or seen[m] == out:shape() end)
      end
    end
  end
  graph.onnx = { file = file, opset = opset, producer = model.producer_name, inputs = inputs,
                 outputs = g.outputs, ir_version = model.ir_version }
  -- the import's garbage (pruned and fused-away modules with their buffers,
  -- the probe's values) freed here, not in the first forward's plan
  cx, model, g = nil, nil, nil
  collectgarbage()
  return graph
end

-- A TensorProto file (.pb) as {name, dtype, dims, tensor, ints}.
function M.load_tensor(path)
  if type(path) ~= "string" then error("ember.onnx.load_tensor: expected a file name", 2) end
  return core.onnx_load_tensor(path)
end

-- The supported operators: a sorted list of {op, family, doc}.
function M.operators()
  local list = {}
  for op, def in pairs(M.registry) do list[#list + 1] = { op = op, family = def.family, doc = def.doc or "" } end
  table.sort(list, function(a, b) return a.op < b.op end)
  return list
end

M.is_tensor = is_tensor
return M
