-- shape_spec.lua -- the shape layers (JoinTable, Concat, View, Reshape, Flatten,
-- Dropout, padding, upsampling, ChannelShuffle, CAdd/CMulTable) against ONNX
-- conformance cases and PyTorch (spec/ref/ref_shape.py); printing, errors.

local ember = require "ember"
local nn = require "ember.nn"
local core = require "ember.core"
local H = require "helper"

local function onnx(name) return H.ref("shape", name) end
local function ref(name) return H.ref("shape_torch", name) end

-- The same values with transposed strides: a non-contiguous input.
local function strided(t)
  return t:transpose(t:dim() - 1, t:dim()):contiguous():transpose(t:dim() - 1, t:dim())
end

local function ints(t)
  local out = {}
  for i, v in ipairs(t:totable()) do out[i] = math.tointeger(v) end
  return out
end

-- pcall(m.forward, m, ...) and the message it raised.
local function fails(m, input) return H.message(m.forward, m, input) end

-- Asserts the module's second forward of the same shape reuses the output
-- storage (a view of the first output is kept, so the storage is shared).
local function assert_reuses(m, input)
  local first = m:forward(input)
  local keep = first:view(-1)
  local second = m:forward(input)
  assert.is_true(keep:isSameStorage(second))
end

describe("JoinTable against ONNX Concat", function()
  for _, c in ipairs{ "1d_axis_0", "1d_axis_negative_1", "2d_axis_0", "2d_axis_1",
                      "2d_axis_negative_1", "2d_axis_negative_2", "3d_axis_0", "3d_axis_1",
                      "3d_axis_2", "3d_axis_negative_1", "3d_axis_negative_2",
                      "3d_axis_negative_3" } do
    local case = "test_concat_" .. c
    it(case, function()
      local axis = tonumber(c:match("axis_(%d+)$")) or -tonumber(c:match("negative_(%d+)$"))
      local dim = axis >= 0 and axis + 1 or axis
      local out = nn.JoinTable(dim):forward{ onnx(case .. ".in0"), onnx(case .. ".in1") }
      H.close(out, onnx(case .. ".out0"))
    end)
  end
end)

describe("View and Reshape against ONNX Reshape", function()
  for _, c in ipairs{ "extended_dims", "negative_dim", "negative_extended_dims", "one_dim",
                      "reduced_dims", "reordered_all_dims", "reordered_last_dims" } do
    local case = "test_reshape_" .. c
    it(case, function()
      local x, want = onnx(case .. ".in0"), onnx(case .. ".out0")
      local shape = ints(onnx(case .. ".in1"))
      H.close(nn.View(table.unpack(shape)):forward(x), want)
      local infer = false
      for _, s in ipairs(shape) do infer = infer or s == -1 end
      if not infer then H.close(nn.Reshape(table.unpack(shape)):forward(x), want) end
    end)
  end
end)

describe("Flatten against ONNX Flatten", function()
  for _, c in ipairs{ "axis0", "axis1", "axis2", "axis3", "default_axis", "negative_axis1",
                      "negative_axis2", "negative_axis3", "negative_axis4" } do
    local case = "test_flatten_" .. c
    it(case, function()
      local x, want = onnx(case .. ".in0"), onnx(case .. ".out0")
      local axis = c == "default_axis" and 1 or tonumber(c:match("(%d)$"))
      if c:find("negative") then axis = x:dim() - axis end
      local m = axis == 0 and nn.View(1, -1)
                or nn.Sequential():add(nn.Flatten(1, axis)):add(nn.Flatten(2))
      H.close(m:forward(x), want)
      if axis == 1 then H.close(nn.Flatten():forward(x), want) end
    end)
  end
end)

describe("padding against ONNX Pad", function()
  -- ONNX pads: begins of N,C,H,W then ends; only H and W are padded here
  local function pads(case)
    local p = ints(onnx(case .. ".in1"))
    return p[4], p[8], p[3], p[7]   -- left, right, top, bottom
  end

  it("test_constant_pad (value 1.2)", function()
    local l, r, t, b = pads("test_constant_pad")
    local value = onnx("test_constant_pad.in2"):clone():view(-1)[1]
    local out = core.pad2d(onnx("test_constant_pad.in0"), core.tensor(), l, r, t, b, "zero", value)
    H.close(out, onnx("test_constant_pad.out0"))
  end)

  it("test_reflect_pad", function()
    local m = nn.SpatialReflectionPadding(pads("test_reflect_pad"))
    H.close(m:forward(onnx("test_reflect_pad.in0")), onnx("test_reflect_pad.out0"))
  end)

  it("test_edge_pad", function()
    local m = nn.SpatialReplicationPadding(pads("test_edge_pad"))
    H.close(m:forward(onnx("test_edge_pad.in0")), onnx("test_edge_pad.out0"))
  end)
end)

describe("upsampling against ONNX Upsample and Resize", function()
  local function size_of(case)
    local s = onnx(case .. ".out0"):size()
    return s[3], s[4]
  end
  for _, case in ipairs{ "test_upsample_nearest", "test_resize_upsample_scales_nearest",
                         "test_resize_upsample_sizes_nearest",
                         "test_resize_downsample_scales_nearest" } do
    it(case, function()
      local oh, ow = size_of(case)
      local m = nn.SpatialUpSamplingNearest{ oheight = oh, owidth = ow }
      H.close(m:forward(onnx(case .. ".in0")), onnx(case .. ".out0"))
    end)
  end
  for _, case in ipairs{ "test_resize_upsample_scales_linear",
                         "test_resize_upsample_scales_linear_align_corners" } do
    it(case, function()
      local oh, ow = size_of(case)
      local m = nn.SpatialUpSamplingBilinear{ oheight = oh, owidth = ow,
                                              align_corners = case:find("align_corners") ~= nil }
      H.close(m:forward(onnx(case .. ".in0")), onnx(case .. ".out0"))
    end)
  end
end)

describe("concatenation against torch.cat", function()
  local a, b, c = ref("cat_in0"), ref("cat_in1"), ref("cat_in2")

  it("joins along channels, rows and the batch, strided inputs too", function()
    H.close(nn.JoinTable(2):forward{ a, b, c }, ref("cat_dim2"))
    H.close(nn.JoinTable(2):forward{ strided(a), b, strided(c) }, ref("cat_dim2"))
    H.close(nn.JoinTable(-3):forward{ a, b, c }, ref("cat_dim2"))
    H.close(nn.JoinTable(3):forward{ a, strided(ref("cat_rows_in")) }, ref("cat_dim3"))
    H.close(nn.JoinTable(1):forward{ a, ref("cat_batch_in") }, ref("cat_dim1"))
  end)

  it("shifts dim for a batch when nInputDims is given, as Torch7", function()
    H.close(nn.JoinTable(1, 3):forward{ a, b, c }, ref("cat_dim2"))
    H.close(nn.JoinTable(1, 3):forward{ a[1], b[1], c[1] }, ref("cat_dim2")[1])
  end)

  it("nn.Concat(2) feeds each child the input and joins the channels", function()
    local x = ref("x")
    local m = nn.Concat(2):add(nn.Identity()):add(nn.ChannelShuffle(3))
      :add(nn.SpatialZeroPadding(-1, 1, 1, -1))
    H.close(m:forward(x), ref("concat_children"))
    H.close(m:forward(strided(x)), ref("concat_children"))
    assert_reuses(m, x)
  end)

  it("reuses its output between forwards of one shape", function()
    assert_reuses(nn.JoinTable(2), { a, b, c })
  end)
end)

describe("ChannelShuffle against view/transpose/view", function()
  local x = ref("x")
  it("shuffles 2, 3 and 6 groups of N,C,H,W, strided too", function()
    for _, g in ipairs{ 2, 3, 6 } do
      H.close(nn.ChannelShuffle(g):forward(x), ref("shuffle_g" .. g))
      H.close(nn.ChannelShuffle(g):forward(strided(x)), ref("shuffle_g" .. g))
    end
  end)
  it("takes one C,H,W image", function()
    local m = nn.ChannelShuffle(2)
    H.close(m:forward(x[1]), ref("shuffle_3d_g2"))
    H.close(m:forward(strided(x[1])), ref("shuffle_3d_g2"))
  end)
  it("reuses its output", function() assert_reuses(nn.ChannelShuffle(3), x) end)
  it("shuffles a table of tensors as their channel concatenation", function()
    -- x's channels in three parts, one a strided view
    local c = x:size(2)
    local parts = { x:narrow(2, 1, 1), strided(x:narrow(2, 2, c - 3)), x:narrow(2, c - 1, 2) }
    for _, g in ipairs{ 2, 3, 6 } do
      H.close(nn.ChannelShuffle(g):forward(parts), ref("shuffle_g" .. g))
    end
  end)
end)

describe("Slice", function()
  -- x[:, 2:5] etc. by index arithmetic on the flat values (no ember op)
  local x = ember.Tensor(2, 6, 3, 4)
  local flat = {}
  for i = 1, x:nElement() do flat[i] = i * 37 % 101 - 50 end   -- exact in float32
  x:copy(ember.Tensor(flat):view(2, 6, 3, 4))
  local function expect(n0, n1, c0, c1, cstep)
    local out = {}
    for n = n0, n1 do
      local plane = {}
      for c = c0, c1, cstep do
        local rows = {}
        for h = 0, 2 do
          local row = {}
          for w = 0, 3 do row[w + 1] = flat[((n * 6 + c) * 3 + h) * 4 + w + 1] end
          rows[h + 1] = row
        end
        plane[#plane + 1] = rows
      end
      out[#out + 1] = plane
    end
    return out
  end

  it("is a view of the input where the part is contiguous (channels of one image)", function()
    local one = x:narrow(1, 2, 1):contiguous()
    local m = nn.Slice({ 2 }, { 1 }, { 4 })
    local y = m:forward(one)
    assert.same({ 1, 3, 3, 4 }, y:size())
    assert.is_true(y:isSameStorage(one))
    assert.same(expect(1, 1, 1, 3, 1), y:totable())
    -- clamped and negative bounds, as ONNX
    assert.same(expect(1, 1, 3, 5, 1), nn.Slice({ -3 }, { -3 }, { 1 << 40 }):forward(one):totable())
  end)

  it("copies a strided part (channels of a batch, steps), into its own output", function()
    local m = nn.Slice({ 2 }, { 2 }, { 5 })
    local y = m:forward(x)
    assert.is_false(y:isSameStorage(x))
    assert.same(expect(0, 1, 2, 4, 1), y:totable())
    assert.same(expect(0, 1, 0, 5, 2), nn.Slice({ 2 }, { 0 }, { 6 }, { 2 }):forward(x):totable())
    assert.same(expect(0, 1, 5, 1, -2), nn.Slice({ 2 }, { 5 }, { 0 }, { -2 }):forward(x):totable())
    assert.same({ 2, 0, 3, 4 }, nn.Slice({ 2 }, { 4 }, { 2 }):forward(x):size())
  end)

  it("copies into its own output after a forward that viewed its input", function()
    local one = x:narrow(1, 2, 1):contiguous()
    local kept = one:clone()
    local m = nn.Slice({ 2 }, { 2 }, { 5 })
    assert.is_true(m:forward(one):isSameStorage(one))
    local y = m:forward(x)
    assert.is_false(y:isSameStorage(one))
    assert.same(expect(0, 1, 2, 4, 1), y:totable())
    assert.same(kept:totable(), one:totable())   -- the viewed input is untouched
    assert.same(expect(1, 1, 2, 4, 1), m:forward(one):totable())
  end)
end)

describe("ReduceMean", function()
  -- means by plain Lua loops over totable()
  local x = ember.Tensor(2, 3, 4, 5):uniform(-1, 1)
  local t = x:totable()
  local function mean_hw(keep)
    local out = {}
    for n = 1, 2 do
      out[n] = {}
      for c = 1, 3 do
        local s = 0
        for h = 1, 4 do for w = 1, 5 do s = s + t[n][c][h][w] end end
        out[n][c] = keep and { { s / 20 } } or s / 20
      end
    end
    return out
  end
  local function close(a, b)
    if type(a) == "table" then
      for i = 1, #a do close(a[i], b[i]) end
      assert.equal(#a, #b)
    else
      assert.is_true(math.abs(a - b) < 1e-6, a .. " vs " .. b)
    end
  end

  it("averages the trailing dims (a global pool) in one pass, kept or dropped", function()
    close(mean_hw(true), nn.ReduceMean({ 3, 4 }):forward(x):totable())
    close(mean_hw(true), nn.ReduceMean({ -1, -2 }, true):forward(x):totable())
    close(mean_hw(false), nn.ReduceMean({ 3, 4 }, false):forward(x):totable())
    assert.same({ 2, 3, 1, 1 }, nn.ReduceMean({ 4, 3 }):forward(x):size())
  end)

  it("gives the same for a strided input and for other dims", function()
    close(mean_hw(true), nn.ReduceMean({ 3, 4 }):forward(strided(x)):totable())
    local y = nn.ReduceMean({ 2 }, false):forward(x)
    assert.same({ 2, 4, 5 }, y:size())
    local s = 0
    for c = 1, 3 do s = s + t[2][c][4][5] end
    close(s / 3, y[2][4][5])
  end)
end)

describe("padding against F.pad", function()
  local x = ref("x")
  it("reflects, up to size - 1", function()
    H.close(nn.SpatialReflectionPadding(2, 1, 0, 4):forward(x), ref("pad_reflect"))
    H.close(nn.SpatialReflectionPadding(2, 1, 0, 4):forward(strided(x)), ref("pad_reflect"))
    H.close(nn.SpatialReflectionPadding(6, 6, 4, 4):forward(x), ref("pad_reflect_max"))
    H.close(nn.SpatialReflectionPadding(1, 1, 2, 2):forward(x[1]), ref("pad_reflect_3d"))
  end)
  it("replicates the edge", function()
    H.close(nn.SpatialReplicationPadding(3, 0, 2, 1):forward(strided(x)), ref("pad_replicate"))
  end)
  it("pads with zeros, and crops with negative pads as Torch7", function()
    H.close(nn.SpatialZeroPadding(1, 2, 3, 4):forward(x), ref("pad_zero"))
    H.close(nn.SpatialZeroPadding(-1, 2, 3, -2):forward(x), ref("pad_zero_crop"))
  end)
  it("defaults the missing pads to padLeft", function()
    assert.same({ 2, 6, 9, 11 }, nn.SpatialZeroPadding(2):forward(x):size())
  end)
  it("reuses its output", function() assert_reuses(nn.SpatialReflectionPadding(1, 2, 3, 4), x) end)
end)

describe("upsampling against F.interpolate", function()
  local x = ref("x")
  it("nearest: Torch7's integer scale and any size (PyTorch's floor rule)", function()
    H.close(nn.SpatialUpSamplingNearest(2):forward(x), ref("nearest_x2"))
    H.close(nn.SpatialUpSamplingNearest(2):forward(strided(x)), ref("nearest_x2"))
    H.close(nn.SpatialUpSamplingNearest{ oheight = 11, owidth = 4 }:forward(x), ref("nearest_11x4"))
    H.close(nn.SpatialUpSamplingNearest{ oheight = 3, owidth = 17 }:forward(x), ref("nearest_3x17"))
  end)
  it("bilinear, Torch7's scale: (in - 1) * scale + 1 with aligned corners", function()
    local m = nn.SpatialUpSamplingBilinear(3)
    H.close(m:forward(x), ref("bilinear_t7_x3"))
    H.close(m:forward(strided(x)), ref("bilinear_t7_x3"))
    H.close(nn.SpatialUpSamplingBilinear{ oheight = 4, owidth = 11 }:forward(x), ref("bilinear_ac_4x11"))
  end)
  it("bilinear with align_corners = false (PyTorch's default)", function()
    H.close(nn.SpatialUpSamplingBilinear{ scale_factor = 2, align_corners = false }:forward(x),
            ref("bilinear_x2"))
    H.close(nn.SpatialUpSamplingBilinear{ oheight = 3, owidth = 9, align_corners = false }
              :forward(x), ref("bilinear_3x9"))
    H.close(nn.SpatialUpSamplingBilinear{ oheight = 9, owidth = 3, align_corners = false }
              :forward(x), ref("bilinear_9x3"))
  end)
  it("takes one C,H,W image", function()
    H.close(nn.SpatialUpSamplingBilinear(3):forward(x[2]), ref("bilinear_t7_x3")[2])
    H.close(nn.SpatialUpSamplingNearest(2):forward(x[2]), ref("nearest_x2")[2])
  end)
  it("reuses its output", function()
    assert_reuses(nn.SpatialUpSamplingNearest(2), x)
    assert_reuses(nn.SpatialUpSamplingBilinear(2), x)
  end)
end)

describe("CAddTable and CMulTable", function()
  local x, p, q, s = ref("x"), ref("p"), ref("q"), ref("s")
  it("sum a table, broadcasting N,C,1,1", function()
    H.close(nn.CAddTable():forward{ x, p, q }, ref("cadd"))
    H.close(nn.CAddTable():forward{ strided(x), p, strided(q) }, ref("cadd"))
    H.close(nn.CAddTable():forward{ x, s }, ref("cadd_bcast"))
    H.close(nn.CAddTable():forward{ s, x }, ref("cadd_bcast"))
  end)
  it("in place, write the sum into the first tensor", function()
    local y = x:clone()
    local out = nn.CAddTable(true):forward{ y, s }
    H.close(out, ref("cadd_bcast"))
    assert.is_true(out:isSameStorage(y))
    H.close(y, ref("cadd_bcast"))
  end)
  it("multiply a table (squeeze-and-excitation's x * s)", function()
    H.close(nn.CMulTable():forward{ x, s }, ref("cmul_se"))
    H.close(nn.CMulTable():forward{ x, p, q }, ref("cmul3"))
  end)
  it("leave the inputs alone and reuse the output", function()
    local keep = x:clone()
    local m = nn.CAddTable()
    m:forward{ x, p }
    assert.equal(0, H.maxdiff(x, keep))
    assert_reuses(m, { x, p })
    assert_reuses(nn.CMulTable(), { x, s })
  end)
end)

describe("View, Reshape, Flatten with Torch7's batch rules", function()
  local x = ref("x")                       -- 2x6x5x7
  local x1 = x:narrow(1, 1, 1):clone()     -- 1x6x5x7
  it("View(-1):setNumInputDims(3) flattens each sample", function()
    assert.same({ 2, 210 }, nn.View(-1):setNumInputDims(3):forward(x):size())
    assert.same({ 1, 210 }, nn.View(-1):setNumInputDims(3):forward(x1):size())
    assert.same({ 420 }, nn.View(-1):forward(x):size())
    assert.same({ 2, 6, 35 }, nn.View(6, 35):forward(x):size())   -- leftover is the batch
    assert.same({ 2, 3, 70 }, nn.View(3, 70):setNumInputDims(3):forward(x):size())
  end)
  it("View shares the input's memory and copies a strided one", function()
    local out = nn.View(-1):setNumInputDims(3):forward(x)
    assert.is_true(out:isSameStorage(x))
    H.close(nn.View(2, 210):forward(strided(x)), ref("flatten2"))
  end)
  it("Reshape keeps a batch dim when it has more elements or a size-1 first dim", function()
    assert.same({ 2, 210 }, nn.Reshape(210):forward(x):size())
    assert.same({ 1, 210 }, nn.Reshape(210):forward(x1):size())
    assert.same({ 210 }, nn.Reshape(210, false):forward(x1):size())
    assert.same({ 420 }, nn.Reshape(420):forward(x):size())
    assert.same({ 2, 2, 105 }, nn.Reshape(2, 105, true):forward(x):size())
    H.close(nn.Reshape(210):forward(strided(x)), ref("flatten2"))
  end)
  it("Flatten keeps N, even N = 1 (PyTorch's nn.Flatten)", function()
    H.close(nn.Flatten():forward(x), ref("flatten2"))
    H.close(nn.Flatten(2, 3):forward(x), ref("flatten_2_3"))
    H.close(nn.Flatten(-3, -2):forward(x), ref("flatten_2_3"))
    assert.same({ 1, 210 }, nn.Flatten():forward(x1):size())
  end)
  it("keep one output tensor across forwards", function()
    local m = nn.View(-1):setNumInputDims(3)
    assert.is_true(rawequal(m:forward(x), m:forward(x)))
  end)
end)

describe("Dropout and Identity at inference", function()
  local x = ref("x")
  it("Dropout passes the input through, in evaluate and training alike", function()
    local m = nn.Dropout(0.4)
    assert.is_true(rawequal(m:forward(x), x))
    m:training()
    assert.is_true(rawequal(m:forward(x), x))
  end)
  it("Torch7's v1 Dropout scales by 1 - p", function()
    H.close(nn.Dropout(0.25, true):forward(x), ref("dropout_v1_p025"))
  end)
  it("Identity returns its input, tensor or table", function()
    local t = { x }
    assert.is_true(rawequal(nn.Identity():forward(x), x))
    assert.is_true(rawequal(nn.Identity():forward(t), t))
  end)
end)

describe("shape layers print as Torch7", function()
  it("has Torch7's descriptions", function()
    assert.equal("nn.View(-1, 4)", tostring(nn.View(-1, 4)))
    assert.equal("nn.Reshape(2x12)", tostring(nn.Reshape(2, 12)))
    assert.equal("nn.Dropout(0.500000)", tostring(nn.Dropout()))
    assert.equal("nn.SpatialZeroPadding(l=1, r=2, t=3, b=4)", tostring(nn.SpatialZeroPadding(1, 2, 3, 4)))
    assert.equal("nn.SpatialReflectionPadding(l=1, r=1, t=1, b=1)",
                 tostring(nn.SpatialReflectionPadding(1)))
    assert.equal("nn.SpatialReplicationPadding(l=0, r=1, t=2, b=3)",
                 tostring(nn.SpatialReplicationPadding(0, 1, 2, 3)))
    assert.equal("nn.SpatialUpSamplingNearest", tostring(nn.SpatialUpSamplingNearest(2)))
    assert.equal("nn.SpatialUpSamplingBilinear(2)", tostring(nn.SpatialUpSamplingBilinear(2)))
    assert.equal("nn.SpatialUpSamplingBilinear(4, 6)",
                 tostring(nn.SpatialUpSamplingBilinear{ oheight = 4, owidth = 6 }))
    assert.equal("nn.SpatialUpSamplingBilinear(scale_factor=2, align_corners=false)",
                 tostring(nn.SpatialUpSamplingBilinear{ scale_factor = 2, align_corners = false }))
    assert.equal("nn.ChannelShuffle(3)", tostring(nn.ChannelShuffle(3)))
    assert.equal("nn.Flatten(2)", tostring(nn.Flatten()))
    assert.equal("nn.Identity", tostring(nn.Identity()))
    assert.equal("nn.JoinTable", tostring(nn.JoinTable(2)))
    assert.equal("nn.CAddTable", tostring(nn.CAddTable()))
    assert.equal("nn.CMulTable", tostring(nn.CMulTable()))
  end)
end)

describe("shape layers reject bad input with both sizes", function()
  local x = ref("x")   -- 2x6x5x7
  it("padding", function()
    assert.equal("SpatialReflectionPadding(l=7, r=0, t=0, b=0): reflection padding (l=7, r=0, "
                 .. "t=0, b=0) must be less than the input size 5x7 (input 2x6x5x7)",
                 fails(nn.SpatialReflectionPadding(7, 0, 0, 0), x))
    assert.equal("SpatialReflectionPadding(l=0, r=0, t=5, b=0): reflection padding (l=0, r=0, "
                 .. "t=5, b=0) must be less than the input size 5x7 (input 2x6x5x7)",
                 fails(nn.SpatialReflectionPadding(0, 0, 5, 0), x))
    assert.equal("SpatialZeroPadding(l=-4, r=-3, t=0, b=0): padding (l=-4, r=-3, t=0, b=0) of "
                 .. "a 5x7 input leaves 5x0", fails(nn.SpatialZeroPadding(-4, -3, 0, 0), x))
    assert.equal("SpatialZeroPadding(l=1, r=1, t=1, b=1): expected a 3D or 4D input (C,H,W or "
                 .. "N,C,H,W), got 5x7", fails(nn.SpatialZeroPadding(1), x[1][1]))
  end)
  it("concatenation", function()
    assert.equal("JoinTable: input 2 size 2x6x5x6 does not match 2x6x5x7 outside dim 2",
                 fails(nn.JoinTable(2), { x, x:narrow(4, 1, 6) }))
    assert.equal("JoinTable: input 2 has 3 dimensions (6x5x7), input 1 has 4 (2x6x5x7)",
                 fails(nn.JoinTable(2), { x, x[1] }))
    assert.equal("JoinTable: element 2 of the table is a number, expected ember.Tensor",
                 fails(nn.JoinTable(2), { x, 3 }))
    assert.equal("Concat(2): child 2 output 2x6x4x6 does not match 2x6x5x7 outside dim 2",
                 fails(nn.Concat(2):add(nn.Identity()):add(nn.SpatialZeroPadding(0, -1, 0, -1)), x))
    assert.equal("Concat(5): dim 5 out of range for child outputs of 4 dimensions (2x6x5x7)",
                 fails(nn.Concat(5):add(nn.Identity()), x))
    assert.equal("Concat(2): has no children", fails(nn.Concat(2), x))
  end)
  it("shuffle, views and tables", function()
    assert.equal("ChannelShuffle(4): 6 channels (input 2x6x5x7) are not divisible by 4 groups",
                 fails(nn.ChannelShuffle(4), x))
    assert.equal("View(4, 4): input view (2x6x5x7) and desired view (4x4) do not match",
                 fails(nn.View(4, 4), x))
    assert.equal("Reshape(11): input 2x6x5x7 (420 elements) cannot be reshaped to 2x11 "
                 .. "(22 elements)", fails(nn.Reshape(11), x))
    assert.equal("Flatten(5): dims 5 to -1 do not fit a 4-dimensional input 2x6x5x7",
                 fails(nn.Flatten(5), x))
    assert.equal("CAddTable: expected a table of tensors, got a tensor 2x6x5x7",
                 fails(nn.CAddTable(), x))
    local msg = fails(nn.CAddTable(), { x, x:narrow(2, 1, 5) })
    assert.truthy(msg:find("^CAddTable: input 2 %(2x5x5x7%) does not broadcast with 2x6x5x7"))
    assert.equal("CMulTable: expected a table of tensors, got an empty table",
                 fails(nn.CMulTable(), {}))
  end)
  it("upsampling", function()
    assert.equal("SpatialUpSamplingBilinear(scale_factor=0.1): scale_factor 0.1 makes a 5x7 "
                 .. "input 0x0", fails(nn.SpatialUpSamplingBilinear{ scale_factor = 0.1 }, x))
    assert.equal("SpatialUpSamplingNearest: expected a 3D or 4D input (C,H,W or N,C,H,W), "
                 .. "got 420", fails(nn.SpatialUpSamplingNearest(2), x:view(-1)))
  end)
  it("bad constructor arguments", function()
    for _, f in ipairs{
      function() nn.View(0) end, function() nn.View(-1, -1) end, function() nn.View() end,
      function() nn.Reshape(-1) end, function() nn.Dropout(1) end,
      function() nn.SpatialUpSamplingNearest(1.5) end,
      function() nn.SpatialUpSamplingBilinear{ oheight = 2 } end,
      function() nn.SpatialUpSamplingBilinear{ scale_factor = 2, align_corners = 1 } end,
      function() nn.ChannelShuffle(0) end, function() nn.Concat(0) end,
      function() nn.JoinTable(1.5) end, function() nn.SpatialZeroPadding(1.5) end,
      function() nn.CAddTable("yes") end, function() nn.Flatten(0) end,
    } do
      assert.has_error(f)
    end
  end)
  it("core.pad2d names a bad mode", function()
    assert.has_error(function() core.pad2d(x, core.tensor(), 1, 1, 1, 1, "wrap") end,
                     "bad argument #7 to 'pad2d' (invalid option 'wrap')")
  end)
end)
