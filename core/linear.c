/* linear.c -- fully connected layer: y = x W^T + b, weight (out, in).
** With AVX2 one sample goes through ember's own matrix-vector product and a
** batch through ember's product (sgemm.c) on ember's threads; else OpenBLAS's
** sgemv or sgemm on the calling thread.
**
** Why our own for one sample: the product reads each weight once, so it runs
** at memory speed, and OpenBLAS's sgemv read AlexNet's 151 MB 9216 -> 4096
** weight at 15 GB/s on 2 cores where two threads streaming half the rows
** each reach 22 GB/s. */

#include <limits.h>
#include <stdlib.h>

#include "ember.h"
#include "sgemm.h"

#define GEMV_ROWS 4               /* weight rows that share each load of x */
#define GEMV_PAR (1 << 16)        /* weights below which one thread does it all */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* y[r] = b[r] + W[r] . x for the rows [r0, r0 + nr), nr <= GEMV_ROWS. */
AVX2 static void gemv_rows(const float *w, int64_t in, const float *x, const float *b,
                           float *y, int64_t r0, int nr) {
  __m256 acc[GEMV_ROWS][2];
  const float *row[GEMV_ROWS];
  int64_t k = 0;
  for (int r = 0; r < nr; r++) {
    acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    row[r] = w + (r0 + r) * in;
  }
  for (; k + 16 <= in; k += 16) {
    __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
    for (int r = 0; r < nr; r++) {
      acc[r][0] = _mm256_fmadd_ps(_mm256_loadu_ps(row[r] + k), x0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(_mm256_loadu_ps(row[r] + k + 8), x1, acc[r][1]);
    }
  }
  for (int r = 0; r < nr; r++) {
    float s = hsum(_mm256_add_ps(acc[r][0], acc[r][1]));
    for (int64_t j = k; j < in; j++) s += row[r][j] * x[j];
    y[r0 + r] = (b ? b[r0 + r] : 0.0f) + s;
  }
}

/* Block q of GEMV_ROWS rows (the last may be short). */
static void gemv_block(const float *w, int64_t out, int64_t in, const float *x, const float *b,
                       float *y, int64_t q) {
  int64_t r0 = q * GEMV_ROWS;
  gemv_rows(w, in, x, b, y, r0, out - r0 < GEMV_ROWS ? (int)(out - r0) : GEMV_ROWS);
}

typedef struct gemv_job { const float *w, *x, *b; float *y; int64_t out, in; } gemv_job;

static void gemv_blocks(void *arg, int64_t q0, int64_t q1, int t) {
  const gemv_job *j = arg;
  (void)t;
  for (int64_t q = q0; q < q1; q++) gemv_block(j->w, j->out, j->in, j->x, j->b, j->y, q);
}

/* The blocks split between the threads. */
static void gemv(const em_ctx *ctx, const float *w, int64_t out, int64_t in, const float *x,
                 const float *b, float *y) {
  gemv_job j = { w, x, b, y, out, in };
  em_parallel(ctx, out * in < GEMV_PAR ? 1 : ctx->nthreads, (out + GEMV_ROWS - 1) / GEMV_ROWS,
              gemv_blocks, &j);
}
#endif

/* A batch x (n x in) as the product's B = x^T (in x n): panel column j of
** the block is sample j0 + j's row of x (sgemm.h's em_pack_fn). */
typedef struct samples { const float *x; int64_t in; } samples;

static void pack_samples(const void *src, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                         float *dst) {
  const samples *s = src;
  for (int64_t p = 0; p < nc; p += EM_GEMM_NR, dst += kc * EM_GEMM_NR)
    for (int64_t c = 0; c < EM_GEMM_NR; c++) {
      const float *row = p + c < nc ? s->x + (j0 + p + c) * s->in + k0 : NULL;
      for (int64_t r = 0; r < kc; r++) dst[r * EM_GEMM_NR + c] = row ? row[r] : 0.0f;
    }
}

/* y (n x out) = x W^T + b as y^T = W x^T (the weight is the product's A, read
** once by the threads' rows), then transposed into place. */
static em_status batch(const em_ctx *ctx, const float *w, const float *x, const float *b, float *y,
                       int64_t n, int64_t out, int64_t in, em_err *err) {
  samples s = { x, in };
  em_gemm g = { .m = out, .n = n, .k = in, .a = w, .lda = in, .pack = pack_samples, .src = &s,
                .ldc = n, .bias = b };
  int64_t scratch = em_gemm_scratch(ctx->nthreads, &g);
  float *yt = malloc((size_t)(out * n + scratch) * sizeof *yt);
  if (!yt)
    return em_fail(err, EM_ENOMEM, "linear: out of memory for a batch of %lld x %lld",
                   (long long)n, (long long)out);
  g.c = yt;
  em_gemm_run(ctx, &g, yt + out * n);
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i < out; i++) y[j * out + i] = yt[i * n + j];
  free(yt);
  return EM_OK;
}

static int shares(const em_tensor *a, const em_tensor *b) {
  return a && b && (a == b || (a->storage && a->storage == b->storage));
}

static em_status check_linear(const em_tensor *input, const em_tensor *weight,
                              const em_tensor *bias, em_err *err) {
  char a[128];
  int64_t in;
  if (!input->storage || input->ndim < 1 || input->ndim > 2)
    return em_fail(err, EM_ESHAPE, "expected a 1-D or 2-D input (N, in), got %s",
                   em_tensor_shape_str(input, a, sizeof a));
  if (!weight->storage || weight->ndim != 2)
    return em_fail(err, EM_ESHAPE, "expected a 2-D weight (out, in), got %s",
                   em_tensor_shape_str(weight, a, sizeof a));
  if (weight->size[0] < 1 || weight->size[1] < 1)
    return em_fail(err, EM_ESHAPE, "weight %s has an empty dimension",
                   em_tensor_shape_str(weight, a, sizeof a));
  in = input->size[input->ndim - 1];
  if (in != weight->size[1])
    return em_fail(err, EM_ESHAPE, "expected %lld input features, got %lld",
                   (long long)weight->size[1], (long long)in);
  if (input->ndim == 2 && input->size[0] < 1)
    return em_fail(err, EM_ESHAPE, "input %s has an empty dimension",
                   em_tensor_shape_str(input, a, sizeof a));
  if (bias && bias->storage && em_tensor_nelement(bias) != weight->size[0])
    return em_fail(err, EM_ESHAPE, "expected a bias of %lld elements, got %s",
                   (long long)weight->size[0], em_tensor_shape_str(bias, a, sizeof a));
  if (weight->size[0] > INT_MAX || weight->size[1] > INT_MAX ||
      (input->ndim == 2 && input->size[0] > INT_MAX))
    return em_fail(err, EM_ENOMEM, "linear layer too large: weight %s",
                   em_tensor_shape_str(weight, a, sizeof a));
  return EM_OK;
}

em_status em_linear_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                            const em_tensor *weight, const em_tensor *bias, em_err *err) {
  em_tensor x, w, b;
  int64_t n, in, out, osz[2];
  int has_bias = bias && bias->storage;
  float *y, beta = has_bias ? 1.0f : 0.0f;
  em_status st;
  if (!input || !output || !weight)
    return em_fail(err, EM_EARG, "linear: missing argument");
  if ((st = check_linear(input, weight, bias, err))) return st;
  if (shares(output, input) || shares(output, weight) || shares(output, bias))
    return em_fail(err, EM_EARG, "output must not share memory with the inputs");
  n = input->ndim == 2 ? input->size[0] : 1;
  out = weight->size[0];
  in = weight->size[1];
  osz[0] = n; osz[1] = out;
  em_tensor_init(&x); em_tensor_init(&w); em_tensor_init(&b);
  if ((st = em_tensor_contiguous(&x, input, err)) ||
      (st = em_tensor_contiguous(&w, weight, err)) ||
      (has_bias && (st = em_tensor_contiguous(&b, bias, err))) ||
      (st = input->ndim == 2 ? em_tensor_resize(output, 2, osz, err)
                             : em_tensor_resize(output, 1, osz + 1, err)) || EM_DRY(ctx))
    goto done;
  y = em_tensor_data(output);
#if defined(__x86_64__) || defined(__i386__)
  if (ctx && ctx->isa >= EM_ISA_AVX2) {
    if (n == 1) gemv(ctx, em_tensor_data(&w), out, in, em_tensor_data(&x),
                     has_bias ? em_tensor_data(&b) : NULL, y);
    else st = batch(ctx, em_tensor_data(&w), em_tensor_data(&x),
                    has_bias ? em_tensor_data(&b) : NULL, y, n, out, in, err);
    goto done;
  }
#endif
  /* rows start as the bias so the product is added onto it (beta = 1) */
  if (has_bias)
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < out; j++) y[i * out + j] = em_tensor_data(&b)[j];
  if (n == 1)
    em_sgemv(0, (int)out, (int)in, 1.0f, em_tensor_data(&w), (int)in, em_tensor_data(&x), beta, y);
  else
    em_sgemm(0, 1, (int)n, (int)out, (int)in, 1.0f, em_tensor_data(&x), (int)in,
             em_tensor_data(&w), (int)in, beta, y, (int)out);
done:
  em_tensor_free(&x); em_tensor_free(&w); em_tensor_free(&b);
  return st;
}
