-- safetensors_spec.lua -- ember.safetensors against files PyTorch's tensors were
-- written to (spec/ref/ref_safetensors.py), round trips, and every malformed file.
local ember = require "ember"
local H = require "helper"
local st = ember.safetensors

local DIR = H.REF .. "/safetensors/"

local tmp, remove_tmp = H.tmpfiles()
local write, read, exists = H.write, H.read, H.exists

-- All values in logical order.
local function flat(t)
  return t:contiguous():view(t:nElement()):totable()
end

-- Max |a - b|; NaN against NaN counts as equal, NaN against a number as inf.
local function maxdiff(a, b)
  local x, y, m = flat(a), flat(b), 0
  assert.equal(#y, #x, "element counts differ")
  for i = 1, #x do
    local d
    if x[i] ~= x[i] or y[i] ~= y[i] then d = (x[i] ~= x[i] and y[i] ~= y[i]) and 0 or math.huge
    elseif x[i] == y[i] then d = 0   -- also inf == inf
    else d = math.abs(x[i] - y[i]) end
    if d > m then m = d end
  end
  return m
end

-- A file image: 8-byte length, header (padded to a multiple of 8), data.
local function image(header, data, len)
  header = header .. string.rep(" ", (8 - #header % 8) % 8)
  return string.pack("<I8", len or #header) .. header .. (data or "")
end

local function f32s(...)
  return string.pack("<" .. string.rep("f", select("#", ...)), ...)
end

-- Loads bytes written to a temporary file; returns the error message.
local function load_error(bytes)
  local p = tmp(".bad.safetensors")
  write(p, bytes)
  local ok, err = pcall(st.load, p, { quiet = true })
  assert.is_false(ok, "a malformed file loaded")
  assert.equal(p .. ": ", err:sub(1, #p + 2), "the message names the file")
  return err
end

teardown(remove_tmp)

describe("safetensors files written from PyTorch", function()
  local names = { "0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                  "1.num_batches_tracked", "3.weight", "3.bias", "extra.five_d", "extra.empty",
                  "extra.int32", "extra.range", "extra.scalar" }

  for _, kind in ipairs{ "f32", "f16", "bf16" } do
    it("loads " .. kind .. " tensors with PyTorch's values, shapes and metadata", function()
      local file = "torch_" .. kind
      local t, meta, warnings = st.load(DIR .. file .. ".safetensors")
      local count = 0
      for _ in pairs(t) do count = count + 1 end
      assert.equal(#names, count)
      for _, name in ipairs(names) do
        local ref = H.ref("safetensors", file .. "." .. name)
        assert.is_not_nil(t[name], name)
        if name == "extra.scalar" or name == "1.num_batches_tracked" then
          assert.equal(0, t[name]:dim(), name)   -- shape [] in the file
          assert.equal(1, t[name]:nElement())
        else
          assert.same(ref:size(), t[name]:size(), name)
        end
        -- the same rounding as PyTorch's: exact
        assert.equal(0, maxdiff(t[name], ref), name)
      end
      assert.same({ producer = "ref_safetensors.py", dtype = kind:upper() }, meta)
      assert.same({}, warnings)
    end)
  end

  it("keeps F16 subnormals and its largest values", function()
    local t = st.load(DIR .. "torch_f16.safetensors")
    local r = flat(t["extra.range"])
    assert.equal(2 ^ -24, r[3])              -- 5.9e-8 rounds to the smallest subnormal
    assert.equal(65504, r[5])
    assert.is_true(r[1] > 0 and r[1] < 2 ^ -14)
  end)

  it("warns (without failing) about NaN and Inf, naming the tensor", function()
    local path = DIR .. "nonfinite.safetensors"
    local t, _, warnings = st.load(path, { quiet = true })
    assert.equal(1, #warnings)
    assert.equal(path .. ": warning: tensor 'bad' has 3 NaN or Inf values (of 4)", warnings[1])
    assert.equal(3, t.fine:nElement())
    -- without quiet, the warning goes to stderr
    local got = {}
    local real = io.stderr
    io.stderr = { write = function(_, ...) for _, s in ipairs{ ... } do got[#got + 1] = s end end }
    local ok, err = pcall(st.load, path)
    io.stderr = real
    assert(ok, err)
    assert.matches("tensor 'bad' has 3 NaN or Inf", table.concat(got), 1, true)
  end)
end)

describe("safetensors round trip", function()
  math.randomseed(7)
  local function random(...)
    local t = ember.Tensor(...)
    local flatv = t:view(t:nElement())
    for i = 1, t:nElement() do flatv[i] = math.random() * 2 - 1 end
    return t
  end

  it("saves and loads the same values, shapes and metadata", function()
    local a = random(3, 4, 5)
    local tensors = {
      ["conv1.weight"] = random(8, 3, 3, 3),
      ["conv1.bias"] = random(8),
      ["odd"] = random(1, 7, 1, 3, 2, 1, 5),
      ["transposed"] = a:transpose(1, 3),     -- not contiguous: saved in logical order
      ["narrowed"] = a:narrow(2, 2, 2),
      ["empty"] = ember.Tensor(0, 4),
      ["n\"ame/with\\odd chars"] = random(2),
    }
    local path = tmp(".rt.safetensors")
    st.save(path, tensors, { framework = "ember", epoch = 3 })
    assert.is_false(exists(path .. ".tmp"))
    local back, meta, warnings = st.load(path)
    assert.same({ framework = "ember", epoch = "3" }, meta)
    assert.same({}, warnings)
    for name, t in pairs(tensors) do
      assert.same(t:size(), back[name]:size(), name)
      assert.equal(0, maxdiff(back[name], t), name)
    end
    for name in pairs(back) do assert.is_not_nil(tensors[name], name) end
  end)

  it("writes sorted keys, F32, a header padded with spaces to 8 bytes", function()
    local path = tmp(".layout.safetensors")
    st.save(path, { b = ember.Tensor{ 1, 2 }, a = ember.Tensor{ { 3 } } })
    local bytes = read(path)
    local n = string.unpack("<I8", bytes)
    assert.equal(0, n % 8)
    local header = bytes:sub(9, 8 + n)
    assert.equal('{"a":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},'
              .. '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}',
                 (header:gsub(" +$", "")))
    assert.equal(f32s(3, 1, 2), bytes:sub(9 + n))
  end)

  it("replaces a file atomically and leaves no file when writing fails", function()
    local path = tmp(".replace.safetensors")
    st.save(path, { x = ember.Tensor{ 1 } })
    st.save(path, { y = ember.Tensor{ 2, 3 } })
    local t = st.load(path)
    assert.is_nil(t.x)
    assert.same({ 2 }, t.y:size())
    local bad = "/nonexistent-dir-for-ember/w.safetensors"
    assert.has_error(function() st.save(bad, { x = ember.Tensor{ 1 } }) end)
    assert.is_false(exists(bad) or exists(bad .. ".tmp"))
  end)

  it("rejects what it cannot write, before writing", function()
    local path = tmp(".never.safetensors")
    local ok, err = pcall(st.save, path, { w = ember.Tensor{ 1 }, v = { 1, 2 } })
    assert.is_false(ok)
    assert.matches("'v' is not an ember.Tensor", err, 1, true)
    ok, err = pcall(st.save, path, { __metadata__ = ember.Tensor{ 1 } })
    assert.matches("reserved", err, 1, true)
    ok, err = pcall(st.save, path, { w = ember.Tensor{ 1 } }, { k = {} })
    assert.matches("metadata must map strings to strings", err, 1, true)
    assert.is_false(exists(path))
  end)
end)

describe("malformed safetensors files", function()
  local W = '{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'

  it("loads the hand-made well-formed file the cases below break", function()
    local p = tmp(".good.safetensors")
    write(p, image(W, f32s(1.5, -2)))
    local t = st.load(p)
    assert.same({ 1.5, -2 }, t.w:totable())
  end)

  it("a missing file", function()
    local ok, err = pcall(st.load, "/nonexistent/w.safetensors")
    assert.is_false(ok)
    assert.matches("^/nonexistent/w.safetensors: cannot open", err)
  end)

  it("a file shorter than the length field", function()
    assert.matches("file is 5 bytes, too short", load_error("\8\0\0\0\0"), 1, true)
    assert.matches("file is 0 bytes", load_error(""), 1, true)
  end)

  it("a header length past the end of the file", function()
    assert.matches("header length 4096 runs past the end of the file",
                   load_error(image(W, f32s(1, 2), 4096)), 1, true)
  end)

  it("a header length over 100 MB", function()
    assert.matches("over the limit", load_error(image(W, f32s(1, 2), 200000000)), 1, true)
  end)

  it("a file truncated in its data or its header", function()
    local good = read(DIR .. "torch_f32.safetensors")
    local n = string.unpack("<I8", good)
    assert.matches("run past the end of the data", load_error(good:sub(1, #good - 10)), 1, true)
    assert.matches("runs past the end of the file", load_error(good:sub(1, 8 + n // 2)), 1, true)
  end)

  it("bad JSON, or JSON that is not an object", function()
    assert.matches("header is not valid JSON", load_error(image('{"w": {"dtype": "F32",', "")), 1, true)
    assert.matches("header is not a JSON object", load_error(image("[1, 2]", "")), 1, true)
    assert.matches("header is not valid JSON",
                   load_error(image('{"w":{"dtype":"F32","shape":[NaN],"data_offsets":[0,4]}}', f32s(1))), 1, true)
  end)

  it("entries of the wrong JSON type", function()
    assert.matches("tensor 'w': entry is not an object", load_error(image('{"w":3}')), 1, true)
    assert.matches("tensor 'w': dtype is not a string",
                   load_error(image('{"w":{"shape":[1],"data_offsets":[0,4]}}', f32s(1))), 1, true)
    assert.matches("tensor 'w': shape is not a list",
                   load_error(image('{"w":{"dtype":"F32","shape":4,"data_offsets":[0,4]}}', f32s(1))), 1, true)
    assert.matches("tensor 'w': shape%[2%] = 1.5 is not a non%-negative integer",
                   load_error(image('{"w":{"dtype":"F32","shape":[1,1.5],"data_offsets":[0,4]}}', f32s(1))))
    assert.matches("shape%[1%] = %-1 is not",
                   load_error(image('{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', f32s(1))))
    assert.matches("shape has 9 dimensions, at most 8",
                   load_error(image('{"w":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}}',
                                    f32s(1))), 1, true)
    assert.matches("tensor 'w': data_offsets is not a list of two",
                   load_error(image('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}', f32s(1))), 1, true)
    assert.matches("__metadata__ entry 'k' is not a string",
                   load_error(image('{"__metadata__":{"k":1}}')), 1, true)
  end)

  it("an unknown dtype", function()
    assert.matches("tensor 'w': unknown dtype 'F128'",
                   load_error(image('{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', f32s(1, 2, 3, 4))),
                   1, true)
  end)

  it("offsets out of range", function()
    local err = load_error(image('{"conv1.weight":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}}',
                                 string.rep("\0", 64)))
    assert.matches("tensor 'conv1.weight': data_offsets [0, 100] run past the end of the data (64 bytes)",
                   err, 1, true)
    assert.matches("end before they begin",
                   load_error(image('{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}', f32s(1, 2))), 1, true)
  end)

  it("a size that does not match the shape", function()
    assert.matches("tensor 'w': data_offsets [0, 8] hold 8 bytes, but 3 F32 values need 12",
                   load_error(image('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', f32s(1, 2, 3))),
                   1, true)
    assert.matches("too many elements",
                   load_error(image('{"w":{"dtype":"F32","shape":[4294967296,4294967296],'
                                    .. '"data_offsets":[0,4]}}', f32s(1))), 1, true)
  end)

  it("overlapping offsets", function()
    local err = load_error(image('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                              .. '"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}', f32s(1, 2, 3)))
    assert.matches("tensors 'a' and 'b' overlap: data_offsets [0, 8] and [4, 12]", err, 1, true)
    -- the same range twice is an overlap too
    assert.matches("overlap", load_error(image('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                            .. '"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}', f32s(1))))
  end)
end)
