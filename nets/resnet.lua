-- nets/resnet.lua -- the ResNet family (He et al. 2015, "Deep Residual Learning")
-- in torchvision's layout: layer names are torchvision's state_dict keys.
--
-- Not a net itself: a member's net file includes it and picks the block and
-- the number of blocks per stage, as torchvision's resnet18() calls ResNet():
--
--   return include("resnet").resnet("basic", { 2, 2, 2, 2 })   -- nets/resnet18.lua

local function conv(name, nin, nout, k, stride, pad)
  return nn.SpatialConvolution(nin, nout, k, k, stride, stride, pad, pad):noBias():named(name)
end

local function bn(name, n)
  return nn.SpatialBatchNormalization(n, 1e-5):named(name)
end

-- Two 3x3 convolutions (ResNet-18, 34): width in and out.
local function basic(name, nin, width, stride)
  return nn.Sequential()
    :add(conv(name .. ".conv1", nin, width, 3, stride, 1))
    :add(bn(name .. ".bn1", width))
    :add(nn.ReLU(true))
    :add(conv(name .. ".conv2", width, width, 3, 1, 1))
    :add(bn(name .. ".bn2", width))
end

-- 1x1 reduce, 3x3, 1x1 expand to 4 x width (ResNet-50 and deeper); v1.5: the
-- stride sits on the 3x3 conv.
local function bottleneck(name, nin, width, stride)
  return nn.Sequential()
    :add(conv(name .. ".conv1", nin, width, 1, 1, 0))
    :add(bn(name .. ".bn1", width))
    :add(nn.ReLU(true))
    :add(conv(name .. ".conv2", width, width, 3, stride, 1))
    :add(bn(name .. ".bn2", width))
    :add(nn.ReLU(true))
    :add(conv(name .. ".conv3", width, width * 4, 1, 1, 0))
    :add(bn(name .. ".bn3", width * 4))
end

-- A block's body and how many times its width it outputs.
local blocks = {
  basic = { body = basic, expansion = 1 },
  bottleneck = { body = bottleneck, expansion = 4 },
}

-- The body plus the input; a strided 1x1 projection ("downsample") when the
-- size or width changes.
local function residual(name, block, nin, width, stride)
  local nout = width * block.expansion
  local body = block.body(name, nin, width, stride)
  local shortcut = nn.Identity()
  if stride ~= 1 or nin ~= nout then
    shortcut = nn.Sequential()
      :add(conv(name .. ".downsample.0", nin, nout, 1, stride, 0))
      :add(bn(name .. ".downsample.1", nout))
  end
  return nn.Sequential():named(name)
    :add(nn.ConcatTable():add(body):add(shortcut))
    :add(nn.CAddTable(true))
    :add(nn.ReLU(true))
end

local function stage(name, block, nin, width, count, stride)
  local s = nn.Sequential():named(name)
  for i = 0, count - 1 do
    s:add(residual(name .. "." .. i, block, i == 0 and nin or width * block.expansion, width,
                   i == 0 and stride or 1))
  end
  return s
end

-- The declaration of a member: block "basic" or "bottleneck", counts the
-- number of blocks in layer1..layer4.
local function resnet(kind, counts)
  local block = blocks[kind]
  if not block then error("resnet: block must be 'basic' or 'bottleneck', got " .. tostring(kind), 2) end
  local function build(opts)
    local num_classes = opts.num_classes or 1000
    local net = nn.Sequential()
      :add(conv("conv1", 3, 64, 7, 2, 3))
      :add(bn("bn1", 64))
      :add(nn.ReLU(true))
      :add(nn.SpatialMaxPooling(3, 3, 2, 2, 1, 1))
    local nin = 64
    for i, width in ipairs{ 64, 128, 256, 512 } do
      net:add(stage("layer" .. i, block, nin, width, counts[i], i == 1 and 1 or 2))
      nin = width * block.expansion
    end
    return net
      :add(nn.SpatialAdaptiveAveragePooling(1, 1))
      :add(nn.View(-1):setNumInputDims(3))
      :add(nn.Linear(nin, num_classes):named("fc"))
  end
  return {
    build = build,
    input = { 3, 224, 224 },
    preprocess = { resize = 256, crop = 224, range = 1, channels = "RGB",
                   mean = { 0.485, 0.456, 0.406 }, std = { 0.229, 0.224, 0.225 } },
    labels = "imagenet_classes.txt",
  }
end

return { resnet = resnet }
