-- ember/onnx/check.lua -- the graph checks of ONNX import: unsupported
-- operators (one error listing all), wiring, cycles, order; pruning.

local C = {}


function C.label(node, i)
  local name = node.name ~= "" and node.name or ("#" .. i)
  return "node '" .. name .. "' (" .. node.op_type .. ")"
end

local function op_key(node)
  if node.domain == "" or node.domain == "ai.onnx" then return node.op_type end
  return node.domain .. "." .. node.op_type
end

-- Every unsupported operator with counts and node names, as one error.
function C.ops(file, nodes, registry)
  local bad, order = {}, {}
  for i, node in ipairs(nodes) do
    local key = op_key(node)
    if key ~= node.op_type or not registry[node.op_type] then
      if not bad[key] then bad[key] = {} order[#order + 1] = key end
      local l = bad[key]
      l[#l + 1] = node.name ~= "" and node.name or ("#" .. i)
    end
  end
  if #order == 0 then return end
  table.sort(order)
  local parts, total = {}, 0
  for _, k in ipairs(order) do
    local l = bad[k]
    total = total + #l
    local shown = {}
    for j = 1, math.min(#l, 10) do shown[j] = l[j] end
    if #l > 10 then shown[#shown + 1] = "..." end
    parts[#parts + 1] = string.format("%s x%d (%s)", k, #l, table.concat(shown, ", "))
  end
  error(string.format("%s: %d unsupported operator%s: %s", file, total, total == 1 and "" or "s",
                      table.concat(parts, ", ")), 0)
end

-- Topological order; raises on duplicate outputs, dangling inputs, cycles.
function C.sort(file, graph, defined)
  local producer = {}
  for i, node in ipairs(graph.nodes) do
    for _, o in ipairs(node.outputs) do
      if o ~= "" then
        if defined[o] or producer[o] then
          error(string.format("%s: %s: output '%s' is already defined", file, C.label(node, i), o), 0)
        end
        producer[o] = i
      end
    end
  end
  for i, node in ipairs(graph.nodes) do
    for _, n in ipairs(node.inputs) do
      if n ~= "" and not defined[n] and not producer[n] then
        error(string.format("%s: %s: input '%s' is produced by nothing", file, C.label(node, i), n), 0)
      end
    end
  end
  -- the file's order, when it is already topological (ONNX asks for it)
  local done, sorted = {}, true
  for k in pairs(defined) do done[k] = true end
  for _, node in ipairs(graph.nodes) do
    for _, n in ipairs(node.inputs) do
      if n ~= "" and not done[n] then sorted = false break end
    end
    if not sorted then break end
    for _, o in ipairs(node.outputs) do if o ~= "" then done[o] = true end end
  end
  local order = {}
  if sorted then
    for i = 1, #graph.nodes do order[i] = i end
  end
  -- else Kahn's algorithm (a FIFO of ready nodes)
  local waiting, readers = {}, {}
  for i, node in ipairs(graph.nodes) do
    local w, seen = 0, {}
    for _, n in ipairs(node.inputs) do
      local p = n ~= "" and producer[n]
      if p and not seen[n] then
        seen[n] = true
        w = w + 1
        readers[p] = readers[p] or {}
        table.insert(readers[p], i)
      end
    end
    waiting[i] = w
  end
  local ready, head = {}, 1
  for i = 1, #graph.nodes do if waiting[i] == 0 then ready[#ready + 1] = i end end
  while not sorted and head <= #ready do
    local i = ready[head]
    head = head + 1
    order[#order + 1] = i
    for _, r in ipairs(readers[i] or {}) do
      waiting[r] = waiting[r] - 1
      if waiting[r] == 0 then ready[#ready + 1] = r end
    end
  end
  if not sorted and #order < #graph.nodes then
    local stuck = {}
    for i, node in ipairs(graph.nodes) do
      if waiting[i] > 0 and #stuck < 5 then stuck[#stuck + 1] = C.label(node, i) end
    end
    error(string.format("%s: the graph has a cycle through %s", file, table.concat(stuck, ", ")), 0)
  end
  for _, o in ipairs(graph.outputs) do
    if not defined[o.name] and not producer[o.name] then
      error(string.format("%s: graph output '%s' is produced by nothing", file, o.name), 0)
    end
  end
  return order
end

-- Readers of each value (node inputs and graph outputs), so
-- BatchNormalization knows whether a conv's output is shared.
function C.uses(graph)
  local uses = {}
  for _, node in ipairs(graph.nodes) do
    for _, n in ipairs(node.inputs) do if n ~= "" then uses[n] = (uses[n] or 0) + 1 end end
  end
  for _, o in ipairs(graph.outputs) do uses[o.name] = (uses[o.name] or 0) + 1 end
  return uses
end

-- Drops the nodes of g whose outputs nothing reads (and unread constants).
function C.prune(g)
  local need = {}
  for _, n in ipairs(g.outputNames) do need[n] = true end
  local keep = {}
  for i = #g.modules, 1, -1 do
    local node = g.nodes[i]
    local used = false
    for _, n in ipairs(node.outputs) do if need[n] then used = true end end
    if used then
      keep[i] = true
      for _, n in ipairs(node.inputs) do need[n] = true end
    end
  end
  local mods, nodes = {}, {}
  for i, m in ipairs(g.modules) do
    if keep[i] then
      mods[#mods + 1] = m
      nodes[#mods] = g.nodes[i]
    end
  end
  g.modules, g.nodes = mods, nodes
  local names = {}
  for _, n in ipairs(g.constantNames) do
    if need[n] then names[#names + 1] = n else g.constants[n] = nil end
  end
  g.constantNames = names
  return g
end

return C
