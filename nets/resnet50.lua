-- nets/resnet50.lua -- ResNet-50: bottleneck blocks, 3-4-6-3 per stage (the
-- family is nets/resnet.lua; names are torchvision's state_dict keys).
return include("resnet").resnet("bottleneck", { 3, 4, 6, 3 })
