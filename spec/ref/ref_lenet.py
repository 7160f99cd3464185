"""ref_lenet.py -- PyTorch's logits for the shipped digits model
(weights/lenet.safetensors) on the sample digits apps/digits/*.png and a few
distorted copies of them, for spec/lenet_spec.lua.

Writes OUTDIR/lenet/input.npy (N,1,28,28, normalised as nets/lenet.lua says)
and OUTDIR/lenet/logits.npy (N,10). The weights are read with a reader of
its own (not ember's), the PNGs with PIL when present, else a small decoder.
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch

from common import save

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from train_lenet import LeNet, MEAN, STD  # noqa: E402

WEIGHTS = os.path.join(ROOT, "weights", "lenet.safetensors")
DIGITS = os.path.join(ROOT, "apps", "digits")
DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=np.dtype(DTYPES[h["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(np.float32).reshape(h["shape"]))
    return out


def read_png_gray(path):
    """An 8-bit greyscale, non-interlaced PNG as float32 H,W in [0, 1]."""
    try:
        from PIL import Image
        return np.asarray(Image.open(path).convert("L"), dtype=np.float32) / 255
    except ImportError:
        pass
    with open(path, "rb") as f:
        raw = f.read()
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(raw):
        n, tag = struct.unpack(">I4s", raw[pos:pos + 8])
        body = raw[pos + 8:pos + 8 + n]
        if tag == b"IHDR":
            w, h, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or color != 0 or interlace:
                raise SystemExit("%s: expected an 8-bit greyscale PNG" % path)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + n
    rows = zlib.decompress(idat)
    img, prev = np.zeros((h, w), np.uint8), np.zeros(w, np.int32)
    for y in range(h):
        start = y * (w + 1)
        kind = rows[start]
        line = np.frombuffer(rows[start + 1:start + 1 + w], np.uint8).astype(np.int32)
        if kind == 2:
            line = (line + prev) & 255
        elif kind != 0:
            raise SystemExit("%s: PNG filter %d not handled" % (path, kind))
        img[y], prev = line, line
    return img.astype(np.float32) / 255


def main():
    if not os.path.exists(WEIGHTS):
        print("ref_lenet: %s is absent (make lenet), no reference" % WEIGHTS, file=sys.stderr)
        return
    torch.manual_seed(0)
    model = LeNet()
    model.load_state_dict(read_safetensors(WEIGHTS))
    model.eval()
    digits = np.stack([read_png_gray(os.path.join(DIGITS, "%d.png" % d)) for d in range(10)])
    x = torch.from_numpy(digits).unsqueeze(1)
    # a second batch: the same digits shifted, inverted and noisy (other logits)
    g = torch.Generator().manual_seed(2)
    y = torch.roll(x, shifts=(2, -1), dims=(2, 3)) * 0.8 + torch.rand(x.shape, generator=g) * 0.2
    x = torch.cat([x, 1 - x[:3], y])
    x = (x - MEAN) / STD
    with torch.no_grad():
        logits = model(x)
    save("lenet", "input", x.numpy())
    save("lenet", "logits", logits.numpy())
    save("lenet", "labels", np.arange(10))


if __name__ == "__main__":
    main()
