-- spec/darknet_spec.lua -- ember.darknet: cfg and weights files, darknet's
-- arithmetic and preprocessing, and agreement with Debian's darknet itself.

local ember = require "ember"
local darknet = require "ember.darknet"
local H = require "helper"

local EMBER = os.getenv("EMBER") or "./ember"
local TINY_CFG = H.SHARED .. "/imagenet/tiny-darknet.cfg"
local TINY_WEIGHTS = H.SHARED .. "/imagenet/tiny-darknet.weights"
local REF = H.REF .. "/darknet"

local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p " .. tmpdir))

local function write(name, text)
  return H.write(tmpdir .. "/" .. name, text)
end

local exists = H.exists

-- a weights file: header (major, minor, revision, seen) then the floats
local function weights_file(name, floats, major, minor)
  major, minor = major or 0, minor or 2
  local parts = { string.pack("<i4i4i4", major, minor, 0) }
  parts[2] = (major * 10 + minor >= 2 and major < 1000 and minor < 1000)
    and string.pack("<i8", 7) or string.pack("<i4", 7)
  for _, v in ipairs(floats) do parts[#parts + 1] = string.pack("<f", v) end
  return write(name, table.concat(parts))
end

local function seq(n, from, step)
  local t = {}
  for i = 1, n do t[i] = from + (i - 1) * step end
  return t
end

local function concat(...)
  local out = {}
  for _, t in ipairs{ ... } do for _, v in ipairs(t) do out[#out + 1] = v end end
  return out
end

local function read_ref(path)
  local image, rows = nil, {}
  for line in io.lines(path) do
    if line:sub(1, 2) == "# " then image = line:sub(3)
    else
      local p, label = line:match("^(%S+)\t(.*)$")
      rows[#rows + 1] = { prob = tonumber(p), label = label }
    end
  end
  return image, rows
end

local function ref_files(prefix)
  local list = {}
  local p = io.popen("ls " .. REF .. "/" .. prefix .. "*.txt 2>/dev/null")
  for line in p:lines() do list[#list + 1] = line end
  p:close()
  return list
end

local NET = "[net]\nheight=%d\nwidth=%d\nchannels=%d\n"

-- one convolution with batch norm (2 -> 3 channels, 3x3), then a connected
-- layer of 4 outputs and a softmax: 3 + 3*3 + 3*2*3*3 + 4 + 4*3*5*5 floats
local SMALL = NET:format(5, 5, 2) .. [[
[convolutional]
batch_normalize=1
filters=3
size=3
stride=1
pad=1
activation=linear

[connected]
output=4
activation=linear

[softmax]
]]
local SMALL_COUNTS = { conv_bias = 3, bn = 9, conv_w = 54, fc_bias = 4, fc_w = 300 }

local function small_floats()
  return concat(seq(3, 0.1, 0.1), seq(3, 1, 0.5), seq(3, -0.2, 0.1), seq(3, 0.25, 1),
                seq(54, -0.5, 0.02), seq(4, 0, 0.1), seq(300, 0.3, -0.002))
end

local function load_error(cfg, w)
  local ok, err = pcall(darknet.load, cfg, w)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("ember.darknet", function()
teardown(function() os.execute("rm -rf " .. tmpdir) end)

describe("cfg files", function()
  it("reads darknet's sections, comments and whitespace", function()
    -- repeated keys: darknet takes the first; integers read as atoi does
    local cfg = write("ws.cfg", "# comment\r\n[net]\r\n width = 5\nheight=5\n channels=2\n; other\n\n"
      .. "[convolutional]\nfilters=3\nfilters=7\nsize=3.0\npad=1\nactivation=leaky\n\n[avgpool]\n[softmax]\n")
    local d = darknet.describe(cfg)
    assert.equal(3, #d.layers)
    assert.same({ 2, 5, 5 }, d.input)
    assert.same({ c = 3, h = 5, w = 5 }, d.layers[1].out)
    assert.same({ n = 3 }, d.output)
  end)

  it("writes one line per darknet layer, numbered as darknet numbers them", function()
    local src = darknet.source(write("small.cfg", SMALL))
    local n = 0
    for idx in src:gmatch("\n[^\n]*:add%([^\n]*%-%- +(%d+) ") do
      assert.equal(n, tonumber(idx))
      n = n + 1
    end
    assert.equal(3, n)
  end)

  it("names the file, line and layer in errors", function()
    local cases = {
      { NET:format(5, 5, 2) .. "[convolutional]\nsize=3\n", "bad.cfg:5: layer 0 %[convolutional%]: missing key 'filters'" },
      { NET:format(5, 5, 2) .. "[foo]\n", "bad.cfg:5: unknown section %[foo%]" },
      { NET:format(5, 5, 2) .. "[yolo]\n", "bad.cfg:5: darknet's %[yolo%] layer is not supported" },
      { NET:format(5, 5, 2) .. "[maxpool]\nsize\n", "bad.cfg:6: expected key=value" },
      { "[convolutional]\nfilters=2\n", "bad.cfg:1: the first section must be %[net%]" },
      { NET:format(5, 5, 0) .. "[avgpool]\n", "bad.cfg:1: %[net%]: needs positive channels, height and width, got 0, 5, 5" },
      { NET:format(5, 5, 2) .. "[convolutional]\nfilters=2\nsize=7\nactivation=linear\n",
        "layer 0 %[convolutional%]: a 7x7 kernel does not fit the 5x5 input" },
      { NET:format(5, 5, 2) .. "[convolutional]\nfilters=2\nactivation=swish\n",
        "bad.cfg:7: layer 0 %[convolutional%]: unsupported activation 'swish'" },
      { NET:format(5, 5, 2) .. "[convolutional]\nfilters=3\ngroups=2\nactivation=relu\n",
        "groups = 2 must divide the 2 input channels and 3 filters" },
      { NET:format(5, 5, 2) .. "[avgpool]\n[route]\nlayers=-1,3\n",
        "bad.cfg:7: layer 1 %[route%]: layers = %-1,3: layer 3 is not an earlier layer %(this is layer 1%)" },
      { NET:format(5, 5, 2) .. "[convolutional]\nfilters=3\nactivation=relu\n[shortcut]\nfrom=-2\n",
        "layer 1 %[shortcut%]: from = %-2: layer %-1 is not an earlier layer" },
      { NET:format(4, 4, 2) .. "[maxpool]\nsize=2\nstride=2\n[upsample]\nstride=2\n[shortcut]\nfrom=0\n",
        "from = 0: layer 0 gives 2x2x2, the previous layer 2x4x4: ember samples a larger earlier layer only" },
      { NET:format(5, 5, 2) .. "[softmax]\ngroups=2\n", "only groups=1 is supported, got 2" },
      { NET:format(5, 5, 2) .. "[softmax]\ntemperature=0\n", "temperature must be positive, got 0" },
      { NET:format(5, 5, 2) .. "[cost]\n[avgpool]\n", "%[cost%] must be the last section" },
      { NET:format(5, 5, 2), "bad.cfg: no layers after %[net%]" },
    }
    for _, c in ipairs(cases) do
      local err = load_error(write("bad.cfg", c[1]))
      assert.matches(c[2], err)
    end
    assert.matches("cannot open cfg", load_error(tmpdir .. "/none.cfg"))
  end)
end)

describe("weights files", function()
  local cfg = write("small.cfg", SMALL)

  it("puts biases, scales, rolling statistics and weights where darknet reads them", function()
    local net, info = darknet.load(cfg, weights_file("small.weights", small_floats()))
    local t = info.tensors
    -- darknet's statistics as they are; the scale absorbs darknet's divisor
    assert.same({ 0.25, 1.25, 2.25 }, t["bn1.running_var"]:totable())
    assert.near(1.5 * math.sqrt(1.25 + 1e-6) / (math.sqrt(1.25) + 1e-6), t["bn1.weight"][2], 1e-7)
    assert.near(0.1, t["bn1.bias"][1], 1e-7)
    assert.near(0.0, t["bn1.running_mean"][3], 1e-7)
    assert.same({ 3, 2, 3, 3 }, t["conv1.weight"]:size())
    -- weights are out, in, kh, kw in file order: element (o, i, y, x) is number
    -- ((o*2 + i)*3 + y)*3 + x of the block
    assert.near(-0.5 + 0.02 * (((1 * 2 + 1) * 3 + 2) * 3 + 0), t["conv1.weight"][2][2][3][1], 1e-6)
    assert.same({ 4, 75 }, t["fc1.weight"]:size())
    assert.near(0.3 - 0.002 * (2 * 75 + 10), t["fc1.weight"][3][11], 1e-6)
    assert.near(0.3, t["fc1.bias"][4], 1e-6)
    assert.is_nil(t["conv1.bias"])
    assert.same(net:state()["fc1.weight"]:size(), t["fc1.weight"]:size())
  end)

  it("reads 0.1 headers (32-bit seen) and 0.2 headers (64-bit seen) alike", function()
    local _, a = darknet.load(cfg, weights_file("v1.weights", small_floats(), 0, 1))
    local _, b = darknet.load(cfg, weights_file("v2.weights", small_floats(), 0, 2))
    assert.equal(16, a.header.start - 1)
    assert.equal(20, b.header.start - 1)
    for name, t in pairs(a.tensors) do assert.equal(0, (t - b.tensors[name]):abs():max()) end
  end)

  it("reads connected weights transposed from very old files (version > 1000)", function()
    local _, a = darknet.load(cfg, weights_file("v2t.weights", small_floats(), 0, 2))
    local _, b = darknet.load(cfg, weights_file("old.weights", small_floats(), 0, 1001))
    assert.equal(16, b.header.start - 1)
    -- the file's 300 values read as in x out: element (o, i) is value (i, o)
    local flat = a.tensors["fc1.weight"]:contiguous():view(75, 4)
    assert.equal(0, (b.tensors["fc1.weight"] - flat:t()):abs():max())
    assert.equal(0, (b.tensors["conv1.weight"] - a.tensors["conv1.weight"]):abs():max())
  end)

  it("says how many bytes the cfg needs and the file has", function()
    local floats = small_floats()
    local need = 4 * #floats
    table.remove(floats)
    local err = load_error(cfg, weights_file("short.weights", floats))
    assert.matches("short.weights: too short: the cfg needs " .. need .. " bytes of weights after the 20%-byte header, the file has "
                   .. (need - 4), err)
    assert.matches("ends inside layer 1 connected 4, fc1.weight, cfg line 13", err)
    floats = small_floats()
    floats[#floats + 1] = 1
    floats[#floats + 1] = 2
    err = load_error(cfg, weights_file("long.weights", floats))
    assert.matches("long.weights: too long: .* %(8 bytes left over%)", err)
    err = load_error(cfg, write("tiny.weights", "\0\0\0\0\2\0\0\0"))
    assert.matches("tiny.weights: bad header: 8 bytes", err)
    err = load_error(cfg, write("text.weights", SMALL))
    assert.matches("text.weights: bad header: version %d+%.%d+%.%d+ is not a darknet weights version", err)
    assert.matches("cannot open weights", load_error(cfg, tmpdir .. "/none.weights"))
  end)

  it("divides by darknet's sqrt(var) + 1e-6 in batch norm", function()
    -- one 1x1 convolution with batch norm on a 1x1 image: y = (w*x - mean) /
    -- (sqrt(var) + 1e-6) * scale + bias, computed here in doubles; with the
    -- net's batch norm folded into the convolution too
    local c = write("bn.cfg", NET:format(1, 1, 1)
      .. "[convolutional]\nbatch_normalize=1\nfilters=1\nsize=1\nactivation=linear\n")
    local bias, scale, mean, var, w = 0.5, 2, 0.25, 1e-9, 1.5
    local net = darknet.load(c, weights_file("bn.weights", { bias, scale, mean, var, w }))
    local x = 0.75
    local want = (w * x - mean) / (math.sqrt(var) + 1e-6) * scale + bias
    local got = net:forward(ember.Tensor{ { { { x } } } }):item()
    assert.near(want, got, math.abs(want) * 1e-5)
    local m = darknet.model(c, tmpdir .. "/bn.weights")
    assert.near(want, m:forward(ember.Tensor{ { { x } } }):item(), math.abs(want) * 1e-5)
    -- sqrt(var + 1e-6) would give about 1.7: far off
    assert.is_true(math.abs(want - 1.7) > 1)
  end)

  it("pools as darknet's maxpool: padding size-1, windows from -padding/2", function()
    -- darknet's forward_maxpool_layer, transcribed
    local function dk_maxpool(x, size, stride, padding)
      local c, h, w = x:size(1), x:size(2), x:size(3)
      local oh, ow = (h + padding - size) // stride + 1, (w + padding - size) // stride + 1
      local off = -(padding // 2)
      local v = x:totable()
      local out = ember.Tensor(c, oh, ow)
      for k = 1, c do
        for i = 0, oh - 1 do
          for j = 0, ow - 1 do
            local best = -math.huge
            for n = 0, size - 1 do
              for m = 0, size - 1 do
                local y, xx = off + i * stride + n, off + j * stride + m
                if y >= 0 and y < h and xx >= 0 and xx < w then best = math.max(best, v[k][y + 1][xx + 1]) end
              end
            end
            out[k][i + 1][j + 1] = best
          end
        end
      end
      return out
    end
    ember.manualSeed(5)
    for _, case in ipairs{ { 2, 2, 7, 8 }, { 2, 1, 6, 5 }, { 3, 2, 9, 9 }, { 3, 1, 5, 6 }, { 5, 3, 11, 7 } } do
      local size, stride, h, w = table.unpack(case)
      local c = write("pool.cfg", NET:format(h, w, 2) .. string.format("[maxpool]\nsize=%d\nstride=%d\n", size, stride))
      local net = darknet.load(c)
      local x = ember.randn(2, h, w)
      local got = net:forward(x:view(1, 2, h, w))[1]
      local want = dk_maxpool(x, size, stride, size - 1)
      assert.same(want:size(), got:size())
      assert.equal(0, (got - want):abs():max())
    end
  end)

  it("never returns half a net: a bad file leaves nothing behind", function()
    local floats = small_floats()
    table.remove(floats)
    local w = weights_file("short2.weights", floats)
    local out = tmpdir .. "/conv_out"
    local p = io.popen(string.format("%s apps/convert.lua darknet %s %s --net %s.lua --weights %s.safetensors 2>&1; echo rc=$?",
                                     EMBER, cfg, w, out, out))
    local text = p:read("a")
    p:close()
    assert.matches("too short", text)
    assert.matches("rc=1", text)
    assert.is_false(exists(out .. ".lua"))
    assert.is_false(exists(out .. ".lua.tmp"))
    assert.is_false(exists(out .. ".safetensors"))
  end)

  it("runs the net file it writes in the sandbox, under its limits", function()
    local c = write("limits.cfg", NET:format(8, 8, 3) .. "[convolutional]\nfilters=4\nsize=3\nstride=1\npad=1\n")
    local sandbox = require "ember.sandbox"
    assert(darknet.load(c))
    assert.is_true(sandbox.last.instructions > 0)
    local ok, err = pcall(darknet.load, c, nil, { limits = { instructions = 100 } })
    assert.is_false(ok)
    assert.equal("limits.cfg: instruction limit (100) exceeded", err)
    ok, err = pcall(darknet.model, c, nil, { limits = { tensors = 64 } })
    assert.is_false(ok)
    assert.matches("tensor memory limit", err)
  end)
end)

describe("preprocessing", function()
  -- darknet's resize_image and letterbox_image (src/image.c), transcribed
  -- with float32 rounding at each step as the C does it
  local function f32(x) return (string.unpack("<f", string.pack("<f", x))) end
  local function dk_resize(im, w, h)
    local c, ih, iw = #im, #im[1], #im[1][1]
    local ws, hs = f32(f32(iw - 1) / f32(w - 1)), f32(f32(ih - 1) / f32(h - 1))
    local part, out = {}, {}
    for k = 1, c do
      part[k], out[k] = {}, {}
      for r = 1, ih do
        part[k][r] = {}
        for x = 0, w - 1 do
          local val
          if x == w - 1 or iw == 1 then val = im[k][r][iw]
          else
            local sx = f32(x * ws)
            local ix = math.floor(sx)
            local dx = f32(sx - ix)
            val = f32(f32(f32(1 - dx) * im[k][r][ix + 1]) + f32(dx * im[k][r][ix + 2]))
          end
          part[k][r][x + 1] = val
        end
      end
      for y = 0, h - 1 do
        local sy = f32(y * hs)
        local iy = math.floor(sy)
        local dy = f32(sy - iy)
        out[k][y + 1] = {}
        for x = 1, w do
          local val = f32(f32(1 - dy) * part[k][iy + 1][x])
          if not (y == h - 1 or ih == 1) then val = f32(val + f32(dy * part[k][iy + 2][x])) end
          out[k][y + 1][x] = val
        end
      end
    end
    return out
  end
  local function dk_letterbox(im, w, h)
    local ih, iw = #im[1], #im[1][1]
    local nw, nh
    if f32(w / iw) < f32(h / ih) then nw, nh = w, (ih * w) // iw else nh, nw = h, (iw * h) // ih end
    local out = ember.Tensor(#im, h, w):fill(0.5)
    if nw == 0 or nh == 0 then return out end
    local r = dk_resize(im, nw, nh)
    out:narrow(2, (h - nh) // 2 + 1, nh):narrow(3, (w - nw) // 2 + 1, nw):copy(ember.Tensor(r))
    return out
  end

  it("letterboxes exactly as darknet's letterbox_image", function()
    ember.manualSeed(11)
    -- tall, wide, square, upscaled, 2 rows, no rows at all (darknet leaves
    -- the canvas), and two sizes where darknet's last row is nearly black
    -- (14 -> 12 and 8 -> 24 rows)
    for _, s in ipairs{ { 37, 53, 24, 24 }, { 61, 29, 24, 24 }, { 40, 40, 17, 17 }, { 9, 13, 32, 20 },
                        { 10, 80, 16, 16 }, { 3, 80, 16, 16 }, { 14, 10, 12, 12 }, { 8, 6, 24, 24 } } do
      local ih, iw, w, h = table.unpack(s)
      local img = ember.rand(3, ih, iw)
      local got = darknet.letterbox(img, w, h)
      local want = dk_letterbox(img:totable(), w, h)
      assert.same({ 3, h, w }, got:size())
      assert.equal(0, (got - want):abs():max(), string.format("%dx%d into %dx%d", ih, iw, h, w))
    end
  end)

  it("classifies image files through darknet's letterbox", function()
    local c = write("id.cfg", NET:format(24, 24, 3) .. "[avgpool]\n")
    local m = darknet.model(c)
    ember.manualSeed(12)
    local img = ember.rand(3, 8, 6)
    local png = tmpdir .. "/eight.png"
    ember.image.save(png, img)
    local want = darknet.letterbox(ember.image.load(png), 24, 24)
    -- the 1x1 output is each channel's mean of the letterboxed image
    local got = m:forward(m:prepare(png))
    for i = 1, 3 do assert.near(want[i]:mean(), got[i][1][1], 1e-6) end
    -- darknet's nearly black bottom row of the resized image (row 24 of 24)
    -- (ember.image's "aligned" mode interpolates it)
    local img8 = ember.image.load(png)
    assert.is_true(want:narrow(3, 4, 18)[1][24]:max() < 1e-3)
    local aligned = ember.image.letterbox(img8, 24, 24, 0.5, "aligned")
    assert.near(img8[1][8]:mean(), aligned:narrow(3, 4, 18)[1][24]:mean(), 0.1)
  end)

  it("declares darknet's letterbox in the net files it writes", function()
    local decl = assert(load(darknet.source(write("small.cfg", SMALL)), "=x", "t",
                             { nn = ember.nn, string = string, error = error, tostring = tostring }))()
    assert.same({ letterbox = 5, interpolation = "darknet", fill = 0.5, range = 1, channels = "RGB" },
                decl.preprocess)
    ember.manualSeed(2)
    local img = ember.rand(3, 7, 11)
    local want = darknet.letterbox(img, 5, 5)
    assert.equal(0, (ember.image.preprocess(img, decl.preprocess) - want):abs():max())
  end)
end)

describe("against Debian's darknet", function()
  it("gives darknet's ten outputs for a small net with every imported layer", function()
    local files = ref_files("mini-")
    if #files == 0 then
      print("SKIPPED (darknet small net): no references in " .. REF .. " (make refs needs darknet and ../shared/data)")
      return
    end
    local net, info = darknet.load(REF .. "/mini/mini.cfg", REF .. "/mini/mini.weights")
    assert.equal("nn.Graph", net.__typename)
    local worst = 0
    for _, f in ipairs(files) do
      local image, rows = read_ref(f)
      local x = darknet.prepare(image, info.input)
      local out = net:forward(x:view(1, 3, 35, 35))[1]
      for i = 1, 10 do worst = math.max(worst, math.abs(out[i] - rows[i].prob)) end
    end
    -- darknet prints percentages with two decimals: 5e-5 of rounding
    assert.is_true(worst <= 6e-5, "max difference " .. worst)
  end)

  it("gives Tiny Darknet's top-5 of `darknet classifier predict` on every photo", function()
    local files = ref_files("")
    if not H.shared("Tiny Darknet vs darknet") or #files == 0 then
      print("SKIPPED (Tiny Darknet vs darknet): no references in " .. REF)
      return
    end
    local m = darknet.model(TINY_CFG, TINY_WEIGHTS, { labels = H.SHARED .. "/imagenet/darknet-labels.txt" })
    local worst, n = 0, 0
    for _, f in ipairs(files) do
      if not f:match("/mini%-[^/]*$") then
        local image, rows = read_ref(f)
        local top = m:classify(image, 5)
        for k = 1, 5 do
          assert.equal(rows[k].label, top[k].label, image .. " rank " .. k)
          worst = math.max(worst, math.abs(rows[k].prob - top[k].prob))
        end
        n = n + 1
      end
    end
    assert.is_true(n >= 8)
    assert.is_true(worst <= 0.01, "max difference " .. worst)
    print(string.format("\nTiny Darknet vs darknet: %d images, same top-5, max probability difference %.5f", n, worst))
  end)

  it("converts Tiny Darknet to files that reload, also into nets/tiny_darknet.lua", function()
    if not H.shared("Tiny Darknet conversion") then return end
    local out = tmpdir .. "/tiny"
    local p = io.popen(string.format("%s apps/convert.lua darknet %s %s --net %s.lua --weights %s.safetensors --labels darknet-labels.txt 2>&1; echo rc=$?",
                                     EMBER, TINY_CFG, TINY_WEIGHTS, out, out))
    local text = p:read("a")
    p:close()
    assert.matches("identical output", text)
    assert.matches("rc=0", text)
    local direct = darknet.load(TINY_CFG, TINY_WEIGHTS)
    -- a without the memory plan, whose first forward runs im2col where
    -- Winograd runs later: the same arithmetic as the direct net's
    local a = ember.load{ net = out .. ".lua", weights = out .. ".safetensors", fold = false, plan = false }
    local b = ember.load{ net = "nets/tiny_darknet.lua", weights = out .. ".safetensors", fold = false }
    ember.manualSeed(4)
    local x = ember.rand(1, 3, 224, 224)
    local want = direct:forward(x):clone()
    assert.equal(0, (a:forward(x) - want):abs():max())
    assert.is_true((b:forward(x) - want):abs():max() <= 1e-6)
    assert.equal(1000, #a.labels)
    assert.equal("macaw", a:classify(H.SHARED .. "/photos/parrot.jpg", 1)[1].label)
  end)
end)
end)
