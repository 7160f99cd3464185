"""ref_darknet.py -- Debian's darknet (`darknet classifier predict`) on photos:
its top-5 for Tiny Darknet, the reference for spec/darknet_spec.lua.

Runs /usr/bin/darknet once per image in ../shared/data/photos and
/usr/share/darknet/data/*.jpg with /usr/share/darknet/cfg/tiny.cfg and
../shared/data/imagenet/tiny-darknet.weights, and writes OUTDIR/darknet/<name>.txt:
a first line "# <image path>", then five lines "<probability>\t<label>", best
first, parsed from darknet's "%5.2f%%: label" output. Skips with a notice when
darknet or the shared data is absent (the spec then skips too).
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
    for image in images:
        name = os.path.basename(image)
        if image.startswith(DARKNET_DIR):
            name = "darknet-" + name
        top = predict(image, datafile)
        with open(os.path.join(d, name + ".txt"), "w") as f:
            f.write("# %s\n" % os.path.abspath(image))
            for prob, label in top:
                f.write("%.6f\t%s\n" % (prob, label))
    print("ref_darknet: %d images" % len(images))


if __name__ == "__main__":
    main()
