-- nets/resnet18.lua -- ResNet-18: basic blocks, 2-2-2-2 per stage (the family
-- is nets/resnet.lua; names are torchvision's state_dict keys).
return include("resnet").resnet("basic", { 2, 2, 2, 2 })
