"""ref_act.py -- references for the activation, PReLU and softmax specs.

Writes OUTDIR/act/ (ONNX node conformance cases with their attributes) and
OUTDIR/act_torch/ (PyTorch functional outputs on fixed-seed inputs).

ONNX cases used, and how they map:
  Relu, LeakyRelu, Elu, Sigmoid, Tanh, HardSigmoid, HardSwish, Softplus: as is;
  Clip (float cases): nn.Clamp(min, max), a missing bound is -inf / +inf;
  PRelu broadcast: slope (5,) broadcasts over the last axis of (3,4,5), so
    the spec views the input as (12,5), where the channel dim is dim 2;
  Softmax / LogSoftmax: all cases are opset 13 (per-axis), equal to
    nn.SoftMax(axis + 1) (negative axes as they are).
Skipped: test_prelu_example (the slope is a full (3,4,5) tensor, not per
channel), test_clip_default_int8_* (int8 data), the *_expanded variants
(same data as the plain case, the graph only differs), and
thresholdedrelu / selu / celu (no such ember module).
Attributes are saved next to each case as <case>.<name>.npy (one element,
ONNX's default when the node has none), so the specs read them too.
"""
import sys

import numpy as np

from common import onnx_case, onnx_attrs, save, save_onnx_case

G = "act"

# case -> {attribute: ONNX default}
ONNX_CASES = {
    "test_relu": {},
    "test_leakyrelu": {"alpha": 0.01},
    "test_leakyrelu_default": {"alpha": 0.01},
    "test_leakyrelu_example": {"alpha": 0.01},
    "test_elu": {"alpha": 1.0},
    "test_elu_default": {"alpha": 1.0},
    "test_elu_example": {"alpha": 1.0},
    "test_sigmoid": {},
    "test_sigmoid_example": {},
    "test_tanh": {},
    "test_tanh_example": {},
    "test_hardsigmoid": {"alpha": 0.2, "beta": 0.5},
    "test_hardsigmoid_default": {"alpha": 0.2, "beta": 0.5},
    "test_hardsigmoid_example": {"alpha": 0.2, "beta": 0.5},
    "test_hardswish": {},
    "test_softplus": {},
    "test_softplus_example": {},
    "test_prelu_broadcast": {},
}
for op in ("softmax", "logsoftmax"):
    for c in ("axis_0", "axis_1", "axis_2", "default_axis", "negative_axis",
              "large_number"):
        ONNX_CASES["test_%s_%s" % (op, c)] = {"axis": -1}
ONNX_CASES["test_softmax_example"] = {"axis": -1}
ONNX_CASES["test_logsoftmax_example_1"] = {"axis": -1}

CLIP_CASES = ["test_clip", "test_clip_example", "test_clip_inbounds",
              "test_clip_outbounds", "test_clip_splitbounds",
              "test_clip_default_min", "test_clip_default_max",
              "test_clip_default_inbounds"]


def onnx_refs():
    for case, defaults in ONNX_CASES.items():
        attrs = save_onnx_case(G, case)
        for name, default in defaults.items():
            save(G, "%s.%s" % (case, name), [attrs.get(name, default)])
    for case in CLIP_CASES:
        node, ins, outs = onnx_case(case)
        save(G, case + ".in0", ins[0])
        save(G, case + ".out0", outs[0])
        # inputs named '' are absent, and the data set then skips them
        given = iter(ins[1:])
        bounds = {}
        for slot, name in zip(("min", "max"), list(node.input[1:]) + ["", ""]):
            bounds[slot] = float(next(given)) if name else None
        save(G, case + ".min", [-np.inf if bounds["min"] is None else bounds["min"]])
        save(G, case + ".max", [np.inf if bounds["max"] is None else bounds["max"]])


def torch_refs():
    import torch
    import torch.nn.functional as F
    g = "act_torch"
    torch.manual_seed(20261127)
    x = torch.randn(2, 3, 5, 7) * 4
    # and the far tails, where naive formulas overflow or cancel
    x[0, 0, 0, :] = torch.tensor([-100.0, -40.0, -20.0, 0.0, 20.0, 40.0, 100.0])
    save(g, "x", x)
    # and a moderate range, where a tight tolerance tells near formulas apart
    # (exact GELU from the tanh one: they differ by under 1e-3)
    xn = torch.linspace(-6, 6, 241).reshape(1, 1, 1, 241)
    save(g, "xn", xn)
    def refs_of(x):
        return {
            "relu": F.relu(x),
            "relu6": F.relu6(x),
            "clamp": torch.clamp(x, -0.5, 2.0),
            "leakyrelu": F.leaky_relu(x, 0.2),
            "elu": F.elu(x, 1.3),
            "sigmoid": torch.sigmoid(x),
            "tanh": torch.tanh(x),
            "hardsigmoid": F.hardsigmoid(x),
            "hardswish": F.hardswish(x),
            "silu": F.silu(x),
            "gelu": F.gelu(x),
            "gelu_tanh": F.gelu(x, approximate="tanh"),
            "softplus": F.softplus(x),
            "softplus_b2_t5": F.softplus(x, beta=2, threshold=5),
        }
    for name, y in refs_of(x).items():
        save(g, name, y)
    for name, y in refs_of(xn).items():
        save(g, name + "_n", y)

    w = torch.tensor([0.25, -0.5, 1.5])
    save(g, "prelu_weight", w)
    save(g, "prelu", F.prelu(x, w))
    save(g, "prelu_shared", F.prelu(x, torch.tensor([0.1])))
    x2 = torch.randn(6, 3)
    save(g, "x2", x2)
    save(g, "prelu_2d", F.prelu(x2, w))

    # softmax over every dim of the 4-D input, also scaled up (stability)
    xs = torch.randn(2, 4, 3, 5) * 3
    save(g, "sx", xs)
    save(g, "sx_big", xs * 1000)
    for d in range(4):
        save(g, "softmax_dim%d" % (d + 1), F.softmax(xs, dim=d))
        save(g, "logsoftmax_dim%d" % (d + 1), F.log_softmax(xs, dim=d))
    save(g, "softmax_big", F.softmax(xs * 1000, dim=1))
    save(g, "logsoftmax_big", F.log_softmax(xs * 1000, dim=1))
    # Torch7's default dims: 1-D and 3-D over dim 1, 2-D over dim 2
    x1 = torch.randn(10)
    x3 = torch.randn(4, 3, 2)
    save(g, "s1", x1)
    save(g, "s3", x3)
    save(g, "softmax_1d", F.softmax(x1, dim=0))
    save(g, "softmax_3d", F.softmax(x3, dim=0))
    save(g, "logsoftmax_2d", F.log_softmax(x2, dim=1))


if __name__ == "__main__":
    onnx_refs()
    torch_refs()
    print("ref_act: wrote %s/act and act_torch" % (sys.argv[1] if len(sys.argv) > 1 else "build/ref"))
