-- apps/convert.lua -- other frameworks' models as an ember net file and
-- safetensors weights: ./ember apps/convert.lua <format> ... (one subcommand per format).
--
--   ./ember apps/convert.lua darknet tiny.cfg tiny.weights --net nets/tiny.lua \
--       --weights weights/tiny.safetensors [--labels darknet-labels.txt]
--   ./ember apps/convert.lua onnx model.onnx --net nets/model.lua --weights weights/model.safetensors
--
-- Each subcommand is {usage = "...", run = function(args) ... end}; run gets
-- the arguments after the subcommand's name and raises on failure. Files are
-- written whole or not at all (a temporary file, then a rename).

local commands = {}

local function fail(msg) error(msg, 0) end

-- Positional arguments and --key value options; known lists the option names.
local function parse(args, known)
  local pos, opts = {}, {}
  local i = 1
  while i <= #args do
    local a = args[i]
    local key = a:match("^%-%-(.+)$")
    if key then
      if not known[key] then fail("unknown option --" .. key) end
      if args[i + 1] == nil then fail("option --" .. key .. " needs a value") end
      opts[key] = args[i + 1]
      i = i + 2
    else
      pos[#pos + 1] = a
      i = i + 1
    end
  end
  return pos, opts
end

-- Writes text to path through path.tmp and a rename.
local function write_file(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "wb")
  if not f then fail("cannot write " .. tostring(err)) end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not ok or not closed then
    os.remove(tmp)
    fail("cannot write " .. path .. ": " .. tostring(werr or cerr))
  end
  return tmp
end

-- Writes the net file and its weights whole: the net text to a temporary
-- file, then save(weights path), then the rename; on failure nothing is left.
local function write_pair(opts, source, save)
  local tmp = write_file(opts.net, source)
  local ok, err = pcall(save, opts.weights)
  if not ok then
    os.remove(tmp)
    fail(err)
  end
  local renamed, rerr = os.rename(tmp, opts.net)
  if not renamed then
    os.remove(tmp)
    fail("cannot write " .. opts.net .. ": " .. tostring(rerr))
  end
end

-- The files must give the same net: the converted one and the one reloaded
-- from them agree exactly on noise of the input's size, or both files go.
-- (reloaded without the memory plan, whose first forward multiplies the
-- layers Winograd takes later by im2col: equal to rounding only)
local function check_reload(opts, converted, reloaded, input)
  ember.manualSeed(1)
  local x = ember.rand(1, table.unpack(input))
  local d = (converted:forward(x):clone() - reloaded:forward(x)):abs():max()
  if d ~= 0 then
    os.remove(opts.net)
    os.remove(opts.weights)
    fail(string.format("the reloaded net differs from the converted one by %g (files removed)", d))
  end
end

commands.darknet = {
  usage = "darknet CFG WEIGHTS --net OUT.lua --weights OUT.safetensors [--labels FILE]",
  run = function(args)
    local pos, opts = parse(args, { net = true, weights = true, labels = true })
    if #pos ~= 2 then fail("expected CFG and WEIGHTS, got " .. #pos .. " file names") end
    if not opts.net or not opts.weights then fail("--net and --weights name the output files") end
    local darknet = ember.darknet
    local cfg, weights = pos[1], pos[2]
    local name = opts.net:match("([^/]+)%.lua$") or opts.net:match("([^/]+)$")
    local net, info = darknet.load(cfg, weights, { name = name, labels = opts.labels })
    local h = info.header
    write_pair(opts, info.source, function(path)
      ember.save(net, path, {
      format = "pt", source = "darknet", cfg = cfg:match("([^/]+)$"),
      darknet_version = string.format("%d.%d.%d", h.major, h.minor, h.revision),
      darknet_seen = tostring(h.seen),
      note = "batch norm weight = darknet scale * sqrt(var + 1e-6) / (sqrt(var) + 1e-6): eps 1e-6 gives darknet's output",
    })
    end)
    check_reload(opts, net, ember.load{ net = opts.net, weights = opts.weights, fold = false, plan = false },
                 info.input)
    local n = 0
    for _ in pairs(info.tensors) do n = n + 1 end
    print(string.format("%s: %d layers, %d tensors (darknet %d.%d.%d) -> %s, %s (reloaded: identical output)",
                        cfg, #info.layers, n, h.major, h.minor, h.revision, opts.net, opts.weights))
  end,
}

commands.onnx = {
  usage = "onnx MODEL.onnx --net OUT.lua --weights OUT.safetensors",
  run = function(args)
    local pos, opts = parse(args, { net = true, weights = true })
    if #pos ~= 1 then fail("expected one MODEL.onnx, got " .. #pos .. " file names") end
    if not opts.net or not opts.weights then fail("--net and --weights name the output files") end
    local model = pos[1]
    -- the graph as imported: a fused conv (ember/fuse.lua) has no net-file form
    local g = ember.onnx.load(model, { fuse = false })
    local input, i1 = nil, g.onnx.inputs[1]
    if #g.onnx.inputs == 1 and i1.shape and #i1.shape == 4 then
      input = { i1.shape[2], i1.shape[3], i1.shape[4] }
      for _, v in ipairs(input) do if math.type(v) ~= "integer" then input = nil break end end
    end
    local title = string.format("%s: converted from %s (ONNX opset %d%s) by apps/convert.lua",
      opts.net:match("([^/]+)$"), model:match("([^/]+)$"), g.onnx.opset,
      g.onnx.producer ~= "" and (", " .. g.onnx.producer) or "")
    local state = g:state()
    write_pair(opts, require("ember.onnx.declare").source(g, title, input), function(path)
      ember.safetensors.save(path, state, { format = "pt", source = "onnx", model = model:match("([^/]+)$") })
    end)
    local m = ember.load{ net = opts.net, weights = opts.weights, fold = false, plan = false }
    if input then check_reload(opts, g, m.net, input) end
    local n = 0
    for _ in pairs(state) do n = n + 1 end
    print(string.format("%s: %d nodes, %d tensors -> %s, %s%s", model, #g.modules, n, opts.net, opts.weights,
                        input and " (reloaded: identical output)" or ""))
  end,
}

local function usage()
  local lines = { "usage: ./ember apps/convert.lua <format> ...", "formats:" }
  local names = {}
  for k in pairs(commands) do names[#names + 1] = k end
  table.sort(names)
  for _, k in ipairs(names) do lines[#lines + 1] = "  " .. commands[k].usage end
  return table.concat(lines, "\n")
end

local args = { ... }
if #args == 0 and arg then args = { table.unpack(arg) } end
local cmd = commands[args[1] or ""]
if not cmd then
  io.stderr:write(usage(), "\n")
  os.exit(args[1] == "--help" and 0 or 2)
end
local ok, err = pcall(cmd.run, { table.unpack(args, 2) })
if not ok then
  io.stderr:write("convert ", args[1], ": ", tostring(err), "\n")
  os.exit(1)
end
