-- ember/plan.lua -- a memory plan for inference: the activations of a net
-- live in a few pooled storages, each reused once its last reader ran.
--
--   local plan = require "ember.plan"
--   plan.attach(net)          -- the next forward plans, the later ones reuse
--   net:forward(x)            -- (a new input shape, or clearState, plans again)
--   plan.memory(net)          -- {arena_bytes =, slots =, buffers =, joined =, ...}
--   plan.attach(net, { dry = true })   -- plans by a dry pass, then runs planned
--   plan.prepare(net, x)      -- plans now for x's shape (dry), runs nothing
--
-- ember.load (m.graph; m:memory()) attaches it dry and prepares it for the
-- net's declared input; ember.onnx.load prepares it on its probe's shapes.
--
-- A dry pass (core.setDry) runs the modules with the core's forwards only
-- checking shapes and sizing outputs: the activations are never written, so
-- the first real pass maps the pooled buffers alone, not every value's own.
-- Winograd weights over DEFER_BYTES are not transformed by the first pass
-- after a dry plan (see defer).
--
-- How: the first forward of a shape runs traced: each leaf module (and each
-- nn.Concat, which copies its children) records the tensors it read and the
-- tensor it returned. A returned tensor sharing storage with an earlier one
-- (a view, an in-place layer, Identity) is that value again; any other is a
-- new buffer, live from its step to its last reader's (the net's outputs:
-- to the end). Then:
--   * ReLU, ReLU6, ELU, LeakyReLU and CAddTable whose (first) input dies at
--     them switch to in place (Torch7's inplace flag), and so do
--     convolutions with a fused residual that dies at them, where the core's
--     path adds it in place (SpatialConvolution:_inPlaceInput): ResNet's
--     blocks then end in their input's buffer;
--   * the inputs of a Concat / JoinTable become slices of its output where
--     the slices are contiguous (N = 1 for channels): their producers write
--     there and the concat copies nothing;
--   * buffers go into slots, largest first, each into the first slot none
--     of whose buffers is alive at the same time. Slots are separate
--     storages, not offsets in one arena: kernels refuse an output sharing
--     storage with an input, and a step's input and output never share a slot.
--     A slot takes the storage its largest buffer had in the traced pass
--     (memory already mapped: no new arena, no page faults on the next pass).
-- Each module's output becomes a view of its slot: kernels resize outputs
-- with em_tensor_resize, which keeps a shared storage of the right shape, so
-- the steady state allocates nothing. A module that returns anything but its
-- own self.output (tables, views of private buffers) keeps its own memory:
-- correct, only not planned. Every convolution also shares one im2col scratch.
--
-- The net's modules are changed (output, inplace, a joined concat's
-- updateOutput); plan.detach(net) undoes it.

local core = require "ember.core"

local M = {}

-- Work of each collection step after a first plan (KB, collectgarbage's unit).
M.COLLECT_STEP_KB = 256

-- Bytes of Winograd weights the forwards after a dry plan's first may each
-- prepare (see defer below), and the size from which a weight is deferred.
M.PREPARE_BYTES = 8 << 20
M.DEFER_BYTES = 1 << 20

local ALIGN = 16   -- floats: 64-byte offsets, as core's own storage

-- Layers that may overwrite their input (Torch7's inplace flag).
local INPLACE = { ["nn.ReLU"] = true, ["nn.ReLU6"] = true, ["nn.ELU"] = true,
                  ["nn.LeakyReLU"] = true, ["nn.CAddTable"] = true }

local function is_tensor(x)
  local mt = getmetatable(x)
  return type(mt) == "table" and mt.__name == "ember.Tensor"
end

local function flatten(x, into)
  into = into or {}
  if is_tensor(x) then into[#into + 1] = x
  elseif type(x) == "table" then for _, v in ipairs(x) do flatten(v, into) end end
  return into
end

local function sizes(t)
  return t:dim() == 0 and {} or t:size()
end

local function shape_key(x)
  local parts = {}
  for _, t in ipairs(flatten(x)) do parts[#parts + 1] = t:shape() end
  return table.concat(parts, ";")
end

---------------------------------------------------------------- tracing

-- Runs root:updateOutput(input) with every module instrumented; returns the
-- steps {module, inputs = {tensors}, output = tensor|nil} in execution order.
local function trace(root, run, input)
  local steps, wrapped = {}, {}
  root:apply(function(m)
    if m == root or (m.modules and m.__typename ~= "nn.Concat") then return end
    local own = rawget(m, "updateOutput")
    wrapped[m] = { own = own }
    local orig = m.updateOutput
    m.updateOutput = function(self, x)
      local before = self.output
      local out = orig(self, x)
      local ins = m.__typename == "nn.Concat" and flatten(self.outs) or flatten(x)
      steps[#steps + 1] = { module = self, inputs = ins, output = out,
                            kept = rawequal(out, before) }
      return out
    end
  end)
  local ok, out = pcall(run, root, input)
  for m, w in pairs(wrapped) do m.updateOutput = w.own end
  if not ok then error(out, 0) end
  return steps, out
end

-- Buffers of a trace: each new storage a step returned, with its life
-- [first, last] in steps; values are tensors, each mapped to its buffer.
local function liveness(steps, final)
  -- owner: tensor -> buffer; stored: storage identity -> its first buffer
  -- (a scan of every buffer per value took 2-3 ms on ShuffleNet's views)
  local bufs, owner, stored = {}, {}, {}
  local id = core.tensor().storageId
  local function find(t)
    local b = owner[t]
    if b then return b end
    local k = id(t)
    b = k and stored[k]
    if b then owner[t] = b end
    return b
  end
  for s, st in ipairs(steps) do
    st.index = s
    st.inbufs = {}
    for k, t in ipairs(st.inputs) do
      local b = find(t)
      if b then b.last = math.max(b.last, s) end
      st.inbufs[k] = b or false   -- false: a net input or a constant
    end
    local out = st.output
    if is_tensor(out) and out:nElement() > 0 then
      local b = find(out)
      if b then
        b.last = math.max(b.last, s)
      else
        b = { tensor = out, first = s, last = s, step = st, size = out:nElement(),
              plannable = rawequal(out, st.module.output) and out:isContiguous(),
              own = st.kept }
        bufs[#bufs + 1] = b
        owner[out] = b
        stored[id(out)] = b
      end
      st.outbuf = b
    end
  end
  for _, t in ipairs(flatten(final)) do
    local b = find(t)
    if b then b.last = math.huge end
  end
  return bufs
end

local function root_of(b)
  while b and b.merged do b = b.merged end
  return b
end

-- Switches layers whose input buffer dies at them to in place: their output
-- is then that buffer (its life extends to the output's). The input is the
-- first, or the one the module's _inPlaceInput names.
local function make_inplace(steps, bufs)
  local switched = {}
  for _, st in ipairs(steps) do
    local m, b = st.module, st.outbuf
    local at = INPLACE[m.__typename] and 1
    if not at and b and m._inPlaceInput then at = m:_inPlaceInput(st.inputs, st.output) end
    if at and not m.inplace and b and b.step == st and #st.inbufs >= at then
      local direct = st.inbufs[at]
      local src = root_of(direct)   -- a chain of in-place layers
      local x = st.inputs[at]
      if src and src.last == st.index and src.plannable and x:isSameSizeAs(st.output)
         and direct.tensor:isSameStorage(x) then
        -- another input of the step on the same buffer would be overwritten too
        local alone = true
        for k, o in ipairs(st.inbufs) do
          if k ~= at and root_of(o) == src then alone = false end
        end
        if alone then
          m.inplace = true
          switched[#switched + 1] = m
          src.last = b.last
          b.merged = src
        end
      end
    end
  end
  local kept = {}
  for _, b in ipairs(bufs) do if not b.merged then kept[#kept + 1] = b end end
  return kept, switched
end

local function group_of(b)
  while b.parent do b = b.parent end
  return b
end

-- The one dim along which a concat step's inputs add up to its output, if
-- its slices are contiguous (every dim before it of size 1: N = 1 for
-- channels of NCHW); nil otherwise.
local function concat_dim(st)
  local out, ins = st.output, st.inputs
  if #ins < 2 or not out:isContiguous() then return nil end
  local nd = out:dim()
  local d
  for _, t in ipairs(ins) do
    if t:dim() ~= nd or not t:isContiguous() then return nil end
    for k = 1, nd do
      if t:size(k) ~= out:size(k) then
        if d and d ~= k then return nil end
        d = k
      end
    end
  end
  if not d then return nil end
  for k = 1, d - 1 do if out:size(k) ~= 1 then return nil end end
  return d
end

-- Concat and JoinTable steps whose inputs can be made in place: each input's
-- buffer becomes a slice of the output's (offset in floats), so its producer
-- writes there and the concat copies nothing. Refused when a step would
-- read one slice of the group and write another (kernels refuse outputs
-- sharing storage with inputs), or an input is not a whole buffer of its own.
local function concat_slices(steps, bufs)
  local joined = {}
  for _, st in ipairs(steps) do
    local ty = st.module.__typename
    local O = st.outbuf
    local d = (ty == "nn.Concat" or ty == "nn.JoinTable") and O and O.step == st
              and O.plannable and not O.parent and concat_dim(st)
    if d then
      local inner = 1
      for k = d + 1, st.output:dim() do inner = inner * st.output:size(k) end
      local members, off, ok = {}, 0, true
      for i, t in ipairs(st.inputs) do
        local b = root_of(st.inbufs[i])
        if not b or not b.plannable or b.parent or b == O or b.size ~= t:nElement()
           or members[b] then ok = false break end
        members[b] = off
        members[#members + 1] = b
        off = off + t:size(d) * inner
      end
      if ok then
        -- the group once joined: no other step may read and write inside it
        local group = { [group_of(O)] = true }
        for _, b in ipairs(members) do group[b] = true end
        local function in_group(b)
          b = root_of(b)
          return b and group[group_of(b)] or (b and group[b]) or false
        end
        for _, s2 in ipairs(steps) do
          -- only steps that made their output write (views, Identity: no)
          if s2 ~= st and not s2.joined and s2.outbuf and s2.outbuf.step == s2
             and in_group(s2.outbuf) then
            local self_alias = root_of(s2.outbuf) ~= s2.outbuf   -- in place
            for k, ib in ipairs(s2.inbufs) do
              if ib and in_group(ib) and not (self_alias and k == 1 and root_of(ib) == root_of(s2.outbuf)) then
                ok = false
              end
            end
          end
          if not ok then break end
        end
      end
      if ok then
        for _, b in ipairs(members) do
          b.parent, b.elemoff = O, members[b]
          O.first, O.last = math.min(O.first, b.first), math.max(O.last, b.last)
        end
        st.joined = true
        joined[#joined + 1] = { step = st, dim = d, members = members }
      end
    end
  end
  return joined
end

-- ChannelShuffle steps (the ONNX import's Concat + shuffle, a table input)
-- whose inputs include a convolution's own output read by nothing else: that
-- output becomes a view of the shuffle's output, planes `groups` apart
-- where the shuffle puts them, so the convolution writes them there (its
-- product stores planes at any distance) and the shuffle copies only the
-- other inputs (ShuffleNet: half of each unit's copy).
local function shuffle_slices(steps)
  for _, st in ipairs(steps) do
    local O, m = st.outbuf, st.module
    if m.__typename == "nn.ChannelShuffle" and #st.inputs >= 2 and O and O.step == st
       and O.plannable and not O.parent and st.output:dim() == 4 then
      local C, g = st.output:size(2), m.groups
      local cpg, c0 = C // g, 0
      for k, t in ipairs(st.inputs) do
        local b, ck = root_of(st.inbufs[k]), t:size(2)
        local q = c0 // cpg
        if b and b.plannable and not b.parent and b ~= O and b.size == t:nElement()
           and rawequal(b.tensor, t) and b.last == st.index and b.step.outbuf == b
           and b.step.module.__typename == "nn.SpatialConvolution"
           and (c0 + ck - 1) // cpg == q and t:dim() == 4 then
          b.parent = O
          b.shuffle = { group = q, from = c0 - q * cpg, groups = g, per = cpg }
          O.first = math.min(O.first, b.first)
        end
        c0 = c0 + ck
      end
    end
  end
end

-- Offset of a joined buffer inside the buffer it was placed with.
local function offset_of(b)
  local off = 0
  while b.parent do off = off + b.elemoff; b = b.parent end
  return off
end

-- The view of buffer b (placed with its group's slot): contiguous, or, for
-- a shuffle's input, planes apart inside the shuffle's output.
local function view_of(b, storage)
  if not b.shuffle then return storage:narrow(1, offset_of(b) + 1, b.size):view(sizes(b.tensor)) end
  local sh, o = b.shuffle, view_of(b.parent, storage)
  local n, h, w = o:size(1), o:size(3), o:size(4)
  return o:view(n, sh.per, sh.groups, h, w):select(3, sh.group + 1):narrow(2, sh.from + 1, b.tensor:size(2))
end

-- The concat of a joined step: inputs already in their slices are left
-- alone, any other (a producer that did not keep its planned output) is
-- copied into its slice.
local function join_in_place(m, dim)
  local view = m.output   -- the plan's: anything else (clearState) joins as usual
  local function fill(self, ins)
    if not rawequal(self.output, view) then return core.concat(ins, self.output, dim) end
    local out, start = self.output, 1
    for _, t in ipairs(ins) do
      local len = t:size(dim)
      if not (t:isSameStorage(out) and t:isContiguous()) then
        out:narrow(dim, start, len):copy(t)
      end
      start = start + len
    end
    return out
  end
  if m.__typename == "nn.Concat" then
    return function(self, input)
      local outs = self.outs
      for i = 1, #self.modules do outs[i] = self:runChild(i, input) end
      for i = #self.modules + 1, #outs do outs[i] = nil end
      return fill(self, outs)
    end
  end
  return function(self, input) return fill(self, input) end
end

-- Slots for the plannable buffers: largest first, each into the first slot
-- none of whose buffers is alive at the same time (a slot is as large as
-- its first, largest buffer), else a new slot. Slots are separate storages,
-- not offsets in one: kernels refuse an output sharing storage with their
-- input, and a step's input and output are always in different slots.
local function place(bufs)
  local list = {}
  for _, b in ipairs(bufs) do if b.plannable and not b.parent then list[#list + 1] = b end end
  table.sort(list, function(a, c)
    if a.size ~= c.size then return a.size > c.size end
    return a.first < c.first
  end)
  local slots = {}
  for _, b in ipairs(list) do
    local home
    for _, sl in ipairs(slots) do
      local free = true
      for _, p in ipairs(sl.bufs) do
        if p.first <= b.last and b.first <= p.last then free = false break end
      end
      if free then home = sl break end
    end
    if not home then
      home = { size = b.size, bufs = {} }
      slots[#slots + 1] = home
    end
    home.bufs[#home.bufs + 1] = b
    b.slot = home
  end
  return list, slots
end

---------------------------------------------------------------- the plan

local function undo(root, p)
  if not p then return end
  for _, m in ipairs(p.deferred) do m.deferPrepare = nil end
  -- their outputs still view the old plan's buffers, which the next trace
  -- must not write into: fresh ones, as the planned modules get
  for _, m in ipairs(p.switched) do m.inplace, m.output = false, core.tensor() end
  for _, j in ipairs(p.joined) do j.module.updateOutput = j.own end
  for _, b in ipairs(p.buffers) do b.module.output = core.tensor() end
end

-- The traced tensor of buffer b, when a slot of `size` floats may take its
-- storage instead of allocating one: the memory the traced pass already
-- wrote (and the system already mapped) serves the later passes, and the
-- first pass needs no second arena beside its own buffers. Only a storage
-- the step's module wrote into its own output tensor (resized by the
-- kernel), of the slot's size, that is none of the step's inputs nor any
-- other tensor the module holds (a weight): no one else can see it.
local function owned(b, size)
  local t, st = b.tensor, b.step
  if not (b.own and b.size == size and t:isContiguous()) then return nil end
  for _, x in ipairs(st.inputs) do if t:isSameStorage(x) then return nil end end
  for k, v in pairs(st.module) do
    if k ~= "output" and is_tensor(v) and v:nElement() > 0 and t:isSameStorage(v) then return nil end
  end
  return t
end

-- The convolutions of the steps whose Winograd weight is not prepared yet
-- (a dry trace prepares none): the planned first pass multiplies them by
-- im2col instead (SpatialConvolution.deferPrepare), about 2x slower on those
-- layers but without transforming and mapping 4x their weights (67 MB on
-- ResNet-50, 30-90 ms on the 2-core VM); the later forwards prepare them,
-- PREPARE_BYTES' worth each (see M.attach). Transforms under DEFER_BYTES
-- (ResNet-50's 64-plane layers: 0.6 MB) cost less than im2col's extra time
-- and run in the first pass.
local function wino_bytes(m) return m.weight:nElement() * 16 end   -- 36 floats for 9 (at most)

local function defer(steps)
  local list, seen = {}, {}
  for _, st in ipairs(steps) do
    local m = st.module
    if not seen[m] and m._winogradPending and is_tensor(st.output)
       and wino_bytes(m) >= M.DEFER_BYTES and m:_winogradPending(st.inputs[1], st.output) then
      seen[m] = true
      m.deferPrepare = true
      list[#list + 1] = m
    end
  end
  return list
end

-- The transforms under DEFER_BYTES, made now: a dry plan (ember.load's, at
-- load) leaves none of them to the first forward (ResNet-50's three 64-plane
-- layers, 0.6 MB each, had taken 1.3 ms more in its first forward than after).
local function prepare_small(steps)
  for _, st in ipairs(steps) do
    local m = st.module
    if m._winogradPending and is_tensor(st.output) and wino_bytes(m) < M.DEFER_BYTES then
      local tile = m:_winogradPending(st.inputs[1], st.output)
      if tile then core.winograd_prepare(m.weight, m:_winograd(), tile) end
    end
  end
end

-- Plans root for input (runs one traced forward; dry: a traced pass of
-- shapes only, then a planned one) and returns its output. With expect
-- (M.prepare), only the dry pass runs, each step's output vetted by
-- expect(module, output): returns true, or nil with nothing planned.
local function build(root, run, input, dry, expect)
  local old = rawget(root, "_plan")
  undo(root, old)
  root._plan = nil
  M.share_scratch(root)   -- before the pass: copies made after load (fuse) have their own
  -- planning again: the old plan's slots (and outputs a clearState dropped)
  -- are garbage, freed before the pass allocates. A first plan skips this
  -- full collection (1-4 ms): the loaders collect their own garbage.
  if old then collectgarbage() end
  local steps, out
  if dry then
    -- shapes only (core.setDry): the plan is made before any activation is
    -- written, so the first pass maps the arena alone, not every value's own
    -- buffer; a net whose dry pass fails (Lua reading garbage values) is
    -- traced for real, which raises the real error if there is one
    local was = core.setDry(true)
    local ok, s, o = pcall(trace, root, run, input)
    core.setDry(was)
    for _, st in ipairs(ok and expect and s or {}) do
      if is_tensor(st.output) and not expect(st.module, st.output) then ok = false break end
    end
    if ok then steps, out = s, o else dry = false end
  end
  if expect and not steps then return nil end
  if not steps then steps, out = trace(root, run, input) end
  local bufs = liveness(steps, out)
  local kept, switched = make_inplace(steps, bufs)
  local joined = concat_slices(steps, kept)
  shuffle_slices(steps)
  local placed, slots = place(kept)
  local total, reused = 0, 0
  for i, sl in ipairs(slots) do
    local own = owned(sl.bufs[1], sl.size)
    sl.storage = own and own:view(sl.size) or core.tensor(sl.size)
    -- planned by a dry pass (ember.load): the new memory mapped now, so the
    -- first forward takes no page fault (ResNet-50: load +2 ms, first
    -- inference 1.33-1.53x the median -> 1.26-1.38x, 3 runs each)
    if dry and not own then sl.storage:zero() end
    if own then reused = reused + 1 end
    sl.index = i
    total = total + sl.size
  end
  -- the convolutions' shared scratch, sized by the dry pass (core), mapped
  -- now as well (ResNet-50's first strided layer had taken 1.3-5.9 ms more
  -- in a first forward than after)
  if dry then
    local scratch
    root:apply(function(m) scratch = scratch or (is_tensor(m.finput) and m.finput) or nil end)
    if scratch and scratch:nElement() > 0 then scratch:zero() end
  end
  local p = { key = shape_key(input), slots = #slots, reused = reused, arena_floats = total, buffers = {},
              switched = switched, steps = #steps, values = #bufs, unplanned = 0,
              deferred = defer(steps) }
  if dry then prepare_small(steps) end
  for _, b in ipairs(placed) do
    local m = b.step.module
    m.output = b.slot.storage:narrow(1, 1, b.size):view(sizes(b.tensor))
    p.buffers[#p.buffers + 1] = { module = m, slot = b.slot.index, size = b.size, offset = 0,
                                  first = b.first, last = b.last, buf = b, view = m.output }
  end
  -- concat inputs: slices of their concat's buffer
  p.joined = {}
  for _, b in ipairs(kept) do
    if b.parent then
      local g = group_of(b)
      b.step.module.output = view_of(b, g.slot.storage)
      p.buffers[#p.buffers + 1] = { module = b.step.module, slot = g.slot.index, size = b.size,
                                    first = b.first, last = b.last,
                                    offset = b.shuffle and offset_of(b.parent) or offset_of(b), buf = b }
    end
  end
  for _, j in ipairs(joined) do
    local m = j.step.module
    p.joined[#p.joined + 1] = { module = m, own = rawget(m, "updateOutput") }
    m.updateOutput = join_in_place(m, j.dim)
  end
  for _, b in ipairs(kept) do if not b.plannable then p.unplanned = p.unplanned + b.size end end
  local naive = 0
  for _, b in ipairs(bufs) do naive = naive + b.size end
  p.naive_floats = naive
  root._plan = p
  -- the traced pass's own outputs are garbage now, which Lua does not see
  -- (small userdata): a replan collects them at once; a first plan leaves
  -- them to steps taken after each of the next forwards (one full
  -- collection was 1-1.4 ms of ShuffleNet's 4-5 ms first forward)
  steps, bufs, kept, placed, slots = nil, nil, nil, nil, nil
  if old then collectgarbage() else p.collect = true end
  if expect then p.unrun = true return true end   -- the first forward, still to run, defers too
  if dry then return run(root, input) end
  return out
end

-- Whether the modules still hold the plan's outputs (clearState drops them:
-- plan again rather than run on fresh allocations).
local function intact(p)
  local b = p.buffers[1]
  return not b or rawequal(b.module.output, b.view)
end

-- Makes root plan its memory on its next forward (and again for each new
-- input shape). Returns root.
function M.attach(root, opts)
  if rawget(root, "_plan_run") then return root end
  local run = root.updateOutput          -- the class's
  local dry = opts and opts.dry
  root._plan_run = run
  root.updateOutput = function(self, input)
    local p = rawget(self, "_plan")
    if p and p.key == shape_key(input) and intact(p) then
      local d, bytes = p.deferred, 0
      if p.unrun then p.unrun, d = nil, {} end
      while #d > 0 and bytes < M.PREPARE_BYTES do   -- these prepare in this forward
        local m = table.remove(d, 1)
        m.deferPrepare = nil
        bytes = bytes + wino_bytes(m)
      end
      local out = run(self, input)
      -- a step of Lua's collector per forward until the cycle that frees
      -- the first plan's trace is done
      if p.collect and collectgarbage("step", M.COLLECT_STEP_KB) then p.collect = nil end
      return out
    end
    return build(self, run, input, dry)
  end
  return root
end

-- Plans an attached root now for an input of this shape (the values are not
-- read), by a dry pass alone: its first forward then runs planned, as the
-- later ones. expect(module, output), if given, vets each step's output
-- (ember.onnx.load: the shapes its probe saw). Returns true, or false when
-- the dry pass failed or was refused (the first forward plans, as usual).
function M.prepare(root, input, expect)
  local run = rawget(root, "_plan_run")
  if not run then error("ember.plan.prepare: attach the plan first", 2) end
  return build(root, run, input, true, expect or function() return true end) == true
end

-- Back to unplanned forward (each module its own output).
function M.detach(root)
  undo(root, rawget(root, "_plan"))
  root._plan, root.updateOutput, root._plan_run = nil, nil, nil
  return root
end

-- What the plan holds: arena_bytes (all slots), slots (pooled storages),
-- reused (slots that kept a storage the traced pass wrote),
-- buffers (values placed in them), values (buffers the traced forward made),
-- unplanned_bytes (kept their own memory), naive_bytes (every value its own
-- buffer, as without a plan), inplace (layers switched to in place); nil
-- before the first forward.
function M.memory(root)
  local p = rawget(root, "_plan")
  if not p then return nil end
  return { arena_bytes = p.arena_floats * 4, slots = p.slots, reused = p.reused,
           buffers = #p.buffers, values = p.values,
           joined = #p.joined,
           unplanned_bytes = p.unplanned * 4, naive_bytes = p.naive_floats * 4,
           inplace = #p.switched, steps = p.steps }
end

-- Checks the plan: two buffers alive at the same step never overlap in a
-- slot, unless one is a concat's input placed inside the other (the
-- concat's output) or both are a shuffle's inputs (interleaved planes). Returns true, or false and a message.
local function inside(a, b)
  while a.parent do
    a = a.parent
    if a == b then return true end
  end
  return false
end

function M.check(root)
  local p = rawget(root, "_plan")
  if not p then return false, "no plan" end
  local bs = p.buffers
  for i, a in ipairs(bs) do
    for j = i + 1, #bs do
      local b = bs[j]
      if a.slot == b.slot and a.first <= b.last and b.first <= a.last
         and a.offset < b.offset + b.size and b.offset < a.offset + a.size
         and not inside(a.buf, b.buf) and not inside(b.buf, a.buf)
         and not (a.buf.shuffle and b.buf.shuffle and a.buf.parent == b.buf.parent) then
        return false, string.format("buffers %d and %d share slot %d while both are live", i, j, a.slot)
      end
    end
  end
  return true
end

-- The plan itself (for tests): {arena =, buffers = {{module, offset, size, first, last}}}.
function M.get(root) return rawget(root, "_plan") end

-- One im2col scratch for every convolution under root (the first one found:
-- only one convolution runs at a time).
function M.share_scratch(root)
  local scratch
  root:apply(function(m)
    if m.finput then scratch = scratch or m.finput; m.finput = scratch end
  end)
  return root
end

return M
