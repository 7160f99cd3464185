"""ref_shape.py -- references for the shape and container specs.

Writes OUTDIR/shape/ (ONNX node conformance cases) and OUTDIR/shape_torch/
(PyTorch outputs on fixed-seed inputs).

ONNX cases used, and how they map:
  Concat (all 12): nn.JoinTable(axis + 1), negative axes as they are;
  Reshape without 0 entries: nn.View(shape) (and nn.Reshape when no -1);
  Flatten (all 9): axis a -> nn.Flatten(1, a) then nn.Flatten(2)
    (nn.View(1, -1) for a = 0);
  Pad on H and W only: constant -> core.pad2d with its value, reflect ->
    nn.SpatialReflectionPadding, edge -> nn.SpatialReplicationPadding;
  Upsample / Resize nearest and linear, where ONNX's coordinate rule agrees
    with PyTorch's F.interpolate on that case (checked below against torch):
    nearest -> nn.SpatialUpSamplingNearest({oheight, owidth}),
    linear -> nn.SpatialUpSamplingBilinear({oheight, owidth, align_corners}).
Skipped:
  test_reshape_zero_dim, test_reshape_zero_and_negative_dim: ONNX's 0 copies
    the input's size there, which Torch7's View/Reshape have no word for;
  test_reshape_allowzero_reordered: an empty (0-element) tensor;
  test_resize_downsample_sizes_nearest: ONNX half_pixel + round_prefer_floor
    picks input column 3 for output 2 of 3, PyTorch's floor(2 * 4/3) = 2;
  test_resize_upsample_sizes_nearest_ceil_half_pixel,
  test_resize_upsample_sizes_nearest_floor_align_corners,
  test_resize_upsample_sizes_nearest_round_prefer_ceil_asymmetric,
  test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn: other rounding
    or coordinate rules than PyTorch's 'nearest';
  test_resize_downsample_scales_linear: ONNX maps coordinates with the given
    scale 0.6, ember (like PyTorch with a size) with in/out = 2;
  test_resize_downsample_scales_linear_align_corners: ONNX divides by the
    unrounded output width 4 * 0.6 = 2.4, giving x = 2.14 for the second
    column where PyTorch and ember take the last column (x = 3);
  test_resize_downsample_sizes_linear_pytorch_half_pixel: for a 1-wide output
    ONNX samples x = 0, PyTorch (and ember) the centre x = 1.5;
  test_resize_*cubic*, test_resize_tf_crop_and_resize: no such ember mode.
"""
import sys

import numpy as np

from common import onnx_case, save, save_onnx_case

G = "shape"

CONCAT = ["test_concat_%s" % c for c in (
    "1d_axis_0", "1d_axis_negative_1", "2d_axis_0", "2d_axis_1", "2d_axis_negative_1",
    "2d_axis_negative_2", "3d_axis_0", "3d_axis_1", "3d_axis_2", "3d_axis_negative_1",
    "3d_axis_negative_2", "3d_axis_negative_3")]
RESHAPE = ["test_reshape_%s" % c for c in (
    "extended_dims", "negative_dim", "negative_extended_dims", "one_dim", "reduced_dims",
    "reordered_all_dims", "reordered_last_dims")]
FLATTEN = ["test_flatten_%s" % c for c in (
    "axis0", "axis1", "axis2", "axis3", "default_axis", "negative_axis1", "negative_axis2",
    "negative_axis3", "negative_axis4")]
PAD = ["test_constant_pad", "test_reflect_pad", "test_edge_pad"]
# case -> (mode, align_corners) of the matching F.interpolate call
RESIZE = {
    "test_upsample_nearest": ("nearest", None),
    "test_resize_upsample_scales_nearest": ("nearest", None),
    "test_resize_upsample_sizes_nearest": ("nearest", None),
    "test_resize_downsample_scales_nearest": ("nearest", None),
    "test_resize_upsample_scales_linear": ("bilinear", False),
    "test_resize_upsample_scales_linear_align_corners": ("bilinear", True),
}
SKIPPED_RESIZE = [
    "test_resize_downsample_sizes_nearest", "test_resize_downsample_scales_linear",
    "test_resize_downsample_sizes_linear_pytorch_half_pixel",
    "test_resize_downsample_scales_linear_align_corners",
]


def onnx_refs():
    import torch
    import torch.nn.functional as F
    for case in CONCAT + RESHAPE + FLATTEN + PAD:
        save_onnx_case(G, case)
    for case in PAD:
        node, ins, outs = onnx_case(case)
        pads = ins[1]
        # only H and W (axes 2, 3 of N,C,H,W) may be padded for a 2-D pad
        assert pads[0] == pads[1] == pads[4] == pads[5] == 0, case
    for case, (mode, align) in RESIZE.items():
        node, ins, outs = onnx_case(case)
        x, y = ins[0], outs[0]
        save(G, case + ".in0", x)
        save(G, case + ".out0", y)
        t = F.interpolate(torch.from_numpy(np.array(x)), size=y.shape[2:], mode=mode, align_corners=align)
        err = np.abs(t.numpy() - y).max()
        assert err <= 1e-5 * np.abs(y).max(), "%s: PyTorch differs by %g" % (case, err)
    # and the skipped ones do differ: the reasons in the docstring hold
    for case in SKIPPED_RESIZE:
        node, ins, outs = onnx_case(case)
        mode = "nearest" if "nearest" in case else "bilinear"
        align = None if mode == "nearest" else "align_corners" in case
        t = F.interpolate(torch.from_numpy(np.array(ins[0])), size=outs[0].shape[2:], mode=mode,
                          align_corners=align)
        assert np.abs(t.numpy() - outs[0]).max() > 1e-3, case


def torch_refs():
    import torch
    import torch.nn.functional as F
    g = "shape_torch"
    torch.manual_seed(20261127)
    x = torch.randn(2, 6, 5, 7)
    save(g, "x", x)

    # concatenation: torch.cat along channels, rows and the batch
    a, b, c = torch.randn(2, 3, 4, 5), torch.randn(2, 5, 4, 5), torch.randn(2, 1, 4, 5)
    for k, t in enumerate((a, b, c)):
        save(g, "cat_in%d" % k, t)
    save(g, "cat_dim2", torch.cat((a, b, c), 1))
    d, e = torch.randn(2, 3, 2, 5), torch.randn(1, 3, 4, 5)
    save(g, "cat_rows_in", d)
    save(g, "cat_batch_in", e)
    save(g, "cat_dim3", torch.cat((a, d), 2))
    save(g, "cat_dim1", torch.cat((a, e), 0))

    def shuffle(t, groups):
        n, ch, h, w = t.shape
        return t.view(n, groups, ch // groups, h, w).transpose(1, 2).reshape(n, ch, h, w)

    # nn.Concat(2) with children Identity, ChannelShuffle(3), ZeroPadding(-1, 1, 1, -1)
    save(g, "concat_children", torch.cat((x, shuffle(x, 3), F.pad(x, (-1, 1, 1, -1))), 1))

    # channel shuffle (ShuffleNet v2's view / transpose / view), and torch's own
    for groups in (2, 3, 6):
        y = shuffle(x, groups)
        assert torch.equal(y, torch.nn.ChannelShuffle(groups)(x))
        save(g, "shuffle_g%d" % groups, y)
    save(g, "shuffle_3d_g2", shuffle(x[:1], 2)[0])

    # padding, (left, right, top, bottom) as F.pad takes them
    save(g, "pad_reflect", F.pad(x, (2, 1, 0, 4), mode="reflect"))
    save(g, "pad_reflect_max", F.pad(x, (6, 6, 4, 4), mode="reflect"))
    save(g, "pad_replicate", F.pad(x, (3, 0, 2, 1), mode="replicate"))
    save(g, "pad_zero", F.pad(x, (1, 2, 3, 4)))
    save(g, "pad_zero_crop", F.pad(x, (-1, 2, 3, -2)))
    save(g, "pad_reflect_3d", F.pad(x[0], (1, 1, 2, 2), mode="reflect"))

    # nearest: integer scale (Torch7), fractional up- and downsizing by size
    save(g, "nearest_x2", F.interpolate(x, scale_factor=2, mode="nearest"))
    save(g, "nearest_11x4", F.interpolate(x, size=(11, 4), mode="nearest"))
    save(g, "nearest_3x17", F.interpolate(x, size=(3, 17), mode="nearest"))
    # bilinear: Torch7's scale 3 = align_corners with (in - 1) * 3 + 1
    save(g, "bilinear_t7_x3", F.interpolate(x, size=(13, 19), mode="bilinear", align_corners=True))
    save(g, "bilinear_ac_4x11", F.interpolate(x, size=(4, 11), mode="bilinear", align_corners=True))
    save(g, "bilinear_x2", F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))
    save(g, "bilinear_3x9", F.interpolate(x, size=(3, 9), mode="bilinear", align_corners=False))
    save(g, "bilinear_9x3", F.interpolate(x, size=(9, 3), mode="bilinear", align_corners=False))

    # table arithmetic with broadcasting: residual sum, squeeze-excitation product
    p, q, s = torch.randn(2, 6, 5, 7), torch.randn(2, 6, 5, 7), torch.randn(2, 6, 1, 1)
    save(g, "p", p)
    save(g, "q", q)
    save(g, "s", s)
    save(g, "cadd", x + p + q)
    save(g, "cadd_bcast", x + s)
    save(g, "cmul_se", x * s)
    save(g, "cmul3", x * p * q)

    # Torch7's v1 dropout at inference: x * (1 - p)
    save(g, "dropout_v1_p025", x * 0.75)

    # containers: a residual block relu(conv(x) + x) (ConcatTable, CAddTable)
    # and an Inception-like Concat of a 1x1 and a padded 3x3 convolution
    rx, rw, rb = torch.randn(2, 4, 6, 6), torch.randn(4, 4, 3, 3) * 0.3, torch.randn(4)
    save(g, "res_x", rx)
    save(g, "res_w", rw)
    save(g, "res_b", rb)
    save(g, "res_out", F.relu(F.conv2d(rx, rw, rb, padding=1) + rx))
    w1, b1 = torch.randn(3, 4, 1, 1), torch.randn(3)
    w3, b3 = torch.randn(5, 4, 3, 3) * 0.3, torch.randn(5)
    for name, t in (("inc_w1", w1), ("inc_b1", b1), ("inc_w3", w3), ("inc_b3", b3)):
        save(g, name, t)
    save(g, "inc_out", torch.cat((F.conv2d(rx, w1, b1), F.relu(F.conv2d(rx, w3, b3, padding=1))), 1))

    # flattening and views
    save(g, "flatten2", torch.flatten(x, 1))
    save(g, "flatten_2_3", torch.flatten(x, 1, 2))


if __name__ == "__main__":
    onnx_refs()
    torch_refs()
    print("ref_shape: wrote %s/shape and shape_torch" % (sys.argv[1] if len(sys.argv) > 1 else "build/ref"))
