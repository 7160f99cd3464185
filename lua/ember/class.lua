-- ember/class.lua -- Torch-style classes: local C, parent = class("nn.C", Parent).
-- Instances are made by calling the class; C.__init(self, ...) initialises.

local function class(name, parent)
  local cls = {}
  cls.__index = cls
  cls.__typename = name
  -- metamethods are not inherited through __index: give each class its own
  cls.__tostring = function(self) return self:__tostring__() end
  setmetatable(cls, {
    __index = parent,
    __call = function(c, ...)
      local self = setmetatable({}, c)
      if self.__init then self:__init(...) end
      return self
    end,
    __tostring = function() return name end,
  })
  return cls, parent
end

return class
