-- winograd_spec.lua -- nn.SpatialConvolution by Winograd F(4x4, 3x3),
-- F(2x2, 3x3), F(2x2, 5x5) and F(2, 7): PyTorch's output either way, the transformed
-- weight cached and dropped when it must be.
local ember = require "ember"
local nn = require "ember.nn"
local H = require "helper"
local weights = require "ember.weights"

-- PyTorch's F.conv2d case conv_big3x3 (1x64x28x28, 64 -> 64, pad 1).
local function big3x3(algo)
  local m = nn.SpatialConvolution(64, 64, 3, 3, 1, 1, 1, 1):named("c")
  m.weight:copy(H.ref("conv", "conv_big3x3.w"))
  m.bias:copy(H.ref("conv", "conv_big3x3.b"))
  m.algo = algo
  return m, H.ref("conv", "conv_big3x3.x"), H.ref("conv", "conv_big3x3.y")
end

-- f raises an error whose message holds frag (plain text).
local function fails(f, frag)
  local msg = H.message(f)
  assert(msg:find(frag, 1, true), "message '" .. msg .. "' lacks '" .. frag .. "'")
end

-- The instruction sets this CPU runs, from the portable C up.
local function isas()
  local all, best, out = { "c", "avx2", "avx512" }, ember.core.getISA(), {}
  for _, isa in ipairs(all) do
    out[#out + 1] = isa
    if isa == best then break end
  end
  return out
end

-- f() with the kernels of isa, the CPU's own set back after (also on error).
local function with_isa(isa, f)
  local core = ember.core
  local was = core.getISA()
  core.setISA(isa)
  local ok, err = pcall(f)
  core.setISA(was)
  if not ok then error(err, 0) end
end

describe("nn.SpatialConvolution by Winograd", function()
  it("gives PyTorch's output by either algorithm, and auto picks Winograd here", function()
    for _, algo in ipairs{ "winograd", "im2col" } do
      local m, x, y = big3x3(algo)
      H.close(m:forward(x), y)
      if algo == "winograd" then
        assert.same({ 36, 11, 64, 6 }, m.wino_weight:size())
      else
        assert.is_nil(m.wino_weight)
      end
    end
    local m, x, y = big3x3(nil)
    H.close(m:forward(x), y)
    assert.same({ 36, 11, 64, 6 }, m.wino_weight:size())
  end)

  it("gives PyTorch's output by F(2x2, 3x3), which auto picks on 7x7 and 8x8 outputs below AVX-512", function()
    local m, x, y = big3x3("winograd2")
    H.close(m:forward(x), y)
    assert.same({ 16, 11, 64, 6 }, m.wino_weight:size())
    ember.manualSeed(5)
    for _, isa in ipairs(isas()) do
      with_isa(isa, function()
        for _, hw in ipairs{ 7, 8, 6 } do
          local a = nn.SpatialConvolution(64, 40, 3, 3, 1, 1, 1, 1)
          local r = nn.SpatialConvolution(64, 40, 3, 3, 1, 1, 1, 1)
          r.weight:copy(a.weight); r.bias:copy(a.bias); r.algo = "im2col"
          local x7 = ember.randn(1, 64, hw, hw)
          H.close(a:forward(x7), r:forward(x7), 1e-5)
          -- 9 blocks of 2x2 are too few; with AVX-512 reading the larger
          -- weight costs more than the product it saves
          if hw == 6 or isa == "avx512" then
            assert.is_true(a.wino_weight:nElement() == 0)
          else
            assert.same({ 16, 7, 64, 6 }, a.wino_weight:size())
          end
        end
      end)
    end
  end)

  it("gives PyTorch's output on 5x5 layers by F(2x2, 5x5), which auto picks from 32 input planes", function()
    -- PyTorch's F.conv2d case conv_big5x5 (1x48x28x28, 48 -> 64, pad 2)
    local x, y = H.ref("conv", "conv_big5x5.x"), H.ref("conv", "conv_big5x5.y")
    for _, algo in ipairs{ "winograd2", "im2col", false } do
      local m = nn.SpatialConvolution(48, 64, 5, 5, 1, 1, 2, 2)
      m.weight:copy(H.ref("conv", "conv_big5x5.w"))
      m.bias:copy(H.ref("conv", "conv_big5x5.b"))
      m.algo = algo or nil
      H.close(m:forward(x), y)
      if algo == "im2col" then
        assert.is_nil(m.wino_weight)
      else
        assert.same({ 36, 11, 48, 6 }, m.wino_weight:size())
      end
    end
    ember.manualSeed(7)
    local a = nn.SpatialConvolution(16, 32, 5, 5, 1, 1, 2, 2)   -- 16 planes: im2col
    local r = nn.SpatialConvolution(16, 32, 5, 5, 1, 1, 2, 2)
    r.weight:copy(a.weight); r.bias:copy(a.bias); r.algo = "winograd2"
    local x16 = ember.randn(1, 16, 20, 20)
    H.close(a:forward(x16), r:forward(x16), 1e-5)
    assert.equal(0, a.wino_weight:nElement())
    assert.same({ 36, 6, 16, 6 }, r.wino_weight:size())
  end)

  it("gives PyTorch's output on 1x7 and 7x1 layers by F(2, 7), which auto picks from 16 planes with AVX2", function()
    -- PyTorch's F.conv2d cases conv_big1x7 (2x48x28x28, 48 -> 40, pad 0,3)
    -- and conv_big7x1 (1x40x28x28, 40 -> 48, pad 3,0)
    for _, case in ipairs{ { "conv_big1x7", 48, 40, 1, 7 }, { "conv_big7x1", 40, 48, 7, 1 } } do
      local name, cin, cout, kh, kw = table.unpack(case)
      local x, y = H.ref("conv", name .. ".x"), H.ref("conv", name .. ".y")
      for _, isa in ipairs(isas()) do
        with_isa(isa, function()
          for _, algo in ipairs{ "winograd2", "im2col", false } do
            local m = nn.SpatialConvolution(cin, cout, kw, kh, 1, 1, (kw - 1) // 2, (kh - 1) // 2)
            m.weight:copy(H.ref("conv", name .. ".w"))
            m.bias:copy(H.ref("conv", name .. ".b"))
            m.algo = algo or nil
            H.close(m:forward(x), y)
            if algo == "im2col" then
              assert.is_nil(m.wino_weight)
            elseif algo or isa ~= "c" then
              assert.same({ 8, (cout + 5) // 6, cin, 6 }, m.wino_weight:size())
            else
              assert.equal(0, m.wino_weight:nElement())
            end
          end
        end)
      end
    end
    -- padded across its axis: by the product, and refused when forced
    local p = nn.SpatialConvolution(16, 16, 7, 1, 1, 1, 3, 1)
    local q = nn.SpatialConvolution(16, 16, 7, 1, 1, 1, 3, 1)
    q.weight:copy(p.weight); q.bias:copy(p.bias); q.algo = "im2col"
    local x9 = ember.randn(1, 16, 9, 9)
    H.close(p:forward(x9), q:forward(x9), 1e-6)
    assert.equal(0, p.wino_weight:nElement())
    p.algo = "winograd2"
    fails(function() p:forward(x9) end, "1x7 or 7x1 without padding across")
  end)

  it("transforms the weight again when the input size changes the tile", function()
    ember.manualSeed(6)
    local m = nn.SpatialConvolution(32, 16, 3, 3, 1, 1, 1, 1)
    local r = nn.SpatialConvolution(32, 16, 3, 3, 1, 1, 1, 1)
    r.weight:copy(m.weight); r.bias:copy(m.bias); r.algo = "im2col"
    with_isa(isas()[1], function()   -- the portable path: F(2x2, 3x3) at 7x7 on every CPU
      for _, hw in ipairs{ 16, 7, 20 } do
        local x = ember.randn(2, 32, hw, hw)
        H.close(m:forward(x), r:forward(x), 1e-5)
        assert.equal(hw == 7 and 16 or 36, m.wino_weight:size(1))
      end
    end)
  end)

  it("keeps the transformed weight between forwards and leaves it out of the state", function()
    local m, x = big3x3("winograd")
    m:forward(x)
    local u = m.wino_weight
    m:forward(x)
    assert.equal(u, m.wino_weight)
    local names = {}
    for name in pairs(m:state()) do names[#names + 1] = name end
    table.sort(names)
    assert.same({ "c.bias", "c.weight" }, names)
  end)

  it("transforms again after the weight is replaced, written in place, or reloaded", function()
    local m, x = big3x3("winograd")
    local ref = nn.SpatialConvolution(64, 64, 3, 3, 1, 1, 1, 1)
    ref.algo = "im2col"
    local function same()
      ref.weight:copy(m.weight); ref.bias:copy(m.bias)
      H.close(m:forward(x), ref:forward(x), 1e-5)
    end
    m:forward(x)
    -- replaced by another tensor
    m.weight = m.weight:clone():mul(0.5)
    same()
    -- :set to other storage (weights.apply without copy)
    m.weight:set(m.weight:clone():mul(-1))
    same()
    -- written in place, then declared
    m.weight:mul(3)
    m:weightsChanged()
    same()
    -- weights.apply with copy writes in place and drops the cache itself
    local w2 = m.weight:clone():mul(0.25)
    weights.apply(m, { ["c.weight"] = w2, ["c.bias"] = m.bias:clone() }, { copy = true })
    same()
    -- a batch norm folded into it
    local bn = nn.SpatialBatchNormalization(64)
    bn.running_mean:fill(0.5); bn.running_var:fill(2)
    bn:foldInto(m)
    same()
    m:clearState()
    assert.is_nil(m.wino_weight)
    same()
  end)

  it("runs odd sizes, batches and asymmetric padding", function()
    ember.manualSeed(3)
    local m = nn.SpatialConvolution(64, 24, 3, 3):setPadding(0, 1, 2, 1)
    m.algo = "winograd"
    local r = nn.SpatialConvolution(64, 24, 3, 3):setPadding(0, 1, 2, 1)
    r.weight:copy(m.weight); r.bias:copy(m.bias); r.algo = "im2col"
    local x = ember.randn(2, 64, 23, 19)
    H.close(m:forward(x), r:forward(x), 1e-5)
    assert.same({ 2, 24, 23, 19 }, m.output:size())
  end)

  it("refuses to force Winograd where it does not apply, and unknown algorithms", function()
    local m = nn.SpatialConvolution(8, 8, 3, 3, 2, 2, 1, 1)
    m.algo = "winograd"
    fails(function() m:forward(ember.randn(1, 8, 9, 9)) end,
          "SpatialConvolution(8 -> 8, 3x3, 2,2, 1,1): winograd needs a 3x3 kernel (winograd2 also 5x5, and 1x7 or 7x1 without padding across), stride 1, dilation 1 and groups 1, got 3x3, stride 2x2")
    local f = nn.SpatialConvolution(8, 8, 5, 5, 1, 1, 2, 2)
    f.algo = "winograd"   -- F(4x4, 3x3) only
    fails(function() f:forward(ember.randn(1, 8, 9, 9)) end, "winograd needs a 3x3 kernel (winograd2 also 5x5")
    local c = nn.SpatialConvolution(8, 8, 3, 3, 1, 1, 1, 1)
    c.algo = "fft"
    fails(function() c:forward(ember.randn(1, 8, 9, 9)) end, "invalid option 'fft'")
  end)
end)
