/* test_lrn.c -- cross-channel LRN against a naive window sum per element,
** odd and even sizes (ONNX's window), ranks 3 to 5, strided inputs. */

#include <string.h>

#include "test.h"

static em_rng rng;
static em_ctx ctx;

static int rnd(int lo, int hi) { return lo + (int)(em_rng_next(&rng) % (uint64_t)(hi - lo + 1)); }

/* ONNX LRN: window [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped */
static void naive_lrn(const em_tensor *x, em_tensor *y, int size, double alpha, double beta, double k) {
  int64_t N = x->size[0], C = x->size[1], S = em_tensor_nelement(x) / (N * C);
  const float *xs = em_tensor_data(x);
  float *ys = em_tensor_data(y);
  int lo = (int)floor((size - 1) / 2.0), hi = (int)ceil((size - 1) / 2.0);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < S; i++) {
        double sum = 0;
        for (int64_t j = c - lo; j <= c + hi; j++) {
          if (j < 0 || j >= C) continue;
          double v = xs[(n * C + j) * S + i];
          sum += v * v;
        }
        int64_t at = (n * C + c) * S + i;
        ys[at] = (float)(xs[at] / pow(k + alpha / size * sum, beta));
      }
}

static void test_random(void) {
  static const float betas[] = {0.75f, 0.5f, 1.0f, 0.6f};
  for (int trial = 0; trial < 120; trial++) {
    int ndim = rnd(3, 5), size = rnd(1, 8);
    float alpha = trial % 2 ? 1e-4f : 0.5f, beta = betas[trial % 4], k = trial % 3 ? 1.0f : 2.0f;
    int64_t sz[5];
    em_tensor x, y, ref;
    sz[0] = rnd(1, 3);
    sz[1] = rnd(1, 12);
    for (int i = 2; i < ndim; i++) sz[i] = rnd(1, ndim == 5 ? 5 : 11);
    em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
    CHECK_OK(em_tensor_new(&x, ndim, sz, &e_));
    CHECK_OK(em_rng_uniform(&rng, &x, -3, 3, &e_));
    CHECK_OK(em_tensor_new(&ref, ndim, sz, &e_));
    naive_lrn(&x, &ref, size, alpha, beta, k);
    CHECK_OK(em_lrn_forward(&ctx, &x, &y, size, alpha, beta, k, &e_));
    test_compare(&y, &ref, 1e-5);
    em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
  }
}

/* Planes larger than the kernel's block of 64 positions, and a big window. */
static void test_large(void) {
  int64_t sz[4] = {2, 19, 13, 11};
  em_tensor x, y, ref;
  em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
  CHECK_OK(em_tensor_new(&x, 4, sz, &e_));
  CHECK_OK(em_rng_uniform(&rng, &x, -10, 10, &e_));
  CHECK_OK(em_tensor_new(&ref, 4, sz, &e_));
  for (int size = 1; size <= 41; size += 4) {
    naive_lrn(&x, &ref, size, 1e-2, 0.75, 1);
    CHECK_OK(em_lrn_forward(&ctx, &x, &y, size, 1e-2f, 0.75f, 1, &e_));
    test_compare(&y, &ref, 1e-5);
  }
  em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
}

/* A huge channel among tiny ones: after it leaves the window the running
** sum must not keep its rounding error (checked element by element). */
static void test_running_sum_drift(void) {
  int64_t sz[4] = {1, 64, 1, 5};
  em_tensor x, y, ref;
  em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
  CHECK_OK(em_tensor_new(&x, 4, sz, &e_));
  CHECK_OK(em_rng_uniform(&rng, &x, -1e-2f, 1e-2f, &e_));
  for (int c = 3; c < 64; c += 13)
    for (int i = 0; i < 5; i++) em_tensor_data(&x)[c * 5 + i] = 3e3f * (i + 1);
  CHECK_OK(em_tensor_new(&ref, 4, sz, &e_));
  naive_lrn(&x, &ref, 3, 1.0, 0.75, 1e-3);
  CHECK_OK(em_lrn_forward(&ctx, &x, &y, 3, 1.0f, 0.75f, 1e-3f, &e_));
  double worst = 0;
  for (int64_t i = 0; i < em_tensor_nelement(&x); i++) {
    double r = em_tensor_data(&ref)[i], d = fabs(em_tensor_data(&y)[i] - r) / (fabs(r) + 1e-30);
    if (d > worst) worst = d;
  }
  if (!(worst < 1e-5)) fprintf(stderr, "  worst relative error %g\n", worst);
  CHECK(worst < 1e-5);
  em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
}

static void test_strided(void) {
  int64_t sz[4] = {2, 6, 5, 7};
  em_tensor x, xt, xc, y, ref;
  em_tensor_init(&x); em_tensor_init(&xt); em_tensor_init(&xc); em_tensor_init(&y); em_tensor_init(&ref);
  CHECK_OK(em_tensor_new(&x, 4, sz, &e_));
  CHECK_OK(em_rng_uniform(&rng, &x, -3, 3, &e_));
  CHECK_OK(em_tensor_transpose(&xt, &x, 1, 3, &e_));
  CHECK_OK(em_tensor_new(&xc, 4, xt.size, &e_));
  CHECK_OK(em_tensor_copy(&xc, &xt, &e_));
  CHECK_OK(em_tensor_new(&ref, 4, xt.size, &e_));
  naive_lrn(&xc, &ref, 5, 1e-1, 0.75, 2);
  CHECK_OK(em_lrn_forward(&ctx, &xt, &y, 5, 1e-1f, 0.75f, 2, &e_));
  test_compare(&y, &ref, 1e-5);
  em_tensor_free(&x); em_tensor_free(&xt); em_tensor_free(&xc); em_tensor_free(&y); em_tensor_free(&ref);
}

static void test_errors(void) {
  int64_t s2[2] = {3, 4}, s4[4] = {1, 3, 2, 2}, z[3] = {1, 3, 0};
  em_tensor x2, x, zero, empty, y;
  em_err e;
  em_tensor_init(&x2); em_tensor_init(&x); em_tensor_init(&zero); em_tensor_init(&empty); em_tensor_init(&y);
  CHECK_OK(em_tensor_new(&x2, 2, s2, &e_));
  CHECK_OK(em_tensor_new(&x, 4, s4, &e_));
  CHECK_OK(em_tensor_new(&zero, 3, z, &e_));
  test_expect_error(em_lrn_forward(&ctx, &x2, &y, 5, 1e-4f, 0.75f, 1, &e), EM_ESHAPE, &e,
               "expected an input of 3 or more dimensions (N,C,H,...), got 2 (3x4)");
  test_expect_error(em_lrn_forward(&ctx, &empty, &y, 5, 1e-4f, 0.75f, 1, &e), EM_ESHAPE, &e, "got an empty tensor");
  test_expect_error(em_lrn_forward(&ctx, &zero, &y, 5, 1e-4f, 0.75f, 1, &e), EM_ESHAPE, &e, "input 1x3x0 has a zero size");
  test_expect_error(em_lrn_forward(&ctx, &x, &y, 0, 1e-4f, 0.75f, 1, &e), EM_EARG, &e, "size must be positive, got 0");
  test_expect_error(em_lrn_forward(&ctx, &x, &x, 5, 1e-4f, 0.75f, 1, &e), EM_EARG, &e, "must not share storage");
  test_expect_error(em_lrn_forward(&ctx, &x, &y, 5, INFINITY, 0.75f, 1, &e), EM_EARG, &e, "must be finite");
  {
    int64_t wide[3] = {1, 5000, 1};
    em_tensor w;
    em_tensor_init(&w);
    CHECK_OK(em_tensor_new(&w, 3, wide, &e_));
    CHECK_OK(em_tensor_fill(&w, 1, &e_));
    test_expect_error(em_lrn_forward(&ctx, &w, &y, 4097, 1e-4f, 0.75f, 1, &e), EM_EARG, &e,
                 "size 4097 over 5000 channels is more than the 4096 supported");
    /* a window as wide as all 5000 channels is one group of 5000 > 4096 too,
    ** but 4096 fits: channel c gets 1 / (1 + count/4096), count = channels in [c-2047, c+2048] */
    CHECK_OK(em_lrn_forward(&ctx, &w, &y, 4096, 1.0f, 1.0f, 1, &e_));
    CHECK_CLOSE(em_tensor_data(&y)[2500], 1.0 / (1.0 + 4096.0 / 4096.0), 1e-6);
    CHECK_CLOSE(em_tensor_data(&y)[0], 1.0 / (1.0 + 2049.0 / 4096.0), 1e-6);
    em_tensor_free(&w);
  }
  em_tensor_free(&x2); em_tensor_free(&x); em_tensor_free(&zero); em_tensor_free(&empty); em_tensor_free(&y);
}

int main(void) {
  em_rng_seed(&rng, 11);
  em_ctx_init(&ctx);
  TEST_RUN(test_random);
  TEST_RUN(test_large);
  TEST_RUN(test_running_sum_drift);
  TEST_RUN(test_strided);
  TEST_RUN(test_errors);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
