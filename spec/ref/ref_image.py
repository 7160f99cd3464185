"""ref_image.py -- references for spec/image_spec.lua from PIL and torchvision.

Writes OUTDIR/image/: test images made here with PIL (random patterns and
gradients as PNG, JPEG, BMP, GIF, PPM; nothing binary is committed), and for
each of them and each photo of ../shared/data/photos (skipped with a notice
when absent), as .npy:
  <name>.decode   PIL's decoding, convert("RGB"), uint8 C,H,W
  <name>.gray     convert("RGB").convert("L"), uint8 1,H,W
  <name>.tv       torchvision Resize(256) + CenterCrop(224) + ToTensor
  <name>.tvnorm   the same + Normalize(ImageNet mean, std)
  <name>.sizes    [w1, h1, w2, h2]: a downscale and an upscale size (the
                  upscale only for images up to 300 wide)
  <name>.pil<i>   PIL resize((w, h), BILINEAR) of the RGB image (antialiased)
  <name>.bil<i>   F.interpolate(bilinear, align_corners=False, antialias=False)
  <name>.aa<i>    F.interpolate(bilinear, align_corners=False, antialias=True)
on the PIL-decoded image; names.txt lists the names, one a line.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
import torchvision.transforms as T

from common import outdir, save

PHOTOS = "../shared/data/photos"
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def chw(a):
    a = np.asarray(a, dtype=np.float32) / 255.0
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def make_images(d):
    """Test images, saved by PIL; returns [(name, path)]."""
    rng = np.random.RandomState(7)
    out = []
    noise = rng.randint(0, 256, (90, 121, 3), dtype=np.uint8)
    y, x = np.mgrid[0:480, 0:641]
    smooth = np.stack([(x * 255 // 640), (y * 255 // 479), ((x + y) * 3) % 256], -1)
    smooth = np.clip(smooth + rng.randint(-20, 21, smooth.shape), 0, 255).astype(np.uint8)
    tall = rng.randint(0, 256, (301, 199, 3), dtype=np.uint8)
    def put(name, img, **kw):
        p = os.path.join(d, name)
        img.save(p, **kw)
        out.append((name, p))
    put("noise.png", Image.fromarray(noise))
    put("smooth.png", Image.fromarray(smooth))
    put("tall.bmp", Image.fromarray(tall))
    put("smooth.jpg", Image.fromarray(smooth), quality=90)
    put("noise.jpg", Image.fromarray(noise), quality=75)
    put("gray.png", Image.fromarray(smooth[:, :, 1]))
    put("rgba.png", Image.fromarray(np.concatenate([noise, noise[:, :, :1]], -1), "RGBA"))
    put("pal.gif", Image.fromarray(smooth[::4, ::4]).quantize(64))
    put("noise.ppm", Image.fromarray(noise))
    return out


def references(name, path):
    img = Image.open(path)
    rgb = img.convert("RGB")
    # decoded pixels as uint8 C,H,W (a quarter of the float size)
    np.save(os.path.join(outdir("image"), name + ".decode.npy"),
            np.ascontiguousarray(np.asarray(rgb).transpose(2, 0, 1)))
    np.save(os.path.join(outdir("image"), name + ".gray.npy"), np.asarray(rgb.convert("L"))[None])
    tv = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    x = tv(rgb)
    save("image", name + ".tv", x.numpy())
    save("image", name + ".tvnorm", T.Normalize(MEAN, STD)(x).numpy())
    w, h = rgb.size
    sizes = [max(1, round(w * 0.37)), max(1, round(h * 0.61)), round(w * 1.5) + 1, round(h * 1.25)]
    if w > 300:   # smaller references for the big ones: no upscale, a stronger downscale
        sizes = [max(1, round(w * 0.23)), max(1, round(h * 0.31))]
    save("image", name + ".sizes", np.array(sizes))
    t = torch.from_numpy(chw(rgb))[None]
    for i in range(len(sizes) // 2):
        sw, sh = sizes[2 * i], sizes[2 * i + 1]
        save("image", "%s.pil%d" % (name, i), chw(rgb.resize((sw, sh), Image.BILINEAR)))
        save("image", "%s.bil%d" % (name, i),
             F.interpolate(t, size=(sh, sw), mode="bilinear", align_corners=False, antialias=False)[0].numpy())
        save("image", "%s.aa%d" % (name, i),
             F.interpolate(t, size=(sh, sw), mode="bilinear", align_corners=False, antialias=True)[0].numpy())


def main():
    d = outdir("image")
    items = make_images(d)
    if os.path.isdir(PHOTOS):
        for f in sorted(os.listdir(PHOTOS)):
            items.append(("photo_" + f, os.path.join(PHOTOS, f)))
    else:
        print("ref_image.py: SKIPPED the photos: %s is absent" % PHOTOS)
    for name, path in items:
        references(name, path)
    with open(os.path.join(d, "names.txt"), "w") as f:
        for name, path in items:
            f.write("%s\t%s\n" % (name, os.path.abspath(path)))


if __name__ == "__main__":
    main()
