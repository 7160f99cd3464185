"""ref_safetensors.py -- .safetensors files written from PyTorch tensors by
tools/torch2safetensors.py, with every tensor also saved as .npy (the values
as PyTorch holds them, after its own F16/BF16 rounding) for
spec/safetensors_spec.lua and spec/weights_spec.lua.

OUTDIR/safetensors/<file>.safetensors and <file>.<tensor name>.npy.
"""
import os
import sys

import numpy as np
import torch

from common import outdir, save

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from torch2safetensors import save_state_dict  # noqa: E402

GROUP = "safetensors"


def tensors():
    """A mix of shapes: a conv/bn/linear state_dict (with num_batches_tracked),
    a scalar, a 5-D tensor, an empty one, an int32 one, values that are
    subnormal or large in F16."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.BatchNorm2d(5),
                                torch.nn.Flatten(), torch.nn.Linear(7, 3))
    with torch.no_grad():
        model[1].running_mean.copy_(torch.randn(5))
        model[1].running_var.copy_(torch.rand(5) + 0.5)
    sd = dict(model.state_dict())
    sd["extra.scalar"] = torch.tensor(3.25)
    sd["extra.five_d"] = torch.randn(2, 1, 3, 1, 2)
    sd["extra.empty"] = torch.zeros(0, 3)
    sd["extra.int32"] = torch.tensor([[-7, 0], [5, 123456]], dtype=torch.int32)
    # F16 subnormals (< 6.1e-5), the largest finite halves, an odd float64
    sd["extra.range"] = torch.tensor([1e-7, -3e-6, 5.9e-8, 6.5e-5, 65504.0, -60000.0,
                                      1.0 / 3.0, 0.0], dtype=torch.float64)
    return sd


def write(name, sd, dtype, convert):
    d = outdir(GROUP)
    save_state_dict(sd, os.path.join(d, name + ".safetensors"), dtype,
                    {"producer": "ref_safetensors.py", "dtype": dtype})
    for k, t in sd.items():
        v = convert(t) if t.is_floating_point() else t
        save(GROUP, name + "." + k, v.to(torch.float64).numpy())


def main():
    sd = tensors()
    write("torch_f32", sd, "F32", lambda t: t.to(torch.float32))
    write("torch_f16", sd, "F16", lambda t: t.to(torch.float16))
    write("torch_bf16", sd, "BF16", lambda t: t.to(torch.bfloat16))

    # non-finite values: loads, with a warning naming the tensor
    bad = {"fine": torch.ones(3),
           "bad": torch.tensor([1.0, float("nan"), float("inf"), -float("inf")])}
    save_state_dict(bad, os.path.join(outdir(GROUP), "nonfinite.safetensors"))

    # a tiny net for weights.apply: conv1 -> conv2, and its output
    torch.manual_seed(1)

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.conv2 = torch.nn.Conv2d(4, 2, 1)

        def forward(self, x):
            return self.conv2(self.conv1(x))

    net = Tiny().eval()
    x = torch.randn(2, 3, 5, 6)
    with torch.no_grad():
        y = net(x)
    save_state_dict(net.state_dict(), os.path.join(outdir(GROUP), "tiny.safetensors"))
    save(GROUP, "tiny.input", x.numpy())
    save(GROUP, "tiny.output", y.numpy())


if __name__ == "__main__":
    main()
