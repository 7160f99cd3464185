"""ref_pool.py -- references for the pooling, batch norm and LRN specs.

Writes OUTDIR/pool/ (ONNX node conformance cases) and OUTDIR/pool_torch/
(PyTorch 1.13 functional outputs on fixed-seed inputs).

ONNX cases: every MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool /
BatchNormalization / LRN case that is float NCHW with a 2-D window, plus:
  *_1d_default: the (1,3,32) input is saved as (1,3,1,32), a 1x2 window;
  test_maxpool_2d_uint8: uint8 values are exact in float32;
  test_maxpool_with_argmax_*: only the values (output 0); ember has no indices;
  auto_pad SAME_UPPER / SAME_LOWER: the pads are worked out here, as ONNX
    defines them (total = (ceil(in/s)-1)*s + k - in, the odd cell at the end
    for SAME_UPPER, at the start for SAME_LOWER).
Each pooling case has <case>.params.npy = kW, kH, dW, dH, pad top, left,
bottom, right, ceil_mode, count_include_pad, dilationW, dilationH (ONNX's
defaults filled in); batch norm cases <case>.eps.npy; LRN cases
<case>.lrn.npy = size, alpha, beta, bias.
Skipped: *_3d_default (5-D input), test_batchnorm_*_training_mode (ember
only infers), test_maxunpool_* (no such layer).
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from common import onnx_case, onnx_attrs, save

G = "pool"
T = "pool_torch"

POOL_CASES = [
    "test_averagepool_1d_default", "test_averagepool_2d_ceil", "test_averagepool_2d_default",
    "test_averagepool_2d_pads", "test_averagepool_2d_pads_count_include_pad",
    "test_averagepool_2d_precomputed_pads",
    "test_averagepool_2d_precomputed_pads_count_include_pad",
    "test_averagepool_2d_precomputed_same_upper", "test_averagepool_2d_precomputed_strides",
    "test_averagepool_2d_same_lower", "test_averagepool_2d_same_upper",
    "test_averagepool_2d_strides",
    "test_globalaveragepool", "test_globalaveragepool_precomputed",
    "test_globalmaxpool", "test_globalmaxpool_precomputed",
    "test_maxpool_1d_default", "test_maxpool_2d_ceil", "test_maxpool_2d_default",
    "test_maxpool_2d_dilations", "test_maxpool_2d_pads", "test_maxpool_2d_precomputed_pads",
    "test_maxpool_2d_precomputed_same_upper", "test_maxpool_2d_precomputed_strides",
    "test_maxpool_2d_same_lower", "test_maxpool_2d_same_upper", "test_maxpool_2d_strides",
    "test_maxpool_2d_uint8", "test_maxpool_with_argmax_2d_precomputed_pads",
    "test_maxpool_with_argmax_2d_precomputed_strides",
]
BN_CASES = ["test_batchnorm_epsilon", "test_batchnorm_example"]
LRN_CASES = ["test_lrn", "test_lrn_default"]


def as_str(v):
    return v.decode() if isinstance(v, bytes) else v


def pool_params(a, shape):
    """ONNX attributes -> the 12 numbers of <case>.params (2-D window)."""
    if len(shape) == 3:          # 1-D: a 1 x k window over (N, C, 1, L)
        k = [1] + list(a["kernel_shape"])
        s = [1] + list(a.get("strides", [1]))
        d = [1] + list(a.get("dilations", [1]))
        p = a.get("pads", [0, 0])
        pads = [0, p[0], 0, p[1]]
        spatial = [1, shape[2]]
    else:
        k = list(a["kernel_shape"])
        s = list(a.get("strides", [1, 1]))
        d = list(a.get("dilations", [1, 1]))
        p = a.get("pads", [0, 0, 0, 0])   # ONNX: h_begin, w_begin, h_end, w_end
        pads = [p[0], p[1], p[2], p[3]]
        spatial = list(shape[2:])
    auto = as_str(a.get("auto_pad", "NOTSET"))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        for i in range(2):
            out = math.ceil(spatial[i] / s[i])
            total = max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - spatial[i])
            small, big = total // 2, total - total // 2
            begin, end = (small, big) if auto == "SAME_UPPER" else (big, small)
            pads[i], pads[i + 2] = begin, end
    return [k[1], k[0], s[1], s[0], pads[0], pads[1], pads[2], pads[3],
            a.get("ceil_mode", 0), a.get("count_include_pad", 0), d[1], d[0]]


def onnx_refs():
    for case in POOL_CASES:
        node, ins, outs = onnx_case(case)
        x = ins[0].astype(np.float32)
        y = outs[0].astype(np.float32)
        if node.op_type.startswith("Global"):
            params = [x.shape[3], x.shape[2], 1, 1, 0, 0, 0, 0, 0, 0, 1, 1]
        else:
            params = pool_params(onnx_attrs(node), x.shape)
        if x.ndim == 3:
            x = x.reshape(x.shape[0], x.shape[1], 1, x.shape[2])
            y = y.reshape(y.shape[0], y.shape[1], 1, y.shape[2])
        save(G, case + ".in0", x)
        save(G, case + ".out0", y)
        save(G, case + ".params", params)
    for case in BN_CASES:
        node, ins, outs = onnx_case(case)
        for i, a in enumerate(ins):   # x, scale, B, input_mean, input_var
            save(G, "%s.in%d" % (case, i), a)
        save(G, case + ".out0", outs[0])
        save(G, case + ".eps", [onnx_attrs(node).get("epsilon", 1e-5)])
    for case in LRN_CASES:
        node, ins, outs = onnx_case(case)
        a = onnx_attrs(node)
        save(G, case + ".in0", ins[0])
        save(G, case + ".out0", outs[0])
        save(G, case + ".lrn", [a["size"], a.get("alpha", 1e-4), a.get("beta", 0.75),
                                a.get("bias", 1.0)])


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


# name: (input shape, kW, kH, dW, dH, padW, padH, ceil, dilW, dilH)
MAX_CASES = {
    "max_k3s2p1_ceil": ((2, 3, 11, 13), 3, 3, 2, 2, 1, 1, True, 1, 1),
    "max_k3s2_ceil": ((1, 4, 14, 15), 3, 3, 2, 2, 0, 0, True, 1, 1),   # GoogLeNet's
    "max_k2s2_ceil_odd": ((2, 2, 7, 9), 2, 2, 2, 2, 0, 0, True, 1, 1),
    "max_k2s2_floor_odd": ((2, 2, 7, 9), 2, 2, 2, 2, 0, 0, False, 1, 1),
    "max_rect": ((2, 3, 9, 10), 3, 2, 2, 1, 1, 0, False, 1, 1),
    "max_rect_ceil": ((1, 3, 10, 9), 2, 3, 3, 2, 1, 1, True, 1, 1),
    "max_dilated": ((2, 2, 12, 11), 3, 3, 2, 1, 1, 1, False, 2, 2),
    "max_dilated_ceil": ((1, 2, 12, 11), 2, 3, 2, 2, 1, 1, True, 3, 2),
    # ceil mode would add a window starting in the right padding: dropped
    "max_ceil_dropped": ((1, 2, 2, 5), 3, 3, 3, 3, 1, 1, True, 1, 1),
    "max_kernel_over_input_ceil": ((1, 2, 2, 2), 3, 3, 2, 2, 0, 0, True, 1, 1),
}

# name: (input shape, kW, kH, dW, dH, padW, padH, ceil, count_include_pad)
AVG_CASES = {}
for cip in (True, False):
    for ceil in (True, False):
        tag = "%s_%s" % ("incl" if cip else "excl", "ceil" if ceil else "floor")
        AVG_CASES["avg_k3s2p1_" + tag] = ((2, 3, 6, 11), 3, 3, 2, 2, 1, 1, ceil, cip)
        AVG_CASES["avg_rect_" + tag] = ((1, 2, 9, 8), 2, 3, 3, 2, 1, 1, ceil, cip)
AVG_CASES["avg_k2s2_nopad_ceil"] = ((2, 2, 7, 7), 2, 2, 2, 2, 0, 0, True, True)
AVG_CASES["avg_k7s1"] = ((1, 4, 7, 7), 7, 7, 1, 1, 0, 0, False, True)

# name: (input shape, W, H)
ADAPTIVE_CASES = {
    "ad_5x7_of_11x13": ((2, 3, 11, 13), 7, 5),
    "ad_1x1": ((2, 3, 7, 6), 1, 1),
    "ad_3x3_of_10x9": ((1, 2, 10, 9), 3, 3),
    "ad_7x7_of_7x7": ((1, 2, 7, 7), 7, 7),
    "ad_larger_than_input": ((1, 2, 5, 4), 6, 7),
    "ad_6x4_of_13x8": ((2, 2, 13, 8), 4, 6),
}


def torch_pool_refs():
    for name, (shape, kW, kH, dW, dH, pW, pH, ceil, dW_, dH_) in MAX_CASES.items():
        x = randn(*shape)
        y = F.max_pool2d(x, (kH, kW), (dH, dW), (pH, pW), (dH_, dW_), ceil_mode=ceil)
        save(T, name + ".in", x)
        save(T, name + ".out", y)
        save(T, name + ".params", [kW, kH, dW, dH, pW, pH, int(ceil), dW_, dH_])
    for name, (shape, kW, kH, dW, dH, pW, pH, ceil, cip) in AVG_CASES.items():
        x = randn(*shape)
        y = F.avg_pool2d(x, (kH, kW), (dH, dW), (pH, pW), ceil_mode=ceil, count_include_pad=cip)
        save(T, name + ".in", x)
        save(T, name + ".out", y)
        save(T, name + ".params", [kW, kH, dW, dH, pW, pH, int(ceil), int(cip)])
    for name, (shape, W, H) in ADAPTIVE_CASES.items():
        x = randn(*shape)
        save(T, name + ".in", x)
        save(T, name + ".avg", F.adaptive_avg_pool2d(x, (H, W)))
        save(T, name + ".max", F.adaptive_max_pool2d(x, (H, W)))
        save(T, name + ".size", [W, H])


def bn_params(c):
    return (randn(c), randn(c), randn(c), torch.rand(c) + 0.2)   # weight, bias, mean, var


def torch_bn_refs():
    # name: (input shape, eps, affine)
    for name, (shape, eps, affine) in {
        "bn4d": ((2, 5, 7, 6), 1e-5, True),
        "bn4d_eps": ((1, 3, 4, 9), 1e-3, True),
        "bn4d_noaffine": ((2, 4, 5, 5), 1e-5, False),
        "bn2d": ((6, 8), 1e-5, True),
    }.items():
        x = randn(*shape)
        w, b, m, v = bn_params(shape[1])
        y = F.batch_norm(x, m, v, w if affine else None, b if affine else None,
                         training=False, eps=eps)
        for k, a in (("in", x), ("out", y), ("weight", w), ("bias", b), ("mean", m), ("var", v),
                     ("eps", [eps])):
            save(T, name + "." + k, a)
    # conv then bn, in PyTorch, for the fold specs
    for name, (cin, cout, k, stride, pad, has_bias, affine) in {
        "fold_bias": (3, 8, 3, 1, 1, True, True),
        "fold_nobias": (4, 6, 3, 2, 1, False, True),
        "fold_1x1_noaffine": (5, 7, 1, 1, 0, True, False),
    }.items():
        conv = torch.nn.Conv2d(cin, cout, k, stride, pad, bias=has_bias)
        bn = torch.nn.BatchNorm2d(cout, eps=1e-3, affine=affine)
        with torch.no_grad():
            w, b, m, v = bn_params(cout)
            bn.running_mean.copy_(m)
            bn.running_var.copy_(v)
            if affine:
                bn.weight.copy_(w)
                bn.bias.copy_(b)
        bn.eval()
        x = randn(2, cin, 9, 8)
        with torch.no_grad():
            y = bn(conv(x))
        save(T, name + ".in", x)
        save(T, name + ".out", y)
        save(T, name + ".conv_weight", conv.weight.detach())
        if has_bias:
            save(T, name + ".conv_bias", conv.bias.detach())
        save(T, name + ".weight", w)
        save(T, name + ".bias", b)
        save(T, name + ".mean", m)
        save(T, name + ".var", v)
        save(T, name + ".geom", [cin, cout, k, stride, pad, int(has_bias), int(affine)])
    # Linear then BatchNorm1d, for BatchNormalization:foldInto(linear)
    lin = torch.nn.Linear(10, 6)
    bn = torch.nn.BatchNorm1d(6, eps=1e-5)
    w, b, m, v = bn_params(6)
    with torch.no_grad():
        bn.running_mean.copy_(m)
        bn.running_var.copy_(v)
        bn.weight.copy_(w)
        bn.bias.copy_(b)
    bn.eval()
    x = randn(4, 10)
    with torch.no_grad():
        y = bn(lin(x))
    for k, a in (("in", x), ("out", y), ("lin_weight", lin.weight.detach()),
                 ("lin_bias", lin.bias.detach()), ("weight", w), ("bias", b), ("mean", m),
                 ("var", v)):
        save(T, "fold_linear." + k, a)


def torch_lrn_refs():
    # name: (input shape, size, alpha, beta, k)
    for name, (shape, size, alpha, beta, k) in {
        "lrn5_default": ((2, 7, 6, 5), 5, 1e-4, 0.75, 1.0),
        "lrn5_big_alpha": ((1, 9, 4, 4), 5, 2.0, 0.75, 1.0),
        "lrn3": ((2, 6, 5, 3), 3, 0.1, 0.5, 2.0),
        "lrn1": ((1, 4, 3, 3), 1, 0.5, 1.0, 1.0),
        "lrn11_wide": ((1, 6, 4, 5), 11, 1.0, 0.6, 0.5),
        "lrn4_even": ((2, 8, 3, 4), 4, 1.0, 0.75, 1.0),
        "lrn2_even": ((1, 5, 4, 4), 2, 0.5, 0.75, 1.0),
    }.items():
        x = randn(*shape) * 2
        if size % 2 == 0:
            # ember follows ONNX's window, the mirror image of PyTorch's for
            # even sizes: reversing the channels maps one onto the other
            y = F.local_response_norm(x.flip(1), size, alpha, beta, k).flip(1)
        else:
            y = F.local_response_norm(x, size, alpha, beta, k)
        save(T, name + ".in", x)
        save(T, name + ".out", y)
        save(T, name + ".lrn", [size, alpha, beta, k])


if __name__ == "__main__":
    torch.manual_seed(1234)
    onnx_refs()
    torch_pool_refs()
    torch_bn_refs()
    torch_lrn_refs()
