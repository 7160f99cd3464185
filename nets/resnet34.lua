-- nets/resnet34.lua -- ResNet-34: basic blocks, 3-4-6-3 per stage (the family
-- is nets/resnet.lua; names are torchvision's state_dict keys).
return include("resnet").resnet("basic", { 3, 4, 6, 3 })
