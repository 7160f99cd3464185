-- apps/classify.lua -- the best classes of images, printed as TensorFlow's
-- classify_image.py does: the image's path, then "label (score = 0.12345)" lines.
--
--   ./ember apps/classify.lua --model resnet18 cat.jpg dog.jpg
--   ./ember apps/classify.lua --net nets/tiny_darknet.lua --weights tiny.safetensors --top 3 *.jpg
--   ./ember apps/classify.lua --darknet tiny.cfg tiny.weights --labels darknet-labels.txt dog.jpg
--
-- The model loads once; each image is preprocessed as its net file declares.
-- An image that cannot be read or classified is reported (path and reason,
-- on stderr) and skipped; the exit status is then 1. Bad usage exits 2.

local USAGE = [[
usage: ./ember apps/classify.lua MODEL [--labels FILE] [--top K] IMAGE...
MODEL is one of
  --model NAME                  nets/NAME.lua with weights/NAME.safetensors
  --net FILE --weights FILE     a net file and its weights
  --darknet CFG WEIGHTS         a darknet cfg and .weights file, read directly
--labels FILE: class names, one per line (default: the net's own)
--top K: how many classes per image (default 5)]]

local function usage_error(msg)
  io.stderr:write("classify: ", msg, "\n", USAGE, "\n")
  os.exit(2)
end

-- options (each takes its values from the following arguments) and images
local takes = { model = 1, net = 1, weights = 1, darknet = 2, labels = 1, top = 1 }

local args = { ... }
if #args == 0 and arg then args = { table.unpack(arg) } end
local opts, images = {}, {}
local i = 1
while i <= #args do
  local a = args[i]
  if a == "--help" or a == "-h" then
    print(USAGE)
    os.exit(0)
  end
  local key = a:match("^%-%-(.+)$")
  if key then
    local n = takes[key]
    if not n then usage_error("unknown option " .. a) end
    if i + n > #args then usage_error(a .. " needs " .. n .. (n == 1 and " value" or " values")) end
    opts[key] = n == 1 and args[i + 1] or { table.unpack(args, i + 1, i + n) }
    i = i + n + 1
  else
    images[#images + 1] = a
    i = i + 1
  end
end

local given = (opts.model and 1 or 0) + ((opts.net or opts.weights) and 1 or 0) + (opts.darknet and 1 or 0)
if given ~= 1 then usage_error("give one model: --model, --net with --weights, or --darknet") end
if (opts.net or opts.weights) and not (opts.net and opts.weights) then
  usage_error("--net and --weights go together")
end
if #images == 0 then usage_error("no images") end
local top = 5
if opts.top then
  top = math.tointeger(tonumber(opts.top))
  if not top or top < 1 then usage_error("--top must be a positive integer, got " .. opts.top) end
end

-- the model, once
local ok, model = pcall(function()
  local m
  if opts.darknet then
    m = ember.darknet.model(opts.darknet[1], opts.darknet[2])
  elseif opts.model then
    m = ember.load(opts.model)
  else
    m = ember.load{ net = opts.net, weights = opts.weights }
  end
  if opts.labels then m.labels = require("ember.model").read_labels(opts.labels) end
  return m
end)
if not ok then
  io.stderr:write("classify: ", tostring(model), "\n")
  os.exit(1)
end

local failed = 0
for _, path in ipairs(images) do
  local done, res = pcall(model.classify, model, path, top)
  if done then
    print(path)
    for _, c in ipairs(res) do
      print(string.format("%s (score = %.5f)", c.label, c.prob))
    end
  else
    failed = failed + 1
    -- the reason without the Lua file and line that raised it
    local msg = tostring(res):gsub("^[^:\n]*%.lua:%d+: ", "")
    if not msg:find(path, 1, true) then msg = path .. ": " .. msg end
    io.stderr:write("classify: ", msg, "\n")
  end
end
io.stdout:flush()
if failed > 0 then os.exit(1) end
