"""ref_onnx.py -- references for spec/onnx_spec.lua: torchvision models exported
to ONNX (opset 13) with their PyTorch outputs, and small hand-made models,
good and broken, for the importer's checks.

Run by `make refs` as: python3 spec/ref/ref_onnx.py build/ref
Writes build/ref/onnx/<net>.onnx, <net>.in.npy, <net>.out.npy and the
small models. Random weights (fixed seed) with realistic batch-norm
statistics: a few forward passes in training mode, then eval.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import outdir  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from torchref import realistic  # noqa: E402

NETS = [
    ("resnet18", 224, {}),
    ("mobilenet_v2", 224, {}),
    ("squeezenet1_1", 224, {}),
    ("shufflenet_v2_x1_0", 224, {}),
    ("googlenet", 224, {"aux_logits": False, "init_weights": True}),
    ("inception_v3", 299, {"aux_logits": False, "init_weights": True}),
    ("resnet50", 224, {}),
    ("alexnet", 224, {}),
]


def export_nets(d, only=None):
    import torch
    import torchvision
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name, size, kw in NETS:
        if only and name not in only:
            continue
        ctor = getattr(torchvision.models, name)
        net, g = realistic(lambda: ctor(weights=None, **kw), size)
        x = torch.randn(1, 3, size, size, generator=g)
        with torch.no_grad():
            y = net(x)
        torch.onnx.export(net, x, os.path.join(d, name + ".onnx"), opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          do_constant_folding=True)
        np.save(os.path.join(d, name + ".in.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(d, name + ".out.npy"), y.numpy().astype(np.float32))


def export_dynamic(d):
    """Exports with a symbolic batch dim: ShuffleNet's channel shuffle then
    computes its view sizes at run time (Shape, Gather, ... Reshape)."""
    import torch
    import torchvision
    for name, size in [("shufflenet_v2_x1_0", 224), ("resnet18", 64)]:
        torch.manual_seed(1)
        net = getattr(torchvision.models, name)(weights=None)
        net.train()
        with torch.no_grad():
            for _ in range(2):
                net(torch.randn(4, 3, size, size))
        net.eval()
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            y = net(x)
        torch.onnx.export(net, x, os.path.join(d, name + "_dyn.onnx"), opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
        np.save(os.path.join(d, name + "_dyn.in.npy"), x.numpy().astype(np.float32))
        np.save(os.path.join(d, name + "_dyn.out.npy"), y.numpy().astype(np.float32))


def small_models(d):
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.RandomState(0)

    def save(name, nodes, inputs, outputs, inits=(), opset=13):
        g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 7
        onnx.save(m, os.path.join(d, name + ".onnx"))

    def vi(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    # conv -> bn -> relu, plus the shape arithmetic exporters emit before a
    # reshape: Shape, Gather, Unsqueeze, Concat, Reshape; an Identity and a
    # Dropout that vanish
    w = rng.randn(4, 3, 3, 3).astype(np.float32)
    b = rng.randn(4).astype(np.float32)
    scale = (rng.rand(4) + 0.5).astype(np.float32)
    shift = rng.randn(4).astype(np.float32)
    mean = rng.randn(4).astype(np.float32)
    var = (rng.rand(4) + 0.5).astype(np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             [(w, "w"), (b, "b"), (scale, "scale"), (shift, "shift"), (mean, "mean"), (var, "var"),
              (np.array(0, np.int64), "zero"), (np.array([-1], np.int64), "minus1")]]
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean", "var"], ["bn"],
                         name="bn", epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("Identity", ["r"], ["r2"], name="ident"),
        helper.make_node("Dropout", ["r2"], ["r3"], name="drop"),
        helper.make_node("Shape", ["r3"], ["s"], name="shape"),
        helper.make_node("Gather", ["s", "zero"], ["n"], name="gather", axis=0),
        helper.make_node("Unsqueeze", ["n", "zero"], ["n1"], name="unsq"),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], name="cat", axis=0),
        helper.make_node("Reshape", ["r3", "target"], ["y"], name="reshape"),
    ]
    save("chain", nodes, [vi("x", [2, 3, 5, 5])], [vi("y", [2, 100])], inits)
    x = rng.randn(2, 3, 5, 5).astype(np.float32)
    import torch
    import torch.nn.functional as F
    t = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), padding=1)
    t = F.batch_norm(t, torch.from_numpy(mean), torch.from_numpy(var), torch.from_numpy(scale),
                     torch.from_numpy(shift), False, 0.0, 1e-3)
    t = torch.relu(t).reshape(2, -1)
    np.save(os.path.join(d, "chain.in.npy"), x)
    np.save(os.path.join(d, "chain.out.npy"), t.numpy().astype(np.float32))

    # the same weights in an external file beside the model
    wext = numpy_helper.from_array(w, "w")
    wext.ClearField("raw_data")
    wext.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "chain_w.bin"), ("offset", "16"), ("length", str(w.nbytes))]:
        e = wext.external_data.add()
        e.key, e.value = k, v
    with open(os.path.join(d, "chain_w.bin"), "wb") as f:
        f.write(b"\0" * 16 + w.tobytes())
    save("external", nodes, [vi("x", [2, 3, 5, 5])], [vi("y", [2, 100])], [wext] + inits[1:])
    for name, loc in [("external_missing", "nothere.bin"), ("external_abs", "/etc/passwd"),
                      ("external_dotdot", "../chain_w.bin")]:
        t = onnx.TensorProto()
        t.CopyFrom(wext)
        t.external_data[0].value = loc
        save(name, nodes, [vi("x", [2, 3, 5, 5])], [vi("y", [2, 100])], [t] + inits[1:])
    t = onnx.TensorProto()
    t.CopyFrom(wext)
    t.external_data[2].value = str(w.nbytes + 4)
    save("external_length", nodes, [vi("x", [2, 3, 5, 5])], [vi("y", [2, 100])], [t] + inits[1:])

    relu_in = [vi("x", [1, 4])]
    # a cycle: a = x + b, b = relu(a)
    save("cycle", [helper.make_node("Add", ["x", "b"], ["a"], name="add"),
                   helper.make_node("Relu", ["a"], ["b"], name="relu")],
         relu_in, [vi("a", [1, 4])])
    # an input nothing produces
    save("dangling", [helper.make_node("Add", ["x", "ghost"], ["y"], name="add")],
         relu_in, [vi("y", [1, 4])])
    # an initializer whose raw data is short
    bad = numpy_helper.from_array(np.ones((2, 3), np.float32), "k")
    bad.raw_data = bad.raw_data[:-4]
    save("short_init", [helper.make_node("Add", ["x", "k"], ["y"], name="add")],
         [vi("x", [2, 3])], [vi("y", [2, 3])], [bad])
    # absurd and negative dims
    huge = onnx.TensorProto()
    huge.name, huge.data_type = "k", TensorProto.FLOAT
    huge.dims.extend([1 << 40, 1 << 40])
    save("absurd", [helper.make_node("Add", ["x", "k"], ["y"], name="add")],
         [vi("x", [2, 3])], [vi("y", [2, 3])], [huge])
    neg = onnx.TensorProto()
    neg.name, neg.data_type = "k", TensorProto.FLOAT
    neg.dims.extend([-2, 3])
    neg.float_data.extend([1.0] * 6)
    save("negative_dim", [helper.make_node("Add", ["x", "k"], ["y"], name="add")],
         [vi("x", [2, 3])], [vi("y", [2, 3])], [neg])
    nine = onnx.TensorProto()
    nine.name, nine.data_type = "k", TensorProto.FLOAT
    nine.dims.extend([1] * 9)
    nine.float_data.append(1.0)
    save("nine_dims", [helper.make_node("Add", ["x", "k"], ["y"], name="add")],
         [vi("x", [2, 3])], [vi("y", [2, 3])], [nine])
    # unsupported operators, listed together
    save("unsupported", [
        helper.make_node("NonMaxSuppression", ["x", "x"], ["n1"], name="nms_1"),
        helper.make_node("NonMaxSuppression", ["x", "x"], ["n2"], name="nms_2"),
        helper.make_node("TopK", ["x", "k"], ["v", "i"], name="topk_0"),
        helper.make_node("Relu", ["x"], ["y"], name="relu"),
    ], [vi("x", [1, 4]), helper.make_tensor_value_info("k", TensorProto.INT64, [1])],
        [vi("y", [1, 4])])
    # a shape error found at import by the probe forward
    w2 = numpy_helper.from_array(rng.randn(4, 5, 3, 3).astype(np.float32), "w")
    save("bad_conv", [helper.make_node("Conv", ["x", "w"], ["y"], name="conv_7")],
         [vi("x", [1, 3, 8, 8])], [vi("y", [1, 4, 6, 6])], [w2])
    # two inputs, two outputs
    save("two", [helper.make_node("Add", ["a", "b"], ["s"], name="add"),
                 helper.make_node("Mul", ["a", "b"], ["p"], name="mul")],
         [vi("a", [2, 3]), vi("b", [2, 3])], [vi("s", [2, 3]), vi("p", [2, 3])])
    # a channel shuffle's Reshape/Transpose/Reshape but for the last shape
    # (H and W swapped): not a ChannelShuffle, the three nodes stay
    shapes = [numpy_helper.from_array(np.array(v, np.int64), n) for v, n in
              [([1, 2, 3, 4, 5], "split"), ([1, 6, 5, 4], "back")]]
    save("shuffle_like", [helper.make_node("Reshape", ["x", "split"], ["a"], name="r1"),
                          helper.make_node("Transpose", ["a"], ["t"], name="tr", perm=[0, 2, 1, 3, 4]),
                          helper.make_node("Reshape", ["t", "back"], ["y"], name="r2")],
         [vi("x", [1, 6, 4, 5])], [vi("y", [1, 6, 5, 4])], shapes)
    x = rng.randn(1, 6, 4, 5).astype(np.float32)
    np.save(os.path.join(d, "shuffle_like.in.npy"), x)
    np.save(os.path.join(d, "shuffle_like.out.npy"),
            x.reshape(1, 2, 3, 4, 5).transpose(0, 2, 1, 3, 4).reshape(1, 6, 5, 4))


def main():
    d = outdir("onnx")
    small_models(d)
    if len(sys.argv) <= 2:
        export_dynamic(d)
    export_nets(d, sys.argv[2:] or None)


if __name__ == "__main__":
    main()
