/* lrn.c -- local response normalisation across channels (AlexNet, GoogLeNet).
** Window sums of squares come from running sums, at a cost independent of size. */

#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "ember.h"

/* spatial positions handled together (vector loops run over them) */
#define BLOCK 64
/* floats of suffix sums kept on the stack per thread */
#define QMAX 4096

/* v = sqrt(v) over a block. libm's sqrtf may set errno, which keeps the
** compiler from vectorising it (ember builds without -fno-math-errno). */
static void sqrt_block(float *v, int64_t n) {
  int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(v + i, _mm_sqrt_ps(_mm_loadu_ps(v + i)));
#endif
  for (; i < n; i++) v[i] = sqrtf(v[i]);
}

/* v = v^-beta over a block, the exponents nets use off the slow powf path */
static void inv_pow_block(float *v, int64_t n, float beta) {
  float r[BLOCK];
  if (beta == 0.75f) {           /* 1 / sqrt(v * sqrt(v)) */
    for (int64_t i = 0; i < n; i++) r[i] = v[i];
    sqrt_block(r, n);
    for (int64_t i = 0; i < n; i++) v[i] *= r[i];
    sqrt_block(v, n);
    for (int64_t i = 0; i < n; i++) v[i] = 1.0f / v[i];
  } else if (beta == 0.5f) {
    sqrt_block(v, n);
    for (int64_t i = 0; i < n; i++) v[i] = 1.0f / v[i];
  } else if (beta == 1.0f) {
    for (int64_t i = 0; i < n; i++) v[i] = 1.0f / v[i];
  } else {
    for (int64_t i = 0; i < n; i++) v[i] = powf(v[i], -beta);
  }
}

/* One batch item over spatial positions [s0, s0+len): channel c at x + c*S.
**
** A sliding sum that adds the entering square and subtracts the leaving one
** keeps the rounding error of a large square after it has left the window
** (even in double, a 1e4 activation next to small ones is visibly off), so
** the channels are cut into groups of L = size: within a group, prefix sums
** P (kept in y, which is overwritten only once no later channel needs them)
** and suffix sums Q (in q, one group at a time). A window [a, b] has at most
** L channels, so it is Q[a] + P[b] across two groups, or one of them alone;
** only non-negative terms are ever added. */
static void lrn_block(const float *x, float *y, int64_t C, int64_t S, int64_t len, int L,
                      int lo, int hi, float scale, float beta, float k, float *q) {
  float base[BLOCK];
  int64_t qgroup = -1;
  for (int64_t c = 0; c < C; c++) {
    const float *xc = x + c * S;
    float *pc = y + c * S;
    if (c % L == 0) for (int64_t i = 0; i < len; i++) pc[i] = xc[i] * xc[i];
    else for (int64_t i = 0; i < len; i++) pc[i] = pc[i - S] + xc[i] * xc[i];
  }
  for (int64_t c = 0; c < C; c++) {
    int64_t a = c - lo < 0 ? 0 : c - lo, b = c + hi < C ? c + hi : C - 1;
    int64_t ga = a / L, gb = b / L;
    const float *pb = y + b * S, *qa;
    if (ga != qgroup) {
      /* suffix sums of group ga, last channel first */
      int64_t g0 = ga * L, g1 = g0 + L < C ? g0 + L : C;
      for (int64_t j = g1 - 1; j >= g0; j--) {
        const float *xj = x + j * S;
        float *qj = q + (j - g0) * len;
        if (j == g1 - 1) for (int64_t i = 0; i < len; i++) qj[i] = xj[i] * xj[i];
        else for (int64_t i = 0; i < len; i++) qj[i] = qj[i + len] + xj[i] * xj[i];
      }
      qgroup = ga;
    }
    qa = q + (a - ga * L) * len;
    if (ga != gb) for (int64_t i = 0; i < len; i++) base[i] = qa[i] + pb[i];
    else if (a % L == 0) for (int64_t i = 0; i < len; i++) base[i] = pb[i];
    else for (int64_t i = 0; i < len; i++) base[i] = qa[i];   /* b ends the group */
    for (int64_t i = 0; i < len; i++) base[i] = k + scale * base[i];
    inv_pow_block(base, len, beta);
    /* P[c] was last needed by channel c - hi <= c: now y[c] takes the output */
    for (int64_t i = 0; i < len; i++) y[c * S + i] = x[c * S + i] * base[i];
  }
}

typedef struct lrn_job {
  const float *src;
  float *dst;
  int64_t C, S, blk, nblk;
  int L, lo, hi;
  float scale, beta, k;
} lrn_job;

/* Blocks [b0, b1): image b / nblk, its spatial block b % nblk */
static void lrn_blocks(void *arg, int64_t b0, int64_t b1, int t) {
  const lrn_job *j = arg;
  float q[QMAX];
  (void)t;
  for (int64_t b = b0; b < b1; b++) {
    int64_t n = b / j->nblk, s0 = (b % j->nblk) * j->blk, at = n * j->C * j->S + s0;
    int64_t len = j->S - s0 < j->blk ? j->S - s0 : j->blk;
    lrn_block(j->src + at, j->dst + at, j->C, j->S, len, j->L, j->lo, j->hi, j->scale, j->beta,
              j->k, q);
  }
}

em_status em_lrn_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                         int size, float alpha, float beta, float k, em_err *err) {
  char a[128];
  int64_t N, C, S = 1, nblk, blk;
  int lo, hi, L, nt = ctx && ctx->nthreads > 0 ? ctx->nthreads : 1;
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
  /* groups need not be longer than the channels; the suffix sums of one
  ** group must fit in QMAX floats, which bounds the spatial block */
  L = size < C ? size : (int)C;
  if (L > QMAX)
    return em_fail(err, EM_EARG, "size %d over %lld channels is more than the %d supported",
                   size, (long long)C, QMAX);
  blk = QMAX / L < BLOCK ? QMAX / L : BLOCK;
  if (blk < 1) blk = 1;
  em_tensor_init(&in);
  if ((st = em_tensor_contiguous(&in, input, err)) ||
      (st = em_tensor_resize(output, input->ndim, input->size, err)) || EM_DRY(ctx)) {
    em_tensor_free(&in);
    return st;
  }
  src = em_tensor_data(&in);
  dst = em_tensor_data(output);
  nblk = (S + blk - 1) / blk;
  lrn_job j = { src, dst, C, S, blk, nblk, L, lo, hi, scale, beta, k };
  em_parallel(ctx, nt, N * nblk, lrn_blocks, &j);
  em_tensor_free(&in);
  return EM_OK;
}
