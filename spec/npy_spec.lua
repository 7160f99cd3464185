-- npy_spec.lua -- ember.load_npy / t:save_npy against NumPy (/usr/bin/python3),
-- and every kind of malformed file failing with a message naming the file.
local ember = require "ember"
local H = require "helper"

local PY = "/usr/bin/python3"
local tmp, remove_tmp, base = H.tmpfiles()   -- our files are base .. suffix

-- Runs a Python snippet (numpy imported as np, D the base path); returns stdout.
local function python(code)
  local script = tmp(".py")
  local f = assert(io.open(script, "w"))
  f:write("import numpy as np, sys\nD = ", string.format("%q", base), "\n", code)
  f:close()
  local p = assert(io.popen(PY .. " " .. script .. " 2>&1"))
  local out = p:read("a")
  local ok = p:close()
  assert(ok, "python failed:\n" .. out)
  return out
end

local write = H.write

-- A .npy image: version 1 preamble, dict padded to 64 bytes, then data.
local function npy(dict, data, version)
  version = version or 1
  local pre = version == 1 and 10 or 12
  local hlen = #dict + 1
  hlen = hlen + (64 - (pre + hlen) % 64) % 64
  local header = dict .. string.rep(" ", hlen - #dict - 1) .. "\n"
  local len = version == 1 and string.pack("<I2", hlen) or string.pack("<I4", hlen)
  return "\x93NUMPY" .. string.char(version, 0) .. len .. header .. (data or "")
end

local function load_error(bytes)
  local path = tmp(".bad.npy")
  write(path, bytes)
  local ok, err = pcall(ember.load_npy, path)
  assert.is_false(ok)
  assert.matches(path, err, 1, true)   -- the message names the file
  return err
end

teardown(remove_tmp)

describe("ember.load_npy reads what NumPy wrote", function()
  setup(function()
    python([[
a = np.arange(24).reshape(2, 3, 4)
for dt in ['<f4', '<f8', '<i4', '<i8', '|u1', '|i1']:
    x = (a * 0.25 - 1) if dt[1] == 'f' else a
    np.save(D + '_c' + dt[1:] + '.npy', x.astype(dt))
    np.save(D + '_f' + dt[1:] + '.npy', np.asfortranarray(x.astype(dt)))
np.save(D + '_b1.npy', (a % 3 == 0))
np.save(D + '_scalar.npy', np.float32(2.5))
np.save(D + '_empty.npy', np.zeros((0, 5), np.float32))
np.save(D + '_T.npy', (a.astype('<f4') * 0.25 - 1).transpose(2, 0, 1))
with open(D + '_v2.npy', 'wb') as f:
    np.lib.format.write_array(f, a.astype('<f4'), version=(2, 0))
with open(D + '_v3.npy', 'wb') as f:
    np.lib.format.write_array(f, a.astype('<f4'), version=(3, 0))
]])
  end)

  local function value(dt, i, j, k)
    local n = (i - 1) * 12 + (j - 1) * 4 + (k - 1)
    return dt:sub(1, 1) == "f" and n * 0.25 - 1 or n
  end

  for _, dt in ipairs{ "f4", "f8", "i4", "i8", "u1", "i1" } do
    for _, order in ipairs{ "c", "f" } do
      it(string.format("%s, %s order", dt, order == "c" and "C" or "Fortran"), function()
        local t = ember.load_npy(base .. "_" .. order .. dt .. ".npy")
        assert.same({ 2, 3, 4 }, t:size())
        assert.is_true(t:isContiguous())
        for i = 1, 2 do for j = 1, 3 do for k = 1, 4 do
          assert.equal(value(dt, i, j, k), t[i][j][k])
        end end end
      end)
    end
  end

  it("bool as 0 and 1", function()
    local t = ember.load_npy(base .. "_b1.npy")
    for i = 1, 2 do for j = 1, 3 do for k = 1, 4 do
      assert.equal(value("i", i, j, k) % 3 == 0 and 1 or 0, t[i][j][k])
    end end end
  end)

  it("a transposed array (NumPy writes it in Fortran order)", function()
    local t = ember.load_npy(base .. "_T.npy")
    assert.same({ 4, 2, 3 }, t:size())
    for i = 1, 2 do for j = 1, 3 do for k = 1, 4 do
      assert.equal(value("f", i, j, k), t[k][i][j])
    end end end
  end)

  it("versions 2.0 and 3.0", function()
    for _, v in ipairs{ "_v2", "_v3" } do
      local t = ember.load_npy(base .. v .. ".npy")
      assert.same({ 2, 3, 4 }, t:size())
      assert.equal(value("i", 2, 3, 4), t[2][3][4])
    end
  end)

  it("a 0-d scalar and an empty array", function()
    local s = ember.load_npy(base .. "_scalar.npy")
    assert.equal(0, s:dim())
    assert.equal(2.5, s:item())
    local e = ember.load_npy(base .. "_empty.npy")
    assert.same({ 0, 5 }, e:size())
    assert.equal(0, e:nElement())
  end)
end)

describe("t:save_npy writes what NumPy reads", function()
  it("contiguous and strided tensors, in logical order", function()
    local t = ember.Tensor(2, 3, 4)
    for i = 1, 2 do for j = 1, 3 do for k = 1, 4 do
      t[i][j][k] = (i - 1) * 12 + (j - 1) * 4 + (k - 1) + 0.5
    end end end
    assert.equal(t, t:save_npy(tmp("_w.npy")))
    t:transpose(1, 3):save_npy(tmp("_wt.npy"))
    t:narrow(3, 2, 2):save_npy(tmp("_wn.npy"))
    t:select(2, 2):save_npy(tmp("_ws.npy"))
    ember.Tensor{ 7, 8, 9 }:save_npy(tmp("_w1.npy"))
    local out = python([[
a = np.arange(24).reshape(2, 3, 4) + 0.5
def check(name, want):
    path = D + name
    x = np.load(path)
    raw = open(path, 'rb').read()
    hlen = int.from_bytes(raw[8:10], 'little')
    ok = (x.dtype == np.float32 and x.dtype.byteorder in '<=' and not np.isfortran(x) or x.ndim < 2) \
        and x.shape == want.shape and np.array_equal(x, want) \
        and raw[6:8] == b'\x01\x00' and (10 + hlen) % 64 == 0 and raw[9 + hlen] == 10 \
        and x.dtype == np.float32
    print(name, 'ok' if ok else 'BAD %r %r' % (x.shape, x))
check('_w.npy', a)
check('_wt.npy', a.transpose(2, 1, 0))
check('_wn.npy', a[:, :, 1:3])
check('_ws.npy', a[:, 1, :])
check('_w1.npy', np.array([7., 8., 9.]))
]])
    for _, name in ipairs{ "_w.npy", "_wt.npy", "_wn.npy", "_ws.npy", "_w1.npy" } do
      assert.matches(name .. " ok", out, 1, true)
    end
    assert.not_matches("BAD", out, 1, true)
  end)

  it("a 0-d tensor as shape (), an empty tensor as (0,)", function()
    local t = ember.Tensor{ { 1, 2 }, { 3, 4 } }
    local s = t:select(1, 2):select(1, 1)
    assert.equal(0, s:dim())
    s:save_npy(tmp("_s0.npy"))
    ember.Tensor():save_npy(tmp("_e0.npy"))
    local out = python([[
s = np.load(D + '_s0.npy'); e = np.load(D + '_e0.npy')
print(s.shape, float(s), s.dtype, e.shape, e.dtype)
]])
    assert.equal("() 3.0 float32 (0,) float32\n", out)
  end)

  it("round-trips through ember itself", function()
    local t = ember.Tensor{ { 1.25, -2 }, { 3, 1e-7 } }
    local path = tmp("_rt.npy")
    t:save_npy(path)
    assert.same(t:totable(), ember.load_npy(path):totable())
  end)

  it("fails naming the path when it cannot create the file", function()
    local ok, err = pcall(ember.Tensor(2).save_npy, ember.Tensor(2), "/nonexistent/dir/x.npy")
    assert.is_false(ok)
    assert.matches("/nonexistent/dir/x.npy: cannot create", err, 1, true)
  end)
end)

describe("ember.load_npy rejects malformed files", function()
  local dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
  local data = string.rep("\0", 24)

  it("a missing file", function()
    local ok, err = pcall(ember.load_npy, base .. "_missing.npy")
    assert.is_false(ok)
    assert.matches("_missing.npy: cannot open: No such file", err, 1, true)
  end)
  it("an empty file", function()
    assert.matches("empty file", load_error(""), 1, true)
  end)
  it("bad magic", function()
    assert.matches("not a .npy file (bad magic)", load_error("PK\3\4 a zip, not npy"), 1, true)
  end)
  it("a truncated preamble, header and data", function()
    local good = npy(dict, data)
    assert.matches("truncated", load_error(good:sub(1, 8)), 1, true)
    assert.matches("truncated: header length is 118 bytes but 30 bytes follow",
      load_error(good:sub(1, 40)), 1, true)
    assert.matches("truncated: header says 2x3 float32 (24 bytes) but 10 bytes follow",
      load_error(good:sub(1, #good - 14)), 1, true)
    assert.matches("trailing data", load_error(good .. "xx"), 1, true)
  end)
  it("an unknown version", function()
    local bad = npy(dict, data):gsub("^(\x93NUMPY)\1", "%1\9")
    assert.matches("unsupported .npy version 9.0", load_error(bad), 1, true)
  end)
  it("bad headers", function()
    local cases = {
      { "{'descr': '<f4', 'shape': (2, 3)}", "missing key 'fortran_order'" },
      { "{'descr': '<f4', 'fortran_order': 1, 'shape': (2, 3)}", "fortran_order is not True or False" },
      { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "negative size" },
      { "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", "expected a shape tuple" },
      { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 0}", "unexpected or repeated key 'extra'" },
      { "descr: <f4", "expected '{'" },
      { "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "bad header" },
    }
    for _, c in ipairs(cases) do
      assert.matches(c[2], load_error(npy(c[1], data)), 1, true)
    end
  end)
  it("a huge shape, before allocating anything", function()
    local err = load_error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000, 100000)}", data))
    assert.matches("truncated: header says 100000x100000x100000 float32 (4000000000000000 bytes) but 24 bytes follow",
      err, 1, true)
    err = load_error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4)}", data))
    assert.matches("shape too large", err, 1, true)
    err = load_error(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", data))
    assert.matches("more than 8 dimensions", err, 1, true)
  end)
  it("unsupported dtypes", function()
    for _, dt in ipairs{ ">f4", "<c8", "<U3", "|O" } do
      local err = load_error(npy("{'descr': '" .. dt .. "', 'fortran_order': False, 'shape': (2, 3)}", data))
      assert.matches("unsupported dtype '" .. dt .. "'", err, 1, true)
    end
  end)
end)
