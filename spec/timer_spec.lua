-- timer_spec.lua -- ember.now and ember.Timer (Torch7's torch.Timer).
local ember = require "ember"

-- Busy-waits until the monotonic clock has advanced by s seconds.
local function spin(s)
  local t0 = ember.now()
  while ember.now() - t0 < s do end
end

describe("ember.now", function()
  it("is a float clock that never goes backwards", function()
    local prev = ember.now()
    assert.equal("float", math.type(prev))
    for _ = 1, 1000 do
      local t = ember.now()
      assert.is_true(t >= prev)
      prev = t
    end
  end)
  -- os.clock counts CPU time of every thread (ember's workers may spin too): a lower bound only
  it("counts seconds: a busy wait of 0.05 s costs CPU time of that order", function()
    local c0, t0 = os.clock(), ember.now()
    spin(0.05)
    local cpu, real = os.clock() - c0, ember.now() - t0
    assert.is_true(real >= 0.05 and real < 1, "real " .. real)
    assert.is_true(cpu > 0.01, string.format("cpu %g real %g", cpu, real))
  end)
end)

describe("ember.Timer", function()
  it("measures elapsed real time", function()
    local t = ember.Timer()
    spin(0.02)
    local r = t:time().real
    assert.is_true(r >= 0.02 and r < 1, "got " .. r)
  end)
  it("stops and resumes, counting only running time", function()
    local t = ember.Timer()
    spin(0.01)
    t:stop()
    local a = t:time().real
    spin(0.03)
    assert.equal(a, t:time().real)          -- frozen while stopped
    t:resume()
    spin(0.01)
    local b = t:time().real
    assert.is_true(b >= a + 0.01 and b < a + 0.03, string.format("a %g b %g", a, b))
  end)
  it("resets to zero, running or stopped", function()
    local t = ember.Timer()
    spin(0.02)
    t:reset()
    assert.is_true(t:time().real < 0.02)
    t:stop():reset()
    assert.equal(0, t:time().real)
    spin(0.01)
    assert.equal(0, t:time().real)
    t:resume()
    spin(0.005)
    assert.is_true(t:time().real >= 0.005)
  end)
  it("stop and resume twice are harmless", function()
    local t = ember.Timer()
    t:stop(); local a = t:time().real; t:stop()
    assert.equal(a, t:time().real)
    t:resume(); t:resume()
    spin(0.002)
    assert.is_true(t:time().real >= a + 0.002)
  end)
  it("prints its state", function()
    assert.matches("^ember.Timer%([%d.]+s, stopped%)$", tostring(ember.Timer():stop()))
  end)
end)
