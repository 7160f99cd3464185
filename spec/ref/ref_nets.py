"""ref_nets.py -- torchvision models with random weights, saved as safetensors,
with a fixed input and the logits PyTorch computes for it (spec/nets/*_spec.lua).

For each net: build it with a fixed seed, give batch norms non-trivial affine
parameters, run a few training-mode passes on random input so the running
statistics are realistic, switch to eval(), then write OUTDIR/nets/
<net>.safetensors, <net>.input.npy (2,C,H,W) and <net>.logits.npy (2,classes).
"""
import json
import os
import struct
import sys
import time

import numpy as np
import torch
import torchvision.models as M

from common import outdir, save

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
try:
    from torch2safetensors import save_state_dict
except ImportError:
    save_state_dict = None
from torchref import realistic  # noqa: E402

GROUP = "nets"

# name -> (constructor, input size)
NETS = {
    "resnet18": (lambda: M.resnet18(), 224),
    "resnet34": (lambda: M.resnet34(), 224),
    "resnet50": (lambda: M.resnet50(), 224),
    "alexnet": (lambda: M.alexnet(), 224),
    "googlenet": (lambda: M.googlenet(aux_logits=False, transform_input=False, init_weights=True), 224),
    "inception_v3": (lambda: M.inception_v3(aux_logits=False, transform_input=False, init_weights=True), 299),
    "mobilenet_v2": (lambda: M.mobilenet_v2(), 224),
    "squeezenet1_1": (lambda: M.squeezenet1_1(), 224),
    "shufflenet_v2_x1_0": (lambda: M.shufflenet_v2_x1_0(), 224),
}


def write_safetensors(state, path):
    """The safetensors layout: u64 header length, JSON header, raw data."""
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        a = t.detach().to(torch.float32).contiguous().numpy()
        b = a.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make(name):
    ctor, size = NETS[name]
    model, g = realistic(ctor, size)
    x = torch.randn(2, 3, size, size, generator=g)
    with torch.no_grad():
        y = model(x)
    # the tensors a weights file holds: parameters and float buffers
    # (num_batches_tracked is a training counter)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = os.path.join(outdir(GROUP), name + ".safetensors")
    if save_state_dict is not None:
        save_state_dict(state, path)
    else:
        write_safetensors(state, path)
    save(GROUP, name + ".input", x.numpy())
    save(GROUP, name + ".logits", y.numpy())


def main():
    torch.set_num_threads(2)
    for name in NETS:
        t = time.time()
        make(name)
        print("ref_nets: %s %.1fs" % (name, time.time() - t))


if __name__ == "__main__":
    main()
