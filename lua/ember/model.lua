-- ember/model.lua -- a network ready to run: its declaration (nets/*.lua),
-- its weights (safetensors), batch norms folded, preprocessing and labels.
--
--   local ember = require "ember"
--   local m = ember.load("resnet18")   -- nets/resnet18.lua + weights/resnet18.safetensors
--   local m = ember.load{ net = "nets/resnet18.lua", weights = "w.safetensors", num_classes = 10 }
--   local m = ember.load{ net = "lenet" }   -- a name or a path without weights:
--                                           -- the net's initial (random) weights
--   local logits = m:forward(batch)    -- N,C,H,W (or one C,H,W image)
--   for _, c in ipairs(m:classify(image, 5)) do print(c.label, c.prob) end
--
-- A net file is Lua that runs in a sandbox (ember/sandbox.lua) with only nn,
-- math, string, table, utf8, ember.Tensor and the safe base functions (no
-- I/O, no printing, no require), under limits on instructions, memory and
-- tensor storage. include("resnet") runs another net file of the same
-- directory (nets/resnet.lua; a bare name, no path) in the same sandbox and
-- returns its results: a family shares one definition, and a member's file
-- is one line, `return include("resnet").resnet("basic", { 2, 2, 2, 2 })`.
-- A net file returns its declaration:
--
--   return {
--     build = function(opts) ... return net end,  -- required: the nn module;
--                     -- opts.num_classes, and opts.width_mult where the family
--                     -- has one; every option given to ember.load reaches it
--     input = { 3, 224, 224 },        -- C,H,W it was trained on
--     preprocess = {                  -- how an image becomes its input
--       resize = 256,                 -- shorter side first resized to this
--       crop = 224,                   -- then a centred crop of this size
--       letterbox = 224,              -- or: fit into this square, aspect kept,
--                                     -- borders 0.5 (darknet), instead of both
--       range = 1,                    -- pixel values scaled to [0, range]
--       channels = "RGB",             -- "RGB", "BGR" or "gray"
--       mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 },
--     },                              -- input = (pixel - mean) / std per channel
--     labels = "imagenet_classes.txt" -- or a list of names; a file name is
--                                     -- looked up beside the net file, then in
--                                     -- the cwd and ../shared/data/imagenet
--   }
--
-- Every layer with weights is named (:named("layer1.0.conv1")) with its key
-- prefix in the weights file, so loading is by name and checked by shape.
--
-- Folding: m.net is the net as declared, with the file's weights, so
-- m.net:state() names and values are those of the file (save it as is).
-- m.graph is what m:forward runs: the same modules, except that each
-- SpatialBatchNormalization directly after a SpatialConvolution in a
-- Sequential is folded into a copy of that convolution and replaced by
-- nn.Identity. The folded convolutions are copies (one more set of their
-- weights in memory); ember.load{..., fold = false} runs m.net itself.
-- After changing m.net's weights, m:refold() makes the graph again. Leaf
-- modules are shared between m.net and m.graph (so are their outputs). The
-- graph's activations follow a memory plan (ember/plan.lua: pooled buffers
-- reused once dead, in-place activations; m:memory() reports it; plan =
-- false runs without); its leaves then write into the plan's buffers, which
-- m.net's structure (the same but for batch norms) uses the same way; its
-- folded convolutions share one im2col scratch. The plan is made by a dry
-- pass (shapes only) before the first forward computes, so that forward maps
-- only the plan's buffers; it also runs the layers Winograd takes by im2col,
-- and the next forwards transform their weights, 8 MB each (plan.lua:
-- defer): the first result may differ from the later ones by rounding
-- (~1e-7 of the largest value).
--
-- With a weights file, the net is built with deferred initialisation
-- (ember/nn/util.lua deferInit): its parameters are not filled before the
-- file's tensors replace them; anything the file does not cover (strict =
-- false) gets its usual initial values. The model is the same either way.
--
-- net may also be a declaration table itself (handy in tests).
-- Options of ember.load besides net and weights: fold (default true), strict
-- (default true: names missing from the file or unknown to the net are
-- errors; shapes are always checked), limits (the sandbox's, e.g.
-- {instructions = 1e8, memory = 256 * 2^20, tensors = 2^31}: everything the
-- load runs, from the net file to folding, counts), copy (default false:
-- copy the weights into the net's own tensors instead of viewing the mapped
-- file, so rewriting the file later cannot change the model), plan (default
-- true: the memory plan), fuse (default true, with fold: ReLU/ReLU6 and
-- residual adds run inside the convolution before them, ember/fuse.lua),
-- packWeights (default false: convolutions keep their weights packed for
-- the matrix product, ember.nn.util.packWeights); the rest go to build.

local ember = require "ember"
local core = require "ember.core"
local nn = require "ember.nn"
local sandbox = require "ember.sandbox"
local plan = require "ember.plan"
local util = require "ember.nn.util"

local M = {}

local Model = {}
Model.__index = Model

---------------------------------------------------------------- finding files

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- The directory above lua/ember: where nets/ and weights/ of the source tree are.
local function source_root()
  local init = package.searchpath("ember", package.path)
  if not init then return nil end
  return (init:match("^(.*)/[^/]*$") or ".") .. "/../../"
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- First existing path among dir .. "/" .. rel for the candidate dirs.
local function find(rel, dirs)
  local tried = {}
  for _, d in ipairs(dirs) do
    local p = (d == "" and rel) or (d:sub(-1) == "/" and d .. rel) or (d .. "/" .. rel)
    if exists(p) then return p end
    tried[#tried + 1] = p
  end
  return nil, tried
end

-- Where ember.load("name") looks for nets/name.lua and weights/name.safetensors:
-- the current directory, each directory of $EMBER_PATH (colon-separated),
-- the source tree, and an installed tree's PREFIX/share/ember.
local function search_dirs()
  local dirs = { "" }
  for d in (os.getenv("EMBER_PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  local root = source_root()
  if root then
    dirs[#dirs + 1] = root
    dirs[#dirs + 1] = root .. "../ember/"   -- PREFIX/share/lua/5.4/ember -> PREFIX/share/ember
  end
  return dirs
end

---------------------------------------------------------------- net files

-- A copy of a value a net file returned, made with raw access only (no
-- metamethod of the script runs later in the host, outside the limits).
local function plain(v, depth)
  if type(v) ~= "table" then return v end
  if depth > 8 then error("declaration nested deeper than 8 tables", 0) end
  local c = {}
  local k, x = next(v)
  while k ~= nil do
    c[plain(k, depth + 1)] = plain(x, depth + 1)
    k, x = next(v, k)
  end
  return c
end

-- An error raised anywhere below a net file's code, reported at the net
-- file's innermost line ("nets/x.lua:12: ...") when it does not say so itself.
local function at_net_line(chunkname)
  return function(e)
    local msg = tostring(e)
    if msg:find(chunkname, 1, true) then return msg end
    for level = 2, 60 do
      local info = debug.getinfo(level, "Sl")
      if not info then break end
      if (info.source == "@" .. chunkname or info.source == "=" .. chunkname) and info.currentline > 0 then
        return chunkname .. ":" .. info.currentline .. ": " .. msg
      end
    end
    return chunkname .. ": " .. msg
  end
end

-- Runs the chunk compile() gives in the sandbox and returns its declaration
-- (checked; a plain copy).
local function declare(chunkname, limits, compile)
  return sandbox.run(chunkname, limits, function()
    local chunk, err = compile()
    if not chunk then error(err, 0) end
    local ok, decl = xpcall(chunk, at_net_line(chunkname))
    if not ok then error(decl, 0) end
    if type(decl) ~= "table" or type(rawget(decl, "build")) ~= "function" then
      error(chunkname .. ": a net file must return a table with a build function, got "
            .. (type(decl) == "table" and "a table without build" or type(decl)), 0)
    end
    return plain(decl, 1)
  end)
end

-- Runs a net file in the sandbox and returns its declaration. limits: the
-- sandbox's (inside ember.load, the load's own).
function M.declaration(path, limits)
  return declare(path, limits, function() return sandbox.loadfile(path) end)
end

-- The same for a net file's text (as ember.darknet writes it); chunkname
-- names it in errors.
function M.declaration_text(text, chunkname, limits)
  return declare(chunkname, limits, function() return sandbox.load(text, "=" .. chunkname) end)
end

local function is_module(x)
  return type(x) == "table" and type(x.forward) == "function" and type(x.apply) == "function"
end

-- Builds the net of a declaration with the options of ember.load.
local function build(decl, path, opts)
  local ok, net = xpcall(decl.build, at_net_line(path), opts)
  if not ok then error(net, 0) end
  if not is_module(net) then
    error(path .. ": build returned " .. type(net) .. ", expected an nn module", 0)
  end
  return net
end

---------------------------------------------------------------- labels

-- The non-empty lines of a labels file (CRLF too), as a list.
function M.read_labels(path)
  local list = {}
  for line in io.lines(path) do
    line = line:gsub("\r$", "")
    if line ~= "" then list[#list + 1] = line end
  end
  return list
end

local function find_labels(labels, netpath)
  if labels == nil then return nil end
  if type(labels) == "table" then return labels end
  local p = find(labels, { dirname(netpath), "", "../shared/data/imagenet" })
  if p then return M.read_labels(p) end
  return nil   -- labels are a convenience: classify falls back to "class <i>"
end

---------------------------------------------------------------- folding

local function last_module(m)
  while m.modules and #m.modules > 0 do m = m.modules[#m.modules] end
  return m
end

local function shallow_copy(m)
  local c = {}
  for k, v in pairs(m) do c[k] = v end
  return setmetatable(c, getmetatable(m))
end

-- A fresh output of the kind the module makes (tensor, or a table of them).
local function fresh_output(m)
  if ember.isTensor(m.output) or m.output == nil then return core.tensor() end
  return {}
end

-- conv with bn folded in: a copy of conv with a new bias and, per output
-- channel, the batch norm's scale: the kernels multiply the product by it
-- before adding the bias (bnScale), so the weight stays the loaded tensor
-- (a view of the mapped weights file: nothing written at load, where
-- writing resnet50's folded weights took ~95 ms). Grouped convolutions (the
-- depthwise kernel applies no scale) get a new weight: the kernel folds the
-- batch norm into a column of ones (each channel's scale), then one
-- broadcast product makes the weight.
local function folded(conv, bn)
  local c = shallow_copy(conv)
  c.output, c._out4 = core.tensor(), nil
  local out = conv.weight:size(1)
  local scale = core.tensor(out, 1):fill(1)
  local bias = conv.bias and conv.bias:nElement() > 0 and conv.bias:clone() or nil
  local w, b = bn.weight, bn.bias
  if w and w:nElement() == 0 then w = nil end
  if b and b:nElement() == 0 then b = nil end
  c.bias = core.batchnorm_fold(scale, bias, w, b, bn.running_mean, bn.running_var, bn.eps)
  if conv.groups == 1 and not conv.bnScale then
    c.bnScale = scale:view(out)
    return c
  end
  local ones = {}
  for i = 2, conv.weight:dim() do ones[i - 1] = 1 end
  c.weight = conv.weight * scale:view(out, table.unpack(ones))
  return c
end

local function foldable(a, b)
  return a and b and a.__typename == "nn.SpatialConvolution"
     and b.__typename == "nn.SpatialBatchNormalization"
     and a.weight and a.weight:size(1) == b.running_mean:nElement()
end

-- The running graph: containers copied (their children lists are new),
-- leaves shared, conv + bn pairs in a Sequential folded.
local function fold_graph(m)
  if not m.modules then return m end
  local c = shallow_copy(m)
  c.output = fresh_output(m)
  c.modules = {}
  for i, child in ipairs(m.modules) do c.modules[i] = fold_graph(child) end
  if m.nodes then
    -- nn.Graph wiring: its own node list, so that fusing the running graph
    -- never rewires m.net
    c.nodes = {}
    for i, node in ipairs(m.nodes) do
      local n = {}
      for k, v in pairs(node) do n[k] = type(v) == "table" and table.move(v, 1, #v, 1, {}) or v end
      c.nodes[i] = n
    end
  end
  if m.__typename == "nn.Sequential" then
    local i = 1
    while i < #c.modules do
      local a, b = m.modules[i], m.modules[i + 1]
      if foldable(a, b) then
        c.modules[i] = folded(a, b)
        c.modules[i + 1] = nn.Identity()
        i = i + 2
      else
        i = i + 1
      end
    end
  end
  return c
end

function Model:refold()
  local replaced = self.graph ~= nil
  self.graph = self.fold and fold_graph(self.net) or self.net
  -- activations and residual adds into the convolutions (ember/fuse.lua)
  if self.fold and self.fuse then require("ember.fuse").graph(self.graph) end
  -- a graph that kept its weights packed (ember.nn.util.packWeights) packs again
  if self.packWeights and self.graph ~= self.net then
    require("ember.nn.util").packWeights(self.graph)
  end
  plan.share_scratch(self.graph)   -- one im2col scratch: one conv runs at a time
  if self.plan then
    plan.attach(self.graph, { dry = true })
    -- planned now for the declared input, batch 1 (a dry pass, some ms of
    -- Lua): the first forward of that shape runs planned
    local s = self.input
    if type(s) == "table" and #s == 3 and math.type(s[1]) and math.type(s[2]) and math.type(s[3]) then
      plan.prepare(self.graph, core.tensor(1, s[1], s[2], s[3]))
    end
  end
  -- the graph replaced (its plan's buffers) is garbage Lua sees as small
  -- userdata: freed now, as a first plan no longer collects (ember/plan.lua)
  if replaced then collectgarbage() end
  return self
end

-- The memory plan of m.graph (ember/plan.lua), after a forward: {arena_bytes,
-- slots, buffers, values, naive_bytes, unplanned_bytes, inplace}; nil before.
function Model:memory()
  return plan.memory(self.graph)
end

---------------------------------------------------------------- loading

-- Resolves {net=, weights=} or a name to paths; weights may be absent (nil).
local function resolve(spec)
  if type(spec) == "string" then
    local name = spec
    if name:find("/", 1, true) or name:match("%.lua$") then
      spec = { net = name }
    else
      local dirs = search_dirs()
      local net, tried = find("nets/" .. name .. ".lua", dirs)
      if not net then
        error("ember.load: no net named '" .. name .. "' (looked for " .. table.concat(tried, ", ") .. ")", 0)
      end
      local weights, wtried = find("weights/" .. name .. ".safetensors", dirs)
      if not weights then
        error("ember.load: no weights for '" .. name .. "' (looked for " .. table.concat(wtried, ", ")
              .. "); load{net = ..., weights = ...} names them", 0)
      end
      return { net = net, weights = weights }, name
    end
  end
  if type(spec) ~= "table" then
    error("ember.load: expected a net name or a table {net = ..., weights = ...}, got " .. type(spec), 0)
  end
  local opts = {}
  for k, v in pairs(spec) do opts[k] = v end
  if type(opts.net) ~= "string" and type(opts.net) ~= "table" then
    error("ember.load: net must be a path to a net file (or a declaration table), got " .. type(opts.net), 0)
  end
  if type(opts.net) == "string" and not opts.net:find("/", 1, true) and not opts.net:match("%.lua$") then
    opts.net = "nets/" .. opts.net .. ".lua"   -- a name, as in load("resnet18")
  end
  if type(opts.net) == "string" and not exists(opts.net) then
    local p = find(opts.net, search_dirs())
    if not p then error("ember.load: cannot open net file " .. opts.net, 0) end
    opts.net = p
  end
  if opts.weights ~= nil and opts.weights ~= false and type(opts.weights) ~= "string" then
    error("ember.load: weights must be a path to a .safetensors file, got " .. type(opts.weights), 0)
  end
  local name = type(opts.net) == "string" and opts.net:match("([^/]+)%.lua$") or "net"
  return opts, name
end

-- Options for build: everything but the keys load itself uses.
local own = { net = true, weights = true, fold = true, strict = true, limits = true, copy = true,
              plan = true, fuse = true, packWeights = true }

-- ember.load(name) or ember.load{net = path, weights = path, fold = true,
-- strict = true, <build options...>}: a model, or an error (never half a model).
function M.load(spec)
  local opts, name = resolve(spec)
  -- everything below runs in one sandbox session: the net file, its build,
  -- weights and folding count towards the same limits
  return sandbox.run(type(opts.net) == "string" and opts.net or name, opts.limits, M._load, opts, name)
end

function M._load(opts, name)
  local decl, path
  if type(opts.net) == "table" then
    decl, path = opts.net, name
    if type(decl.build) ~= "function" then error("ember.load: net table has no build function", 0) end
  else
    path = opts.net
    decl = M.declaration(path)
  end
  local bopts = {}
  for k, v in pairs(opts) do if not own[k] then bopts[k] = v end end
  -- with a weights file, parameters are bound to the file's tensors right
  -- below: the build skips their initial values (ember.nn.util.deferInit),
  -- and weights.apply initialises whatever the file does not cover
  local deferred, net
  if opts.weights then
    deferred, net = util.deferInit(build, decl, path, bopts)
  else
    net = build(decl, path, bopts)
  end
  net:evaluate()
  -- a root container without a name takes the net's, so that forward errors
  -- read "resnet18[5] ..." (containers hold no tensors: state() is unchanged)
  if net.modules and not net.name then net.name = name end

  if opts.weights then
    local tensors = require("ember.safetensors").load(opts.weights)
    require("ember.weights").apply(net, tensors, { strict = opts.strict ~= false, source = opts.weights,
                                                   copy = opts.copy or nil, deferred = deferred })
    -- the storage the file's tensors replaced (never touched when deferred,
    -- but counted by the sandbox's limits): freed before folding allocates
    tensors = nil
    collectgarbage()
  end

  local m = setmetatable({
    name = name,
    net = net,
    path = path,
    weights = opts.weights or nil,
    input = decl.input,
    preprocess = decl.preprocess,
    labels = find_labels(decl.labels, path),
    fold = opts.fold ~= false,
    plan = opts.plan ~= false,
    fuse = opts.fuse ~= false,
    packWeights = opts.packWeights == true,
    softmax_out = last_module(net).__typename == "nn.SoftMax",
  }, Model)
  m:refold()
  return m
end

---------------------------------------------------------------- running

local function check_input(self, x)
  if not ember.isTensor(x) then
    error(self.name .. ": expected an ember.Tensor, got " .. type(x), 3)
  end
  local d = x:dim()
  if d ~= 3 and d ~= 4 then
    error(string.format("%s: expected a C,H,W image or an N,C,H,W batch, got a %d-dimensional tensor (%s)",
      self.name, d, x:shape()), 3)
  end
  local c = x:size(d - 2)
  if self.input and self.input[1] and c ~= self.input[1] then
    error(string.format("%s: expected %d input channels, got %d (%s)", self.name, self.input[1], c, x:shape()), 3)
  end
end

-- Logits (or whatever the net ends with) for a batch N,C,H,W; a single C,H,W
-- image gives its output without the batch dimension.
function Model:forward(x)
  check_input(self, x)
  if x:dim() == 3 then
    local out = self.graph:forward(x:reshape(1, x:size(1), x:size(2), x:size(3)))
    return out[1]
  end
  return self.graph:forward(x)
end

-- (x - mean) / std per channel for a C,H,W or N,C,H,W tensor with pixel values
-- in the declared range; a new tensor.
function Model:normalize(x)
  check_input(self, x)
  local p = self.preprocess or {}
  local c = x:size(x:dim() - 2)
  local y = x:clone()
  if not p.mean and not p.std then return y end
  local mean, std = core.tensor(c, 1, 1), core.tensor(c, 1, 1)
  for i = 1, c do
    mean[i][1][1] = p.mean and p.mean[i] or 0
    std[i][1][1] = p.std and p.std[i] or 1
  end
  return (y - mean) / std
end

---------------------------------------------------------------- images (ember.image)

-- The net's input from an image: a file path (always preprocessed), or a
-- tensor C,H,W / H,W,C / H,W with values in [0, 1], preprocessed as the net
-- file declares (ember.image.preprocess) unless it already has the declared
-- input shape (taken as ready) or opts.preprocess is false. opts.preprocess
-- = true forces it. Batches (4-D) are left alone.
function Model:prepare(x, opts)
  local want = opts and opts.preprocess
  if want == false or (ember.isTensor(x) and x:dim() == 4) then return x end
  if ember.isTensor(x) and want == nil and self.input and x:dim() == #self.input then
    local same = true
    for i = 1, x:dim() do if x:size(i) ~= self.input[i] then same = false end end
    if same then return x end
  end
  if type(x) ~= "string" and not ember.isTensor(x) then return x end   -- check_input says what is wrong
  return require("ember.image").preprocess(x, self.preprocess or {}, self.input)
end

-- The k best classes of one image (C,H,W, or 1,C,H,W): a list of
-- {label=, index=, prob=}, best first; index is 1-based. x may also be a file
-- path or a raw image, preprocessed by Model:prepare; a tensor of the declared
-- input shape is taken as ready (opts.normalize normalises it). Probabilities are the
-- softmax of the output, or the output itself when the net ends in SoftMax.
function Model:classify(x, k, opts)
  x = self:prepare(x, opts)
  check_input(self, x)
  if x:dim() == 4 and x:size(1) ~= 1 then
    error(string.format("%s: classify takes one image, got a batch of %d", self.name, x:size(1)), 2)
  end
  if opts and opts.normalize then x = self:normalize(x) end
  if x:dim() == 4 then x = x[1] end
  local out = self:forward(x)
  local v = out:contiguous():view(-1):totable()
  local n = #v
  k = math.min(k or 5, n)
  local prob = v
  if not self.softmax_out then
    local mx = -math.huge
    for i = 1, n do if v[i] > mx then mx = v[i] end end
    local sum, e = 0, {}
    for i = 1, n do e[i] = math.exp(v[i] - mx); sum = sum + e[i] end
    for i = 1, n do e[i] = e[i] / sum end
    prob = e
  end
  local idx = {}
  for i = 1, n do idx[i] = i end
  table.sort(idx, function(a, b)
    if prob[a] ~= prob[b] then return prob[a] > prob[b] end
    return a < b
  end)
  local res = {}
  for j = 1, k do
    local i = idx[j]
    res[j] = { index = i, prob = prob[i], label = self.labels and self.labels[i] or ("class " .. i) }
  end
  return res
end

function Model:__tostring()
  return string.format("ember model %s (%s%s)", self.name, self.path,
                       self.weights and (", " .. self.weights) or ", initial weights")
end

M.Model = Model
return M
