/* softmax.c -- softmax and log-softmax along any dimension.
** Subtracts the maximum first, so large inputs do not overflow exp. */

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ember.h"

#define BLOCK 256   /* inner positions handled together: rows stay in cache */

/* exp(x) for x <= 0 (inputs minus their maximum), Cephes' polynomial: within
** 2e-7 relative of expf, but inline and branch-free, so the loops below
** vectorise where calls to libm's expf would not. n = round(x / ln 2) comes
** from adding 1.5 * 2^23, which leaves n in the float's low bits; 2^n is then
** built from the bits of n + 127. Below -87 (down to -inf) the result is 0
** (exactly: exp(-87) ~ 1.6e-38); NaN stays NaN. The cut is made on the bits
** with masks: a float compare, or a branch, keeps gcc from vectorising. */
static inline float exp_nonpos(float x) {
  float z, fx, y, p2, r;
  int32_t sb;
  uint32_t bits, under;
  memcpy(&sb, &x, sizeof sb);
  under = -(uint32_t)((sb > (int32_t)0xC2AE0000) & (sb <= (int32_t)0xFF800000));
  bits = ((uint32_t)sb & ~under) | (0xC2AE0000u & under);   /* -87.0f */
  memcpy(&x, &bits, sizeof x);
  z = x * 1.44269504088896341f + 12582912.0f;
  fx = z - 12582912.0f;
  memcpy(&bits, &z, sizeof bits);
  x = x - fx * 0.693359375f + fx * 2.12194440e-4f;
  y = ((((1.9875691500e-4f * x + 1.3981999507e-3f) * x + 8.3334519073e-3f) * x +
        4.1665795894e-2f) * x + 1.6666665459e-1f) * x + 5.0000001201e-1f;
  y = y * (x * x) + x + 1.0f;
  bits = ((bits - 0x4B400000u) + 127u) << 23;
  memcpy(&p2, &bits, sizeof p2);
  r = y * p2;
  memcpy(&bits, &r, sizeof bits);
  bits &= ~under;
  memcpy(&r, &bits, sizeof r);
  return r;
}

#define LANES 8   /* independent partial sums: lets the row loops vectorise */

/* One contiguous row (softmax over the last dim); y may equal x. */
static void softmax_row(const float *x, float *y, int64_t n, int logv) {
  float mx = x[0], lane[LANES] = {0};
  double sum = 0;
  int64_t k = 0;
  for (int64_t i = 1; i < n; i++) mx = x[i] > mx ? x[i] : mx;
  for (; k + LANES <= n; k += LANES)
    for (int l = 0; l < LANES; l++) lane[l] += exp_nonpos(x[k + l] - mx);
  for (; k < n; k++) sum += exp_nonpos(x[k] - mx);
  for (int l = 0; l < LANES; l++) sum += lane[l];
  if (logv) {
    float lse = (float)log(sum);
    for (int64_t i = 0; i < n; i++) y[i] = (x[i] - mx) - lse;
  } else {
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++) y[i] = exp_nonpos(x[i] - mx) * inv;
  }
}

/* x and y are [n][inner] (contiguous); y may equal x. */
static void softmax_slab(const float *x, float *y, int64_t n, int64_t inner, int logv) {
  if (inner == 1) {
    softmax_row(x, y, n, logv);
    return;
  }
  for (int64_t j0 = 0; j0 < inner; j0 += BLOCK) {
    int m = (int)(inner - j0 < BLOCK ? inner - j0 : BLOCK);
    float mx[BLOCK], sum[BLOCK] = {0};
    memcpy(mx, x + j0, (size_t)m * sizeof(float));
    for (int64_t k = 1; k < n; k++) {
      const float *row = x + k * inner + j0;
      for (int j = 0; j < m; j++) mx[j] = row[j] > mx[j] ? row[j] : mx[j];
    }
    for (int64_t k = 0; k < n; k++) {
      const float *row = x + k * inner + j0;
      float *out = y + k * inner + j0;
      if (logv) {
        for (int j = 0; j < m; j++) sum[j] += exp_nonpos(row[j] - mx[j]);
      } else {
        for (int j = 0; j < m; j++) {   /* x at this place is no longer needed */
          out[j] = exp_nonpos(row[j] - mx[j]);
          sum[j] += out[j];
        }
      }
    }
    if (logv) {
      /* (x - max) - log(sum), not x - (max + log(sum)): rounding the
      ** combined shift to float would cost an ulp of max */
      float lse[BLOCK];
      for (int j = 0; j < m; j++) lse[j] = logf(sum[j]);
      for (int64_t k = 0; k < n; k++) {
        const float *row = x + k * inner + j0;
        float *out = y + k * inner + j0;
        for (int j = 0; j < m; j++) out[j] = (row[j] - mx[j]) - lse[j];
      }
    } else {
      float inv[BLOCK];
      for (int j = 0; j < m; j++) inv[j] = 1.0f / sum[j];
      for (int64_t k = 0; k < n; k++) {
        float *out = y + k * inner + j0;
        for (int j = 0; j < m; j++) out[j] *= inv[j];
      }
    }
  }
}

em_status em_softmax_forward(em_tensor *dst, const em_tensor *src, int dim, int log, em_err *err) {
  const char *fn = log ? "logsoftmax" : "softmax";
  int64_t outer = 1, inner = 1, n;
  em_tensor ls, out;
  em_status st = EM_OK;
  int copy_back;
  if (!dst || !src) return em_fail(err, EM_EARG, "%s: missing tensor", fn);
  if (!src->storage) return em_fail(err, EM_EARG, "%s: tensor is empty (no storage)", fn);
  if (dim < 0 || dim >= src->ndim)
    return em_fail(err, EM_EARG, "%s: dimension %d out of range for a %d-dimensional tensor "
                   "(expected 1 to %d)", fn, dim + 1, src->ndim, src->ndim);
  n = src->size[dim];
  for (int i = 0; i < src->ndim; i++) {
    if (i < dim) outer *= src->size[i];
    if (i > dim) inner *= src->size[i];
  }
  /* Work on contiguous memory. dst keeps its layout when it already has the
  ** shape (so dst == src works on views too); a strided or partly overlapping
  ** dst gets the result through a private buffer. */
  em_tensor_init(&ls);
  em_tensor_init(&out);
  if ((st = em_tensor_contiguous(&ls, src, err))) goto done;
  copy_back = dst->storage && em_tensor_same_size(dst, src) &&
              (!em_tensor_is_contiguous(dst) ||
               (dst->storage == ls.storage && !em_tensor_same_view(dst, &ls)));
  if (copy_back) st = em_tensor_new(&out, src->ndim, src->size, err);
  else if (!(st = em_tensor_resize(dst, src->ndim, src->size, err))) em_tensor_set(&out, dst);
  if (st) goto done;
  for (int64_t o = 0; o < outer && n > 0; o++)
    softmax_slab(em_tensor_data(&ls) + o * n * inner, em_tensor_data(&out) + o * n * inner,
                 n, inner, log);
  if (copy_back) st = em_tensor_copy(dst, &out, err);
done:
  em_tensor_free(&ls);
  em_tensor_free(&out);
  return st;
}
