-- ember/onnx/math.lua -- ONNX converters: Add, Sub, Mul, Div with NumPy
-- broadcasting; integer constants fold exactly (shape arithmetic).

local nn = require "ember.nn"
local F = require "ember.onnx.fold"

local ops = {}

local function const_of(cx, ...) return require("ember.onnx").const_from(...) end

local SMALL = 65536

-- Folds when both inputs are integer constants (exact), or small float ones.
local function folder(f, intf)
  return function(cx)
    local onnx = require "ember.onnx"
    local a, b = cx:const(1), cx:const(2)
    if F.numel(a.dims) > SMALL or F.numel(b.dims) > SMALL then return false end
    local integral = a.ints and b.ints
    local vals, dims = F.binop(onnx.values(a), a.dims, onnx.values(b), b.dims, integral and intf or f)
    cx:set_const(1, const_of(cx, vals, dims, integral and a.dtype or "float"))
  end
end

local function idiv(x, y)
  if y == 0 then error({ onnx = true, msg = "integer division by zero" }, 0) end
  local q = x // y
  if q < 0 and q * y ~= x then q = q + 1 end   -- C's truncation, as ONNX's integers
  return q
end

-- x op c for a one-element constant c, as a module; nil when not applicable.
local function scalar_module(cx, op, ci, xi)
  local c = cx:const(ci)
  local xr = cx:rank(xi)
  if not c or F.numel(c.dims) ~= 1 or not xr or #c.dims > xr then return nil end
  local v = require("ember.onnx").values(c)[1]
  if op == "add" then return nn.AddConstant(v) end
  if op == "mul" then return nn.MulConstant(v) end
  if op == "sub" and ci == 2 then return nn.AddConstant(-v) end
  if op == "div" and ci == 2 and v ~= 0 then return nn.MulConstant(1 / v) end
  return nil
end

local function binary(op, cls, f, intf, commutes)
  return { doc = "NumPy broadcasting", fold = folder(f, intf), convert = function(cx)
    local m = scalar_module(cx, op, 2, 1)
    if m then cx:emit(m, cx:input(1), cx:output()) return end
    if commutes then
      m = scalar_module(cx, op, 1, 2)
      if m then cx:emit(m, cx:input(2), cx:output()) return end
    end
    if op == "div" and cx:integral(1) and cx:integral(2) then
      cx:emit(cls(true), { cx:input(1), cx:input(2) }, cx:output())
      return
    end
    cx:emit(cls(), { cx:input(1), cx:input(2) }, cx:output())
  end }
end

ops.Add = binary("add", nn.CAddTable, function(x, y) return x + y end, function(x, y) return x + y end, true)
ops.Sub = binary("sub", nn.CSubTable, function(x, y) return x - y end, function(x, y) return x - y end, false)
ops.Mul = binary("mul", nn.CMulTable, function(x, y) return x * y end, function(x, y) return x * y end, true)
ops.Div = binary("div", nn.CDivTable, function(x, y) return x / y end, idiv, false)

return ops
