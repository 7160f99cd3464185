"""common.py -- shared by the reference generators in spec/ref/ref_*.py.

Each generator is run as `python3 spec/ref/ref_x.py OUTDIR` by `make refs` and
writes .npy files under OUTDIR/<group>/ that the busted specs compare against.
"""
import os
import sys

import numpy as np

ONNX_NODE_DIR = "/usr/share/libonnx-testdata/data/node"


def outdir(group):
    d = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build/ref", group)
    os.makedirs(d, exist_ok=True)
    return d


def save(group, name, array):
    """Saves array as float32 OUTDIR/group/name.npy."""
    np.save(os.path.join(outdir(group), name + ".npy"),
            np.ascontiguousarray(np.asarray(array, dtype=np.float32)))


def onnx_case(case):
    """(node, inputs, outputs) of an ONNX node conformance case: the node
    proto (attributes in node.attribute) and lists of numpy arrays."""
    import onnx
    from onnx import numpy_helper
    d = os.path.join(ONNX_NODE_DIR, case)
    model = onnx.load(os.path.join(d, "model.onnx"))
    node = model.graph.node[0]
    ds = os.path.join(d, "test_data_set_0")
    def read(prefix):
        out, i = [], 0
        while os.path.exists(os.path.join(ds, "%s_%d.pb" % (prefix, i))):
            t = onnx.TensorProto()
            with open(os.path.join(ds, "%s_%d.pb" % (prefix, i)), "rb") as f:
                t.ParseFromString(f.read())
            out.append(numpy_helper.to_array(t))
            i += 1
        return out
    return node, read("input"), read("output")


def onnx_attrs(node):
    """Attributes of an ONNX node as a plain dict."""
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def save_onnx_case(group, case):
    """Saves an ONNX case's inputs and outputs as group/<case>.in<i>.npy and
    .out<i>.npy, and returns its attributes (for the generator to record)."""
    node, ins, outs = onnx_case(case)
    for i, a in enumerate(ins):
        save(group, "%s.in%d" % (case, i), a)
    for i, a in enumerate(outs):
        save(group, "%s.out%d" % (case, i), a)
    return onnx_attrs(node)
