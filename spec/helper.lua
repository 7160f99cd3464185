-- spec/helper.lua -- shared by the specs: reference arrays, closeness, temporary files.
-- local H = require "helper"; H.close(out, H.ref("conv", "case1.out0"))

local ember = require "ember"
local assert = require "luassert"

local H = {}

H.REF = os.getenv("EMBER_REF") or "build/ref"
H.SHARED = "../shared/data"

-- A reference array written by spec/ref/ref_*.py (make refs).
function H.ref(group, name)
  local path = H.REF .. "/" .. group .. "/" .. name .. ".npy"
  local f = io.open(path, "rb")
  if not f then error("missing reference " .. path .. " (run make refs)", 2) end
  f:close()
  return ember.load_npy(path)
end

-- Max |a - b| over all elements, comparing sizes first.
function H.maxdiff(a, b)
  assert.same(b:size(), a:size(), "sizes differ")
  return (a - b):abs():max()
end

-- Asserts max |out - ref| <= rtol * max |ref| (default 1e-4), as the issues ask.
function H.close(out, ref, rtol)
  rtol = rtol or 1e-4
  assert.same(ref:size(), out:size())
  local scale = math.max(ref:clone():abs():max(), 1e-30)
  local err = (out - ref):abs():max()
  assert(err <= rtol * scale, string.format(
    "max abs error %.3g exceeds %.1g x max |ref| %.3g", err, rtol, scale))
  return err / scale
end

-- The message of the error f(...) raises (asserting that it raises).
function H.message(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

---------------------------------------------------------------- files

-- Writes bytes to path (binary) and returns path.
function H.write(path, bytes)
  local f = assert(io.open(path, "wb"))
  f:write(bytes)
  f:close()
  return path
end

function H.read(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

function H.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- A temporary directory, made on first use with the given subdirectories:
-- returns dir() (its path) and remove() (deletes it; for teardown).
function H.tmpdir(...)
  local subdirs, dir = { ... }, nil
  local function get()
    if dir then return dir end
    local p = os.tmpname()
    os.remove(p)
    local cmd = "mkdir -p '" .. p .. "'"
    for _, s in ipairs(subdirs) do cmd = cmd .. " '" .. p .. "/" .. s .. "'" end
    assert(os.execute(cmd))
    dir = p
    return dir
  end
  local function remove()
    if dir and dir:match("^/tmp/") then os.execute("rm -rf '" .. dir .. "'") end
  end
  return get, remove
end

-- Temporary files named base .. suffix: returns tmp(suffix) (a path),
-- remove() (deletes every path given; for teardown) and base.
function H.tmpfiles()
  local base = os.tmpname()   -- a fresh file
  local made = { base }
  local function tmp(suffix)
    local p = base .. suffix
    made[#made + 1] = p
    return p
  end
  local function remove()
    for _, p in ipairs(made) do os.remove(p) end
  end
  return tmp, remove, base
end

-- Whether ../shared/data is present; prints a plain skip notice when absent.
function H.shared(what)
  local f = io.open(H.SHARED .. "/README.md")
  if f then f:close() return true end
  print("SKIPPED (" .. (what or "needs data") .. "): ../shared/data is absent")
  return false
end

return H
