/* image.c -- images in and out: decoding (stb_image) with size limits and
** truncation checks, encoding (stb_image_write), u8 pixels <-> float C,H,W. */

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "ember.h"

/* ------------------------------------------------------------ u8 images */

void em_image_init(em_image *im) { memset(im, 0, sizeof *im); }

void em_image_free(em_image *im) {
  free(im->data);
  em_image_init(im);
}

em_status em_image_alloc(em_image *im, int w, int h, int c, em_err *err) {
  if (w <= 0 || h <= 0 || c < 1 || c > 4)
    return em_fail(err, EM_EARG, "image size %dx%d with %d channels is not valid", w, h, c);
  size_t n = (size_t)w * (size_t)h * (size_t)c;
  if (im->data && (size_t)im->w * im->h * im->c == n) {
    im->w = w; im->h = h; im->c = c;
    return EM_OK;
  }
  uint8_t *p = malloc(n);
  if (!p) return em_fail(err, EM_ENOMEM, "out of memory for a %dx%d image", w, h);
  free(im->data);
  im->data = p; im->w = w; im->h = h; im->c = c;
  return EM_OK;
}

/* "28 GiB", "300 MiB": sizes in limit messages. */
static const char *human(double bytes, char *buf, size_t len) {
  if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, len, "%.0f GiB", bytes / (1024.0 * 1024 * 1024));
  else if (bytes >= 1024.0 * 1024) snprintf(buf, len, "%.0f MiB", bytes / (1024.0 * 1024));
  else snprintf(buf, len, "%.0f bytes", bytes);
  return buf;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }

/* stb_image decodes whatever data there is and fills the rest (grey or
** black) for JPEG, BMP, GIF and PNM, so a cut file would pass as an image.
** JPEG: walks the marker segments (APPn skipped whole, so an EXIF
** thumbnail's end marker does not count) and the entropy-coded data after
** each SOS up to EOI. */
static int jpeg_complete(const uint8_t *p, size_t n) {
  size_t i = 2;
  while (i + 1 < n) {
    if (p[i] != 0xFF) return 0;
    uint8_t m = p[i + 1];
    if (m == 0xFF) { i++; continue; }              /* fill byte */
    if (m == 0xD9) return 1;                        /* EOI */
    if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { i += 2; continue; }
    if (i + 3 >= n) return 0;
    size_t seg = ((size_t)p[i + 2] << 8) | p[i + 3];
    i += 2 + seg;
    if (m != 0xDA) continue;
    /* entropy-coded data: ends at a marker that is not a stuffed 0 or RSTn */
    while (i + 1 < n && !(p[i] == 0xFF && p[i + 1] != 0 && !(p[i + 1] >= 0xD0 && p[i + 1] <= 0xD7)))
      i++;
  }
  return 0;
}

static size_t skip_gif_blocks(const uint8_t *p, size_t n, size_t i) {
  while (i < n && p[i] != 0) i += (size_t)p[i] + 1;
  return i + 1;   /* past the terminator; > n when cut */
}

/* The format's name if the file ends before the data its header declares
** (for the first GIF frame: through its last data sub-block), else NULL. */
static const char *truncated(const uint8_t *p, size_t n, int w, int h) {
  if (n >= 2 && p[0] == 0xFF && p[1] == 0xD8) return jpeg_complete(p, n) ? NULL : "JPEG (no end of image marker)";
  if (n >= 34 && p[0] == 'B' && p[1] == 'M') {
    int core = le32(p + 14) == 12;
    uint64_t bpp = core ? (uint64_t)(p[24] | p[25] << 8) : (uint64_t)(p[28] | p[29] << 8);
    uint32_t comp = core ? 0 : le32(p + 30);
    uint64_t need = le32(p + 10) + (bpp * (uint64_t)w + 31) / 32 * 4 * (uint64_t)h;
    return (comp == 0 || comp == 3) && n < need ? "BMP" : NULL;
  }
  if (n >= 6 && !memcmp(p, "GIF8", 4)) {
    size_t i = 13;
    if (n > 10 && (p[10] & 0x80)) i += (size_t)3 << ((p[10] & 7) + 1);
    while (i < n && p[i] == 0x21) i = skip_gif_blocks(p, n, i + 2);   /* extensions */
    if (i + 10 > n || p[i] != 0x2C) return i < n ? NULL : "GIF";   /* no image: stb says so */
    uint8_t flags = p[i + 9];
    i += 10 + ((flags & 0x80) ? (size_t)3 << ((flags & 7) + 1) : 0) + 1;
    return skip_gif_blocks(p, n, i) > n ? "GIF" : NULL;
  }
  if (n >= 3 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) {
    size_t i = 2;
    uint64_t v[3] = {0, 0, 0};
    for (int k = 0; k < 3; k++) {
      for (;;) {   /* whitespace and # comments */
        while (i < n && (p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r'))) i++;
        if (i < n && p[i] == '#') { while (i < n && p[i] != '\n') i++; } else break;
      }
      while (i < n && p[i] >= '0' && p[i] <= '9' && v[k] < 1u << 30) v[k] = v[k] * 10 + (p[i++] - '0');
    }
    uint64_t need = i + 1 + v[0] * v[1] * (p[1] == '6' ? 3 : 1) * (v[2] > 255 ? 2 : 1);
    return n < need ? "PNM" : NULL;
  }
  return NULL;
}

/* Width and height from the header of a PNG, BMP, GIF or JPEG, read here
** because stb_image's own header reader refuses images over 1 GiB with
** only "too large"; 0 if the format is not one of these. */

static int header_dims(const uint8_t *p, size_t n, int64_t *w, int64_t *h) {
  if (n >= 24 && !memcmp(p, "\x89PNG\r\n\x1a\n", 8)) {
    *w = be32(p + 16); *h = be32(p + 20);
    return 1;
  }
  if (n >= 26 && p[0] == 'B' && p[1] == 'M') {
    if (le32(p + 14) == 12) { *w = p[18] | p[19] << 8; *h = p[20] | p[21] << 8; return 1; }
    *w = llabs((int64_t)(int32_t)le32(p + 18));
    *h = llabs((int64_t)(int32_t)le32(p + 22));   /* negative: top-down rows */
    return 1;
  }
  if (n >= 10 && !memcmp(p, "GIF8", 4)) {
    *w = p[6] | p[7] << 8; *h = p[8] | p[9] << 8;
    return 1;
  }
  if (n >= 4 && p[0] == 0xFF && p[1] == 0xD8) {
    for (size_t i = 2; i + 8 < n;) {   /* marker segments up to the frame header */
      if (p[i] != 0xFF) return 0;
      uint8_t m = p[i + 1];
      if (m == 0xFF) { i++; continue; }
      if (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) {
        *h = p[i + 5] << 8 | p[i + 6]; *w = p[i + 7] << 8 | p[i + 8];
        return 1;
      }
      if (m == 0xD9 || m == 0xDA) return 0;
      if (m == 0x01 || (m >= 0xD0 && m <= 0xD8)) { i += 2; continue; }
      i += 2 + ((size_t)p[i + 2] << 8 | p[i + 3]);
    }
  }
  return 0;
}

static em_status check_limits(int64_t w, int64_t h, int c, int64_t max_side, int64_t max_bytes,
                              const char *name, em_err *err) {
  char s1[32], s2[32];
  double need = (double)w * h * c;
  if (w > max_side || h > max_side || need > (double)max_bytes)
    return em_fail(err, EM_ENOMEM, "%s: image %lldx%lld would need %s (limits: %lldx%lld, %s)", name,
                   (long long)w, (long long)h, human(need, s1, sizeof s1), (long long)max_side,
                   (long long)max_side, human((double)max_bytes, s2, sizeof s2));
  return EM_OK;
}

/* PIL's "L" conversion (Convert.c, L24): ITU-R 601-2 luma in 16-bit fixed point. */
static void to_gray_u8(const uint8_t *src, uint8_t *dst, size_t npix, int c) {
  for (size_t i = 0; i < npix; i++, src += c)
    dst[i] = (uint8_t)((src[0] * 19595 + src[1] * 38470 + src[2] * 7471 + 0x8000) >> 16);
}

em_status em_image_decode(em_image *im, const void *buf, size_t len, int channels,
                          const em_image_limits *lim, const char *name, em_err *err) {
  int64_t max_side = lim && lim->max_side > 0 ? lim->max_side : EM_IMAGE_MAX_SIDE;
  int64_t max_bytes = lim && lim->max_bytes > 0 ? lim->max_bytes : EM_IMAGE_MAX_BYTES;
  const uint8_t *p = buf;
  int w, h, c, req;
  if (!name) name = "image";
  if (channels < 0 || channels > 4)
    return em_fail(err, EM_EARG, "%s: channels must be 1 to 4 (or 0 for the file's), got %d", name, channels);
  if (!buf || len == 0) return em_fail(err, EM_EFORMAT, "%s: empty file", name);
  if (len > INT_MAX) return em_fail(err, EM_EFORMAT, "%s: file of %zu bytes is too large to decode", name, len);
  int64_t hw, hh;
  if (header_dims(p, len, &hw, &hh) && check_limits(hw, hh, channels ? channels : 3, max_side, max_bytes, name, err))
    return EM_ENOMEM;
  if (!stbi_info_from_memory(p, (int)len, &w, &h, &c))
    return em_fail(err, EM_EFORMAT, "%s: not an image of a known format (%s)", name, stbi_failure_reason());
  int outc = channels ? channels : c;
  if (w <= 0 || h <= 0)
    return em_fail(err, EM_EFORMAT, "%s: image declares a size of %dx%d", name, w, h);
  /* stb may hold both its native and the converted buffer: count the larger */
  if (check_limits(w, h, outc > c ? outc : c, max_side, max_bytes, name, err)) return EM_ENOMEM;
  const char *cut = truncated(p, len, w, h);
  if (cut) return em_fail(err, EM_EFORMAT, "%s: truncated %s", name, cut);
  /* grey from colour with PIL's weights, not stb's own */
  req = (outc == 1 && c >= 3) ? 3 : outc;
  uint8_t *px = stbi_load_from_memory(p, (int)len, &w, &h, &c, req);
  if (!px) {
    const char *why = stbi_failure_reason();
    return em_fail(err, EM_EFORMAT, "%s: cannot decode (%s)", name, why && *why ? why : "corrupt or truncated data");
  }
  em_status st = em_image_alloc(im, w, h, outc, err);
  if (st == EM_OK) {
    if (req == outc) memcpy(im->data, px, (size_t)w * h * outc);
    else to_gray_u8(px, im->data, (size_t)w * h, req);
  }
  stbi_image_free(px);
  return st;
}

em_status em_image_load(em_image *im, const char *path, int channels,
                        const em_image_limits *lim, em_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) return em_fail(err, EM_EIO, "%s: cannot open", path);
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0, got;
  em_status st = EM_OK;
  do {   /* read in growing chunks: works for pipes and sizes fseek cannot tell */
    if (len == cap) {
      cap = cap ? cap * 2 : 1 << 16;
      if (cap > (size_t)INT_MAX + 1) { st = em_fail(err, EM_EFORMAT, "%s: file too large to decode", path); break; }
      uint8_t *nb = realloc(buf, cap);
      if (!nb) { st = em_fail(err, EM_ENOMEM, "%s: out of memory reading the file", path); break; }
      buf = nb;
    }
    got = fread(buf + len, 1, cap - len, f);
    len += got;
  } while (got > 0);
  if (st == EM_OK && ferror(f)) st = em_fail(err, EM_EIO, "%s: read error", path);
  fclose(f);
  if (st == EM_OK) st = em_image_decode(im, buf, len, channels, lim, path, err);
  free(buf);
  return st;
}

static void write_func(void *ctx, void *data, int size) {
  FILE *f = ctx;
  fwrite(data, 1, (size_t)size, f);   /* a short write sets ferror(f), checked after */
}

em_status em_image_save(const em_image *im, const char *path, int quality, em_err *err) {
  const char *ext = strrchr(path, '.');
  int kind = !ext ? -1 : !strcasecmp(ext, ".png") ? 0
           : (!strcasecmp(ext, ".jpg") || !strcasecmp(ext, ".jpeg")) ? 1
           : !strcasecmp(ext, ".bmp") ? 2 : -1;
  if (kind < 0) return em_fail(err, EM_EARG, "%s: unknown image format (use .png, .jpg or .bmp)", path);
  if (!im || !im->data || im->w <= 0 || im->h <= 0 || im->c < 1 || im->c > 4)
    return em_fail(err, EM_EARG, "%s: no image to save", path);
  if (quality < 1 || quality > 100) return em_fail(err, EM_EARG, "JPEG quality must be 1 to 100, got %d", quality);
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 8);
  if (!tmp) return em_fail(err, EM_ENOMEM, "out of memory");
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".XXXXXX", 8);
  /* a reader never sees half a file: write beside it, then rename over */
  int fd = mkstemp(tmp);
  if (fd < 0) { free(tmp); return em_fail(err, EM_EIO, "%s: cannot create a file beside it", path); }
  FILE *f = fdopen(fd, "wb");
  if (!f) { close(fd); unlink(tmp); free(tmp); return em_fail(err, EM_EIO, "%s: cannot write", path); }
  int ok = kind == 0 ? stbi_write_png_to_func(write_func, f, im->w, im->h, im->c, im->data, im->w * im->c)
         : kind == 1 ? stbi_write_jpg_to_func(write_func, f, im->w, im->h, im->c, im->data, quality)
         : stbi_write_bmp_to_func(write_func, f, im->w, im->h, im->c, im->data);
  int werr = ferror(f);
  if (fclose(f) != 0) werr = 1;
  if (!ok || werr || rename(tmp, path) != 0) {
    unlink(tmp);
    free(tmp);
    return em_fail(err, EM_EIO, "%s: %s", path, ok ? "write failed (disk full?)" : "encoding failed");
  }
  free(tmp);
  return EM_OK;
}

/* ---------------------------------------------------- u8 <-> float C,H,W */

static em_status check_image_tensor(const em_tensor *t, const char *what, em_err *err) {
  char s[128];
  if (!t || !t->storage || em_tensor_nelement(t) == 0) return em_fail(err, EM_EARG, "%s is empty", what);
  if (t->ndim != 3 && t->ndim != 2)
    return em_fail(err, EM_ESHAPE, "expected a C,H,W (or H,W) %s, got %s", what, em_tensor_shape_str(t, s, sizeof s));
  return EM_OK;
}

em_status em_image_to_tensor(const em_image *im, em_tensor *t, float range, em_err *err) {
  if (!im || !im->data) return em_fail(err, EM_EARG, "image is empty");
  int64_t sz[3] = {im->c, im->h, im->w};
  if (em_tensor_resize(t, 3, sz, err)) return EM_ENOMEM;
  float *o = em_tensor_data(t), lut[256];
  size_t hw = (size_t)im->w * im->h;
  /* x / 255 as torchvision's ToTensor, so range 1 matches it bit for bit */
  for (int v = 0; v < 256; v++) lut[v] = range == 255.0f ? (float)v : (float)v / 255.0f * range;
  const uint8_t *px = im->data;
  if (im->c == 3) {   /* the common case, one pass */
    for (size_t i = 0; i < hw; i++, px += 3) {
      o[i] = lut[px[0]]; o[hw + i] = lut[px[1]]; o[2 * hw + i] = lut[px[2]];
    }
  } else {
    for (size_t i = 0; i < hw; i++)
      for (int ch = 0; ch < im->c; ch++) o[ch * hw + i] = lut[*px++];
  }
  return EM_OK;
}

em_status em_image_from_tensor(em_image *im, const em_tensor *t, float range, em_err *err) {
  em_tensor c;
  char s[128];
  em_status cs = check_image_tensor(t, "image", err);
  if (cs) return cs;
  int nc = t->ndim == 3 ? (int)t->size[0] : 1;
  if (nc < 1 || nc > 4)
    return em_fail(err, EM_ESHAPE, "expected 1 to 4 channels, got %s", em_tensor_shape_str(t, s, sizeof s));
  if (t->size[t->ndim - 1] > INT_MAX || t->size[t->ndim - 2] > INT_MAX)
    return em_fail(err, EM_ESHAPE, "image %s is too large", em_tensor_shape_str(t, s, sizeof s));
  if (!(range > 0)) return em_fail(err, EM_EARG, "range must be positive, got %g", range);
  int h = (int)t->size[t->ndim - 2], w = (int)t->size[t->ndim - 1];
  em_tensor_init(&c);
  if (em_tensor_contiguous(&c, t, err)) return EM_ENOMEM;
  em_status st = em_image_alloc(im, w, h, nc, err);
  if (st == EM_OK) {
    const float *x = em_tensor_data(&c);
    size_t hw = (size_t)w * h;
    float k = 255.0f / range;
    uint8_t *o = im->data;
    for (size_t i = 0; i < hw; i++)
      for (int ch = 0; ch < nc; ch++) {
        float v = x[ch * hw + i] * k;
        *o++ = v >= 255.0f ? 255 : v > 0.0f ? (uint8_t)(int)(v + 0.5f) : 0;   /* NaN -> 0 */
      }
  }
  em_tensor_free(&c);
  return st;
}

/* ------------------------------------------------------- u8 grayscale */

em_status em_image_grayscale_u8(const em_image *src, em_image *dst, em_err *err) {
  if (!src || !src->data) return em_fail(err, EM_EARG, "image is empty");
  if (src == dst) return em_fail(err, EM_EARG, "output is the input image");
  if (em_image_alloc(dst, src->w, src->h, 1, err)) return EM_ENOMEM;
  size_t n = (size_t)src->w * src->h;
  if (src->c >= 3) to_gray_u8(src->data, dst->data, n, src->c);
  else for (size_t i = 0; i < n; i++) dst->data[i] = src->data[i * src->c];   /* L or LA */
  return EM_OK;
}
