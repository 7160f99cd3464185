-- ember/init.lua -- the public table of ember: tensors, nn, timers.
-- local ember = require "ember"; print(ember.Tensor{{1,2},{3,4}}:sum())

local core = require "ember.core"

local ember = { core = core, _VERSION = "ember 0.1" }

-- ember.Tensor(2, 3) gives zeros of that shape, ember.Tensor{{1,2},{3,4}} the
-- data of a table; ember.Tensor.methods holds the methods of every tensor.
ember.Tensor = setmetatable({ methods = core.methods }, {
  __call = function(_, ...) return core.tensor(...) end,
  __tostring = function() return "ember.Tensor" end,
})

function ember.isTensor(x)
  local mt = getmetatable(x)
  return mt ~= nil and mt.__name == "ember.Tensor"
end

-- Functions of ember.core exported under the same name (present once their
-- binding is built; missing ones are simply not copied).
for _, name in ipairs{ "setNumThreads", "getNumThreads", "setISA", "getISA", "manualSeed", "rand", "randn",
                       "load_npy", "now" } do
  ember[name] = core[name]
end

-- Submodules load on first use: ember.nn, ember.Timer, ...
local lazy = {
  nn = "ember.nn",
  Timer = "ember.Timer",
  safetensors = "ember.safetensors",
  weights = "ember.weights",
  darknet = "ember.darknet",
  image = "ember.image",
  onnx = "ember.onnx",
  models = "ember.models",
  sandbox = "ember.sandbox",
}

-- Saves a net's named tensors (net:state()) as a .safetensors file;
-- ember.weights.load(net, path) reads them back.
function ember.save(net, path, metadata)
  return require("ember.safetensors").save(path, net:state(), metadata)
end

-- ember.load("resnet18") or ember.load{net = ..., weights = ...}: see ember/model.lua.
function ember.load(...) return require("ember.model").load(...) end

return setmetatable(ember, {
  __index = function(t, k)
    local mod = lazy[k]
    if mod then
      local v = require(mod)
      rawset(t, k, v)
      return v
    end
  end,
})
