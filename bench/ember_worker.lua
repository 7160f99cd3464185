-- bench/ember_worker.lua -- ember's side of `make bench`: one model in a
-- long-lived process, driven line by line on stdin by bench/run.py.
--
--   ./ember bench/ember_worker.lua NAME MODEL.onnx WEIGHTS.safetensors INPUT.npy FRONT THREADS
--
-- FRONT: "onnx" (ember.onnx.load on the .onnx), "lua" (nets/NAME.lua with the
-- safetensors, through ember.load) or "auto" (onnx when ember.onnx loads the
-- file, else lua). Replies, one line each on stdout: after start
-- "ready load_ms=.. first_ms=.. engine=..", then "run N" -> "times t1 .. tN"
-- (ms), "save PATH" -> "saved", "mem" -> "mem hwm_kb=.. rss_kb=.." (and, with a
-- memory plan, "arena_kb=.. naive_kb=.. slots=.."),
-- "profile N" -> lines "prof <type> <ms per inference> <calls>", then
-- "top <ms> <module>" for the ten slowest modules, then "end",
-- "quit". Errors: "error <message>" and exit code 1.

local ember = require "ember"

local name, onnx_path, weights, input_path, front, threads = table.unpack(arg)
threads = tonumber(threads) or 2
front = front or "auto"

local function reply(s)
  io.stdout:write(s, "\n")
  io.stdout:flush()
end

local function fail(msg)
  reply("error " .. tostring(msg):gsub("\n", " "))
  os.exit(1)
end

ember.setNumThreads(threads)
local now = ember.now

-- Returns a forward function, the module tree to profile, and the engine label.
local function load_onnx()
  local ok, onnx = pcall(require, "ember.onnx")
  if not ok or type(onnx) ~= "table" or not onnx.load then
    return nil, "ember.onnx is not available"
  end
  local ok2, g = pcall(onnx.load, onnx_path)
  if not ok2 then return nil, tostring(g) end
  return function(x) return g:forward(x) end, g, "ember-onnx"
end

local function load_lua()
  local m = ember.load{ net = "nets/" .. name .. ".lua", weights = weights }
  return function(x) return m:forward(x) end, m.graph, "ember-lua"
end

local x = ember.load_npy(input_path)
local t = now()
local forward, root, engine
if front == "onnx" or front == "auto" then
  local why
  forward, root, engine = load_onnx()
  if not forward then
    why = root
    if front == "onnx" then fail("ember.onnx.load " .. onnx_path .. ": " .. why) end
    io.stderr:write("ember_worker: " .. name .. ": ONNX import failed (" .. why
                    .. "), using nets/" .. name .. ".lua\n")
  end
end
if not forward then
  local ok, f, r, e = pcall(load_lua)
  if not ok then fail(f) end
  forward, root, engine = f, r, e
end
local load_ms = (now() - t) * 1e3

local out
t = now()
local ok, err = pcall(function() out = forward(x) end)
if not ok then fail(err) end
local first_ms = (now() - t) * 1e3
reply(string.format("ready load_ms=%.3f first_ms=%.3f engine=%s", load_ms, first_ms, engine))

local function status()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("VmHWM:%s*(%d+)")) or 0, tonumber(s:match("VmRSS:%s*(%d+)")) or 0
end

-- The profile's row for a module: its type, convolutions split by shape
-- (depthwise, grouped, 1x1, kxk), as they take different kernel paths.
local function kind(m)
  local ty = m.__typename or "?"
  if ty:match("Convolution$") and m.kW then
    local g = m.groups or 1
    if g > 1 and g == m.nInputPlane then
      ty = ty .. " depthwise " .. m.kH .. "x" .. m.kW
    elseif g > 1 then
      ty = ty .. " grouped " .. m.kH .. "x" .. m.kW
    else
      ty = ty .. " " .. m.kH .. "x" .. m.kW
    end
    if (m.dW or 1) > 1 or (m.dH or 1) > 1 then ty = ty .. " s" .. m.dH end
  end
  return ty
end

-- Times every leaf module's updateOutput (containers only pass data along),
-- summed by type over n inferences.
local function profile(n)
  local sums, calls, wrapped, own = {}, {}, {}, {}
  local function wrap(m)
    if m.modules then
      for _, c in ipairs(m.modules) do wrap(c) end
      return
    end
    if wrapped[m] then return end
    wrapped[m] = true
    local orig = m.updateOutput
    local ty = kind(m)
    m.updateOutput = function(self, input)
      local t0 = now()
      local o = orig(self, input)
      local dt = now() - t0
      sums[ty] = (sums[ty] or 0) + dt
      own[self] = (own[self] or 0) + dt
      calls[ty] = (calls[ty] or 0) + 1
      return o
    end
  end
  wrap(root)
  forward(x)   -- warm the wrappers
  for k in pairs(sums) do sums[k], calls[k] = 0, 0 end
  for k in pairs(own) do own[k] = 0 end
  local t0 = now()
  for _ = 1, n do out = forward(x) end
  local total = now() - t0
  for m in pairs(wrapped) do m.updateOutput = nil end   -- back to the class method
  local types = {}
  for k in pairs(sums) do types[#types + 1] = k end
  table.sort(types, function(a, b) return sums[a] > sums[b] end)
  for _, k in ipairs(types) do
    reply(string.format("prof %s %.4f %d", k, sums[k] * 1e3 / n, calls[k] // n))
  end
  reply(string.format("prof (total) %.4f 0", total * 1e3 / n))
  local mods = {}
  for m in pairs(own) do mods[#mods + 1] = m end
  table.sort(mods, function(a, b) return own[a] > own[b] end)
  for i = 1, math.min(10, #mods) do   -- the slowest single modules
    local m = mods[i]
    local label = ((m.name and (m.name .. " ")) or "") .. (m.__repr and m:__repr() or kind(m))
    reply(string.format("top %.4f %s", own[m] * 1e3 / n, (label:gsub("%s+", " "))))
  end
  reply("end")
end

for line in io.stdin:lines() do
  local cmd, a = line:match("^%s*(%S*)%s*(.-)%s*$")
  if cmd == "run" then
    local n = tonumber(a) or 1
    local times = {}
    for i = 1, n do
      local t0 = now()
      out = forward(x)
      times[i] = string.format("%.4f", (now() - t0) * 1e3)
    end
    reply("times " .. table.concat(times, " "))
  elseif cmd == "save" then
    out:contiguous():save_npy(a)
    reply("saved")
  elseif cmd == "mem" then
    local hwm, rss = status()
    -- the memory plan (ember/plan.lua): activations' pooled bytes against
    -- one buffer per value, and how many slots hold them
    local ok, p = pcall(function() return require("ember.plan").memory(root) end)
    local plan = ok and p and string.format(" arena_kb=%d naive_kb=%d slots=%d", p.arena_bytes // 1024,
                                            p.naive_bytes // 1024, p.slots) or ""
    reply(string.format("mem hwm_kb=%d rss_kb=%d%s", hwm, rss, plan))
  elseif cmd == "profile" then
    local pok, perr = pcall(profile, tonumber(a) or 5)
    if not pok then fail(perr) end
  elseif cmd == "quit" then
    break
  elseif cmd ~= "" then
    fail("unknown command " .. cmd)
  end
end
os.exit(0)
