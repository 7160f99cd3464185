#!/usr/bin/python3
"""torch2safetensors.py -- writes a PyTorch model's state_dict as .safetensors.

Debian has no safetensors package; the format takes a few lines: 8-byte
little-endian header length, a JSON header, then the raw little-endian data.

    python3 tools/torch2safetensors.py torchvision.models.resnet18 resnet18.safetensors
    python3 tools/torch2safetensors.py torchvision.models.resnet18 r18.safetensors \\
        --state resnet18-f37072fd.pth          # weights from a downloaded checkpoint
    python3 tools/torch2safetensors.py model.pth out.safetensors --f16

or, from Python: save_state_dict(model.state_dict(), "out.safetensors").
Floating tensors are written as F32 (or F16 / BF16 with --f16 / --bf16);
integer tensors (num_batches_tracked) keep their integer dtype.
"""
import argparse
import importlib
import json
import struct
import sys

import numpy as np

# numpy dtype -> safetensors dtype
_NP_DTYPES = {
    np.dtype("float64"): "F64", np.dtype("float32"): "F32", np.dtype("float16"): "F16",
    np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("int16"): "I16",
    np.dtype("int8"): "I8", np.dtype("uint8"): "U8", np.dtype("uint16"): "U16",
    np.dtype("uint32"): "U32", np.dtype("uint64"): "U64", np.dtype("bool"): "BOOL",
}


def _encode(value, dtype):
    """(safetensors dtype, little-endian bytes, shape) of a tensor or array,
    floats converted to dtype ("F32", "F16" or "BF16")."""
    shape = list(value.shape)
    try:
        import torch
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            if t.is_floating_point():
                if dtype == "BF16":
                    # numpy has no bfloat16: write its bits as int16
                    bits = t.to(torch.bfloat16).view(torch.int16).numpy()
                    return "BF16", bits.astype("<i2").tobytes(), shape
                t = t.to(torch.float16 if dtype == "F16" else torch.float32)
            value = t.numpy()
    except ImportError:
        pass
    a = np.ascontiguousarray(value)
    if a.dtype.kind == "f":
        if dtype == "BF16":
            raise ValueError("BF16 needs torch tensors")
        a = a.astype(np.float16 if dtype == "F16" else np.float32)
    if a.dtype not in _NP_DTYPES:
        raise ValueError("unsupported dtype %s" % a.dtype)
    st = _NP_DTYPES[a.dtype]
    return st, a.astype(a.dtype.newbyteorder("<")).tobytes(), shape


def save_state_dict(state_dict, path, dtype="F32", metadata=None):
    """Writes name -> tensor (torch or numpy) to path. Tensors are laid out
    by element size, largest first, then name, so each stays aligned; the
    header is padded with spaces to a multiple of 8 bytes."""
    items = []
    for name, value in state_dict.items():
        st, data, shape = _encode(value, dtype)
        items.append((name, st, data, shape))
    size = {"F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4,
            "F16": 2, "BF16": 2, "I16": 2, "U16": 2}
    items.sort(key=lambda it: (-size.get(it[1], 1), it[0]))
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, st, data, shape in items:
        header[name] = {"dtype": st, "shape": shape,
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for _, _, data, _ in items:
            f.write(data)


def _load_state(source, state_path):
    import torch
    if source.endswith((".pth", ".pt", ".bin")):
        sd = torch.load(source, map_location="cpu")
        return sd.get("state_dict", sd) if isinstance(sd, dict) else sd.state_dict()
    module_name, _, fn_name = source.rpartition(".")
    if not module_name:
        raise SystemExit("expected MODULE.FN (e.g. torchvision.models.resnet18) or a .pth file")
    model = getattr(importlib.import_module(module_name), fn_name)()
    if state_path:
        sd = torch.load(state_path, map_location="cpu")
        model.load_state_dict(sd.get("state_dict", sd))
    return model.eval().state_dict()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("source", help="MODULE.FN building the model (torchvision.models.resnet18) "
                                  "or a .pth file holding a state_dict")
    p.add_argument("out", help="the .safetensors file to write")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--f16", action="store_true", help="write floating tensors as F16")
    g.add_argument("--bf16", action="store_true", help="write floating tensors as BF16")
    p.add_argument("--state", help="a .pth state_dict to load into the model first")
    p.add_argument("--seed", type=int, default=0, help="torch seed for the random init")
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE",
                   help="a __metadata__ entry (repeatable)")
    args = p.parse_args(argv)
    for kv in args.meta:
        if "=" not in kv:
            p.error("--meta expects KEY=VALUE, got %r" % kv)
    import torch
    torch.manual_seed(args.seed)
    sd = _load_state(args.source, args.state)
    meta = dict(kv.split("=", 1) for kv in args.meta)
    meta.setdefault("source", args.source)
    dtype = "F16" if args.f16 else "BF16" if args.bf16 else "F32"
    save_state_dict(sd, args.out, dtype, meta)
    print("%s: %d tensors (%s)" % (args.out, len(sd), dtype), file=sys.stderr)


if __name__ == "__main__":
    main()
