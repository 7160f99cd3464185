-- nn/Container.lua -- a module holding children in self.modules: add, get,
-- size, and errors that name the failing child's position.

local class = require "ember.class"
local Module = require "ember.nn.Module"

local Container, parent = class("nn.Container", Module)

function Container:__init(...)
  parent.__init(self)
  self.modules = {}
end

function Container:add(module)
  assert(type(module) == "table" and module.forward,
         self.__typename .. ":add expects an nn module, got " .. type(module))
  self.modules[#self.modules + 1] = module
  return self
end

function Container:get(i) return self.modules[i] end
function Container:size() return #self.modules end

-- Runs child i on input; an error gets the child's position added.
function Container:runChild(i, input)
  local ok, out = pcall(self.modules[i].forward, self.modules[i], input)
  if ok then return out end
  error(self:_errorThrough(out), 0)
end

-- Children listed as Torch7 prints them: "(1): nn.ReLU".
function Container:childLines(indent)
  local lines = {}
  for i, m in ipairs(self.modules) do
    local s = tostring(m):gsub("\n", "\n" .. indent .. "  ")
    lines[#lines + 1] = indent .. "  (" .. i .. "): " .. s
  end
  return lines
end

return Container
