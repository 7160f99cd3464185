-- repl_spec.lua -- the ./ember executable: options, scripts and arg, exit
-- status, and the REPL driven through a pipe (-i), as lua(1) behaves.

local function sh_quote(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local EMBER = (function()
  local p = io.popen("realpath ./ember")
  local path = p:read("l")
  p:close()
  return path
end)()
local base = os.tmpname()
local IN, ERR, SCRIPT = base .. ".in", base .. ".err", base .. ".lua"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- Runs ./ember with the given arguments and stdin text; returns stdout,
-- stderr and the exit code. opts.cwd runs it from another directory,
-- opts.env runs it with these variables set.
local function run(args, input, opts)
  opts = opts or {}
  write(IN, input or "")
  local quoted = {}
  for i, a in ipairs(args) do quoted[i] = sh_quote(a) end
  local env = {}
  for k, v in pairs(opts.env or {}) do env[#env + 1] = k .. "=" .. sh_quote(v) .. " " end
  table.sort(env)
  local cmd = string.format("%s%s%s %s < %s 2> %s",
    opts.cwd and ("cd " .. sh_quote(opts.cwd) .. " && ") or "", table.concat(env),
    sh_quote(EMBER), table.concat(quoted, " "), IN, ERR)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  local _, _, code = p:close()
  local f = assert(io.open(ERR))
  local err = f:read("a")
  f:close()
  return out, err, code
end

teardown(function()
  for _, p in ipairs{ base, IN, ERR, SCRIPT } do os.remove(p) end
end)

describe("./ember options", function()
  it("-e runs chunks in order, with ember already global", function()
    local out, err, code = run({ "-e", "x = ember.Tensor{{1,2},{3,4}}", "-e", "print(x:size()[2], type(ember.nn))" })
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("2\ttable\n", out)
  end)
  it("an error in -e exits with status 1 and a traceback", function()
    local out, err, code = run({ "-e", "error('boom')", "-e", "print('not reached')" })
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches("%(command line%):1: boom", err)
    assert.matches("stack traceback:", err, 1, true)
  end)
  it("-v, -h and a bad option", function()
    local out, _, code = run({ "-v" })
    assert.equal(0, code)
    assert.matches("^ember [%d.]+ on Lua 5%.4", out)
    out, _, code = run({ "-h" })
    assert.equal(0, code)
    assert.matches("usage: ", out, 1, true)
    local err
    out, err, code = run({ "-x" })
    assert.equal(1, code)
    assert.matches("usage: ", err, 1, true)
    _, err, code = run({ "-e" })
    assert.equal(1, code)
  end)
  it("os.exit sets the exit status", function()
    local _, _, code = run({ "-e", "os.exit(7)" })
    assert.equal(7, code)
    _, _, code = run({ "-e", "os.exit(false)" })
    assert.equal(1, code)
  end)
  it("works from any directory", function()
    local out, err, code = run({ "-e", "print(require('ember.nn') == ember.nn)" }, nil, { cwd = "/" })
    assert.equal("", err)
    assert.equal(0, code)
    assert.equal("true\n", out)
  end)
end)

describe("./ember script", function()
  it("gets arg and ... like lua, skipping a shebang line", function()
    write(SCRIPT, "#!/usr/bin/env ember\n" ..
      "print(arg[0] == ..., arg[-1], arg[1], arg[2], #arg, select('#', ...))\n")
    local out, err, code = run({ SCRIPT, "a", "b c" })
    assert.equal("", err)
    assert.equal(0, code)
    -- arg[0] is the script, not the first argument
    assert.equal("false\t" .. EMBER .. "\ta\tb c\t2\t2\n", out)
    write(SCRIPT, "print(arg[0] == " .. string.format("%q", SCRIPT) .. ", ...)\n")
    out = run({ "-e", "y = 1", SCRIPT, "-e", "z" })
    assert.equal("true\t-e\tz\n", out)   -- options after the script are its arguments
  end)
  it("an error exits with status 1 and a traceback naming the script", function()
    write(SCRIPT, "local function f() error('deep') end\nf()\n")
    local out, err, code = run({ SCRIPT })
    assert.equal(1, code)
    assert.equal("", out)
    assert.matches(SCRIPT .. ":1: deep", err, 1, true)
    assert.matches("in local 'f'", err, 1, true)
  end)
  it("a syntax error exits with status 1", function()
    write(SCRIPT, "x = = 1\n")
    local _, err, code = run({ SCRIPT })
    assert.equal(1, code)
    assert.matches("unexpected symbol", err, 1, true)
  end)
  it("a missing script exits with status 1", function()
    local _, err, code = run({ base .. ".nope.lua" })
    assert.equal(1, code)
    assert.matches("cannot open", err, 1, true)
  end)
  it("reads a script from stdin when it is not a terminal, or with -", function()
    local out, _, code = run({}, "print('from stdin', ...)\n")
    assert.equal(0, code)
    assert.equal("from stdin\n", out)
    out = run({ "-", "p", "q" }, "print(arg[0], ...)\n")
    assert.equal("-\tp\tq\n", out)
  end)
  it("Ctrl-C (SIGINT) interrupts a running loop with an error", function()
    -- one signal to the process alone (timeout(1) would also signal its group)
    local cmd = string.format("%s -e %s 2> %s & pid=$!; sleep 0.5; kill -INT $pid; wait $pid; echo \"exit $?\"",
      sh_quote(EMBER), sh_quote("io.write('go\\n') io.flush() while true do end"), ERR)
    local p = assert(io.popen(cmd))
    local out = p:read("a")
    p:close()
    local f = assert(io.open(ERR))
    local err = f:read("a")
    f:close()
    assert.equal("go\nexit 1\n", out)
    assert.matches("interrupted!", err, 1, true)
  end)
end)

describe("the REPL (-i, fed through a pipe)", function()
  -- Output of a session: the prompts "> " / ">> " then what each line printed.
  local function session(lines)
    local out, err, code = run({ "-i" }, table.concat(lines, "\n") .. "\n")
    assert.equal(0, code)
    return out, err
  end

  it("prints the values of expressions", function()
    local out = session{ "1 + 2", "'a' .. 'b'", "1, nil, 2.5", "nil", "x = 5", "x" }
    assert.equal('> 3\n> "ab"\n> 1\tnil\t2.5\n> nil\n> > 5\n> \n', out)
  end)
  it("prints tensors through tostring", function()
    local out = session{ "ember.Tensor{{1, 2}, {3, 4}}" }
    assert.matches("[ember.Tensor of size 2x2]", out, 1, true)
  end)
  it("prints tables readably: sorted keys, nested, cycles, depth-limited", function()
    local out = session{
      "{ 3, 'x', b = true, a = { 1, 2 }, [10] = 0, ['a b'] = 1 }",
      "local t = { name = 't' } t.self = t return t",
      "{ a = { b = { c = { d = { e = { f = { g = 1 } } } } } } }",
      "{}",
      "setmetatable({}, { __tostring = function() return 'custom' end })",
    }
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal('> { 3, "x", [10] = 0, a = { 1, 2 }, ["a b"] = 1, b = true }', lines[1])
    assert.equal('> { name = "t", self = <cycle> }', lines[2])
    assert.equal('> { a = { b = { c = { d = { e = { f = {...} } } } } } }', lines[3])
    assert.equal('> {}', lines[4])
    assert.equal('> custom', lines[5])
  end)
  it("breaks long tables over indented lines", function()
    local out = session{ "{ alpha = string.rep('a', 40), beta = { string.rep('b', 40), 2 } }" }
    assert.equal('> {\n' ..
      '  alpha = "' .. string.rep("a", 40) .. '",\n' ..
      '  beta = { "' .. string.rep("b", 40) .. '", 2 },\n' ..
      '}\n> \n', out)
  end)
  it("limits how many items of a big table it shows", function()
    local out = session{ "(function() local t = {} for i = 1, 150 do t[i] = i end return t end)()" }
    -- the array items share lines (up to 72 columns), then the count left out
    assert.matches("^> {\n  1, 2, 3, [%d, ]+,\n", out)
    assert.matches(" 99, 100,\n  %.%.%. %(50 more%),\n}\n", out)
    for line in out:gmatch("[^\n]+") do assert.is_true(#line <= 72) end
  end)
  it("continues incomplete chunks with '>> '", function()
    local out = session{ "for i = 1, 2 do", "print(i * 10)", "end", "function f(a,", "b) return a + b end", "f(1, 2)" }
    assert.equal("> >> >> 10\n20\n> >> > 3\n> \n", out)
  end)
  it("reports an error with a traceback and carries on", function()
    local out, err = session{ "error('oops')", "undefined_fn()", "x = = 1", "'still here'" }
    assert.matches('"still here"', out, 1, true)
    assert.matches("stdin:1: oops", err, 1, true)
    assert.matches("stack traceback:", err, 1, true)
    assert.matches("attempt to call a nil value (global 'undefined_fn')", err, 1, true)
    assert.matches("unexpected symbol", err, 1, true)
    assert.not_matches("ember: stdin", err, 1, true)   -- no program name inside the REPL
  end)
  it("reports a chunk left incomplete at the end of input", function()
    local _, err = session{ "for i = 1, 2 do" }
    assert.matches("'end' expected", err, 1, true)
  end)
  it("runs a script before entering the REPL", function()
    write(SCRIPT, "answer = 42\n")
    local out, _, code = run({ "-i", SCRIPT }, "answer\n")
    assert.equal(0, code)
    assert.equal("> 42\n> \n", out)
  end)
  it("exits through os.exit", function()
    local out, _, code = run({ "-i" }, "os.exit(4)\n'not reached'\n")
    assert.equal(4, code)
    assert.equal("> ", out)
  end)
end)

-- ember's own threads (core/parallel.c): no OpenMP, no OpenBLAS threads.
describe("./ember's threads", function()
  -- The threads of the process, and the cores they may run on, after a
  -- product on n threads.
  local function threads(n)
    return string.format([[
      ember.setNumThreads(%d)
      local conv = ember.nn.SpatialConvolution(64, 64, 3, 3, 1, 1, 1, 1)
      for _ = 1, 3 do conv:forward(ember.Tensor(1, 64, 56, 56):fill(1)) end
      local pid = io.open("/proc/self/stat"):read("a"):match("^%%d+")
      -- a worker that setNumThreads joined can stay listed a moment longer
      -- (the kernel wakes the joiner before it reaps the thread): counted
      -- again for up to 2 s until the count is the one asked for
      local seen, tasks
      for _ = 1, 200 do
        seen, tasks = {}, 0
        for dir in io.popen("ls -d /proc/" .. pid .. "/task/*"):lines() do
          local f = io.open(dir .. "/status")
          if f then
            tasks = tasks + 1
            local list = f:read("a"):match("Cpus_allowed_list:%%s*(%%S+)")
            f:close()
            for first, last in list:gmatch("(%%d+)%%-?(%%d*)") do
              for c = tonumber(first), tonumber(last ~= "" and last or first) do seen[c] = true end
            end
          end
        end
        if tasks == ember.getNumThreads() then break end
        os.execute("sleep 0.01")
      end
      local n = 0
      for _ in pairs(seen) do n = n + 1 end
      print(tasks, n, ember.getNumThreads())
    ]], n)
  end
  local cpus
  setup(function()
    local p = io.popen("nproc")
    cpus = tonumber(p:read("l"))
    p:close()
  end)

  it("are the caller and setNumThreads - 1 workers, over every core", function()
    for _, n in ipairs{ 1, 2, 3 } do
      local out, err, code = run({ "-e", threads(n) })
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(string.format("%d\t%d\t%d\n", n, cpus, n), out)
    end
  end)

  it("default to one per core the process may run on (taskset)", function()
    local show = "print(ember.getNumThreads())"
    assert.equal(cpus .. "\n", (run({ "-e", show })))
    local p = io.popen("command -v taskset")
    local taskset = p:read("l")
    p:close()
    if not taskset then
      pending("no taskset on this machine")
      return
    end
    local f = assert(io.popen("taskset -c 0 " .. sh_quote(EMBER) .. " -e " .. sh_quote(show) .. " 2>&1"))
    local out = f:read("a")
    f:close()
    assert.equal("1\n", out)
  end)

  it("ignore OpenMP's binding variables (a libgomp linked again would bind the caller to one core)", function()
    if cpus < 2 then
      pending("this machine has one core: a binding cannot be seen to spread")
      return
    end
    for _, env in ipairs{ { OMP_PROC_BIND = "true" }, { OMP_PROC_BIND = "close", OMP_PLACES = "cores" } } do
      local out, err, code = run({ "-e", threads(2) }, nil, { env = env })
      assert.equal("", err)
      assert.equal(0, code)
      assert.equal(string.format("2\t%d\t2\n", cpus), out)
    end
  end)
end)
