-- spec/image_spec.lua -- ember.image against PIL and torchvision (refs from
-- spec/ref/ref_image.py): decoding, resizing, the ImageNet preprocessing,
-- grayscale, saving, and the errors on bad files and arguments.

local ember = require "ember"
local H = require "helper"
local image = ember.image

local DIR = H.REF .. "/image"

-- The images the reference covers: {name=, path=}.
local function items()
  local f = io.open(DIR .. "/names.txt")
  if not f then error("missing reference " .. DIR .. "/names.txt (run make refs)") end
  local list = {}
  for line in f:lines() do
    local name, path = line:match("^(.-)\t(.*)$")
    list[#list + 1] = { name = name, path = path }
  end
  f:close()
  return list
end

local function ref(name) return H.ref("image", name) end
local function maxdiff(a, b) return H.maxdiff(a, b) end
local function is_jpeg(name) return name:match("%.jpg$") ~= nil end
local read, write = H.read, H.write

-- Measured errors, printed once at the end (in 1/255 units of [0, 1]).
local report = {}
local function note(what, name, err, a, b)
  local mean = a and string.format("  (mean %.4f /255)", (a - b):abs():sum() / a:nElement() * 255) or ""
  report[#report + 1] = string.format("  %-22s %-26s %9.5f /255%s", what, name, err * 255, mean)
end

local IMAGENET = { mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } }

describe("ember.image", function()
  teardown(function()
    if #report > 0 then
      print("\nember.image vs PIL / torchvision, max abs error:")
      print(table.concat(report, "\n"))
    end
  end)

  it("decodes PNG, BMP, GIF, PPM as PIL does, and reports JPEG decoder differences", function()
    for _, it in ipairs(items()) do
      local x = image.load(it.path)
      local want = ref(it.name .. ".decode")
      local err = maxdiff(x * 255, want) / 255
      note("decode", it.name, err, x * 255 / 255, want / 255)
      if is_jpeg(it.name) then
        assert(err <= 0.25, it.name .. ": JPEG decoders differ by " .. err * 255 .. "/255")
      else
        assert(err <= 1e-4 / 255, it.name .. ": decoded pixels differ by " .. err * 255 .. "/255")
      end
      -- from memory: the same tensor
      assert.equal(0, maxdiff(image.loadMemory(read(it.path)), x))
    end
  end)

  it("makes grey as PIL's convert('L'), exactly in 8-bit mode", function()
    for _, it in ipairs(items()) do
      local rgb = ref(it.name .. ".decode") / 255
      local want = ref(it.name .. ".gray") / 255
      assert.equal(0, maxdiff(image.grayscale(rgb, true), want))
      local err = maxdiff(image.grayscale(rgb), want)
      assert(err <= 0.51 / 255, it.name .. ": float luma off by " .. err * 255 .. "/255")
      if not is_jpeg(it.name) then
        assert.equal(0, maxdiff(image.load(it.path, { channels = 1 }), want))
      end
    end
  end)

  it("resizes as PIL (pil), F.interpolate bilinear and antialiased", function()
    for _, it in ipairs(items()) do
      local x = ref(it.name .. ".decode") / 255
      local sizes = ref(it.name .. ".sizes"):totable()
      for i = 0, #sizes // 2 - 1 do
        local w, h = math.tointeger(sizes[2 * i + 1]), math.tointeger(sizes[2 * i + 2])
        assert.equal(0, maxdiff(image.scale(x, w, h, "pil"), ref(it.name .. ".pil" .. i)))
        local e1 = maxdiff(image.scale(x, w, h, "bilinear"), ref(it.name .. ".bil" .. i))
        local e2 = maxdiff(image.scale(x, w, h, "antialias"), ref(it.name .. ".aa" .. i))
        note("bilinear " .. w .. "x" .. h, it.name, e1)
        note("antialias " .. w .. "x" .. h, it.name, e2)
        -- PyTorch's own rounding differs by up to ~3e-5 on some sizes
        assert(e1 <= 5e-5, it.name .. ": bilinear off by " .. e1)
        assert(e2 <= 5e-5, it.name .. ": antialias off by " .. e2)
        -- the float antialias is within a step of PIL's rounded one
        local e3 = maxdiff(image.scale(x, w, h, "antialias"), ref(it.name .. ".pil" .. i))
        assert(e3 <= 1 / 255 + 1e-6, it.name .. ": float antialias vs PIL " .. e3 * 255 .. "/255")
      end
    end
  end)

  it("gives torchvision's Resize(256) + CenterCrop(224) + ToTensor (+ Normalize)", function()
    for _, it in ipairs(items()) do
      local x = ref(it.name .. ".decode") / 255
      local tv, tvn = ref(it.name .. ".tv"), ref(it.name .. ".tvnorm")
      -- on the same decoded pixels: exact up to float rounding
      assert.equal(0, maxdiff(image.preprocess(x, { resize = 256, crop = 224 }), tv))
      local en = maxdiff(image.preprocess(x, { resize = 256, crop = 224, mean = IMAGENET.mean,
                                               std = IMAGENET.std }), tvn)
      assert(en <= 1e-6, it.name .. ": normalised tensor off by " .. en)
      -- from the file, through ember's decoder
      local p = image.preprocess(it.path, { resize = 256, crop = 224 })
      local e = maxdiff(p, tv)
      note("Resize+CenterCrop file", it.name, e, p, tv)
      if is_jpeg(it.name) then
        assert(e <= 0.25, it.name .. ": pipeline off by " .. e * 255 .. "/255")
      else
        assert.equal(0, e)
      end
    end
  end)

  it("saves PNG and BMP losslessly, JPEG closely, grey and colour", function()
    local x = ref("smooth.png.decode") / 255
    local base = os.tmpname()
    for _, ext in ipairs{ ".png", ".bmp", ".jpg", ".jpeg" } do
      local p = base .. ext
      image.save(p, x)
      local y = image.load(p)
      local err = maxdiff(y, x)
      if ext:match("jp") then
        -- JPEG on a smooth gradient (the test image's sawtooth would ring)
        local g = ember.Tensor(3, 48, 64)
        for c = 1, 3 do for i = 1, 48 do for j = 1, 64 do
          g[c][i][j] = math.floor(20 + (i * 2 + j * c) * 0.7) / 255
        end end end
        image.save(p, g, { quality = 95 })
        err = maxdiff(image.load(p), g)
        note("save+load " .. ext .. " q95", "gradient", err)
        assert(err <= 8 / 255, "JPEG round trip off by " .. err * 255 .. "/255")
      else
        assert.equal(0, err)
      end
      os.remove(p)
    end
    local g = image.grayscale(x, true)
    image.save(base .. ".png", g)
    assert.equal(0, maxdiff(image.load(base .. ".png", { channels = 0 }), g))
    image.save(base .. ".png", g[1])   -- H,W
    assert.same({ 1, 480, 641 }, image.load(base .. ".png", { channels = 0 }):size())
    -- out of range values are clamped, 255-range tensors scaled
    image.save(base .. ".png", x * 255, { range = 255 })
    assert.equal(0, maxdiff(image.load(base .. ".png"), x))
    assert.equal(0, maxdiff(image.load(base .. ".png", { range = 255 }), x * 255))
    os.remove(base .. ".png")
    os.remove(base)
    assert.has_error(function() image.save(base .. ".tif", x) end)
    local ok, e = pcall(image.save, base .. ".tif", x)
    assert.is_false(ok)
    assert.matches("unknown image format", e)
    ok, e = pcall(image.save, "/nonexistent-dir/x.png", x)
    assert.matches("/nonexistent%-dir/x.png: cannot create", e)
  end)

  it("refuses empty, cut, foreign and oversized files with a clear message", function()
    local base = os.tmpname()
    local function err_of(bytes, opts)
      write(base, bytes)
      local ok, e = pcall(image.load, base, opts)
      assert.is_false(ok)
      return e
    end
    assert.matches("empty file", err_of(""))
    assert.matches("not an image of a known format", err_of(string.rep("hello world ", 40)))
    local png = read(DIR .. "/noise.png")
    assert.matches(": cannot decode %(", err_of(png:sub(1, #png // 2)))
    assert.matches(": cannot decode %(", err_of(png:sub(1, #png - 12)))   -- no IEND
    local jpg = read(DIR .. "/smooth.jpg")
    assert.matches("truncated JPEG", err_of(jpg:sub(1, #jpg - 100)))
    assert.matches("truncated JPEG", err_of(jpg:sub(1, #jpg - 2)))
    -- stb_image would fill the missing rows of these: refused instead
    for _, f in ipairs{ { "tall.bmp", "BMP" }, { "pal.gif", "GIF" }, { "noise.ppm", "PNM" } } do
      local b = read(DIR .. "/" .. f[1])
      assert.matches("truncated " .. f[2], err_of(b:sub(1, #b - 2)))   -- a GIF needs no trailer
      assert.matches("truncated " .. f[2], err_of(b:sub(1, #b // 2)))
    end
    -- IHDR claiming 100000 x 100000: refused from the header
    local huge = png:sub(1, 16) .. string.pack(">I4>I4", 100000, 100000) .. png:sub(25)
    assert.matches("image 100000x100000 would need 28 GiB", err_of(huge))
    -- a BMP claiming 60000 x 60000
    local bmp = read(DIR .. "/tall.bmp")
    assert.matches("image 60000x60000 would need", err_of(bmp:sub(1, 18) .. string.pack("<i4<i4", 60000, 60000) .. bmp:sub(27)))
    -- limits as options
    assert.matches("image 121x90 would need", err_of(png, { maxSide = 100 }))
    assert.matches("image 121x90 would need", err_of(png, { maxPixels = 121 * 90 - 1 }))
    assert.same({ 3, 90, 121 }, image.load(DIR .. "/noise.png", { maxPixels = 121 * 90 }):size())
    os.remove(base)
    local ok, e = pcall(image.load, "/nonexistent.png")
    assert.is_false(ok)
    assert.matches("/nonexistent.png: cannot open", e)
    ok, e = pcall(image.loadMemory, "GIF89a")
    assert.matches("image data: ", e)
    assert.has_error(function() image.load(DIR .. "/noise.png", { channels = 7 }) end)
    assert.has_error(function() image.load(42) end, "image.load: expected a file name, got number")
  end)

  it("crops as Torch's image.crop, centred with torchvision's rounding", function()
    local x = ember.rand(3, 9, 13)
    local c = image.crop(x, 2, 3, 9, 8)
    assert.same({ 3, 5, 7 }, c:size())
    assert.equal(0, maxdiff(c, x:narrow(2, 4, 5):narrow(3, 3, 7)))
    -- 13 - 10 = 3 columns: int(round(1.5)) = 2; 9 - 8 = 1 row: round(0.5) = 0
    assert.equal(0, maxdiff(image.crop(x, "c", 10, 8), x:narrow(2, 1, 8):narrow(3, 3, 10)))
    assert.equal(0, maxdiff(image.crop(x, "br", 4, 2), x:narrow(2, 8, 2):narrow(3, 10, 4)))
    assert.equal(0, maxdiff(image.crop(x, "tl", 4, 2), x:narrow(2, 1, 2):narrow(3, 1, 4)))
    local ok, e = pcall(image.crop, x, 5, 0, 20, 4)
    assert.is_false(ok)
    assert.matches("crop of 15x4 at %(5, 0%) does not fit in a 13x9 image", e)
    ok, e = pcall(image.crop, x, "middle", 2, 2)
    assert.matches("format must be c, tl, tr, bl or br", e)
    ok, e = pcall(image.preprocess, x, { crop = 20 })
    assert.matches("crop 20x20 is larger than the image %(13x9%)", e)
  end)

  it("scales the shorter side as torchvision's Resize(n)", function()
    local x = ember.rand(3, 30, 45)
    assert.same({ 3, 20, 30 }, image.scale(x, 20):size())
    assert.same({ 3, 20, 30 }, image.scale(x, "^20"):size())
    assert.same({ 3, 17, 11 }, image.scale(x, 11, 17):size())
    assert.same({ 3, 256, 384 }, image.scale(ember.rand(3, 300, 451), 256):size())   -- int(384.85)
    assert.has_error(function() image.scale(x, 0, 5) end)
    assert.has_error(function() image.scale(x, 5, 5, "cubic") end)
  end)

  it("letterboxes as darknet: aspect kept, centred, borders filled", function()
    local x = ember.rand(3, 50, 100)
    local y = image.letterbox(x, 64, 64)
    assert.same({ 3, 64, 64 }, y:size())
    assert.equal(0.5, y[1][16][1])
    assert.equal(0.5, y[3][49][64])
    assert.equal(0, maxdiff(y:narrow(2, 17, 32), image.scale(x, 64, 32, "aligned")))
    local z = image.letterbox(x, 64, 64, 0, "bilinear")
    assert.equal(0, z[2][1][1])
  end)

  it("normalises, swaps to BGR, inverts; takes H,W,C and H,W images", function()
    local x = ember.rand(3, 4, 5)
    local n = image.normalize(x, IMAGENET.mean, IMAGENET.std)
    assert.near((x[2][3][4] - 0.456) / 0.224, n[2][3][4], 1e-6)
    assert.near((x[1][1][1] - 0.5) / 2, image.normalize(x, 0.5, 2)[1][1][1], 1e-6)
    assert.has_error(function() image.normalize(x, { 1, 2 }, { 1, 2, 3 }) end)
    local ok, e = pcall(image.normalize, x, { 0, 0, 0 }, { 1, 0, 1 })
    assert.matches("std must be non%-zero", e)
    local b = image.bgr(x)
    assert.equal(x[3][2][2], b[1][2][2])
    assert.equal(x[1][2][2], b[3][2][2])
    assert.near(1 - x[2][2][2], image.invert(x)[2][2][2], 1e-6)
    local hwc = x:permute(2, 3, 1):contiguous()
    assert.equal(0, maxdiff(image.chw(hwc), x))
    assert.same({ 1, 4, 5 }, image.chw(ember.rand(4, 5)):size())
    ok, e = pcall(image.bgr, ember.rand(2, 4, 5))
    assert.matches("expected an image of 3 or 4 channels", e)
    -- preprocess: BGR order, range, grey to three channels and back
    local p = image.preprocess(x, { channels = "BGR", range = 255 })
    assert.near(x[3][1][2] * 255, p[1][1][2], 1e-4)
    assert.same({ 3, 4, 5 }, image.preprocess(ember.rand(1, 4, 5), { channels = "RGB" }):size())
    local g = image.preprocess(x, { channels = "gray", invert = true })
    assert.same({ 1, 4, 5 }, g:size())
    assert.near(1 - image.grayscale(x, true)[1][3][3], g[1][3][3], 1e-6)
  end)

  it("feeds model:classify from a path or a raw image", function()
    local m = ember.load{ net = "lenet" }
    local path = DIR .. "/smooth.png"
    local x = image.preprocess(path, m.preprocess, m.input)
    assert.same({ 1, 28, 28 }, x:size())
    local a = m:classify(path, 3)
    local b = m:classify(x, 3)
    assert.equal(3, #a)
    for i = 1, 3 do
      assert.equal(b[i].index, a[i].index)
      assert.near(b[i].prob, a[i].prob, 1e-6)
    end
    local raw = image.load(path)
    assert.equal(a[1].index, m:classify(raw:permute(2, 3, 1):contiguous(), 1)[1].index)   -- H,W,C
    assert.equal(a[1].index, m:classify(raw, 1)[1].index)                              -- C,H,W
    local ok, e = pcall(m.classify, m, DIR .. "/missing.png")
    assert.is_false(ok)
    assert.matches("missing.png: cannot open", e)
  end)
end)
