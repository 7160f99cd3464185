-- apps/demo.lua -- what `make demo` runs: a CNN names handwritten digits, then
-- (when Tiny Darknet's weights are here) an ImageNet classifier names photos.
--
--   ./ember apps/demo.lua                 -- the sample digits and photos
--   ./ember apps/demo.lua my_digit.png    -- your own digit (any size; a dark
--                                         -- digit on light paper is inverted)

local ember = require "ember"
local image = require "ember.image"

local ROOT = (arg and arg[0] and arg[0]:match("^(.*)/apps/[^/]*$")) or "."
local SHARED = ROOT .. "/../shared/data"

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- Image files in a directory, sorted (none when it is absent).
local function images_in(dir)
  local list = {}
  local p = io.popen("ls -1 '" .. dir .. "' 2>/dev/null")
  if not p then return list end
  for name in p:lines() do
    if name:lower():match("%.[jpb][pnm][ge]?g?$") or name:lower():match("%.bmp$") then
      list[#list + 1] = dir .. "/" .. name
    end
  end
  p:close()
  table.sort(list)
  return list
end

local function basename(path) return path:match("([^/]*)$") end

-- path without the leading "./" or root directory, for printing
local function rel(path)
  if path:sub(1, #ROOT + 1) == ROOT .. "/" then return path:sub(#ROOT + 2) end
  return path
end

local function ms(t) return string.format("%.1f ms", t * 1000) end

---------------------------------------------------------------- digits

local RAMP = " .:-=+*#%@"

-- A 1x28x28 grey image (0 black .. 1 white) as 10 lines of 20 characters:
-- the 20x20 window around the ink, two pixel rows per line.
local function ascii(img)
  local px = img:view(28, 28):totable()
  local top, left, bottom, right = 28, 28, 1, 1
  for y = 1, 28 do
    for x = 1, 28 do
      if px[y][x] > 0.2 then
        top, bottom = math.min(top, y), math.max(bottom, y)
        left, right = math.min(left, x), math.max(right, x)
      end
    end
  end
  if top > bottom then top, bottom, left, right = 5, 24, 5, 24 end
  local y0 = math.max(1, math.min(9, (top + bottom) // 2 - 9))
  local x0 = math.max(1, math.min(9, (left + right) // 2 - 9))
  local lines = {}
  for r = 0, 9 do
    local s = {}
    for c = 0, 19 do
      local y, x = y0 + 2 * r, x0 + c
      local v = (px[y][x] + px[y + 1][x]) / 2
      local k = math.floor(math.max(0, math.min(1, v)) * (#RAMP - 1) + 0.5) + 1
      s[#s + 1] = RAMP:sub(k, k)
    end
    lines[#lines + 1] = table.concat(s)
  end
  return lines
end

-- Prints blocks of lines side by side, `per` to a row.
local function print_blocks(blocks, per, width)
  for i = 1, #blocks, per do
    local row = {}
    for j = i, math.min(i + per - 1, #blocks) do row[#row + 1] = blocks[j] end
    for l = 1, #row[1] do
      local parts = {}
      for _, b in ipairs(row) do parts[#parts + 1] = string.format("%-" .. width .. "s", b[l] or "") end
      print((("  " .. table.concat(parts, "    ")):gsub("%s+$", "")))
    end
    print()
  end
end

-- The net's input for a digit image file: inverted first when its border
-- is light (a dark digit on paper), as MNIST digits are white on black.
local function digit_input(m, path)
  local raw = image.load(path, { channels = 1 })
  local h, w = raw:size(2), raw:size(3)
  local edge = (raw:narrow(2, 1, 1):sum() + raw:narrow(2, h, 1):sum()
              + raw:narrow(3, 1, 1):sum() + raw:narrow(3, w, 1):sum()) / (2 * (w + h))
  local spec = {}
  for k, v in pairs(m.preprocess) do spec[k] = v end
  spec.invert = edge > 0.5
  return image.preprocess(raw, spec, m.input), spec.invert
end

local function digits(files, samples)
  local ok, m = pcall(ember.load, "lenet")
  if not ok then
    print("digits: SKIPPED, the digits model does not load: " .. tostring(m))
    return
  end
  print("Digits: nets/lenet.lua with " .. m.weights
        .. " (LeNet-5 style, trained by tools/train_lenet.py)")
  print()
  local p = m.preprocess
  local blocks, right, total, elapsed = {}, 0, 0, 0
  for _, path in ipairs(files) do
    local x, inverted = digit_input(m, path)
    local t0 = ember.now()
    local top = m:classify(x, 2)
    elapsed = elapsed + (ember.now() - t0)
    local seen = x * p.std[1] + p.mean[1]       -- back to 0..1: what the net sees
    local b = ascii(seen)
    local truth = samples and basename(path):match("^(%d)%.png$")
    local mark = ""
    if truth then
      total = total + 1
      if truth == top[1].label then right = right + 1 else mark = "  (wrong: a " .. truth .. ")" end
    end
    b[#b + 1] = string.format("%s -> %s  %.1f%%%s", basename(path), top[1].label,
                              100 * top[1].prob, mark)
    b[#b + 1] = string.format("   next: %s %.2f%%%s", top[2].label, 100 * top[2].prob,
                              inverted and ", inverted" or "")
    blocks[#blocks + 1] = b
  end
  print_blocks(blocks, 3, 26)
  if samples then
    print(string.format("  %d of %d named right, %s per digit. These are MNIST training digits held", right,
          total, ms(elapsed / #files)))
    print("  out from training; spec/lenet_spec.lua measures the 10,000 of MNIST's test set.")
  end
  print()
end

---------------------------------------------------------------- photos

-- Tiny Darknet: from weights/tiny_darknet.safetensors, else from darknet's
-- own cfg and weights in ../shared/data/imagenet. nil and why when neither.
local function tiny_darknet()
  if exists(ROOT .. "/weights/tiny_darknet.safetensors") then
    local ok, m = pcall(ember.load, "tiny_darknet")
    if ok then return m, "weights/tiny_darknet.safetensors" end
    return nil, tostring(m)
  end
  local cfg, weights = SHARED .. "/imagenet/tiny-darknet.cfg", SHARED .. "/imagenet/tiny-darknet.weights"
  if not (exists(cfg) and exists(weights)) then
    return nil, "no weights/tiny_darknet.safetensors and no ../shared/data/imagenet/tiny-darknet.weights"
  end
  local ok, m = pcall(function()
    local net, info = require("ember.darknet").load(cfg, weights)
    local decl = require("ember.model").declaration(ROOT .. "/nets/tiny_darknet.lua")
    return ember.load{ net = { build = function() return net end, input = info.input,
                               preprocess = info.preprocess or decl.preprocess,
                               labels = decl.labels } }
  end)
  if ok then return m, "darknet's tiny-darknet.cfg and .weights" end
  return nil, tostring(m)
end

local function photos()
  local files = images_in(SHARED .. "/photos")
  local seen = {}
  for _, f in ipairs(files) do seen[basename(f)] = true end
  for _, f in ipairs(images_in("/usr/share/darknet/data")) do   -- Debian's darknet package
    if f:match("%.jpg$") and not seen[basename(f)] then files[#files + 1] = f end
  end
  local m, source = tiny_darknet()
  if not m then
    print("Photos: SKIPPED, Tiny Darknet is not available (" .. source .. ")")
    return
  end
  if #files == 0 then
    print("Photos: SKIPPED, no photos (looked in ../shared/data/photos and /usr/share/darknet/data)")
    return
  end
  print("Photos: Tiny Darknet (ImageNet, 1000 classes) from " .. source)
  print()
  for _, path in ipairs(files) do
    local ok, err = pcall(function()
      local x = image.preprocess(path, m.preprocess, m.input)
      local t0 = ember.now()
      local top = m:classify(x, 5)
      print(string.format("%s  (%s)", rel(path), ms(ember.now() - t0)))
      for _, c in ipairs(top) do print(string.format("  %s (score = %.5f)", c.label, c.prob)) end
    end)
    if not ok then print(basename(path) .. ": " .. tostring(err)) end
  end
  print()
end

---------------------------------------------------------------- main

print(ember._VERSION .. ", " .. ember.getNumThreads() .. " threads")
print()
local files = {}
if arg and #arg > 0 then
  for i = 1, #arg do files[i] = arg[i] end
  digits(files, false)
else
  for d = 0, 9 do files[#files + 1] = ROOT .. "/apps/digits/" .. d .. ".png" end
  digits(files, true)
  photos()
end
