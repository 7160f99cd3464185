-- ember/weights.lua -- puts named tensors (a weights file) into a net: by name,
-- every shape checked, all problems reported at once, the net untouched on failure.

local M = {}

local function is_tensor(x)
  local mt = getmetatable(x)
  return type(mt) == "table" and mt.__name == "ember.Tensor"
end

-- Keys a file may hold that no ember module has: PyTorch's batchnorm counter.
local function ignored(name)
  return name == "num_batches_tracked" or name:match("%.num_batches_tracked$") ~= nil
end

local function listing(what, items, sep)
  return #items .. " " .. what .. " (" .. table.concat(items, sep or ", ") .. ")"
end

-- Modules built with deferred initialisation (ember.nn.util.deferInit) hold
-- uninitialised tensors: each one whose every parameter and buffer is about
-- to be bound from the file stays so; any other (a name the file lacks under
-- strict = false, an unnamed module, a duplicate name) is reset() now, before
-- the binding, so it gets its normal initial values and the file's tensors
-- are not overwritten. Tensors are matched by identity, not by name.
local function initialise_uncovered(modules, state, tensors)
  local bound = {}
  for name, t in pairs(state) do
    if tensors[name] ~= nil then bound[t] = true end
  end
  for _, m in ipairs(modules) do
    local covered = true
    for _, list in ipairs{ m.__params or {}, m.__buffers or {} } do
      for _, f in ipairs(list) do
        local t = m[f]
        if t and t:nElement() > 0 and not bound[t] then covered = false end
      end
    end
    if not covered then m:reset() end
  end
end

-- Matches net:state() (name -> tensor) against tensors (name -> tensor):
--   opts.strict (default true): missing and unexpected names are errors;
--     mis-shaped ones always are;
--   opts.source: the file name for messages;
--   opts.copy: copy values into the net's tensors instead of making them
--     views of the given ones (the default: no copy; the net's tensors then
--     share storage with `tensors`, and a mapped file stays mapped while
--     they live; writing them never changes the file);
--   opts.deferred: the list ember.nn.util.deferInit returned for net's build
--     (see initialise_uncovered).
-- Raises one error listing every problem, e.g.
--   w.safetensors: 2 missing (fc.bias, fc.weight), 1 unexpected (foo),
--   1 mis-shaped (conv1.weight: file 64x3x7x7, net 64x3x5x5)
-- (mis-shaped entries are separated by "; ")
-- Returns net and a report {loaded = n, missing = {...}, unexpected = {...}}.
function M.apply(net, tensors, opts)
  opts = opts or {}
  if type(net) ~= "table" or type(net.state) ~= "function" then
    error("weights.apply: expected an nn module", 2)
  end
  if type(tensors) ~= "table" then error("weights.apply: expected a table of tensors", 2) end
  local strict = opts.strict ~= false
  local source = opts.source or "weights"
  local state = net:state()
  local missing, unexpected, misshaped, names = {}, {}, {}, {}
  for name in pairs(state) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local f, t = tensors[name], state[name]
    if f == nil then
      missing[#missing + 1] = name
    elseif not is_tensor(f) then
      misshaped[#misshaped + 1] = name .. ": file has a " .. type(f) .. ", not a tensor"
    elseif not f:isSameSizeAs(t) then
      misshaped[#misshaped + 1] = name .. ": file " .. f:shape() .. ", net " .. t:shape()
    end
  end
  for name in pairs(tensors) do
    if type(name) ~= "string" then
      error("weights.apply: tensor names must be strings, got " .. tostring(name), 2)
    end
    if state[name] == nil and not ignored(name) then unexpected[#unexpected + 1] = name end
  end
  table.sort(unexpected)
  local problems = {}
  if strict and #missing > 0 then problems[#problems + 1] = listing("missing", missing) end
  if strict and #unexpected > 0 then problems[#problems + 1] = listing("unexpected", unexpected) end
  if #misshaped > 0 then problems[#problems + 1] = listing("mis-shaped", misshaped, "; ") end
  if #problems > 0 then error(source .. ": " .. table.concat(problems, ", "), 0) end
  -- everything fits: what remains changes the net and does not fail
  if opts.deferred then initialise_uncovered(opts.deferred, state, tensors) end
  local loaded = 0
  for _, name in ipairs(names) do
    local f = tensors[name]
    if f ~= nil then
      if opts.copy then state[name]:copy(f) else state[name]:set(f) end
      loaded = loaded + 1
    end
  end
  -- copied in place: what modules derived from their weights (Winograd's) is stale
  if opts.copy then
    net:apply(function(m) if m.weightsChanged then m:weightsChanged() end end)
  end
  return net, { loaded = loaded, missing = missing, unexpected = unexpected }
end

-- Loads a .safetensors file into net (opts as for apply; source = path).
function M.load(net, path, opts)
  local tensors = require("ember.safetensors").load(path, opts)
  local o = { source = path }
  for k, v in pairs(opts or {}) do o[k] = v end
  return M.apply(net, tensors, o)
end

return M
