/* imageops.c -- the preprocessing a classifier needs: resizing (PIL's and
** OpenCV's arithmetic), crops, letterbox, grayscale, normalising. */

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"

/* PIL's fixed point for 8-bit resampling (Resample.c): 32 bits less 8 for
** the pixel and 2 for the sign and the overshoot of negative weights. */
#define PRECISION_BITS (32 - 8 - 2)

/* ------------------------------------------------------- resampling tables */

/* For each output position: the first input index, the tap count and the
** weights (summing to 1). Separable: one table per axis. */
typedef struct taps {
  int n;            /* outputs */
  int ksize;        /* weights per output */
  int *first, *count;
  double *w;        /* n * ksize */
} taps;

static void taps_free(taps *t) { free(t->first); free(t->count); free(t->w); }

static int taps_alloc(taps *t, int n, int ksize) {
  t->n = n; t->ksize = ksize;
  t->first = malloc(sizeof(int) * (size_t)n);
  t->count = malloc(sizeof(int) * (size_t)n);
  t->w = calloc((size_t)n * (size_t)ksize, sizeof(double));
  if (t->first && t->count && t->w) return 1;
  taps_free(t);
  return 0;
}

/* PIL's precompute_coeffs with the triangle (bilinear) filter: its support
** grows with the downscale factor, so each output averages every input it
** covers (torch's interpolate(antialias=True) computes the same weights). */
static int taps_antialias(taps *t, int in, int out) {
  double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale;
  double support = 1.0 * fs;
  if (!taps_alloc(t, out, (int)ceil(support) * 2 + 1)) return 0;
  for (int o = 0; o < out; o++) {
    double center = (o + 0.5) * scale, ww = 0.0, ss = 1.0 / fs;
    int xmin = (int)(center - support + 0.5), xmax = (int)(center + support + 0.5);
    if (xmin < 0) xmin = 0;
    if (xmax > in) xmax = in;
    xmax -= xmin;
    double *k = t->w + (size_t)o * t->ksize;
    for (int x = 0; x < xmax; x++) {
      double a = fabs((x + xmin - center + 0.5) * ss);
      k[x] = a < 1.0 ? 1.0 - a : 0.0;
      ww += k[x];
    }
    for (int x = 0; x < xmax; x++) if (ww != 0.0) k[x] /= ww;
    t->first[o] = xmin;
    t->count[o] = xmax;
  }
  return 1;
}

/* Two-tap bilinear. Half-pixel centres (align_corners false, as OpenCV and
** PyTorch): src = (o + 0.5) * in/out - 0.5, clamped at 0. Aligned corners
** (darknet's resize_image): src = o * (in-1)/(out-1). */
static int taps_bilinear(taps *t, int in, int out, int aligned) {
  if (!taps_alloc(t, out, 2)) return 0;
  float scale = aligned ? (out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f) : (float)in / (float)out;
  for (int o = 0; o < out; o++) {
    float src = aligned ? o * scale : (o + 0.5f) * scale - 0.5f;
    if (src < 0) src = 0;
    int x0 = (int)src;
    if (x0 > in - 1) x0 = in - 1;
    float l = src - x0;
    t->first[o] = x0;
    if (x0 < in - 1) {
      t->count[o] = 2;
      t->w[2 * o] = 1.0f - l;
      t->w[2 * o + 1] = l;
    } else {
      t->count[o] = 1;
      t->w[2 * o] = 1.0;
    }
  }
  return 1;
}

static int make_taps(taps *t, int in, int out, em_resize mode) {
  if (mode == EM_RESIZE_ANTIALIAS) return taps_antialias(t, in, out);
  return taps_bilinear(t, in, out, mode == EM_RESIZE_ALIGNED);
}

static em_status check_mode(em_resize mode, em_err *err) {
  if (mode != EM_RESIZE_BILINEAR && mode != EM_RESIZE_ANTIALIAS && mode != EM_RESIZE_ALIGNED)
    return em_fail(err, EM_EARG, "unknown resize mode %d", (int)mode);
  return EM_OK;
}

/* ------------------------------------------------------- u8 resampling */

static inline uint8_t clip8(int64_t v) {
  if (v >= (int64_t)256 << PRECISION_BITS) return 255;
  if (v <= 0) return 0;
  return (uint8_t)(v >> PRECISION_BITS);
}

/* Weights to PIL's fixed point, rounded away from zero as PIL does. */
static int *fixed_weights(const taps *t) {
  size_t n = (size_t)t->n * t->ksize;
  int *k = malloc(sizeof(int) * n);
  if (!k) return NULL;
  for (size_t i = 0; i < n; i++)
    k[i] = t->w[i] < 0 ? (int)(-0.5 + t->w[i] * (1 << PRECISION_BITS))
                       : (int)(0.5 + t->w[i] * (1 << PRECISION_BITS));
  return k;
}

/* PIL's ImagingResample for 8-bit images: horizontal pass, rounding to
** 8 bits, then vertical pass. A pass whose size does not change is skipped
** (as PIL does; its weights would be the identity anyway). */
em_status em_image_resize_u8(const em_image *src, em_image *dst, int w, int h, em_resize mode, em_err *err) {
  if (!src || !src->data || src->w <= 0 || src->h <= 0) return em_fail(err, EM_EARG, "image is empty");
  if (w <= 0 || h <= 0) return em_fail(err, EM_EARG, "output size must be positive, got %dx%d", w, h);
  if (src == dst) return em_fail(err, EM_EARG, "output is the input image");
  if (check_mode(mode, err)) return EM_EARG;
  taps tx = {0}, ty = {0};
  int *kx = NULL, *ky = NULL, c = src->c;
  uint8_t *mid = NULL;
  em_status st = EM_OK;
  if (!make_taps(&tx, src->w, w, mode) || !make_taps(&ty, src->h, h, mode) ||
      !(kx = fixed_weights(&tx)) || !(ky = fixed_weights(&ty)) ||
      !(mid = malloc((size_t)w * src->h * c))) {
    st = em_fail(err, EM_ENOMEM, "out of memory resizing %dx%d to %dx%d", src->w, src->h, w, h);
    goto done;
  }
  if ((st = em_image_alloc(dst, w, h, c, err))) goto done;
  const uint8_t *in = src->data;
  if (w != src->w) {
    for (int y = 0; y < src->h; y++)
      for (int x = 0; x < w; x++) {
        const int *k = kx + (size_t)x * tx.ksize;
        const uint8_t *row = in + ((size_t)y * src->w + tx.first[x]) * c;
        for (int ch = 0; ch < c; ch++) {
          int64_t ss = 1 << (PRECISION_BITS - 1);
          for (int i = 0; i < tx.count[x]; i++) ss += (int64_t)row[i * c + ch] * k[i];
          mid[((size_t)y * w + x) * c + ch] = clip8(ss);
        }
      }
    in = mid;
  }
  size_t rowlen = (size_t)w * c;
  for (int y = 0; y < h; y++) {
    uint8_t *o = dst->data + (size_t)y * rowlen;
    if (h == src->h) { memcpy(o, in + (size_t)y * rowlen, rowlen); continue; }
    const int *k = ky + (size_t)y * ty.ksize;
    for (size_t i = 0; i < rowlen; i++) {
      int64_t ss = 1 << (PRECISION_BITS - 1);
      for (int j = 0; j < ty.count[y]; j++) ss += (int64_t)in[(size_t)(ty.first[y] + j) * rowlen + i] * k[j];
      o[i] = clip8(ss);
    }
  }
done:
  taps_free(&tx); taps_free(&ty);
  free(kx); free(ky); free(mid);
  return st;
}

/* ------------------------------------------------ float C,H,W operations */

/* Leading dims are planes; the last two are H,W. dst gets src's leading
** sizes and oh, ow. */
static em_status resize_like(em_tensor *dst, const em_tensor *src, int64_t oh, int64_t ow, em_err *err) {
  int64_t sz[EM_MAXDIM];
  memcpy(sz, src->size, sizeof(int64_t) * (size_t)src->ndim);
  sz[src->ndim - 2] = oh;
  sz[src->ndim - 1] = ow;
  return em_tensor_resize(dst, src->ndim, sz, err);
}

static em_status check_float_image(const em_tensor *src, const em_tensor *dst, em_err *err) {
  char s[128];
  if (!src || !src->storage || em_tensor_nelement(src) == 0) return em_fail(err, EM_EARG, "image is empty");
  if (src->ndim < 2 || src->ndim > 4)
    return em_fail(err, EM_ESHAPE, "expected an image C,H,W (or H,W or N,C,H,W), got %s",
                   em_tensor_shape_str(src, s, sizeof s));
  if (src->size[src->ndim - 1] > INT_MAX || src->size[src->ndim - 2] > INT_MAX)
    return em_fail(err, EM_ESHAPE, "image %s is too large", em_tensor_shape_str(src, s, sizeof s));
  if (dst == src || (dst->storage && dst->storage == src->storage))
    return em_fail(err, EM_EARG, "output shares memory with the input");
  return EM_OK;
}

em_status em_image_resize(const em_tensor *src, em_tensor *dst, int w, int h, em_resize mode, em_err *err) {
  em_status st = check_float_image(src, dst, err);
  if (st) return st;
  if (w <= 0 || h <= 0) return em_fail(err, EM_EARG, "output size must be positive, got %dx%d", w, h);
  if (check_mode(mode, err)) return EM_EARG;
  int ih = (int)src->size[src->ndim - 2], iw = (int)src->size[src->ndim - 1];
  int64_t planes = em_tensor_nelement(src) / ((int64_t)ih * iw);
  taps tx = {0}, ty = {0};
  float *mid = NULL;
  em_tensor c;
  em_tensor_init(&c);
  if (!make_taps(&tx, iw, w, mode) || !make_taps(&ty, ih, h, mode) ||
      !(mid = malloc(sizeof(float) * (size_t)w * ih))) {
    st = em_fail(err, EM_ENOMEM, "out of memory resizing %dx%d to %dx%d", iw, ih, w, h);
    goto done;
  }
  if ((st = em_tensor_contiguous(&c, src, err)) || (st = resize_like(dst, src, h, w, err))) goto done;
  for (int64_t p = 0; p < planes; p++) {
    const float *in = em_tensor_data(&c) + p * (int64_t)ih * iw;
    float *out = em_tensor_data(dst) + p * (int64_t)h * w;
    for (int y = 0; y < ih; y++)
      for (int x = 0; x < w; x++) {
        const double *k = tx.w + (size_t)x * tx.ksize;
        const float *row = in + (size_t)y * iw + tx.first[x];
        float s = 0;
        for (int i = 0; i < tx.count[x]; i++) s += row[i] * (float)k[i];
        mid[(size_t)y * w + x] = s;
      }
    for (int y = 0; y < h; y++) {
      const double *k = ty.w + (size_t)y * ty.ksize;
      float *o = out + (size_t)y * w;
      for (int x = 0; x < w; x++) o[x] = 0;
      for (int j = 0; j < ty.count[y]; j++) {
        const float *r = mid + (size_t)(ty.first[y] + j) * w;
        float kj = (float)k[j];
        for (int x = 0; x < w; x++) o[x] += kj * r[x];
      }
    }
  }
done:
  taps_free(&tx); taps_free(&ty);
  free(mid);
  em_tensor_free(&c);
  return st;
}

em_status em_image_crop(const em_tensor *src, em_tensor *dst, int x, int y, int w, int h, em_err *err) {
  em_tensor v;
  em_status cs = check_float_image(src, dst, err);
  if (cs) return cs;
  int64_t ih = src->size[src->ndim - 2], iw = src->size[src->ndim - 1];
  if (w <= 0 || h <= 0 || x < 0 || y < 0 || x + (int64_t)w > iw || y + (int64_t)h > ih)
    return em_fail(err, EM_ESHAPE, "crop of %dx%d at (%d, %d) does not fit in a %lldx%lld image",
                   w, h, x, y, (long long)iw, (long long)ih);
  em_tensor_init(&v);
  em_status st = em_tensor_narrow(&v, src, src->ndim - 2, y, h, err);
  if (!st) st = em_tensor_narrow(&v, &v, src->ndim - 1, x, w, err);
  if (!st) st = resize_like(dst, src, h, w, err);
  if (!st) st = em_tensor_copy(dst, &v, err);
  em_tensor_free(&v);
  return st;
}

/* torchvision's center_crop: top = int(round((h - th) / 2.0)), and Python
** rounds halves to even. */
static int center_offset(int64_t d) {
  int64_t half = d / 2;
  if (d % 2 == 0) return (int)half;
  return (int)(half % 2 == 0 ? half : half + 1);
}

void em_image_center_box(int w, int h, int tw, int th, int *x, int *y) {
  *x = center_offset((int64_t)w - tw);
  *y = center_offset((int64_t)h - th);
}

/* torchvision's Resize(int): the shorter side becomes n, the longer
** int(n * long / short). */
void em_image_short_side(int w, int h, int n, int *ow, int *oh) {
  int s = w <= h ? w : h, l = w <= h ? h : w;
  int nl = s > 0 ? (int)((double)((int64_t)n * l) / s) : 0;
  *ow = w <= h ? n : nl;
  *oh = w <= h ? nl : n;
}

em_status em_image_letterbox(const em_tensor *src, em_tensor *dst, int w, int h, float fill,
                             em_resize mode, em_err *err) {
  em_tensor r, v;
  em_status cs = check_float_image(src, dst, err);
  if (cs) return cs;
  if (w <= 0 || h <= 0) return em_fail(err, EM_EARG, "output size must be positive, got %dx%d", w, h);
  int64_t ih = src->size[src->ndim - 2], iw = src->size[src->ndim - 1];
  int64_t nw, nh;
  /* darknet's letterbox_image, integer arithmetic included */
  if ((float)w / iw < (float)h / ih) { nw = w; nh = ih * w / iw; }
  else { nh = h; nw = iw * h / ih; }
  if (nw < 1) nw = 1;
  if (nh < 1) nh = 1;
  em_tensor_init(&r);
  em_tensor_init(&v);
  em_status st = em_image_resize(src, &r, (int)nw, (int)nh, mode, err);
  if (!st) st = resize_like(dst, src, h, w, err);
  if (!st) st = em_tensor_fill(dst, fill, err);
  if (!st) st = em_tensor_narrow(&v, dst, src->ndim - 2, (h - nh) / 2, nh, err);
  if (!st) st = em_tensor_narrow(&v, &v, src->ndim - 1, (w - nw) / 2, nw, err);
  if (!st) st = em_tensor_copy(&v, &r, err);
  em_tensor_free(&r);
  em_tensor_free(&v);
  return st;
}

/* C,H,W with C = 3 or 4 (alpha ignored) -> 1,H,W; C = 1 is copied. */
em_status em_image_grayscale(const em_tensor *src, em_tensor *dst, em_err *err) {
  em_tensor c;
  char s[128];
  em_status cs = check_float_image(src, dst, err);
  if (cs) return cs;
  if (src->ndim != 3 || (src->size[0] != 1 && src->size[0] != 3 && src->size[0] != 4))
    return em_fail(err, EM_ESHAPE, "expected an image of 1, 3 or 4 channels (C,H,W), got %s",
                   em_tensor_shape_str(src, s, sizeof s));
  em_tensor_init(&c);
  em_status st = em_tensor_contiguous(&c, src, err);
  if (!st) {
    int64_t sz[3] = {1, src->size[1], src->size[2]};
    st = em_tensor_resize(dst, 3, sz, err);
  }
  if (!st) {
    size_t hw = (size_t)(src->size[1] * src->size[2]);
    const float *x = em_tensor_data(&c);
    float *o = em_tensor_data(dst);
    if (src->size[0] == 1) memcpy(o, x, hw * sizeof(float));
    else for (size_t i = 0; i < hw; i++)
      o[i] = 0.299f * x[i] + 0.587f * x[hw + i] + 0.114f * x[2 * hw + i];
  }
  em_tensor_free(&c);
  return st;
}

/* (x - mean[c]) / std[c] per channel (dim 0 of C,H,W; dim 1 of N,C,H,W);
** n is 1 (every channel) or C. Subtract then divide, as torchvision's
** Normalize, so results agree to the bit. dst may be src. */
em_status em_image_normalize(const em_tensor *src, em_tensor *dst, const float *mean,
                             const float *std, int n, em_err *err) {
  em_tensor c;
  char s[128];
  if (!src || !src->storage || em_tensor_nelement(src) == 0) return em_fail(err, EM_EARG, "image is empty");
  if (src->ndim < 3 || src->ndim > 4)
    return em_fail(err, EM_ESHAPE, "expected an image C,H,W or N,C,H,W, got %s", em_tensor_shape_str(src, s, sizeof s));
  int cd = src->ndim - 3;
  int64_t C = src->size[cd], hw = src->size[cd + 1] * src->size[cd + 2];
  int64_t N = cd ? src->size[0] : 1;
  if (n != 1 && n != C)
    return em_fail(err, EM_ESHAPE, "expected 1 or %lld mean/std values, got %d", (long long)C, n);
  for (int i = 0; i < n; i++)
    if (std[i] == 0 || !isfinite(std[i]) || !isfinite(mean[i]))
      return em_fail(err, EM_EARG, "std must be non-zero and finite, mean finite (channel %d: mean %g, std %g)",
                     i + 1, mean[i], std[i]);
  if (dst != src && dst->storage && dst->storage == src->storage)
    return em_fail(err, EM_EARG, "output shares memory with the input");
  em_tensor_init(&c);
  em_status st = em_tensor_contiguous(&c, src, err);   /* a view when src is contiguous */
  if (!st && dst != src) st = em_tensor_resize_as(dst, src, err);
  if (!st) {
    const float *x = em_tensor_data(&c);
    float *o = dst == src ? em_tensor_data(&c) : em_tensor_data(dst);
    for (int64_t b = 0; b < N; b++)
      for (int64_t ch = 0; ch < C; ch++) {
        float m = mean[n == 1 ? 0 : ch], sd = std[n == 1 ? 0 : ch];
        size_t off = (size_t)((b * C + ch) * hw);
        for (int64_t i = 0; i < hw; i++) o[off + i] = (x[off + i] - m) / sd;
      }
    /* in place on a non-contiguous src: the work was done in the copy */
    if (dst == src && c.storage != src->storage) st = em_tensor_copy(dst, &c, err);
  }
  em_tensor_free(&c);
  return st;
}

/* range - x: a negative for dark-on-light inputs (MNIST digits are light on dark). */
em_status em_image_invert(const em_tensor *src, em_tensor *dst, float range, em_err *err) {
  if (!src || !src->storage || em_tensor_nelement(src) == 0) return em_fail(err, EM_EARG, "image is empty");
  em_status st = em_tensor_scalar(dst, src, -1.0f, EM_MUL, err);
  if (!st) st = em_tensor_scalar(dst, dst, range, EM_ADD, err);
  return st;
}

/* Swaps channels 0 and 2 (RGB <-> BGR) of C,H,W with C = 3 or 4. */
em_status em_image_swap_rb(const em_tensor *src, em_tensor *dst, em_err *err) {
  em_tensor a, b;
  char s[128];
  em_status cs = check_float_image(src, dst, err);
  if (cs) return cs;
  if (src->ndim != 3 || (src->size[0] != 3 && src->size[0] != 4))
    return em_fail(err, EM_ESHAPE, "expected an image of 3 or 4 channels (C,H,W), got %s",
                   em_tensor_shape_str(src, s, sizeof s));
  em_tensor_init(&a);
  em_tensor_init(&b);
  em_status st = em_tensor_resize_as(dst, src, err);
  if (!st) st = em_tensor_copy(dst, src, err);
  for (int k = 0; !st && k < 2; k++) {
    st = em_tensor_select(&a, dst, 0, k * 2, err);
    if (!st) st = em_tensor_select(&b, src, 0, 2 - k * 2, err);
    if (!st) st = em_tensor_copy(&a, &b, err);
  }
  em_tensor_free(&a);
  em_tensor_free(&b);
  return st;
}
