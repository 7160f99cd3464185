-- ember/darknet/cfg.lua -- darknet cfg files read and checked (shapes, options
-- ember reproduces), and written out as the Lua text of an ember net file.
--
-- ember.darknet (its header says how layers are named) re-exports parse_cfg,
-- describe and source; fail and basename are shared with it.

local M = {}

local function fail(where, msg)
  error(where .. ": " .. msg, 0)
end
M.fail = fail

---------------------------------------------------------------- cfg files

local aliases = {
  net = "net", network = "net",
  convolutional = "convolutional", conv = "convolutional",
  connected = "connected", conn = "connected",
  maxpool = "maxpool", max = "maxpool",
  avgpool = "avgpool", avg = "avgpool",
  softmax = "softmax", soft = "softmax",
  dropout = "dropout", route = "route", shortcut = "shortcut",
  upsample = "upsample", cost = "cost",
}

-- darknet layers ember does not import (yet)
local darknet_only = {}
for _, k in ipairs{ "crop", "detection", "region", "yolo", "local", "deconv", "deconvolutional",
                    "activation", "logistic", "l2norm", "crnn", "gru", "lstm", "rnn", "reorg",
                    "lrn", "normalization", "batchnorm", "iseg" } do
  darknet_only[k] = true
end

-- Sections of a cfg file, as darknet's read_cfg reads them: whitespace is
-- dropped everywhere in a line, '#' and ';' start comment lines. Each section:
-- {type=, name= (as written), line=, opts = {key = {value=, line=}}}.
function M.parse_cfg(path)
  local f, err = io.open(path, "rb")
  if not f then error("darknet: cannot open cfg " .. tostring(err), 0) end
  local text = f:read("a")
  f:close()
  local sections, cur, n = {}, nil, 0
  for raw in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local line = raw:gsub("%s", "")
    local c = line:sub(1, 1)
    if line == "" or c == "#" or c == ";" then
      -- nothing
    elseif c == "[" then
      local name = line:match("^%[([^%]]*)%]$")
      if not name then fail(path .. ":" .. n, "malformed section header '" .. raw .. "'") end
      local t = aliases[name]
      if not t and darknet_only[name] then
        fail(path .. ":" .. n, "darknet's [" .. name .. "] layer is not supported by ember's import")
      end
      if not t then fail(path .. ":" .. n, "unknown section [" .. name .. "]") end
      cur = { type = t, name = name, line = n, opts = {} }
      sections[#sections + 1] = cur
    else
      local k, v = line:match("^([^=]+)=(.*)$")
      if not k then fail(path .. ":" .. n, "expected key=value, got '" .. raw .. "'") end
      if not cur then fail(path .. ":" .. n, "'" .. k .. "' before any section") end
      -- darknet's option_find takes the first of repeated keys
      if not cur.opts[k] then cur.opts[k] = { value = v, line = n } end
    end
  end
  if #sections == 0 then fail(path, "no sections") end
  if sections[1].type ~= "net" then
    fail(path .. ":" .. sections[1].line, "the first section must be [net], got [" .. sections[1].name .. "]")
  end
  return sections
end

-- Option readers for one section; `where` names the file, line and layer.
local function reader(path, s, index)
  local function where(key)
    local line = key and s.opts[key] and s.opts[key].line or s.line
    local what = index and string.format("layer %d [%s]", index, s.name) or "[" .. s.name .. "]"
    return string.format("%s:%d: %s", path, line, what)
  end
  local r = { where = where }
  function r.int(key, default)
    local o = s.opts[key]
    if not o then
      if default == nil then fail(where(), "missing key '" .. key .. "'") end
      return default
    end
    -- darknet reads with atoi: a number's integer part
    local v = tonumber(o.value) or tonumber(o.value:match("^[+-]?%d+") or "")
    if not v or v ~= v or math.abs(v) > 2^31 then
      fail(where(key), key .. " must be an integer, got '" .. o.value .. "'")
    end
    return math.tointeger(v < 0 and math.ceil(v) or math.floor(v))
  end
  function r.float(key, default)
    local o = s.opts[key]
    if not o then return default end
    local v = tonumber(o.value)
    if not v then fail(where(key), key .. " must be a number, got '" .. o.value .. "'") end
    return v
  end
  function r.str(key, default)
    local o = s.opts[key]
    if not o then
      if default == nil then fail(where(), "missing key '" .. key .. "'") end
      return default
    end
    return o.value
  end
  return r
end

---------------------------------------------------------------- layers

-- darknet's activations ember reproduces (act() in the prelude below makes
-- the module); linear needs none
local activations = { linear = false, leaky = true, relu = true, logistic = true, tanh = true, elu = true }

-- The activation's name and whether it needs a module (not for linear).
local function activation(r, default)
  local a = r.str("activation", default)
  local m = activations[a]
  if m == nil then
    local known = {}
    for k in pairs(activations) do known[#known + 1] = k end
    table.sort(known)
    fail(r.where("activation"), "unsupported activation '" .. a .. "' (ember knows "
         .. table.concat(known, ", ") .. ")")
  end
  return a, m or nil
end

local function shape_str(s)
  if s.c then return string.format("%dx%dx%d", s.c, s.h, s.w) end
  return tostring(s.n)
end

-- Each builder takes (r, shape, counters) and returns the layer:
-- {line = Lua text, out = shape, params = {{name, sizes}, ...} in weights-file
-- order, desc = what darknet prints}. A shape is {c=, h=, w=} or {n=} (flat).
local builders = {}

local function spatial(r, shape)
  if not shape.c then fail(r.where(), "needs a C,H,W input, got a flat one of " .. shape.n) end
end

function builders.convolutional(r, shape, count)
  spatial(r, shape)
  local n = r.int("filters")
  local size = r.int("size", 1)
  local stride = r.int("stride", 1)
  local padding = r.int("padding", 0)
  if r.int("pad", 0) ~= 0 then padding = size // 2 end
  local groups = r.int("groups", 1)
  local bn = r.int("batch_normalize", 0) ~= 0
  local act, actm = activation(r, "logistic")
  for _, k in ipairs{ "binary", "xnor", "flipped" } do
    if r.int(k, 0) ~= 0 then fail(r.where(k), k .. "=1 is not supported") end
  end
  if n < 1 then fail(r.where("filters"), "filters must be positive, got " .. n) end
  if size < 1 then fail(r.where("size"), "size must be positive, got " .. size) end
  if stride < 1 then fail(r.where("stride"), "stride must be positive, got " .. stride) end
  if padding < 0 then fail(r.where("padding"), "padding must be >= 0, got " .. padding) end
  if groups < 1 or shape.c % groups ~= 0 or n % groups ~= 0 then
    fail(r.where("groups"), string.format("groups = %d must divide the %d input channels and %d filters",
         groups, shape.c, n))
  end
  local oh = (shape.h + 2 * padding - size) // stride + 1
  local ow = (shape.w + 2 * padding - size) // stride + 1
  if oh < 1 or ow < 1 then
    fail(r.where(), string.format("a %dx%d kernel does not fit the %dx%d input (padding %d)",
         size, size, shape.h, shape.w, padding))
  end
  count.conv = count.conv + 1
  local i = count.conv
  local params = { { "conv" .. i .. ".bias", { n } } }
  if bn then
    params[1] = { "bn" .. i .. ".bias", { n } }
    params[2] = { "bn" .. i .. ".weight", { n } }
    params[3] = { "bn" .. i .. ".running_mean", { n } }
    params[4] = { "bn" .. i .. ".running_var", { n }, variance = true, scale = "bn" .. i .. ".weight" }
  end
  params[#params + 1] = { "conv" .. i .. ".weight", { n, shape.c // groups, size, size } }
  return {
    line = string.format("conv(%d, %d, %d, %d, %d, %d, %d, %s, %s)", i, shape.c, n, size, stride,
                         padding, groups, tostring(bn), actm and string.format("%q", act) or "nil"),
    out = { c = n, h = oh, w = ow },
    params = params,
    desc = string.format("conv %d %dx%d/%d%s", n, size, size, stride, groups > 1 and (" g" .. groups) or ""),
  }
end

function builders.connected(r, shape, count)
  local n = r.int("output")
  local bn = r.int("batch_normalize", 0) ~= 0
  local act, actm = activation(r, "logistic")
  if n < 1 then fail(r.where("output"), "output must be positive, got " .. n) end
  local nin = shape.n or shape.c * shape.h * shape.w
  count.fc = count.fc + 1
  local i = count.fc
  local params = {
    { (bn and "fcbn" or "fc") .. i .. ".bias", { n } },
    { "fc" .. i .. ".weight", { n, nin }, transposable = true },
  }
  if bn then
    params[3] = { "fcbn" .. i .. ".weight", { n } }
    params[4] = { "fcbn" .. i .. ".running_mean", { n } }
    params[5] = { "fcbn" .. i .. ".running_var", { n }, variance = true, scale = "fcbn" .. i .. ".weight" }
  end
  return {
    line = string.format("connected(%d, %d, %d, %s, %s)", i, nin, n, tostring(bn),
                         actm and string.format("%q", act) or "nil"),
    out = { n = n }, params = params, desc = string.format("connected %d", n),
  }
end

function builders.maxpool(r, shape)
  spatial(r, shape)
  local stride = r.int("stride", 1)
  local size = r.int("size", stride)
  local padding = r.int("padding", size - 1)
  if size < 1 or stride < 1 then fail(r.where(), "size and stride must be positive") end
  -- darknet: out = (w + padding - size)/stride + 1, windows start at -padding/2,
  -- cells outside the input never win
  local pl, pr = padding // 2, padding - padding // 2
  if padding < 0 or pr >= size then
    fail(r.where("padding"), string.format("padding %d: ember needs each side smaller than size %d", padding, size))
  end
  local oh = (shape.h + padding - size) // stride + 1
  local ow = (shape.w + padding - size) // stride + 1
  if oh < 1 or ow < 1 then
    fail(r.where(), string.format("a %dx%d window does not fit the %dx%d input", size, size, shape.h, shape.w))
  end
  return {
    line = string.format("maxpool(%d, %d, %d, %d)", size, stride, pl, pr),
    out = { c = shape.c, h = oh, w = ow },
    desc = string.format("max %dx%d/%d", size, size, stride),
  }
end

function builders.avgpool(r, shape)
  spatial(r, shape)
  return { line = "avgpool()", out = { c = shape.c, h = 1, w = 1 }, desc = "avg" }
end

function builders.softmax(r, shape)
  local groups = r.int("groups", 1)
  if groups ~= 1 then fail(r.where("groups"), "only groups=1 is supported, got " .. groups) end
  local t = r.float("temperature", 1)
  if not (t > 0) then fail(r.where("temperature"), "temperature must be positive, got " .. t) end
  local n = shape.n or shape.c * shape.h * shape.w
  return { line = t == 1 and "softmax()" or string.format("softmax(%s)", t), out = { n = n }, desc = "softmax" }
end

function builders.dropout(r, shape)
  local p = r.float("probability", 0.5)
  return { line = string.format("nn.Dropout(%s)", p), out = shape, desc = "dropout" }
end

function builders.upsample(r, shape)
  spatial(r, shape)
  local s = r.int("stride", 2)
  if s < 1 then fail(r.where("stride"), "only positive strides are supported, got " .. s) end
  if r.float("scale", 1) ~= 1 then fail(r.where("scale"), "only scale=1 is supported") end
  return { line = string.format("nn.SpatialUpSamplingNearest(%d)", s),
           out = { c = shape.c, h = shape.h * s, w = shape.w * s }, desc = "upsample" }
end

-- A layer index as darknet's parser reads it (atoi; negative counts back
-- from this layer), checked to name an earlier layer.
local function earlier(r, key, tok, index)
  local v = tok:match("^%s*([+-]?%d+)")
  if not v then fail(r.where(key), key .. " must list layer indices, got '" .. tok .. "'") end
  v = math.tointeger(tonumber(v))
  if v < 0 then v = index + v end
  if v < 0 or v >= index then
    fail(r.where(key), string.format("%s = %s: layer %d is not an earlier layer (this is layer %d)",
         key, r.str(key), v, index))
  end
  return v
end

-- [route]: the listed layers' outputs, concatenated along channels
function builders.route(r, shape, count, layers, index)
  local from, c, n = {}, 0, 0
  local first
  for tok in r.str("layers"):gmatch("[^,]+") do
    local v = earlier(r, "layers", tok, index)
    local o = layers[v + 1].out
    first = first or o
    if (o.c == nil) ~= (first.c == nil) or (o.c and (o.h ~= first.h or o.w ~= first.w)) then
      fail(r.where("layers"), string.format("layers %s: sizes %s and %s do not concatenate",
           r.str("layers"), shape_str(first), shape_str(o)))
    end
    from[#from + 1] = v
    c, n = c + (o.c or 0), n + (o.n or 0)
  end
  if #from == 0 then fail(r.where("layers"), "layers lists no layer") end
  local line = #from == 1 and "nn.Identity()" or (first.c and "nn.JoinTable(1, 3)" or "nn.JoinTable(1, 1)")
  local inputs = {}
  for i, v in ipairs(from) do inputs[i] = "l" .. v end
  return {
    line = line, inputs = inputs, tableInput = #from > 1,
    out = first.c and { c = c, h = first.h, w = first.w } or { n = n },
    desc = "route " .. table.concat(from, " "),
  }
end

-- [shortcut]: the previous layer's output plus an earlier one's. Sizes may
-- differ as darknet's shortcut_cpu allows: an earlier layer w times larger
-- is sampled every w-th pixel, and only the channels both have are added
-- (the rest of the previous layer's pass through).
function builders.shortcut(r, shape, count, layers, index)
  local from = earlier(r, "from", r.str("from"), index)
  local o = layers[from + 1].out
  for _, k in ipairs{ "alpha", "beta" } do
    if r.float(k, 1) ~= 1 then fail(r.where(k), "only " .. k .. "=1 is supported") end
  end
  local act, actm = activation(r, "linear")
  local actq = actm and string.format("%q", act) or "nil"
  local prev = "l" .. (index - 1)
  local l = { inputs = { prev, "l" .. from }, tableInput = true, out = shape, desc = "shortcut " .. from }
  if shape_str(o) == shape_str(shape) then
    l.line = actm and string.format("shortcut(%q)", act) or "shortcut()"
    return l
  end
  local function unsupported(why)
    fail(r.where("from"), string.format("from = %s: layer %d gives %s, the previous layer %s: %s",
         r.str("from"), from, shape_str(o), shape_str(shape), why))
  end
  if not o.c or not shape.c then unsupported("ember adds flat outputs of equal sizes only") end
  local stride = math.max(o.w // shape.w, 1)
  if stride ~= math.max(o.h // shape.h, 1) or shape.w // o.w > 1 or shape.h // o.h > 1 then
    unsupported("ember samples a larger earlier layer only, by the same factor in both directions")
  end
  if o.w < shape.w or o.h < shape.h then unsupported("the earlier layer is smaller") end
  l.stmt = string.format("shortcut_sampled(g, %q, %q, \"l%d\", { stride = %d, c = %d, h = %d, w = %d, into = %d }, %s)",
                         prev, "l" .. from, index, stride, o.c, shape.h, shape.w, shape.c, actq)
  return l
end

-- the helpers a converted net file starts with: one call per darknet layer
local prelude = [[
local function act(name)
  if name == "leaky" then return nn.LeakyReLU(0.1, true) end
  if name == "relu" then return nn.ReLU(true) end
  if name == "logistic" then return nn.Sigmoid() end
  if name == "tanh" then return nn.Tanh() end
  if name == "elu" then return nn.ELU(1, true) end
  error("unknown activation " .. tostring(name))
end

-- [convolutional]: with batch_normalize, darknet's biases are the batch norm's
local function conv(i, nin, nout, size, stride, pad, groups, bn, activation)
  local s = nn.Sequential()
  local c = nn.SpatialConvolution(nin, nout, size, size, stride, stride, pad, pad, groups)
  s:add(bn and c:noBias():named("conv" .. i) or c:named("conv" .. i))
  if bn then s:add(nn.SpatialBatchNormalization(nout, 1e-6):named("bn" .. i)) end
  if activation then s:add(act(activation)) end
  return s
end

-- [connected] on the flattened C,H,W input
local function connected(i, nin, nout, bn, activation)
  local s = nn.Sequential():add(nn.Flatten())
  s:add(bn and nn.Linear(nin, nout):noBias():named("fc" .. i) or nn.Linear(nin, nout):named("fc" .. i))
  if bn then s:add(nn.BatchNormalization(nout, 1e-6):named("fcbn" .. i)) end
  if activation then s:add(act(activation)) end
  return s
end

-- [maxpool]: darknet pads size-1 by default, padding/2 of it before
local function maxpool(size, stride, before, after)
  local p = nn.SpatialMaxPooling(size, size, stride, stride)
  if before ~= 0 or after ~= 0 then p:setPadding(before, before, after, after) end
  return p
end

-- [avgpool]: darknet's is global
local function avgpool() return nn.SpatialAdaptiveAveragePooling(1, 1) end

-- [softmax] over all of a sample's values, of x / temperature
local function softmax(temperature)
  local s = nn.Sequential():add(nn.Flatten())
  if temperature then s:add(nn.MulConstant(1 / temperature)) end
  return s:add(nn.SoftMax())
end

-- [shortcut]: a sum, then the activation
local function shortcut(activation)
  if not activation then return nn.CAddTable() end
  return nn.Sequential():add(nn.CAddTable()):add(act(activation))
end

-- [shortcut] from a larger layer (s.c channels, s.stride times the size):
-- every stride-th pixel of it added to the first min(c, into) channels of
-- the previous layer's s.into, the other channels unchanged (darknet's
-- shortcut_cpu); several graph nodes named out.add, out.sum, ...
local function shortcut_sampled(g, prev, from, out, s, activation)
  local c = math.min(s.c, s.into)
  local add = nn.Sequential()
  if s.stride > 1 then add:add(nn.SpatialMaxPooling(1, 1, s.stride, s.stride)) end
  add:add(nn.Narrow(-3, 1, c)):add(nn.Narrow(-2, 1, s.h)):add(nn.Narrow(-1, 1, s.w))
  g:add(add, from, out .. ".add")
  if c == s.into then return g:add(shortcut(activation), { prev, out .. ".add" }, out) end
  g:add(nn.Narrow(-3, 1, c), prev, out .. ".head")
  g:add(nn.Narrow(-3, c + 1, s.into - c), prev, out .. ".tail")
  g:add(nn.CAddTable(), { out .. ".head", out .. ".add" }, out .. ".sum")
  local join = nn.Sequential():add(nn.JoinTable(1, 3))
  if activation then join:add(act(activation)) end
  return g:add(join, { out .. ".sum", out .. ".tail" }, out)
end
]]

---------------------------------------------------------------- the net

-- Reads a cfg into {sections, layers, input = {c, h, w}}; raises on anything
-- ember cannot reproduce.
function M.describe(cfgPath)
  local sections = M.parse_cfg(cfgPath)
  local r = reader(cfgPath, sections[1])
  local c, h, w = r.int("channels", 0), r.int("height", 0), r.int("width", 0)
  if c < 1 or h < 1 or w < 1 then
    fail(r.where(), string.format("needs positive channels, height and width, got %d, %d, %d", c, h, w))
  end
  local shape = { c = c, h = h, w = w }
  local layers, count = {}, { conv = 0, fc = 0 }
  local index, graph = 0, false
  for k = 2, #sections do
    local s = sections[k]
    local lr = reader(cfgPath, s, index)
    if s.type == "net" then fail(lr.where(), "a second [" .. s.name .. "] section") end
    if s.type == "cost" then
      -- darknet's output is that of the last layer before [cost]: nothing to
      -- run, but a layer index that later layers would count
      if k ~= #sections then fail(lr.where(), "[" .. s.name .. "] must be the last section") end
    else
      local l = builders[s.type](lr, shape, count, layers, index)
      l.index, l.type, l.section = index, s.type, s
      l.inputs = l.inputs or { index == 0 and "input" or ("l" .. (index - 1)) }
      layers[#layers + 1] = l
      graph = graph or l.type == "route" or l.type == "shortcut"
      shape = l.out
      index = index + 1
    end
  end
  if #layers == 0 then fail(cfgPath, "no layers after [net]") end
  return { sections = sections, layers = layers, input = { c, h, w }, output = shape, path = cfgPath,
           graph = graph }
end

local function basename(path)
  return path:match("([^/]+)$") or path
end
M.basename = basename

-- The Lua text of a net file for the cfg: one line per darknet layer.
-- opts.labels: a labels file name or nil; opts.name: for the header comment.
function M.source(cfgPath, opts)
  opts = opts or {}
  local d = type(cfgPath) == "table" and cfgPath or M.describe(cfgPath)
  local name = opts.name or basename(d.path):gsub("%.cfg$", "")
  local out = {}
  local function add(s) out[#out + 1] = s end
  add(string.format("-- %s.lua -- darknet's %s as an ember net: one line per darknet layer.", name, basename(d.path)))
  add("-- Made by `ember apps/convert.lua darknet`; weights named conv<i>/bn<i>/fc<i>/fcbn<i> in cfg order.")
  add("")
  add(prelude)
  add("local function build()")
  if d.graph then
    -- routes and shortcuts: a graph whose value l<k> is darknet layer k's output
    add(string.format("  local g = nn.Graph(\"input\", \"l%d\")", d.layers[#d.layers].index))
    for _, l in ipairs(d.layers) do
      local ins = {}
      for i, n in ipairs(l.inputs) do ins[i] = string.format("%q", n) end
      ins = l.tableInput and ("{ " .. table.concat(ins, ", ") .. " }") or ins[1]
      local call = l.stmt and ("  " .. l.stmt)
        or string.format("  g:add(%s, %s, \"l%d\")", l.line, ins, l.index)
      add(string.format("%-72s -- %2d %-18s -> %s", call, l.index, l.desc, shape_str(l.out)))
    end
    add("  return g:check()")
  else
    add("  return nn.Sequential()")
    for _, l in ipairs(d.layers) do
      local call = "    :add(" .. l.line .. ")"
      add(string.format("%-72s -- %2d %-18s -> %s", call, l.index, l.desc, shape_str(l.out)))
    end
  end
  add("end")
  add("")
  add("return {")
  add("  build = build,")
  add(string.format("  input = { %d, %d, %d },", d.input[1], d.input[2], d.input[3]))
  add("  -- darknet's `classifier predict`: its own letterbox (aspect kept, borders")
  add("  -- 0.5, its corner-aligned resize), RGB in [0, 1], no normalisation")
  add(string.format("  preprocess = { letterbox = %s, interpolation = \"darknet\", fill = 0.5,",
                    d.input[2] == d.input[3] and tostring(d.input[2])
                    or string.format("{ %d, %d }", d.input[3], d.input[2])))
  add("                 range = 1, channels = \"RGB\" },")
  if opts.labels then add(string.format("  labels = %q,", opts.labels)) end
  add("}")
  return table.concat(out, "\n") .. "\n"
end

return M
