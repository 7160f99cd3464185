-- spec/helper.lua -- shared by the specs: reference arrays and closeness.
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

-- Whether ../shared/data is present; prints a plain skip notice when absent.
function H.shared(what)
  local f = io.open(H.SHARED .. "/README.md")
  if f then f:close() return true end
  print("SKIPPED (" .. (what or "needs data") .. "): ../shared/data is absent")
  return false
end

return H
