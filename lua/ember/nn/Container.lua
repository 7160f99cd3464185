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
  if type(module) ~= "table" or type(module.forward) ~= "function" then
    error(self.__typename .. ":add expects an nn module, got " .. type(module), 2)
  end
  self.modules[#self.modules + 1] = module
  return self
end

function Container:get(i) return self.modules[i] end
function Container:size() return #self.modules end

-- Runs child i on input; an error gets the child's position added.
function Container:runChild(i, input)
  local m = self.modules[i]
  if not m then error("no child " .. tostring(i) .. " (has " .. #self.modules .. ")", 0) end
  local ok, out = Module.runChild(m, input)
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

-- Children of a container whose children all take the same input, as
-- Torch7 prints nn.Concat and nn.ConcatTable:
--   nn.Concat {
--     input
--       |`-> (1): nn.ReLU
--        `-> (2): nn.Tanh
--        ... -> output
--   }
function Container:branchString(head)
  local lines = { head .. " {", "  input" }
  for i, m in ipairs(self.modules) do
    local last = i == #self.modules
    local s = tostring(m):gsub("\n", last and "\n         " or "\n    |    ")
    lines[#lines + 1] = (last and "     `-> (" or "    |`-> (") .. i .. "): " .. s
  end
  lines[#lines + 1] = "     ... -> output"
  lines[#lines + 1] = "}"
  return table.concat(lines, "\n")
end

return Container
