-- spec/nets/check.lua -- what the net specs share: the equivalence check
-- against torchvision (spec/ref/ref_nets.py) and shape checks on initial weights.

local ember = require "ember"
local H = require "helper"
-- busted's assert is not a global in required modules; luassert is the same one
local assert = require "luassert"

local C = {}

-- The net file of a name, relative to the project root (busted runs there).
function C.netfile(name) return "nets/" .. name .. ".lua" end

-- Loads the net with the weights ref_nets.py saved and returns the model, its
-- output on the saved input and the reference logits.
function C.run_reference(name, opts)
  local spec = { net = C.netfile(name), weights = H.REF .. "/nets/" .. name .. ".safetensors" }
  for k, v in pairs(opts or {}) do spec[k] = v end
  local m = ember.load(spec)
  local x = H.ref("nets", name .. ".input")
  return m, m:forward(x), H.ref("nets", name .. ".logits")
end

-- Asserts max |out - ref| <= rtol * max |ref| and returns the relative error.
C.close = H.close

-- The check every torchvision net has: the same logits as PyTorch within
-- 1e-4 of the largest, on random weights with realistic batch-norm statistics.
function C.equivalence(name, opts)
  local m, out, ref = C.run_reference(name, opts)
  return C.close(out, ref, 1e-4), m
end

-- A net on its initial weights (no file): output sizes for a batch.
function C.output_size(name, input, opts)
  local spec = { net = C.netfile(name) }
  for k, v in pairs(opts or {}) do spec[k] = v end
  local m = ember.load(spec)
  ember.manualSeed(7)
  local x = ember.randn(table.unpack(input))
  return m, m:forward(x):size()
end

-- The size of a named tensor of the built net (num_classes, width_mult...).
function C.state_size(name, key, opts)
  local spec = { net = C.netfile(name), fold = false }
  for k, v in pairs(opts or {}) do spec[k] = v end
  local t = ember.load(spec).net:state()[key]
  assert(t, "no tensor named " .. key)
  return t:size()
end

return C
