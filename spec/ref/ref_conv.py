"""ref_conv.py -- references for SpatialConvolution, SpatialFullConvolution, Linear.

ONNX conformance cases (Conv, ConvTranspose, Gemm) and PyTorch's F.conv2d /
F.conv_transpose2d / F.linear with fixed seeds. Arrays go to OUTDIR/conv/; each
case's parameters, already in ember's terms (stride, padding top-left-bottom-
right, dilation, output padding, groups), go to OUTDIR/conv/<case>.lua.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import onnx_case, outdir, save, save_onnx_case  # noqa: E402

G = "conv"


def lua(v):
    """A Python value as a Lua literal."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, dict):
        return "{ " + ", ".join("%s = %s" % (k, lua(x)) for k, x in v.items()) + " }"
    return "{ " + ", ".join(lua(x) for x in v) + " }"


def randn(g, *shape):
    """float32 values held in float64, so the reference sees ember's exact inputs."""
    return torch.randn(*shape, generator=g, dtype=torch.float64).float().double()


def params(case, p):
    with open(os.path.join(outdir(G), case + ".lua"), "w") as f:
        f.write("return " + lua(p) + "\n")


# ---------------------------------------------------------------- ONNX Conv

def onnx_conv(case):
    a = save_onnx_case(G, case)
    _, ins, _ = onnx_case(case)
    h, w = ins[0].shape[2:]
    kh, kw = ins[1].shape[2:]
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    pads = list(a.get("pads", [0, 0, 0, 0]))
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        for i, (n, k) in enumerate(((h, kh), (w, kw))):
            out = -(-n // s[i])
            total = max((out - 1) * s[i] + (k - 1) * d[i] + 1 - n, 0)
            small, big = total // 2, total - total // 2
            pads[i], pads[i + 2] = (big, small) if auto == "SAME_LOWER" else (small, big)
    params(case, {"stride": s, "pads": pads, "dilation": d, "groups": a.get("group", 1)})


for c in ["test_basic_conv_with_padding", "test_basic_conv_without_padding",
          "test_conv_with_strides_padding", "test_conv_with_strides_no_padding",
          "test_conv_with_strides_and_asymmetric_padding", "test_conv_with_autopad_same"]:
    onnx_conv(c)


# ------------------------------------------------------- ONNX ConvTranspose

def onnx_convtranspose(case):
    """ONNX's output_shape and auto_pad become explicit pads and output
    padding, with the formulas of the ONNX operator documentation."""
    a = save_onnx_case(G, case)
    _, ins, _ = onnx_case(case)
    size = ins[0].shape[2:]
    ks = ins[1].shape[2:]
    s = a.get("strides", [1, 1])
    d = a.get("dilations", [1, 1])
    op = list(a.get("output_padding", [0, 0]))
    pads = list(a.get("pads", [0, 0, 0, 0]))
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    target = a.get("output_shape")
    if target is None and auto in ("SAME_UPPER", "SAME_LOWER"):
        target = [n * s[i] for i, n in enumerate(size)]
    if target is not None:
        for i in range(2):
            total = s[i] * (size[i] - 1) + op[i] + (ks[i] - 1) * d[i] + 1 - target[i]
            if total < 0:          # output larger than the full result: extra rows at the end
                pads[i], pads[i + 2], op[i] = 0, 0, op[i] - total
            elif auto == "SAME_UPPER":
                pads[i], pads[i + 2] = total // 2, total - total // 2
            else:
                pads[i], pads[i + 2] = total - total // 2, total // 2
    params(case, {"stride": s, "pads": pads, "dilation": d, "adj": op,
                  "groups": a.get("group", 1)})


for c in ["test_convtranspose", "test_convtranspose_autopad_same", "test_convtranspose_dilations",
          "test_convtranspose_kernel_shape", "test_convtranspose_output_shape",
          "test_convtranspose_pad", "test_convtranspose_pads", "test_convtranspose_with_kernel"]:
    onnx_convtranspose(c)


# ---------------------------------------------------------------- ONNX Gemm
# Linear is x W^T + b: Gemm fits when C is absent or a vector. alpha and beta
# are folded into B and C here (as <case>.B, <case>.bias); transA/transB are
# left for the spec to apply as transposed views.

def onnx_gemm(case):
    a = save_onnx_case(G, case)
    _, ins, outs = onnx_case(case)
    alpha, beta = a.get("alpha", 1.0), a.get("beta", 1.0)
    B = ins[1]
    save(G, case + ".B", alpha * B.astype(np.float64))
    nout = outs[0].shape[1]
    has_bias = len(ins) > 2
    if has_bias:
        save(G, case + ".bias", np.broadcast_to(beta * ins[2].astype(np.float64).reshape(-1), (nout,)))
    params(case, {"transA": a.get("transA", 0), "transB": a.get("transB", 0), "bias": has_bias})


for c in ["test_gemm_all_attributes", "test_gemm_alpha", "test_gemm_beta",
          "test_gemm_default_no_bias", "test_gemm_default_scalar_bias",
          "test_gemm_default_single_elem_vector_bias", "test_gemm_default_vector_bias",
          "test_gemm_default_zero_bias", "test_gemm_transposeA", "test_gemm_transposeB"]:
    onnx_gemm(c)


# ------------------------------------------------------------------ PyTorch

def torch_conv(name, n, cin, cout, kh, kw, stride=(1, 1), pads=(0, 0, 0, 0), dilation=(1, 1),
               groups=1, bias=True, seed=0):
    """pads are top, left, bottom, right; asymmetric ones go through F.pad."""
    g = torch.Generator().manual_seed(seed)
    x = randn(g, n, cin, 5 + seed % 7 + 6, 7 + seed % 5 + 6)
    if name.startswith("conv_big"):
        x = randn(g, n, cin, 28, 28)
    w = randn(g, cout, cin // groups, kh, kw)
    b = randn(g, cout) if bias else None
    t, l, bo, r = pads
    y = F.conv2d(F.pad(x, (l, r, t, bo)), w, b, stride=stride, dilation=dilation, groups=groups)
    save(G, name + ".x", x)
    save(G, name + ".w", w)
    if bias:
        save(G, name + ".b", b)
    save(G, name + ".y", y)
    params(name, {"stride": list(stride), "pads": list(pads), "dilation": list(dilation),
                  "groups": groups, "bias": bias})


torch_conv("conv_groups2", 2, 8, 6, 3, 3, pads=(1, 1, 1, 1), groups=2, seed=1)
torch_conv("conv_groups4", 1, 8, 12, 3, 5, stride=(2, 1), pads=(1, 2, 1, 2), groups=4, seed=2)
torch_conv("conv_depthwise", 1, 16, 16, 3, 3, stride=(2, 2), pads=(1, 1, 1, 1), groups=16, seed=3)
torch_conv("conv_depthwise_s1", 2, 12, 12, 5, 5, pads=(2, 2, 2, 2), groups=12, bias=False, seed=4)
torch_conv("conv_depthwise_mult", 1, 8, 16, 3, 3, pads=(1, 1, 1, 1), groups=8, seed=5)
torch_conv("conv_dilation2", 1, 4, 5, 3, 3, pads=(2, 2, 2, 2), dilation=(2, 2), seed=6)
torch_conv("conv_dilation23", 2, 3, 4, 3, 3, stride=(1, 2), pads=(2, 3, 2, 3), dilation=(2, 3), seed=7)
torch_conv("conv_asym_pad", 1, 3, 4, 3, 3, stride=(2, 1), pads=(0, 1, 1, 2), seed=8)
torch_conv("conv_batch3", 3, 5, 7, 3, 5, stride=(1, 2), pads=(1, 2, 1, 2), seed=9)
torch_conv("conv_pointwise", 2, 32, 16, 1, 1, seed=10)
torch_conv("conv_pointwise_g4", 1, 32, 16, 1, 1, groups=4, bias=False, seed=11)
torch_conv("conv_stem7x7", 1, 3, 8, 7, 7, stride=(2, 2), pads=(3, 3, 3, 3), bias=False, seed=12)
torch_conv("conv_big3x3", 1, 64, 64, 3, 3, pads=(1, 1, 1, 1), seed=13)
torch_conv("conv_big5x5", 1, 48, 64, 5, 5, pads=(2, 2, 2, 2), seed=14)
torch_conv("conv_big1x7", 2, 48, 40, 1, 7, pads=(0, 3, 0, 3), seed=15)
torch_conv("conv_big7x1", 1, 40, 48, 7, 1, pads=(3, 0, 3, 0), seed=16)


def torch_deconv(name, n, cin, cout, kh, kw, stride=(1, 1), pad=(0, 0), adj=(0, 0),
                 dilation=(1, 1), groups=1, bias=True, seed=0):
    g = torch.Generator().manual_seed(100 + seed)
    x = randn(g, n, cin, 4 + seed % 3, 5 + seed % 4)
    w = randn(g, cin, cout // groups, kh, kw)
    b = randn(g, cout) if bias else None
    y = F.conv_transpose2d(x, w, b, stride=stride, padding=pad, output_padding=adj,
                           groups=groups, dilation=dilation)
    save(G, name + ".x", x)
    save(G, name + ".w", w)
    if bias:
        save(G, name + ".b", b)
    save(G, name + ".y", y)
    params(name, {"stride": list(stride), "pads": [pad[0], pad[1], pad[0], pad[1]],
                  "dilation": list(dilation), "adj": list(adj), "groups": groups, "bias": bias})


torch_deconv("deconv_up2x", 2, 8, 4, 4, 4, stride=(2, 2), pad=(1, 1), seed=1)
torch_deconv("deconv_adj", 1, 6, 3, 3, 3, stride=(2, 3), pad=(1, 0), adj=(1, 2), seed=2)
torch_deconv("deconv_groups2", 1, 6, 4, 3, 3, stride=(2, 2), pad=(1, 1), adj=(1, 1), groups=2, seed=3)
torch_deconv("deconv_dilated", 2, 3, 5, 3, 2, stride=(1, 2), dilation=(2, 2), adj=(1, 1), bias=False, seed=4)
torch_deconv("deconv_pointwise", 1, 16, 8, 1, 1, seed=5)


def torch_linear(name, shape, nout, bias=True, seed=0):
    g = torch.Generator().manual_seed(200 + seed)
    x = randn(g, *shape)
    w = randn(g, nout, shape[-1])
    b = randn(g, nout) if bias else None
    save(G, name + ".x", x)
    save(G, name + ".w", w)
    if bias:
        save(G, name + ".b", b)
    save(G, name + ".y", F.linear(x, w, b))
    params(name, {"bias": bias})


torch_linear("linear_vec", (37,), 11, seed=1)
torch_linear("linear_row", (1, 300), 50, seed=2)
torch_linear("linear_batch", (5, 64), 10, seed=3)
torch_linear("linear_nobias", (4, 9), 3, bias=False, seed=4)
