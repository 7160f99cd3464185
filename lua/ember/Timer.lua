-- ember/Timer.lua -- a stopwatch on the monotonic clock, as Torch7's torch.Timer.
-- local t = ember.Timer(); work(); print(t:time().real)   -- seconds

local class = require "ember.class"
local core = require "ember.core"

local now = core.now
local Timer = class("ember.Timer")

-- A timer starts running when made.
function Timer:__init()
  self.total = 0
  self.start = now()
  self.running = true
end

-- { real = seconds counted so far }, leaving the timer as it is.
function Timer:time()
  local real = self.total
  if self.running then real = real + (now() - self.start) end
  return { real = real }
end

-- Back to zero; a running timer keeps running, a stopped one stays stopped.
function Timer:reset()
  self.total = 0
  self.start = now()
  return self
end

function Timer:stop()
  if self.running then
    self.total = self.total + (now() - self.start)
    self.running = false
  end
  return self
end

function Timer:resume()
  if not self.running then
    self.start = now()
    self.running = true
  end
  return self
end

function Timer:__tostring__()
  return string.format("ember.Timer(%.6fs, %s)", self:time().real,
                       self.running and "running" or "stopped")
end

return Timer
