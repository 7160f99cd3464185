#!/usr/bin/python3
"""export.py -- the models of `make bench`: torchvision nets with random weights,
written as ONNX and as safetensors (the very same weights), plus a fixed input.

    /usr/bin/python3 bench/export.py OUTDIR [model ...]

For each model: a fixed seed, batch norms with non-trivial affine parameters,
a few training-mode passes on random input so the running statistics are
realistic, then eval(). Writes OUTDIR/<model>.onnx (opset 13, batch 1),
OUTDIR/<model>.safetensors (the state_dict, for nets/<model>.lua),
OUTDIR/<model>.input.npy (1,C,H,W) and OUTDIR/<model>.torch.npy (PyTorch's
output, a third opinion on the two engines). Files already there are kept.
"""
import os
import sys
import time

import numpy as np
import torch
import torchvision.models as M

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from torch2safetensors import save_state_dict  # noqa: E402
from torchref import realistic  # noqa: E402

# name -> (constructor, input size); the nets/*.lua declarations have no
# auxiliary heads and no transform_input, so neither have these.
MODELS = {
    "inception_v3": (lambda: M.inception_v3(aux_logits=False, transform_input=False, init_weights=True), 299),
    "googlenet": (lambda: M.googlenet(aux_logits=False, transform_input=False, init_weights=True), 224),
    "resnet18": (lambda: M.resnet18(), 224),
    "resnet50": (lambda: M.resnet50(), 224),
    "mobilenet_v2": (lambda: M.mobilenet_v2(), 224),
    "squeezenet1_1": (lambda: M.squeezenet1_1(), 224),
    "shufflenet_v2_x1_0": (lambda: M.shufflenet_v2_x1_0(), 224),
    "alexnet": (lambda: M.alexnet(), 224),
}


def export(name, outdir):
    files = [os.path.join(outdir, name + ext)
             for ext in (".onnx", ".safetensors", ".input.npy", ".torch.npy")]
    if all(os.path.exists(f) for f in files):
        return False
    ctor, size = MODELS[name]
    model, g = realistic(ctor, size)
    x = torch.randn(1, 3, size, size, generator=g)
    with torch.no_grad():
        y = model(x)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    tmp = files[0] + ".tmp"
    torch.onnx.export(model, x, tmp, opset_version=13, input_names=["input"],
                      output_names=["output"], do_constant_folding=True)
    save_state_dict(state, files[1], metadata={"source": "torchvision.models." + name, "seed": 0})
    np.save(files[2], x.numpy().astype(np.float32))
    np.save(files[3], y.numpy().astype(np.float32))
    os.replace(tmp, files[0])   # last: its presence means the set is complete
    return True


def main(argv):
    if len(argv) < 2:
        raise SystemExit("usage: export.py OUTDIR [model ...]")
    outdir = argv[1]
    names = argv[2:] or list(MODELS)
    for n in names:
        if n not in MODELS:
            raise SystemExit("export.py: unknown model %r (known: %s)" % (n, ", ".join(MODELS)))
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(2)
    for n in names:
        t = time.time()
        if export(n, outdir):
            print("export: %s %.1fs" % (n, time.time() - t), file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv)
