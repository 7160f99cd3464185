-- apps/hotswap.lua -- classifies a stream of inputs while the net or weights
-- files are replaced underneath, printing which version answered each call.
--
--   ./ember apps/hotswap.lua --demo                      # swaps A, B, broken files itself
--   ./ember apps/hotswap.lua --model resnet18 --seconds 60 cat.jpg dog.jpg
--     (then, from another shell: cp new.safetensors weights/resnet18.safetensors)
--
-- Each call takes the registry's current model (ember.models) and runs on it
-- to the end; between calls the registry polls the files and swaps in a new
-- version only once it has loaded in the sandbox and passed the probe. A
-- broken replacement is reported and the old version keeps answering.

local ember = require "ember"

local USAGE = [[
usage: ./ember apps/hotswap.lua [--model NAME] [--nets DIR] [--weights DIR]
         [--demo] [--every N] [--iterations N] [--seconds S] [--interval S] [IMAGE...]
--model NAME    the model to serve (nets/NAME.lua, weights/NAME.safetensors);
                with --demo the default is lenet
--nets, --weights DIR   where its files are (default nets, weights)
--demo          work in a temporary copy and replace the weights every N calls
                (--every, default 4) by turns with: weights B, a truncated file,
                weights A, a net file with a syntax error, the good net again
--iterations N  stop after N calls (default 24); --seconds S: after S seconds (default 30)
--interval S    look at the files at most every S seconds (default 0: every call)
IMAGE...        classify these in turn (default: a fixed random input of the
                net's declared size)]]

local function usage_error(msg)
  io.stderr:write("hotswap: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

local function parse(argv)
  local o = { nets = "nets", weights = "weights", every = 4, iterations = 24, seconds = 30,
              interval = 0, images = {} }
  local i = 1
  local function value(flag)
    i = i + 1
    if argv[i] == nil then usage_error(flag .. " needs a value") end
    return argv[i]
  end
  local function number(flag)
    local v = tonumber(value(flag))
    if not v or v < 0 then usage_error(flag .. " needs a non-negative number") end
    return v
  end
  while i <= #argv do
    local a = argv[i]
    if a == "--model" then o.model = value(a)
    elseif a == "--nets" then o.nets = value(a)
    elseif a == "--weights" then o.weights = value(a)
    elseif a == "--demo" then o.demo = true
    elseif a == "--every" then o.every = math.max(1, math.floor(number(a)))
    elseif a == "--iterations" then o.iterations = math.floor(number(a))
    elseif a == "--seconds" then o.seconds = number(a)
    elseif a == "--interval" then o.interval = number(a)
    elseif a == "--help" or a == "-h" then print(USAGE) os.exit(0)
    elseif a:sub(1, 2) == "--" then usage_error("unknown option " .. a)
    else o.images[#o.images + 1] = a end
    i = i + 1
  end
  if not o.model then
    if o.demo then o.model = "lenet" else usage_error("--model NAME is required (or --demo)") end
  end
  return o
end

local function read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Writes beside and renames, as a careful deploy does; in_place rewrites the
-- file itself (what cp does), to show that this is caught too.
local function put(path, bytes, in_place)
  local target = in_place and path or path .. ".tmp"
  local f = assert(io.open(target, "wb"))
  f:write(bytes)
  f:close()
  if not in_place then assert(os.rename(target, path)) end
end

---------------------------------------------------------------- demo files

-- A temporary nets/ and weights/ with the model's net file and two sets of
-- weights (its initial weights under two seeds), plus the replacement steps.
local function demo_setup(o)
  local src = "nets/" .. o.model .. ".lua"
  local root = package.searchpath("ember", package.path)
  if not io.open(src) and root then src = root:match("^(.*)/lua/ember/init.lua$") .. "/" .. src end
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p '" .. dir .. "/nets' '" .. dir .. "/weights'"))
  local net_text = read(src)
  put(dir .. "/nets/" .. o.model .. ".lua", net_text)
  local files = {}
  for _, v in ipairs{ { "A", 1 }, { "B", 2 } } do
    ember.manualSeed(v[2])
    local m = ember.load{ net = src }
    local p = dir .. "/" .. v[1] .. ".safetensors"
    ember.save(m.net, p, { version = v[1] })
    files[v[1]] = read(p)
  end
  local wpath = dir .. "/weights/" .. o.model .. ".safetensors"
  local npath = dir .. "/nets/" .. o.model .. ".lua"
  put(wpath, files.A)
  local steps = {
    { "weights B (renamed into place)", function() put(wpath, files.B) end },
    { "a truncated weights file (written in place)", function()
        put(wpath, files.A:sub(1, #files.A // 2), true) end },
    { "weights A (written in place)", function() put(wpath, files.A, true) end },
    { "a net file with a syntax error", function() put(npath, net_text .. "\nlocal x = (\n") end },
    { "the good net file again", function() put(npath, net_text) end },
  }
  return dir, steps
end

---------------------------------------------------------------- main

local o = parse(arg)
local dir, steps
if o.demo then
  dir, steps = demo_setup(o)
  o.nets, o.weights = dir .. "/nets", dir .. "/weights"
  print("hotswap demo in " .. dir)
end

local reg = ember.models.new{
  nets = o.nets, weights = o.weights,
  on_error = function(name, err) print(string.format("  reload of %s failed, old version serving: %s", name, err)) end,
  on_swap = function(name, new, old)
    if old then print(string.format("  swapped %s -> %s", old.tag, new.tag)) end
  end,
}
reg:watch(o.interval)

local ok, m = pcall(reg.get, reg, o.model)
if not ok then
  io.stderr:write("hotswap: ", tostring(m), "\n")
  os.exit(1)
end
print(string.format("serving %s (%s)", m.tag, m.files.weights and m.files.weights.path or "initial weights"))

-- the inputs: images preprocessed as the net declares, or one fixed probe
local function input_for(model, i)
  if #o.images == 0 then return reg:probe_input(model.input)[1], "probe" end
  local path = o.images[(i - 1) % #o.images + 1]
  local okp, x = pcall(ember.image.preprocess, path, model.preprocess or {})
  if not okp then return nil, path, x end
  return x, path
end

local start, status = ember.now(), 0
local step = 0
for i = 1, o.iterations do
  if ember.now() - start > o.seconds then break end
  if steps and i > 1 and (i - 1) % o.every == 0 then
    step = step % #steps + 1
    print("replacing with " .. steps[step][1])
    steps[step][2]()
  end
  reg:poll()
  local model = reg:get(o.model)          -- held for the whole call
  local x, what, err = input_for(model, i)
  if not x then
    io.stderr:write("hotswap: ", what, ": ", tostring(err), "\n")
    status = 1
  else
    local best = model:classify(x, 1)[1]
    print(string.format("call %3d  %-14s %-12s -> %s (p = %.4f)", i, model.tag, what, best.label, best.prob))
  end
end

if dir and dir:match("^/tmp/") then os.execute("rm -rf '" .. dir .. "'") end
os.exit(status)
