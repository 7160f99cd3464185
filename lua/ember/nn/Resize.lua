-- nn/Resize.lua -- nn.Resize{...}: ONNX Resize/Upsample, nearest, linear or cubic,
-- on any dims, separably. Fields: mode ("nearest" | "linear" | "cubic"), coord
-- (ONNX's coordinate_transformation_mode), nearest (nearest_mode), cubic_a and
-- exclude_outside (cubic), and either scales or sizes (one per dim). The
-- common 4-D nearest and linear cases run the C kernels.

local class = require "ember.class"
local core = require "ember.core"
local Module = require "ember.nn.Module"
local Gather = require "ember.nn.Gather"

local Resize = class("nn.Resize", Module)

local coords = { half_pixel = true, pytorch_half_pixel = true, align_corners = true,
                 asymmetric = true, tf_half_pixel_for_nn = true }
local nearests = { round_prefer_floor = true, round_prefer_ceil = true, floor = true, ceil = true }

function Resize:__init(p)
  Module.__init(self)
  if type(p) ~= "table" then error("nn.Resize{mode=, coord=, scales= | sizes=}: expected a table", 2) end
  self.mode = p.mode or "nearest"
  self.coord = p.coord or "half_pixel"
  self.nearest = p.nearest or "round_prefer_floor"
  if self.mode ~= "nearest" and self.mode ~= "linear" and self.mode ~= "cubic" then
    error("nn.Resize: mode must be nearest, linear or cubic, got " .. tostring(self.mode), 2)
  end
  self.cubic_a = p.cubic_a or -0.75
  self.exclude_outside = p.exclude_outside and true or false
  if not coords[self.coord] then error("nn.Resize: unsupported coordinate mode " .. tostring(self.coord), 2) end
  if not nearests[self.nearest] then error("nn.Resize: unsupported nearest mode " .. tostring(self.nearest), 2) end
  if (p.scales == nil) == (p.sizes == nil) then error("nn.Resize: give scales or sizes", 2) end
  self.scales = p.scales and { table.unpack(p.scales) }
  self.sizes = p.sizes and { table.unpack(p.sizes) }
end

-- source coordinate of output position o (0-based) along a dim of n; ONNX
-- takes the resized length as n * scale, unrounded, where given scales
local function source(coord, o, n, m, scale)
  local lm = n * scale
  if coord == "half_pixel" then return (o + 0.5) / scale - 0.5
  elseif coord == "pytorch_half_pixel" then return lm > 1 and (o + 0.5) / scale - 0.5 or 0
  elseif coord == "align_corners" then return lm == 1 and 0 or o * (n - 1) / (lm - 1)
  elseif coord == "asymmetric" then return o / scale
  else return (o + 0.5) / scale end    -- tf_half_pixel_for_nn
end

local function round_nearest(mode, x)
  if mode == "floor" then return math.floor(x)
  elseif mode == "ceil" then return math.ceil(x) end
  local f = math.floor(x)
  if x - f == 0.5 then return mode == "round_prefer_floor" and f or f + 1 end
  return math.floor(x + 0.5)
end

function Resize:_plan(input)
  local nd = input:dim()
  local n = self.scales and #self.scales or #self.sizes
  if n ~= nd then error(string.format("%d scales/sizes for the %d-dimensional input %s", n, nd, input:shape()), 0) end
  local out, scale = {}, {}
  for d = 1, nd do
    local s = input:size(d)
    if self.sizes then
      out[d] = self.sizes[d]
      scale[d] = s > 0 and out[d] / s or 1
    else
      scale[d] = self.scales[d]
      out[d] = math.floor(s * scale[d] + 1e-9)
    end
    if not (out[d] >= 0) or not (scale[d] > 0) then error("scales and sizes must be positive", 0) end
  end
  local total = 1
  for d = 1, nd do total = total * out[d] end
  if not (total <= 2 ^ 31) then
    error(string.format("output of %s elements is too large", table.concat(out, "x")), 0)
  end
  return out, scale
end

function Resize:updateOutput(input)
  local out, scale = self:_plan(input)
  local nd = input:dim()
  -- the C kernels where their formula is ONNX's: 4-D, N and C kept, scale = out/in
  if nd == 4 and out[1] == input:size(1) and out[2] == input:size(2)
     and scale[3] == out[3] / input:size(3) and scale[4] == out[4] / input:size(4) then
    if self.mode == "nearest" and self.coord == "asymmetric" and self.nearest == "floor" then
      return core.upsample_nearest(input, self.output, out[3], out[4])
    end
    if self.mode == "linear" and (self.coord == "align_corners" or ((self.coord == "pytorch_half_pixel"
        or self.coord == "half_pixel") and out[3] > 1 and out[4] > 1)) then
      return core.upsample_bilinear(input, self.output, out[3], out[4], self.coord == "align_corners")
    end
  end
  local x = input
  for d = 1, nd do
    local n, m = x:size(d), out[d]
    local ident = n == m and (self.coord ~= "tf_half_pixel_for_nn") and scale[d] == 1
    if not ident then
      if n == 0 then error("cannot resize an empty dim", 0) end
      if self.mode == "nearest" then
        local idx = {}
        for o = 0, m - 1 do
          local i = round_nearest(self.nearest, source(self.coord, o, n, m, scale[d]))
          idx[o + 1] = math.max(0, math.min(n - 1, i)) + 1
        end
        x = Gather.take(x, core.tensor(), d, idx)
      elseif self.mode == "cubic" then
        -- four taps around floor(c), Keys' kernel with coefficient A; taps
        -- past the edges repeat the edge, or are dropped (exclude_outside)
        local A = self.cubic_a
        local idx, ws = { {}, {}, {}, {} }, { core.tensor(m), core.tensor(m), core.tensor(m), core.tensor(m) }
        for o = 0, m - 1 do
          local c = source(self.coord, o, n, m, scale[d])
          local f = math.floor(c)
          local r = c - f
          local w = { ((A * (r + 1) - 5 * A) * (r + 1) + 8 * A) * (r + 1) - 4 * A,
                      ((A + 2) * r - (A + 3)) * r * r + 1,
                      ((A + 2) * (1 - r) - (A + 3)) * (1 - r) * (1 - r) + 1,
                      ((A * (2 - r) - 5 * A) * (2 - r) + 8 * A) * (2 - r) - 4 * A }
          local sum = 0
          for k = 1, 4 do
            local i = f - 2 + k
            if self.exclude_outside and (i < 0 or i >= n) then w[k] = 0 end
            sum = sum + w[k]
          end
          for k = 1, 4 do
            local i = f - 2 + k
            idx[k][o + 1] = math.max(0, math.min(n - 1, i)) + 1
            ws[k][o + 1] = self.exclude_outside and w[k] / sum or w[k]
          end
        end
        local shape = {}
        for k = 1, nd do shape[k] = k == d and m or 1 end
        local acc
        for k = 1, 4 do
          local t = Gather.take(x, core.tensor(), d, idx[k]) * ws[k]:view(shape)
          acc = acc and (acc + t) or t
        end
        x = acc
      else
        local i0, i1, w = {}, {}, core.tensor(m)
        for o = 0, m - 1 do
          local c = source(self.coord, o, n, m, scale[d])
          c = math.max(0, math.min(n - 1, c))
          local f = math.floor(c)
          i0[o + 1] = f + 1
          i1[o + 1] = math.min(f + 1, n - 1) + 1
          w[o + 1] = c - f
        end
        local a = Gather.take(x, core.tensor(), d, i0)
        local b = Gather.take(x, core.tensor(), d, i1)
        local ws = {}
        for k = 1, nd do ws[k] = k == d and m or 1 end
        x = a + (b - a) * w:view(ws)
      end
    end
  end
  self.output:resizeAs(x):copy(x)
  return self.output
end

function Resize:__repr()
  local what = self.scales and ("scales {" .. table.concat(self.scales, ", ") .. "}")
               or ("sizes {" .. table.concat(self.sizes, ", ") .. "}")
  return "Resize(" .. self.mode .. ", " .. self.coord .. ", " .. what
         .. (self.mode == "cubic" and (", A = " .. self.cubic_a) or "") .. ")"
end

return Resize
