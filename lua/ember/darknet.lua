-- ember/darknet.lua -- darknet's cfg and .weights files as an ember net (and
-- as a net file), reproducing darknet's arithmetic and its preprocessing.
--
--   local darknet = require "ember.darknet"
--   local net, info = darknet.load("tiny.cfg", "tiny.weights")
--   local x = darknet.prepare("dog.jpg", info.input)  -- darknet's own letterbox
--   local probs = net:forward(x:view(1, 3, 224, 224))
--   darknet.source("tiny.cfg")      -- the same net as a net file (Lua text)
--   local m = darknet.model("tiny.cfg", "tiny.weights", { labels = "labels.txt" })
--   for _, c in ipairs(m:classify("dog.jpg", 5)) do print(c.label, c.prob) end
--
-- The net is built from the Lua text that darknet.source returns (one line
-- per darknet layer), so a converted net file and the loaded net are the same.
-- Layer names count layers of a kind in cfg order: conv<i> and bn<i> for
-- [convolutional], fc<i> and fcbn<i> for [connected] (nets/tiny_darknet.lua
-- uses the same names). Darknet's layer k is module k+1 of the Sequential,
-- or value "l<k>" of an nn.Graph when the cfg has routes or shortcuts.
--
-- Darknet normalises by sqrt(var) + 1e-6, not sqrt(var + eps): the loaded
-- batch norm weight is darknet's scale times sqrt(var + 1e-6) / (sqrt(var) +
-- 1e-6), so that eps = 1e-6 gives darknet's output exactly; the running
-- statistics are darknet's own.

local ember = require "ember"
local core = require "ember.core"
local sandbox = require "ember.sandbox"
local cfg = require "ember.darknet.cfg"

local M = {}

-- cfg files (ember/darknet/cfg.lua): M.parse_cfg(path) its sections,
-- M.describe(path) its layers and shapes, M.source(cfg) the net file text
M.parse_cfg, M.describe, M.source = cfg.parse_cfg, cfg.describe, cfg.source
local fail, basename = cfg.fail, cfg.basename

---------------------------------------------------------------- weights

local function read_all(path)
  local f, err = io.open(path, "rb")
  if not f then error("darknet: cannot open weights " .. tostring(err), 0) end
  local data = f:read("a")
  f:close()
  return data
end

-- A tensor of the given sizes from n float32 values of data at byte pos (1-based).
local CHUNK = 4096
local function floats(data, pos, sizes)
  local n = 1
  for _, s in ipairs(sizes) do n = n * s end
  local vals, k = {}, 0
  while k < n do
    local m = math.min(CHUNK, n - k)
    local chunk = table.pack(string.unpack("<" .. string.rep("f", m), data, pos + 4 * k))
    for j = 1, m do vals[k + j] = chunk[j] end
    k = k + m
  end
  return core.tensor(vals):view(sizes)
end

-- The header of a weights file: major, minor, revision, seen, and where the
-- floats start (1-based byte position).
function M.read_header(path, data)
  if #data < 16 then
    fail(path, string.format("bad header: %d bytes, a darknet weights file starts with at least 16", #data))
  end
  local major, minor, revision = string.unpack("<i4i4i4", data)
  -- real files say 0.1.0 or 0.2.0; darknet's own check is none at all
  if major < 0 or minor < 0 or revision < 0 or major > 99999 or minor > 99999 or revision > 99999 then
    fail(path, string.format("bad header: version %d.%d.%d is not a darknet weights version", major, minor, revision))
  end
  local seen, pos
  if major * 10 + minor >= 2 and major < 1000 and minor < 1000 then
    if #data < 20 then fail(path, "bad header: version " .. major .. "." .. minor .. " needs 20 bytes") end
    seen, pos = string.unpack("<i8", data, 13)
  else
    seen, pos = string.unpack("<i4", data, 13)
  end
  return { major = major, minor = minor, revision = revision, seen = seen, start = pos,
           transpose = major > 1000 or minor > 1000 }
end

-- Named tensors (name -> ember.Tensor) for the layers of a description, read
-- from a weights file; the size is checked against the cfg before reading.
function M.read_weights(d, path)
  local data = read_all(path)
  local hdr = M.read_header(path, data)
  local need = 0
  for _, l in ipairs(d.layers) do
    for _, p in ipairs(l.params or {}) do
      local n = 1
      for _, s in ipairs(p[2]) do n = n * s end
      need = need + n
    end
  end
  local have = #data - hdr.start + 1
  if have ~= 4 * need then
    -- say which layer runs out, when the file is short
    local where, acc = "", 0
    for _, l in ipairs(d.layers) do
      for _, p in ipairs(l.params or {}) do
        local n = 1
        for _, s in ipairs(p[2]) do n = n * s end
        acc = acc + n
        if where == "" and 4 * acc > have then
          where = string.format(" (it ends inside layer %d %s, %s, cfg line %d)", l.index, l.desc, p[1], l.section.line)
        end
      end
    end
    fail(path, string.format("%s: the cfg needs %d bytes of weights after the %d-byte header, the file has %d%s",
         have < 4 * need and "too short" or "too long", 4 * need, hdr.start - 1, have,
         have < 4 * need and where or string.format(" (%d bytes left over)", have - 4 * need)))
  end
  local tensors, pos = {}, hdr.start
  for _, l in ipairs(d.layers) do
    for _, p in ipairs(l.params or {}) do
      local sizes = p[2]
      local t
      if p.transposable and hdr.transpose then
        t = floats(data, pos, { sizes[2], sizes[1] }):t():contiguous()
      else
        t = floats(data, pos, sizes)
      end
      tensors[p[1]] = t
      if p.variance then
        -- darknet divides by sqrt(var) + 1e-6, ember by sqrt(var + eps):
        -- the scale takes the ratio, so eps = 1e-6 gives darknet's output
        local scale = tensors[p.scale]
        local v, g = t:totable(), scale:totable()
        for j = 1, #v do
          g[j] = g[j] * math.sqrt(v[j] + 1e-6) / (math.sqrt(math.max(v[j], 0)) + 1e-6)
        end
        tensors[p.scale] = core.tensor(g)
      end
      pos = pos + 4 * t:nElement()
    end
  end
  return tensors, hdr
end

---------------------------------------------------------------- loading

-- The declaration a net file's text gives, run in the sandbox as every net
-- file is (ember/model.lua).
local function declaration(text, chunkname, limits)
  return require("ember.model").declaration_text(text, chunkname, limits)
end

-- ember.darknet.load(cfg, [weights], [opts]): an nn module (nn.Sequential,
-- or nn.Graph when the cfg has routes or shortcuts) in evaluate mode with
-- darknet's weights, and info {input = {c,h,w}, source = net file text,
-- tensors = name -> tensor, header = {...}, preprocess = {...}}. Without
-- weights the net keeps its initial weights. opts go to darknet.source;
-- opts.limits: the sandbox's (ember/sandbox.lua), for the net file and its
-- build. Raises naming the file and the layer; never returns half a net.
function M.load(cfgPath, weightsPath, opts)
  local d = M.describe(cfgPath)
  local text = M.source(d, opts)
  local tensors, hdr
  if weightsPath then tensors, hdr = M.read_weights(d, weightsPath) end
  -- the net file and its build run in one sandbox session, under its limits
  local decl, net = sandbox.run(basename(cfgPath), opts and opts.limits, function()
    local dl = declaration(text, basename(cfgPath))
    return dl, dl.build()
  end)
  net:evaluate()
  if tensors then
    require("ember.weights").apply(net, tensors, { strict = true, source = weightsPath })
  end
  return net, { input = d.input, source = text, tensors = tensors, header = hdr,
                preprocess = decl.preprocess, layers = d.layers, declaration = decl }
end

-- ember.darknet.model(cfg, weights, [opts]): an ember model (see
-- ember/model.lua: m:classify("dog.jpg", 5) with darknet's preprocessing).
-- opts.labels: a list of names or a labels file (one per line); opts.fold
-- (default true) and opts.limits as in ember.load.
function M.model(cfgPath, weightsPath, opts)
  opts = opts or {}
  local d = M.describe(cfgPath)
  local tensors = weightsPath and M.read_weights(d, weightsPath) or nil
  local decl = declaration(M.source(d), basename(cfgPath), opts.limits)
  if opts.labels then decl.labels = opts.labels end
  local model = require("ember.model")
  local m = model.load{ net = decl, fold = false, limits = opts.limits }
  if tensors then
    require("ember.weights").apply(m.net, tensors, { strict = true, source = weightsPath })
  end
  m.name = basename(cfgPath):gsub("%.cfg$", "")
  m.path, m.weights = cfgPath, weightsPath
  if type(opts.labels) == "string" then m.labels = model.read_labels(opts.labels) end
  m.fold = opts.fold ~= false
  -- images go through darknet's own letterbox (exact, unlike "aligned")
  local input = d.input
  m.prepare = function(self, x, popts)
    if popts and popts.preprocess == false then return x end
    if ember.isTensor(x) and (x:dim() == 4 or (x:size(1) == input[1] and x:size(2) == input[2]
                                                and x:size(3) == input[3])) then
      return x
    end
    return M.prepare(x, input)
  end
  return m:refold()
end

---------------------------------------------------------------- preprocessing

-- x rounded to float32, as darknet's float arithmetic rounds it
local function f32(x)
  return (string.unpack("<f", string.pack("<f", x)))
end

-- darknet's resize_image (src/image.c): corners aligned, width first, in
-- float32, and its edge rules: the last column copies the last input column;
-- the last row is only the (1 - dy) share of row iy, so when (h-1) * scale
-- rounds just below the last input row (about one size in 25) darknet's
-- bottom row comes out nearly black. ember.image's "aligned" mode
-- interpolates there instead. img is C,H,W; returns a new C,h,w tensor.
function M.resize(img, w, h)
  if not ember.isTensor(img) or img:dim() ~= 3 then
    error("darknet.resize: expected a C,H,W image tensor", 2)
  end
  if math.type(w) ~= "integer" or math.type(h) ~= "integer" or w < 1 or h < 1 then
    error("darknet.resize: width and height must be positive integers", 2)
  end
  local c, ih, iw = img:size(1), img:size(2), img:size(3)
  local part = core.tensor(c, ih, w)
  local ws = w > 1 and f32(f32(iw - 1) / f32(w - 1)) or 0
  for x = 0, w - 1 do
    local dst = part:select(3, x + 1)
    if x == w - 1 or iw == 1 then
      dst:copy(img:select(3, iw))
    else
      local sx = f32(x * ws)
      local ix = math.min(math.floor(sx), iw - 2)
      local dx = f32(sx - ix)
      -- (1 - dx) * a + dx * b, each step rounded to float as in C
      dst:copy(img:select(3, ix + 1)):mul(f32(1 - dx)):add(dx, img:select(3, ix + 2))
    end
  end
  local out = core.tensor(c, h, w)
  local hs = h > 1 and f32(f32(ih - 1) / f32(h - 1)) or 0
  for y = 0, h - 1 do
    local sy = f32(y * hs)
    local iy = math.min(math.floor(sy), ih - 1)
    local dy = f32(sy - iy)
    local dst = out:select(2, y + 1)
    dst:copy(part:select(2, iy + 1)):mul(f32(1 - dy))
    if y ~= h - 1 and ih ~= 1 and iy + 1 < ih then dst:add(dy, part:select(2, iy + 2)) end
  end
  return out
end

-- darknet's letterbox_image for `classifier predict`: the image (C,H,W in
-- [0, 1]) resized by darknet.resize to fit w x h with the aspect kept
-- (darknet's integer sizes), centred on a canvas of 0.5.
function M.letterbox(img, w, h)
  if not ember.isTensor(img) or img:dim() ~= 3 then
    error("darknet.letterbox: expected a C,H,W image tensor", 2)
  end
  h = h or w
  local c, ih, iw = img:size(1), img:size(2), img:size(3)
  local nw, nh
  if f32(w / iw) < f32(h / ih) then
    nw, nh = w, (ih * w) // iw
  else
    nh, nw = h, (iw * h) // ih
  end
  local out = core.tensor(c, h, w):fill(0.5)
  if nw < 1 or nh < 1 then return out end   -- darknet embeds an empty image
  out:narrow(2, (h - nh) // 2 + 1, nh):narrow(3, (w - nw) // 2 + 1, nw):copy(M.resize(img, nw, nh))
  return out
end

-- A net's input from an image path or a C,H,W tensor in [0, 1], as darknet's
-- `classifier predict` makes it: RGB, letterboxed to the net's width x height.
function M.prepare(x, input)
  if type(x) == "string" then x = ember.image.load(x, { channels = 3 }) end
  if not ember.isTensor(x) or x:dim() ~= 3 then
    error("darknet.prepare: expected an image path or a C,H,W tensor", 2)
  end
  return M.letterbox(x, input[3], input[2])
end

return M
