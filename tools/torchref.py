"""torchref.py -- torchvision nets as the specs and the bench compare them:
random weights at a fixed seed, batch norms with random affine parameters and
realistic running statistics (a few training-mode passes), then eval()."""
import torch


def realistic(ctor, size, seed=0, passes=3):
    """ctor() built at `seed`; returns (model in eval mode, a torch.Generator
    that continues the stream, for the caller's input)."""
    torch.manual_seed(seed)
    model = ctor()
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None   # cumulative average: the statistics of all passes
            with torch.no_grad():
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    model.train()
    with torch.no_grad():
        for _ in range(passes):
            model(torch.randn(4, 3, size, size, generator=g))
    model.eval()
    return model, g
