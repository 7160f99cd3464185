/* test_sgemm.c -- ember's own matrix product (sgemm.c) and the convolution's
** block packing (convpack.c) against naive loops: every kernel, one and two
** threads, sizes across the tile, block and thread edges, every epilogue. */

#include <math.h>
#include <stdlib.h>

#include "test.h"
#include "sgemm.h"

static em_rng rng;
static em_ctx ctx;

static int randint(int lo, int hi) { return test_randint(&rng, lo, hi); }

static float *randvec(int64_t n) {
  float *v = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  for (int64_t i = 0; i < n; i++) v[i] = (float)(2 * em_rng_uniform01(&rng) - 1);
  return v;
}

/* One product of m x k by k x n with row strides past the width, checked
** against the definition in double: max |diff| relative to sqrt(k). */
static double one_product(em_isa isa, int threads, int64_t m, int64_t n, int64_t k, int with_bias,
                          int with_res, int clamp, int with_scale) {
  int64_t lda = k + randint(0, 3), ldb = n + randint(0, 3), ldc = n + randint(0, 3);
  float *a = randvec(m * lda), *b = randvec(k * ldb), *c = randvec(m * ldc);
  float *scale = randvec(m), *bias = randvec(m), *res = randvec(m * ldc), *before = malloc(sizeof(float) * (size_t)(m * ldc));
  em_gemm_mat mat = { b, ldb, NULL };
  em_gemm g = { m, n, k, a, lda, NULL, em_pack_mat, &mat, NULL, 0, c, ldc, with_scale ? scale : NULL,
                with_bias ? bias : NULL,
                with_res ? res : NULL, clamp, -0.5f, 0.75f };
  float *scratch = malloc(sizeof(float) * (size_t)em_gemm_scratch(threads, &g));
  double worst = 0;
  for (int64_t i = 0; i < m * ldc; i++) before[i] = c[i];
  ctx.isa = isa;
  em_ctx_set_threads(&ctx, threads);
  em_gemm_run(&ctx, &g, scratch);
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < ldc; j++) {
      double want;
      if (j >= n) {   /* past the width: untouched */
        CHECK(c[i * ldc + j] == before[i * ldc + j]);
        continue;
      }
      want = 0;
      for (int64_t t = 0; t < k; t++) want += (double)a[i * lda + t] * b[t * ldb + j];
      if (with_scale) want *= scale[i];
      if (with_bias) want += bias[i];
      if (with_res) want += res[i * ldc + j];
      if (clamp) want = fmin(fmax(want, -0.5), 0.75);
      worst = fmax(worst, fabs(want - c[i * ldc + j]) / sqrt((double)k));
    }
  free(a); free(b); free(c); free(scale); free(bias); free(res); free(before); free(scratch);
  return worst;
}

static void test_gemm_random(void) {
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa(); isa++) {
    double worst = 0;
    for (int t = 0; t < 150; t++) {
      /* m around the 6-row tile, n around the 16-column panel and the
      ** 384-column block, k around the 256-row block */
      int64_t m = randint(1, 3) == 1 ? randint(1, 14) : randint(1, 70);
      int64_t n = randint(1, 3) == 1 ? randint(1, 40) : randint(1, 900);
      int64_t k = randint(1, 3) == 1 ? randint(1, 8) : randint(1, 600);
      double d = one_product((em_isa)isa, randint(1, 2), m, n, k, randint(0, 1), randint(0, 1),
                             randint(0, 1), randint(0, 1));
      worst = fmax(worst, d);
    }
    CHECK(worst < 1e-6);
    printf("  gemm isa %d: max |diff| / sqrt(k) %.2g over 150 random products\n", isa, worst);
  }
  ctx.isa = em_cpu_isa();
}

/* The edges exactly: one tile, one panel, one block, and one past each
** (one and two past a panel take the thin kernel, three and four the
** 128-bit one: 196 at 14x14; with AVX-512 all four the permuting one from
** a contiguous copy, 17-20 an odd panel, 48-52 three panels at once and
** the edge after them), with every vector ISA the CPU has. */
static void test_gemm_edges(void) {
  static const int64_t ms[] = { 1, 5, 6, 7, 12, 13 },
                       ns[] = { 1, 2, 3, 4, 15, 16, 17, 18, 19, 20, 48, 49, 52, 196, 383, 384, 385 },
                       ks[] = { 1, 255, 256, 257, 512, 513 };
  for (int isa = EM_ISA_AVX2; isa <= (int)em_cpu_isa(); isa++) {
    double worst = 0;
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++)
      for (size_t j = 0; j < sizeof ns / sizeof *ns; j++)
        for (size_t l = 0; l < sizeof ks / sizeof *ks; l++)
          worst = fmax(worst, one_product((em_isa)isa, 2, ms[i], ns[j], ks[l], 1, 1, 1, 1));
    CHECK(worst < 1e-6);
  }
  ctx.isa = em_cpu_isa();
}

/* A packed ahead (a convolution's kept weight, Winograd's transformed one)
** with k past one block: narrow products (n up to 64) run k whole, wider
** ones in blocks; both against the definition, every ISA, one and two
** threads, with the epilogue. */
static void test_gemm_packed_a(void) {
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa(); isa++) {
    double worst = 0;
    for (int t = 0; t < 40; t++) {
      int64_t m = randint(1, 40), n = t % 4 == 3 ? randint(65, 300) : randint(1, 64);
      int64_t k = randint(200, 1500), lda = k + randint(0, 3), ldc = n + randint(0, 3);
      float *a = randvec(m * lda), *b = randvec(k * n), *c = randvec(m * ldc);
      float *bias = randvec(m), *res = randvec(m * ldc);
      float *ap = malloc(sizeof(float) * (size_t)em_gemm_packed_size(m, k));
      int with_res = randint(0, 1), clamp = randint(0, 1);
      ctx.isa = (em_isa)isa;
      em_ctx_set_threads(&ctx, randint(1, 2));
      em_gemm_pack_a(&ctx, a, lda, m, k, ap);
      em_gemm_mat mat = { b, n, NULL };
      em_gemm g = { m, n, k, NULL, k, ap, em_pack_mat, &mat, NULL, 0, c, ldc, NULL, bias,
                    with_res ? res : NULL, clamp, -0.5f, 0.75f };
      float *scratch = malloc(sizeof(float) * (size_t)(em_gemm_scratch(ctx.nthreads, &g) + 1));
      em_gemm_run(&ctx, &g, scratch);
      for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
          double want = bias[i] + (with_res ? res[i * ldc + j] : 0.0);
          for (int64_t q = 0; q < k; q++) want += (double)a[i * lda + q] * b[q * n + j];
          if (clamp) want = fmin(fmax(want, -0.5), 0.75);
          worst = fmax(worst, fabs(want - c[i * ldc + j]) / sqrt((double)k));
        }
      free(a); free(b); free(c); free(bias); free(res); free(ap); free(scratch);
    }
    CHECK(worst < 5e-6);   /* k up to 1500 in one float sum: 1.2-2e-6 seen */
    printf("  packed A, isa %d: max |diff| / sqrt(k) %.2g over 40 products\n", isa, worst);
  }
  ctx.isa = em_cpu_isa();
}

/* em_pack_conv's block equals the im2col matrix's, value for value. */
static void test_pack_conv(void) {
  int checked = 0;
  if (em_cpu_isa() < EM_ISA_AVX2) {   /* x86 builds pack with AVX2 only */
    printf("  skipped: this CPU has no AVX2\n");
    return;
  }
  while (checked < 400) {
    em_conv_params p = { randint(1, 7), randint(1, 7), randint(1, 3), randint(1, 3),
                         randint(0, 3), randint(0, 3), randint(0, 3), randint(0, 3),
                         randint(1, 2), randint(1, 2), 1, EM_CONV_AUTO, NULL, NULL, 0, 0 };
    int64_t c = randint(1, 6), h = randint(1, 30), w = randint(1, 40);
    if (checked % 3 == 2) {   /* stride 1, as wide as the input: the flat path */
      p.sh = p.sw = 1;
      p.pl = randint(0, (p.kw - 1) * p.dw);
      p.pr = (p.kw - 1) * p.dw - p.pl;
    }
    int64_t ekh = (p.kh - 1) * p.dh + 1, ekw = (p.kw - 1) * p.dw + 1;
    if (ekh > h + p.pt + p.pb || ekw > w + p.pl + p.pr) continue;
    int64_t ho = (h + p.pt + p.pb - ekh) / p.sh + 1, wo = (w + p.pl + p.pr - ekw) / p.sw + 1;
    int64_t K = c * p.kh * p.kw, N = ho * wo;
    int64_t k0 = randint(0, (int)K - 1), j0 = randint(0, (int)N - 1);
    int64_t kc = randint(1, (int)(K - k0 < EM_GEMM_KC ? K - k0 : EM_GEMM_KC));
    int64_t nc = randint(1, (int)(N - j0 < EM_GEMM_NC ? N - j0 : EM_GEMM_NC));
    int64_t panels = (nc + EM_GEMM_NR - 1) / EM_GEMM_NR;
    float *x = randvec(c * h * w), *dst = malloc(sizeof(float) * (size_t)(panels * kc * EM_GEMM_NR));
    em_conv_src s = { x, h, w, ho, wo, &p, c };
    int bad = 0;
    em_pack_conv(&s, k0, kc, j0, nc, dst);
    for (int64_t q = 0; q < panels; q++)
      for (int64_t r = 0; r < kc; r++)
        for (int64_t l = 0; l < EM_GEMM_NR; l++) {
          int64_t k = k0 + r, j = j0 + q * EM_GEMM_NR + l, taps = p.kh * p.kw;
          int64_t ch = k / taps, ky = k % taps / p.kw, kx = k % p.kw;
          int64_t iy = j / wo * p.sh - p.pt + ky * p.dh, ix = j % wo * p.sw - p.pl + kx * p.dw;
          float want = q * EM_GEMM_NR + l < nc && iy >= 0 && iy < h && ix >= 0 && ix < w
                       ? x[(ch * h + iy) * w + ix] : 0.0f;
          bad += dst[(q * kc + r) * EM_GEMM_NR + l] != want;
        }
    CHECK(bad == 0);
    free(x); free(dst);
    checked++;
  }
}

/* A NaN in the residual stays NaN through the clamp (ReLU of NaN is NaN, as
** em_act and PyTorch have it), in full tiles and edge columns alike. */
static void test_gemm_nan(void) {
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa(); isa++) {
    const int64_t m = 13, n = 37, k = 20;
    float *a = randvec(m * k), *b = randvec(k * n), *c = randvec(m * n), *res = randvec(m * n);
    static const int64_t at[][2] = { { 0, 0 }, { 7, 20 }, { 12, 36 }, { 3, 33 } };
    for (int i = 0; i < 4; i++) res[at[i][0] * n + at[i][1]] = NAN;
    em_gemm_mat mat = { b, n, NULL };
    em_gemm g = { m, n, k, a, k, NULL, em_pack_mat, &mat, NULL, 0, c, n, NULL, NULL, res, 1, 0.0f, 6.0f };
    float *scratch = malloc(sizeof(float) * (size_t)em_gemm_scratch(1, &g));
    ctx.isa = (em_isa)isa;
    em_ctx_set_threads(&ctx, 1);
    em_gemm_run(&ctx, &g, scratch);
    int nans = 0;
    for (int64_t i = 0; i < m * n; i++) nans += isnan(c[i]) != 0;
    CHECK(nans == 4);
    for (int i = 0; i < 4; i++) CHECK(isnan(c[at[i][0] * n + at[i][1]]));
    free(a); free(b); free(c); free(res); free(scratch);
  }
  ctx.isa = em_cpu_isa();
}

int main(void) {
  em_rng_seed(&rng, 777);
  em_ctx_init(&ctx);
  TEST_RUN(test_gemm_random);
  TEST_RUN(test_gemm_edges);
  TEST_RUN(test_gemm_packed_a);
  TEST_RUN(test_pack_conv);
  TEST_RUN(test_gemm_nan);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
