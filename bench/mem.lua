-- bench/mem.lua -- peak memory of one ONNX import and one forward, in a fresh process.
--   ./ember bench/mem.lua MODEL.onnx INPUT.npy   -> "MODEL hwm_mb=.. rss_mb=.. after_load_mb=.."

local ember = require "ember"
local onnx = require "ember.onnx"

local model, input = arg[1], arg[2]
if not model or not input then
  io.stderr:write("usage: ./ember bench/mem.lua MODEL.onnx INPUT.npy\n")
  os.exit(2)
end

-- VmHWM and VmRSS of this process, in MB.
local function status()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return (tonumber(s:match("VmHWM:%s*(%d+)")) or 0) / 1024, (tonumber(s:match("VmRSS:%s*(%d+)")) or 0) / 1024
end

ember.setNumThreads(2)
local x = ember.load_npy(input)
local g = onnx.load(model)
local load_hwm = status()
g:forward(x)
local hwm, rss = status()
print(string.format("%s hwm_mb=%.0f rss_mb=%.0f load_hwm_mb=%.0f",
                    model:match("([^/]+)%.onnx$") or model, hwm, rss, load_hwm))
