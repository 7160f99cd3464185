"""ref_darknet.py -- Debian's darknet (`darknet classifier predict`) on photos:
its top-5 for Tiny Darknet, and all ten outputs of a small random net that
has every layer kind ember imports; the references of spec/darknet_spec.lua.

Runs /usr/bin/darknet once per image in ../shared/data/photos,
/usr/share/darknet/data/*.jpg and one made here (quirk-300x455.png) with /usr/share/darknet/cfg/tiny.cfg and
../shared/data/imagenet/tiny-darknet.weights, and writes OUTDIR/darknet/<name>.txt:
a first line "# <image path>", then five lines "<probability>\t<label>", best
first, parsed from darknet's "%5.2f%%: label" output. Skips with a notice when
darknet or the shared data is absent (the spec then skips too).

The small net: OUTDIR/darknet/mini/mini.cfg (route, shortcut, grouped and
strided convolutions, odd-size max pools, connected with batch norm, dropout,
several activations) with random weights mini.weights (fixed seed), run on
the lossless photos; OUTDIR/darknet/mini-<name>.txt hold its ten outputs.
"""
import glob
import os
import re
import shutil
import subprocess
import sys

SHARED = "../shared/data"
DARKNET_DIR = "/usr/share/darknet"
WEIGHTS = os.path.join(SHARED, "imagenet", "tiny-darknet.weights")
LINE = re.compile(r"^\s*([0-9.]+)%: (.+)$")


def outdir():
    d = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build/ref", "darknet")
    os.makedirs(d, exist_ok=True)
    return d


def predict(image, datafile):
    """darknet's top-5 for one image: [(probability, label)]."""
    # darknet finds cfg/ and the .data file relative to the cwd; the labels
    # path inside the .data file is absolute
    cmd = ["darknet", "classifier", "predict", datafile, "cfg/tiny.cfg",
           os.path.abspath(WEIGHTS), os.path.abspath(image)]
    p = subprocess.run(cmd, cwd=DARKNET_DIR, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=120, check=True)
    if "Cannot load image" in p.stderr or "Cannot load image" in p.stdout:
        raise RuntimeError("darknet cannot load " + image)
    top = []
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if m:
            top.append((float(m.group(1)) / 100, m.group(2)))
    if len(top) != 5:
        raise RuntimeError("expected 5 predictions from darknet for %s, got:\n%s" % (image, p.stdout))
    return top


MINI_CFG = """[net]
height=35
width=35
channels=3

# 0
[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky

# 1: default padding size-1 = 2, windows from -1: 35 -> 18
[maxpool]
size=3
stride=2

# 2
[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
padding=1
groups=2
activation=relu

# 3
[convolutional]
filters=8
size=1
stride=1
pad=1
activation=logistic

# 4
[shortcut]
from=-3
activation=leaky

# 5: size 2 stride 1 keeps 18 (padding 1 after)
[maxpool]
size=2
stride=1

# 6
[route]
layers=-1,2

# 7: 18 -> 9
[convolutional]
batch_normalize=1
filters=16
size=5
stride=2
pad=1
activation=elu

# 8
[route]
layers=-1

# 9
[convolutional]
filters=24
size=3
stride=1
pad=1
activation=leaky

# 10: from 16x18x18 into 24x9x9: every other pixel, into the first 16 channels
[shortcut]
from=-4

# 11
[convolutional]
filters=8
size=1
stride=1
activation=relu

# 12: from 24x9x9 into 8x9x9: its first 8 channels
[shortcut]
from=-2
activation=leaky

# 13
[dropout]
probability=.3

# 14
[connected]
output=32
batch_normalize=1
activation=tanh

# 15
[connected]
output=10
activation=linear

# 16
[softmax]
groups=1

[cost]
type=sse
"""

# (filters, inputs per group, size, batch_normalize) of the convolutions and
# (outputs, inputs, batch_normalize) of the connected layers, in cfg order
MINI_LAYERS = [("conv", 8, 3, 3, True), ("conv", 8, 4, 3, True), ("conv", 8, 8, 1, False),
               ("conv", 16, 16, 5, True), ("conv", 24, 16, 3, False), ("conv", 8, 24, 1, False),
               ("fc", 32, 8 * 9 * 9, True), ("fc", 10, 32, False)]


def write_mini(d):
    """mini.cfg, mini.weights (darknet 0.2.0 header), mini.names, mini.data."""
    import numpy as np
    rng = np.random.default_rng(20181)
    parts = []
    for kind, n, nin, k, bn in ((l[0], l[1], l[2], l[3], l[4]) if l[0] == "conv"
                               else (l[0], l[1], l[2], 1, l[3]) for l in MINI_LAYERS):
        fan = nin * k * k
        w = rng.normal(0, 1.5 / np.sqrt(fan), size=n * fan)
        b = rng.normal(0, 0.2, size=n)
        stats = [rng.uniform(0.7, 1.3, n), rng.normal(0, 0.2, n), rng.uniform(0.3, 2.0, n)]
        if kind == "conv":
            parts += [b] + (stats if bn else []) + [w]
        else:
            parts += [b, w] + (stats if bn else [])
    data = np.concatenate(parts).astype("<f4")
    with open(os.path.join(d, "mini.weights"), "wb") as f:
        f.write(np.array([0, 2, 0], dtype="<i4").tobytes())
        f.write(np.array([12345], dtype="<i8").tobytes())
        f.write(data.tobytes())
    with open(os.path.join(d, "mini.cfg"), "w") as f:
        f.write(MINI_CFG)
    with open(os.path.join(d, "mini.names"), "w") as f:
        f.write("".join("c%d\n" % i for i in range(10)))
    with open(os.path.join(d, "mini.data"), "w") as f:
        f.write("classes=10\nnames=%s\ntop=10\n" % os.path.abspath(os.path.join(d, "mini.names")))


def predict_mini(d, image):
    """darknet's ten outputs of the small net: {label: probability}."""
    cmd = ["darknet", "classifier", "predict", "mini.data", "mini.cfg", "mini.weights",
           os.path.abspath(image)]
    p = subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60, check=True)
    out = {}
    for line in p.stdout.splitlines():
        m = LINE.match(line)
        if m:
            out[m.group(2)] = float(m.group(1)) / 100
    if len(out) != 10:
        raise RuntimeError("expected 10 outputs from darknet, got:\n" + p.stdout + p.stderr)
    return out


def main():
    if shutil.which("darknet") is None or not os.path.isdir(DARKNET_DIR):
        print("ref_darknet: SKIPPED: Debian's darknet is not installed (apt-get install darknet)")
        return
    if not os.path.exists(WEIGHTS):
        print("ref_darknet: SKIPPED: %s is absent" % SHARED)
        return
    datafile = "cfg/imagenet1k.data"
    images = sorted(glob.glob(os.path.join(SHARED, "photos", "*")))
    images += sorted(glob.glob(os.path.join(DARKNET_DIR, "data", "*.jpg")))
    d = outdir()
    for old in glob.glob(os.path.join(d, "*.txt")):
        os.remove(old)
    # a 300x455 photo: letterboxed to 224 rows, (223 * scale) rounds below
    # row 454 and darknet's bottom row comes out nearly black
    try:
        from PIL import Image
        quirk = os.path.join(d, "quirk-300x455.png")
        Image.open(os.path.join(SHARED, "photos", "grace_hopper.bmp")).convert("RGB") \
            .resize((300, 455), Image.BILINEAR).save(quirk)
        images.append(quirk)
    except ImportError:
        print("ref_darknet: no PIL (python3-pil): no quirk-size image")
    for image in images:
        name = os.path.basename(image)
        if image.startswith(DARKNET_DIR):
            name = "darknet-" + name
        top = predict(image, datafile)
        with open(os.path.join(d, name + ".txt"), "w") as f:
            f.write("# %s\n" % os.path.abspath(image))
            for prob, label in top:
                f.write("%.6f\t%s\n" % (prob, label))
    mini = os.path.join(d, "mini")
    os.makedirs(mini, exist_ok=True)
    write_mini(mini)
    lossless = [i for i in images if i.endswith((".bmp", ".png"))]
    for image in lossless:
        out = predict_mini(mini, image)
        with open(os.path.join(d, "mini-" + os.path.basename(image) + ".txt"), "w") as f:
            f.write("# %s\n" % os.path.abspath(image))
            for i in range(10):
                f.write("%.6f\tc%d\n" % (out["c%d" % i], i))
    print("ref_darknet: %d images, the small net on %d" % (len(images), len(lossless)))


if __name__ == "__main__":
    main()
