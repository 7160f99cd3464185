-- ember/image.lua -- images as float C,H,W tensors with values in [0, 1], as
-- Torch's image package: load and save, scale, crop, and a net's preprocessing.
--
--   local image = require("ember").image
--   local x = image.load("cat.jpg")                   -- 3,H,W in [0, 1]
--   local y = image.crop(image.scale(x, 256, "pil"), "c", 224, 224)
--   image.save("out.png", y)
--   local input = image.preprocess("cat.jpg", { resize = 256, crop = 224,
--     mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } })
--
-- Resize modes: "bilinear" (half-pixel centres, PyTorch's interpolate with
-- align_corners=False), "antialias" (PIL's triangle filter widening with the
-- downscale factor, in floats: interpolate with antialias=True), "pil" (the
-- same on 8-bit values exactly as PIL, values rounded to 1/255 steps: what
-- torchvision's Resize does to a PIL image), "aligned" (align_corners=True,
-- darknet's resize_image).

local ember = require "ember"
local core = require "ember.core"

local C = core.image
local image = {}

local function opt(t, k, default)
  if t == nil or t[k] == nil then return default end
  return t[k]
end

local function limits(o)
  local channels = opt(o, "channels", 3)
  local bytes = opt(o, "maxBytes", nil)
  if not bytes and opt(o, "maxPixels", nil) then bytes = o.maxPixels * math.max(channels, 3) end
  return channels, opt(o, "range", 1), opt(o, "maxSide", nil), bytes
end

-- image.load(path, [{channels = 3|1|4|0, range = 1|255, maxSide = 16384,
-- maxBytes = 2^30, maxPixels = ...}]) -> C,H,W float tensor in [0, range].
-- channels 1 is PIL's "L" grey; 0 keeps the file's channels. The header's
-- size is checked against the limits before anything is decoded.
function image.load(path, o)
  if type(path) ~= "string" then error("image.load: expected a file name, got " .. type(path), 2) end
  return C.load(path, limits(o))
end

-- image.loadMemory(bytes, [options as load]): an encoded image in a string.
function image.loadMemory(bytes, o)
  if type(bytes) ~= "string" then error("image.loadMemory: expected a string of bytes, got " .. type(bytes), 2) end
  local c, r, s, b = limits(o)
  return C.decode(bytes, c, r, s, b, opt(o, "name", "image data"))
end

-- image.save(path, img, [{range = 1, quality = 90}]): C,H,W (C = 1, 3, 4)
-- or H,W in [0, range]; PNG, JPEG or BMP by the extension. Values are
-- rounded to 8 bits and clamped.
function image.save(path, img, o)
  C.save(path, img, opt(o, "range", 1), opt(o, "quality", 90))
end

-- C,H,W form of an image given as C,H,W, H,W,C or H,W. A first size of 1 or
-- 3 means C,H,W; else a last size of 1, 3 or 4 means H,W,C.
function image.chw(img)
  if not ember.isTensor(img) then error("expected an image tensor, got " .. type(img), 3) end
  local d = img:dim()
  if d == 2 then return img:reshape(1, img:size(1), img:size(2)) end
  if d ~= 3 then
    error(string.format("expected an image C,H,W, H,W,C or H,W, got a %d-dimensional tensor (%s)", d, img:shape()), 3)
  end
  -- 1 or 3 first is C,H,W; then 1, 3 or 4 last is H,W,C; then 4 first (RGBA)
  local c1, c3 = img:size(1), img:size(3)
  if c1 ~= 1 and c1 ~= 3 and (c3 == 1 or c3 == 3 or c3 == 4) then
    return img:permute(3, 1, 2):contiguous()
  end
  return img
end

local function size_of(img) return img:size(img:dim()), img:size(img:dim() - 1) end

-- image.scale(img, w, h, [mode "bilinear"]); image.scale(img, size, [mode]):
-- the shorter side becomes size, the longer int(size * long / short) (as
-- torchvision's Resize(size); Torch's "^size").
function image.scale(img, w, h, mode)
  if type(w) == "string" and w:match("^%^%d+$") then w = tonumber(w:sub(2)) end
  if type(h) ~= "number" then
    mode = h
    local iw, ih = size_of(img)
    w, h = C.short_side(iw, ih, w)
  end
  return C.resize(img, w, h, mode)
end

local corner = {
  c = function(iw, ih, w, h) return C.center_box(iw, ih, w, h) end,
  tl = function() return 0, 0 end,
  tr = function(iw, _, w) return iw - w, 0 end,
  bl = function(_, ih, _, h) return 0, ih - h end,
  br = function(iw, ih, w, h) return iw - w, ih - h end,
}

-- image.crop(img, x1, y1, x2, y2): columns x1..x2-1, rows y1..y2-1 (0-based,
-- as Torch). image.crop(img, "c"|"tl"|"tr"|"bl"|"br", w, h): a w x h box at
-- the centre (torchvision's CenterCrop rounding) or a corner.
function image.crop(img, x1, y1, x2, y2)
  local iw, ih = size_of(img)
  if type(x1) == "string" then
    local f = corner[x1]
    if not f then error("image.crop: format must be c, tl, tr, bl or br, got '" .. x1 .. "'", 2) end
    local w, h = y1, x2
    if math.type(w) ~= "integer" or math.type(h) ~= "integer" then
      error("image.crop: expected integer width and height after the format", 2)
    end
    local x, y = f(iw, ih, w, h)
    return C.crop(img, x, y, w, h)
  end
  return C.crop(img, x1, y1, x2 - x1, y2 - y1)
end

-- image.letterbox(img, w, h, [fill 0.5], [mode "aligned"]): fitted inside
-- w x h with the aspect kept, centred, as darknet's letterbox_image.
function image.letterbox(img, w, h, fill, mode)
  return C.letterbox(img, w, h, fill, mode)
end

-- image.grayscale(img, [pil]): 1,H,W luma (0.299 R + 0.587 G + 0.114 B);
-- pil = true rounds on 8-bit values exactly as PIL's convert("L").
function image.grayscale(img, pil) return C.grayscale(img, pil) end

-- image.invert(img, [range 1]): range - x.
function image.invert(img, range) return C.invert(img, range) end

-- image.normalize(img, mean, std): (x - mean) / std per channel; mean and
-- std are numbers or lists (one per channel).
function image.normalize(img, mean, std) return C.normalize(img, mean, std) end

-- image.bgr(img): RGB <-> BGR.
function image.bgr(img) return C.swap_rb(img) end

local function pair(v, what)
  if type(v) == "number" then return v, v end
  if type(v) == "table" and type(v[1]) == "number" and type(v[2]) == "number" then return v[1], v[2] end
  error("preprocess: " .. what .. " must be a size or {width, height}, got " .. type(v), 3)
end

-- image.preprocess(imgOrPath, spec, [input]) -> the net's C,H,W input. spec is
-- a net file's preprocess table (see ember/model.lua):
--   channels "RGB" | "BGR" | "gray"  (PIL's "L" weights; grey to RGB repeats)
--   invert   true: 1 - x, before anything else (dark digits on light paper)
--   resize   n: shorter side to n (torchvision's Resize(n)), or {w, h}
--   crop     n or {w, h}: centred crop (torchvision's CenterCrop)
--   letterbox n or {w, h}: fit, aspect kept, borders `fill` (default 0.5)
--   interpolation  resize mode, default "pil" (torchvision on PIL images);
--            letterbox uses it unless "pil", else "aligned"; "darknet"
--            reproduces darknet's letterbox_image exactly
--   range    values scaled to [0, range] (default 1)
--   mean, std  per channel, applied last: (x - mean) / std
-- An image tensor is C,H,W, H,W,C or H,W with values in [0, 1]. input
-- ({C, H, W}, a net's declared input) resizes the result to H x W when
-- nothing else has made it that size (a digit photo for LeNet).
function image.preprocess(img, spec, input)
  spec = spec or {}
  if type(img) == "string" then
    img = image.load(img, { channels = spec.channels == "gray" and 1 or 3 })
  end
  img = image.chw(img)
  local mode = spec.interpolation or "pil"
  local c = img:size(1)
  if spec.channels == "gray" then
    if c ~= 1 then img = C.grayscale(c == 4 and img:narrow(1, 1, 3) or img, true) end
  elseif c == 1 then
    local rgb = core.tensor(3, img:size(2), img:size(3))
    for i = 1, 3 do rgb:select(1, i):copy(img:select(1, 1)) end
    img = rgb
  elseif c == 4 then
    img = img:narrow(1, 1, 3)
  end
  if spec.invert then img = C.invert(img, 1) end
  if spec.resize then
    local iw, ih = size_of(img)
    local w, h
    if type(spec.resize) == "number" then w, h = C.short_side(iw, ih, spec.resize)
    else w, h = pair(spec.resize, "resize") end
    if w ~= iw or h ~= ih then img = C.resize(img, w, h, mode) end
  end
  if spec.crop then
    local w, h = pair(spec.crop, "crop")
    local iw, ih = size_of(img)
    if w > iw or h > ih then
      error(string.format("preprocess: crop %dx%d is larger than the image (%dx%d)", w, h, iw, ih), 2)
    end
    local x, y = C.center_box(iw, ih, w, h)
    img = C.crop(img, x, y, w, h)
  end
  if spec.letterbox then
    local w, h = pair(spec.letterbox, "letterbox")
    if spec.interpolation == "darknet" then
      -- darknet's own resize, edge rule included (ember.darknet.letterbox)
      img = require("ember.darknet").letterbox(img, w, h)
    else
      local lmode = spec.interpolation ~= "pil" and spec.interpolation or "aligned"
      img = C.letterbox(img, w, h, spec.fill or 0.5, lmode)
    end
  end
  if input and input[2] and input[3] then
    local iw, ih = size_of(img)
    if iw ~= input[3] or ih ~= input[2] then img = C.resize(img, input[3], input[2], mode) end
  end
  if spec.channels == "BGR" then img = C.swap_rb(img) end
  local range = spec.range or 1
  if range ~= 1 then img = img * range end
  -- a new tensor either way: never a view of the caller's image
  if spec.mean or spec.std then img = C.normalize(img, spec.mean or 0, spec.std or 1)
  else img = img:clone() end
  return img
end

return image
