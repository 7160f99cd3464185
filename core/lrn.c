/* lrn.c -- local response normalisation across channels (AlexNet, GoogLeNet).
** A running sum of squares over the channel window keeps the cost O(1) in size. */

#include <math.h>

#include "ember.h"

/* spatial positions handled together, so the window sums live on the stack */
#define BLOCK 64

/* base^-beta, with the exponents nets use taken off the slow powf path */
static inline float inv_pow(float base, float beta) {
  if (beta == 0.75f) return 1.0f / sqrtf(base * sqrtf(base));
  if (beta == 0.5f) return 1.0f / sqrtf(base);
  if (beta == 1.0f) return 1.0f / base;
  return powf(base, -beta);
}

em_status em_lrn_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                         int size, float alpha, float beta, float k, em_err *err) {
  char a[128];
  int64_t N, C, S = 1, nblk;
  int lo, hi, nt = ctx && ctx->nthreads > 0 ? ctx->nthreads : 1;
  float scale;
  em_tensor in;
  em_status st;
  const float *src;
  float *dst;
  if (!input->storage)
    return em_fail(err, EM_ESHAPE, "expected an input of 3 or more dimensions (N,C,H,...), got an empty tensor");
  if (input->ndim < 3)
    return em_fail(err, EM_ESHAPE, "expected an input of 3 or more dimensions (N,C,H,...), got %d (%s)",
                   input->ndim, em_tensor_shape_str(input, a, sizeof a));
  if (em_tensor_nelement(input) == 0)
    return em_fail(err, EM_ESHAPE, "input %s has a zero size", em_tensor_shape_str(input, a, sizeof a));
  if (output == input || (output->storage && output->storage == input->storage))
    return em_fail(err, EM_EARG, "the output must not share storage with the input");
  if (size < 1) return em_fail(err, EM_EARG, "size must be positive, got %d", size);
  if (!isfinite(alpha) || !isfinite(beta) || !isfinite(k))
    return em_fail(err, EM_EARG, "alpha, beta and k must be finite, got %g, %g, %g",
                   (double)alpha, (double)beta, (double)k);
  N = input->size[0];
  C = input->size[1];
  for (int i = 2; i < input->ndim; i++) S *= input->size[i];
  /* ONNX's window [c - floor((size-1)/2), c + ceil((size-1)/2)]; for odd
  ** sizes this is PyTorch's and Torch7's symmetric window too */
  lo = (size - 1) / 2;
  hi = size - 1 - lo;
  scale = alpha / (float)size;
  em_tensor_init(&in);
  if ((st = em_tensor_contiguous(&in, input, err)) ||
      (st = em_tensor_resize(output, input->ndim, input->size, err))) {
    em_tensor_free(&in);
    return st;
  }
  src = em_tensor_data(&in);
  dst = em_tensor_data(output);
  nblk = (S + BLOCK - 1) / BLOCK;
  #pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t job = 0; job < N * nblk; job++) {
    int64_t n = job / nblk, s0 = (job % nblk) * BLOCK;
    int64_t len = S - s0 < BLOCK ? S - s0 : BLOCK;
    const float *x = src + n * C * S + s0;
    float *y = dst + n * C * S + s0;
    /* double sums: the running sum adds and removes squares, and float
    ** would drift (and could go negative) over many channels */
    double sum[BLOCK];
    for (int64_t i = 0; i < len; i++) sum[i] = 0;
    for (int64_t c = 0; c < hi && c < C; c++)
      for (int64_t i = 0; i < len; i++) sum[i] += (double)x[c * S + i] * x[c * S + i];
    for (int64_t c = 0; c < C; c++) {
      int64_t add = c + hi, drop = c - lo - 1;
      if (add < C)
        for (int64_t i = 0; i < len; i++) sum[i] += (double)x[add * S + i] * x[add * S + i];
      if (drop >= 0)
        for (int64_t i = 0; i < len; i++) sum[i] -= (double)x[drop * S + i] * x[drop * S + i];
      for (int64_t i = 0; i < len; i++) {
        double q = sum[i] > 0 ? sum[i] : 0;
        y[c * S + i] = x[c * S + i] * inv_pow(k + scale * (float)q, beta);
      }
    }
  }
  em_tensor_free(&in);
  return EM_OK;
}
