-- spec/classify_spec.lua -- apps/classify.lua run as a program: its output
-- format, options, per-image errors and exit status.

local ember = require "ember"
local H = require "helper"

local ROOT = os.getenv("PWD") or "."
local EMBER = os.getenv("EMBER") or "./ember"
if EMBER:sub(1, 1) ~= "/" then EMBER = ROOT .. "/" .. EMBER:gsub("^%./", "") end
local APP = ROOT .. "/apps/classify.lua"

local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p " .. tmpdir .. "/nets " .. tmpdir .. "/weights"))

-- Runs the app with a shell argument string; stdout, stderr, exit code.
local function run(args, cwd)
  local errf = tmpdir .. "/stderr.txt"
  local cmd = string.format("cd %s && %s %s %s 2>%s", cwd or ROOT, EMBER, APP, args, errf)
  local p = io.popen(cmd)
  local out = p:read("a")
  local _, _, code = p:close()
  local f = io.open(errf)
  local err = f and f:read("a") or ""
  if f then f:close() end
  return out, err, code
end

local function lines(text)
  local t = {}
  for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- "label (score = 0.12345)" -> label, score
local function parse(line)
  local label, score = line:match("^(.-) %(score = (%d%.%d%d%d%d%d)%)$")
  return label, tonumber(score)
end

-- A toy net: the mean of each colour channel (and of all three, "grey"),
-- then a softmax over four classes; labels in its declaration.
local NET = [[
return {
  build = function()
    return nn.Sequential()
      :add(nn.SpatialAdaptiveAveragePooling(1, 1))
      :add(nn.View(-1):setNumInputDims(3))
      :add(nn.Linear(3, 4):named("fc"))
      :add(nn.SoftMax())
  end,
  input = { 3, 8, 8 },
  preprocess = { resize = { 8, 8 } },
  labels = { "red", "green", "blue", "grey" },
}
]]

local netfile = tmpdir .. "/nets/toy.lua"
local weights = tmpdir .. "/weights/toy.safetensors"
local red, blue, bad = tmpdir .. "/red.png", tmpdir .. "/blue.png", tmpdir .. "/bad.jpg"

describe("apps/classify.lua", function()
  setup(function()
    local f = assert(io.open(netfile, "w"))
    f:write(NET)
    f:close()
    local m = ember.load{ net = netfile }
    local w = m.net:state()
    w["fc.weight"]:copy(ember.Tensor{ { 8, 0, 0 }, { 0, 8, 0 }, { 0, 0, 8 }, { 2, 2, 2 } })
    w["fc.bias"]:zero()
    ember.save(m.net, weights)
    local img = ember.Tensor(3, 20, 30):zero()
    img[1]:fill(0.9)
    img[3]:fill(0.2)
    ember.image.save(red, img)
    img = ember.Tensor(3, 10, 10):zero()
    img[3]:fill(1)
    ember.image.save(blue, img)
    f = assert(io.open(bad, "w"))
    f:write("not a picture")
    f:close()
    f = assert(io.open(tmpdir .. "/colours.txt", "w"))
    f:write("Red\nGreen\nBlue\nGrey\n")
    f:close()
  end)

  teardown(function() os.execute("rm -rf " .. tmpdir) end)

  it("prints each image's path, then its K best classes best first", function()
    local out, err, code = run(string.format("--net %s --weights %s --top 3 %s %s", netfile, weights, red, blue))
    assert.equal(0, code, err)
    local l = lines(out)
    assert.equal(8, #l)
    assert.equal(red, l[1])
    assert.equal(blue, l[5])
    local scores = {}
    for i, line in ipairs{ l[2], l[3], l[4] } do
      local label, score = parse(line)
      assert.is_not_nil(label, "bad line: " .. line)
      scores[i] = score
    end
    assert.equal("red", (parse(l[2])))
    assert.equal("blue", (parse(l[6])))
    assert.is_true(scores[1] >= scores[2] and scores[2] >= scores[3])
    -- the scores are the net's softmax: red's first is that of its means
    local e = { math.exp(8 * 0.9), 1, math.exp(8 * 0.2), math.exp(2 * 1.1) }
    local sum = e[1] + e[2] + e[3] + e[4]
    assert.near(e[1] / sum, scores[1], 2e-4)
  end)

  it("takes --labels and --model NAME", function()
    local out, err, code = run(string.format("--model toy --labels colours.txt --top 1 %s", red), tmpdir)
    assert.equal(0, code, err)
    assert.same({ red, "Red (score = " .. out:match("score = ([%d.]+)") .. ")" }, lines(out))
  end)

  it("reports a bad image with its path and reason, goes on, and exits 1", function()
    local missing = tmpdir .. "/missing.png"
    local out, err, code = run(string.format("--net %s --weights %s --top 2 %s %s %s", netfile, weights, bad, red, missing))
    assert.equal(1, code)
    local l = lines(out)
    assert.equal(3, #l)
    assert.equal(red, l[1])
    local e = lines(err)
    assert.equal(2, #e)
    assert.matches("^classify: " .. bad:gsub("%p", "%%%0") .. ": not an image", e[1])
    assert.matches("^classify: " .. missing:gsub("%p", "%%%0") .. ": cannot open", e[2])
  end)

  it("exits 2 with its usage on bad arguments, 1 when the model does not load", function()
    for _, args in ipairs{ red, "--top 0 --model toy " .. red, "--net " .. netfile .. " " .. red,
                           "--model toy", "--frobnicate 1 --model toy " .. red, "--model toy --top" } do
      local out, err, code = run(args)
      assert.equal(2, code, args)
      assert.equal("", out)
      assert.matches("usage: ", err)
    end
    local _, err, code = run("--model no_such_net " .. red)
    assert.equal(1, code)
    assert.matches("no net named 'no_such_net'", err)
  end)

  it("classifies photos with Tiny Darknet read from darknet's files", function()
    if not H.shared("classify with Tiny Darknet") then return end
    local out, err, code = run(string.format("--darknet %s/imagenet/tiny-darknet.cfg %s/imagenet/tiny-darknet.weights "
      .. "--labels %s/imagenet/darknet-labels.txt %s/photos/parrot.jpg %s/photos/coffee.png",
      H.SHARED, H.SHARED, H.SHARED, H.SHARED, H.SHARED))
    assert.equal(0, code, err)
    local l = lines(out)
    assert.equal(12, #l)
    assert.equal("macaw", (parse(l[2])))
    assert.equal("espresso", (parse(l[8])))
    -- darknet's own top-5 for coffee.png, when make refs has run it
    local f = io.open(H.REF .. "/darknet/coffee.png.txt")
    if f then
      local k = 0
      for line in f:lines() do
        local p, label = line:match("^(%S+)\t(.*)$")
        if p then
          k = k + 1
          local got, score = parse(l[7 + k])
          assert.equal(label, got)
          assert.near(tonumber(p), score, 1e-4)
        end
      end
      f:close()
      assert.equal(5, k)
    end
  end)
end)
