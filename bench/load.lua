-- bench/load.lua -- how long ember.load takes from files to a ready model,
-- and how much slower the first inference is than the steady state.
--
--   ./ember bench/load.lua [net,net...] [loads=N] [runs=N] [threads=N]
--
-- Per net (nets/NAME.lua + build/bench/NAME.safetensors, made by `make bench`
-- or bench/export.py), each in a fresh process: N loads (median, min, max and
-- the first, in ms; each earlier model dropped and collected first), then on
-- the last model the process's first inference of build/bench/NAME.input.npy,
-- the slowest of the forwards after it that still prepare weights deferred
-- from the first (warm_max, 0 when none), N more (median), and both ratios to
-- the median. One row per net; nets without files
-- are skipped.

local ember = require "ember"

local nets = { "resnet50", "resnet18", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x1_0",
               "googlenet", "inception_v3", "alexnet" }
local loads, runs, threads = 9, 9, 2
for _, a in ipairs(arg) do
  local k, v = a:match("^(%w+)=(%d+)$")
  if k == "loads" then loads = tonumber(v)
  elseif k == "runs" then runs = tonumber(v)
  elseif k == "threads" then threads = tonumber(v)
  elseif not k then
    nets = {}
    for n in a:gmatch("[^,]+") do nets[#nets + 1] = n end
  else
    error("bench/load.lua: unknown option " .. a)
  end
end
ember.setNumThreads(threads)
local now = ember.now

local function median(t)
  local s = table.move(t, 1, #t, 1, {})
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

local function exists(p)
  local f = io.open(p, "rb")
  if f then f:close() return true end
  return false
end

local header = string.format("%-20s %9s %9s %9s %9s  %9s %9s %7s %9s %7s", "net", "load_ms", "min", "max",
                             "first", "first_ms", "median", "ratio", "warm_max", "ratio")

-- Several nets: each in a fresh process of its own (this script, one net),
-- so that every net's first load and first inference are a new process's.
if #nets > 1 then
  print(header)
  local exe = arg[-1] or "./ember"
  for _, name in ipairs(nets) do
    local cmd = string.format("%s %s %s loads=%d runs=%d threads=%d", exe, arg[0], name, loads, runs, threads)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    io.write((out:gsub("^[^\n]*\n", "")))   -- the child's rows, without its header
    io.stdout:flush()
  end
  return
end

print(header)
for _, name in ipairs(nets) do
  local w = "build/bench/" .. name .. ".safetensors"
  local inp = "build/bench/" .. name .. ".input.npy"
  if not exists(w) or not exists(inp) then
    print(string.format("%-20s (no %s: run make bench or bench/export.py)", name, w))
  else
    local times, m = {}, nil
    for i = 1, loads do
      m = nil
      collectgarbage()
      collectgarbage()
      local t = now()
      m = ember.load{ net = "nets/" .. name .. ".lua", weights = w }
      times[i] = (now() - t) * 1e3
    end
    local x = ember.load_npy(inp)
    local t = now()
    m:forward(x)
    local first = (now() - t) * 1e3
    -- the forwards that still transform Winograd weights (ember/plan.lua
    -- defers them from the first): their slowest, then the steady state
    local warm = 0
    while #(require("ember.plan").get(m.graph) or { deferred = {} }).deferred > 0 do
      t = now()
      m:forward(x)
      warm = math.max(warm, (now() - t) * 1e3)
    end
    local steady = {}
    for i = 1, runs do
      t = now()
      m:forward(x)
      steady[i] = (now() - t) * 1e3
    end
    local med = median(steady)
    print(string.format("%-20s %9.1f %9.1f %9.1f %9.1f  %9.1f %9.1f %7.2f %9.1f %7.2f", name, median(times),
                        math.min(table.unpack(times)), math.max(table.unpack(times)), times[1],
                        first, med, first / med, warm, warm / med))
    m = nil
    collectgarbage()
  end
end
