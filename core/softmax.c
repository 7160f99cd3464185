/* softmax.c -- softmax and log-softmax along any dimension.
** Subtracts the maximum first, so large inputs do not overflow exp. */

#include <math.h>
#include <string.h>

#include "ember.h"

#define BLOCK 256   /* inner positions handled together: rows stay in cache */

/* x and y are [n][inner] (contiguous); y may equal x. */
static void softmax_slab(const float *x, float *y, int64_t n, int64_t inner, int logv) {
  for (int64_t j0 = 0; j0 < inner; j0 += BLOCK) {
    int m = (int)(inner - j0 < BLOCK ? inner - j0 : BLOCK);
    float mx[BLOCK];
    double sum[BLOCK] = {0};
    memcpy(mx, x + j0, (size_t)m * sizeof(float));
    for (int64_t k = 1; k < n; k++) {
      const float *row = x + k * inner + j0;
      for (int j = 0; j < m; j++)
        if (row[j] > mx[j]) mx[j] = row[j];
    }
    for (int64_t k = 0; k < n; k++) {
      const float *row = x + k * inner + j0;
      float *out = y + k * inner + j0;
      for (int j = 0; j < m; j++) {
        float e = expf(row[j] - mx[j]);
        sum[j] += e;
        if (!logv) out[j] = e;   /* x at this place is no longer needed */
      }
    }
    if (logv) {
      /* (x - max) - log(sum), not x - (max + log(sum)): rounding the
      ** combined shift to float would cost an ulp of max */
      float lse[BLOCK];
      for (int j = 0; j < m; j++) lse[j] = (float)log(sum[j]);
      for (int64_t k = 0; k < n; k++) {
        const float *row = x + k * inner + j0;
        float *out = y + k * inner + j0;
        for (int j = 0; j < m; j++) out[j] = (row[j] - mx[j]) - lse[j];
      }
    } else {
      float inv[BLOCK];
      for (int j = 0; j < m; j++) inv[j] = (float)(1.0 / sum[j]);
      for (int64_t k = 0; k < n; k++) {
        float *out = y + k * inner + j0;
        for (int j = 0; j < m; j++) out[j] *= inv[j];
      }
    }
  }
}

static int same_view(const em_tensor *x, const em_tensor *y) {
  if (x->storage != y->storage || x->offset != y->offset || x->ndim != y->ndim) return 0;
  for (int i = 0; i < x->ndim; i++)
    if (x->size[i] != y->size[i] || (x->size[i] > 1 && x->stride[i] != y->stride[i])) return 0;
  return 1;
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
               (dst->storage == ls.storage && !same_view(dst, &ls)));
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
