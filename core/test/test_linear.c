/* test_linear.c -- em_linear_forward against a naive double loop on random
** shapes (1-D, one row, batches, no bias, transposed input) and its errors. */

#include <string.h>

#include "test.h"

static em_rng rng;
static em_ctx ctx;

static int randint(int lo, int hi) { return test_randint(&rng, lo, hi); }

static void make(em_tensor *t, int ndim, int64_t a, int64_t b) {
  int64_t sz[2] = { a, b };
  test_random_tensor(&rng, t, ndim, sz);
}

/* x is (n, in) contiguous, or 1-D when oned; compares y with the definition. */
static int linear_case(int64_t n, int64_t in, int64_t out, int oned, int with_bias, int transposed) {
  em_tensor x, xt, w, b, y;
  em_err e;
  double md = 0, mx = 0;
  int ok = 1;
  const float *X, *W, *B;
  if (transposed) {   /* x as the transpose of an (in, n) tensor: strided rows */
    make(&xt, 2, in, n);
    em_tensor_init(&x);
    em_tensor_transpose(&x, &xt, 0, 1, &e);
  } else {
    make(&x, oned ? 1 : 2, oned ? in : n, in);
  }
  make(&w, 2, out, in);
  em_tensor_init(&b); em_tensor_init(&y);
  if (with_bias) make(&b, 1, out, 0);
  if (em_linear_forward(&ctx, &x, &y, &w, with_bias ? &b : NULL, &e) != EM_OK) {
    fprintf(stderr, "  linear failed: %s\n", e.msg);
    ok = 0;
    goto done;
  }
  if (oned ? (y.ndim != 1 || y.size[0] != out) : (y.ndim != 2 || y.size[0] != n || y.size[1] != out)) {
    fprintf(stderr, "  wrong output shape\n");
    ok = 0;
    goto done;
  }
  X = em_tensor_data(&x); W = em_tensor_data(&w); B = with_bias ? em_tensor_data(&b) : NULL;
  for (int64_t i = 0; i < n; i++)
    for (int64_t o = 0; o < out; o++) {
      double s = B ? B[o] : 0, d;
      for (int64_t k = 0; k < in; k++)
        s += (double)X[i * x.stride[0] * !oned + k * x.stride[x.ndim - 1]] * W[o * in + k];
      d = fabs(s - em_tensor_data(&y)[i * out + o]);
      if (d > md) md = d;
      if (fabs(s) > mx) mx = fabs(s);
    }
  if (!(md <= 1e-5 * mx + 1e-7)) {
    fprintf(stderr, "  n%lld in%lld out%lld: max error %g, max |ref| %g\n",
            (long long)n, (long long)in, (long long)out, md, mx);
    ok = 0;
  }
done:
  if (transposed) em_tensor_free(&xt);
  em_tensor_free(&x); em_tensor_free(&w); em_tensor_free(&b); em_tensor_free(&y);
  return ok;
}

static void test_linear_random(void) {
  for (int i = 0; i < 100; i++) {
    int oned = randint(0, 3) == 0;
    int64_t n = oned ? 1 : (randint(0, 1) ? 1 : randint(2, 9));
    CHECK(linear_case(n, randint(1, 300), randint(1, 70), oned, randint(0, 1), 0));
  }
}

static void test_linear_shapes(void) {
  CHECK(linear_case(1, 2048, 1000, 1, 1, 0));   /* a ResNet head, sgemv */
  CHECK(linear_case(1, 2048, 1000, 0, 1, 0));
  CHECK(linear_case(3, 2048, 1000, 0, 1, 0));   /* sgemm */
  CHECK(linear_case(3, 17, 5, 0, 0, 0));
  CHECK(linear_case(1, 1, 1, 1, 1, 0));
  CHECK(linear_case(4, 9, 6, 0, 1, 1));         /* strided input */
  CHECK(linear_case(1, 9, 6, 0, 0, 1));
}

/* Runs cases() on every ISA up to AVX2 and on 1 and 2 threads, then puts
** the context back. */
static void each_setting(void (*cases)(void)) {
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa() && isa <= EM_ISA_AVX2; isa++)
    for (int threads = 1; threads <= 2; threads++) {
      ctx.isa = (em_isa)isa;
      em_ctx_set_threads(&ctx, threads);
      cases();
    }
  ctx.isa = em_cpu_isa();
  em_ctx_set_threads(&ctx, em_ncores());
}

/* One sample (AVX2: ember's product, 4 rows at a time, 16 columns a step; C:
** OpenBLAS's sgemv), with rows and columns around those blocks, and rows
** enough to split between threads. */
static void one_sample_cases(void) {
  static const int64_t ins[] = { 1, 15, 16, 17, 33, 4099 }, outs[] = { 1, 3, 4, 5, 9, 70 };
  for (size_t i = 0; i < sizeof ins / sizeof *ins; i++)
    for (size_t o = 0; o < sizeof outs / sizeof *outs; o++)
      CHECK(linear_case(1, ins[i], outs[o], (int)(o % 2), (int)((i + o) % 2), 0));
}

static void test_linear_one_sample(void) { each_setting(one_sample_cases); }

/* Batches (AVX2: ember's product of the weight and the transposed batch; C:
** OpenBLAS's sgemm): samples around the product's 16-column panels, features
** around its 256-deep blocks and 6-row panels, strided inputs. */
static void batch_cases(void) {
  static const int64_t ns[] = { 2, 3, 15, 16, 17, 40 }, ins[] = { 1, 7, 255, 257, 600 },
                       outs[] = { 1, 5, 6, 13, 130 };
  for (size_t b = 0; b < sizeof ns / sizeof *ns; b++)
    for (size_t i = 0; i < sizeof ins / sizeof *ins; i++)
      for (size_t o = 0; o < sizeof outs / sizeof *outs; o++)
        CHECK(linear_case(ns[b], ins[i], outs[o], 0, (int)((b + i + o) % 2), (int)((i + o) % 3 == 0)));
}

static void test_linear_batch(void) { each_setting(batch_cases); }

static void test_linear_no_realloc(void) {
  em_tensor x, w, b, y;
  em_storage *s;
  make(&x, 2, 3, 8); make(&w, 2, 5, 8); make(&b, 1, 5, 0);
  em_tensor_init(&y);
  CHECK_OK(em_linear_forward(&ctx, &x, &y, &w, &b, &e_));
  s = y.storage;
  CHECK_OK(em_linear_forward(&ctx, &x, &y, &w, &b, &e_));
  CHECK(y.storage == s);
  em_tensor_free(&x); em_tensor_free(&w); em_tensor_free(&b); em_tensor_free(&y);
}

static int linear_fails(const em_tensor *x, const em_tensor *w, const em_tensor *b, const char *want) {
  em_tensor y;
  em_err e;
  em_status st;
  e.msg[0] = 0;
  em_tensor_init(&y);
  st = em_linear_forward(&ctx, x, &y, w, b, &e);
  em_tensor_free(&y);
  if (st != EM_OK && strstr(e.msg, want)) return 1;
  fprintf(stderr, "  expected an error with \"%s\", got %d \"%s\"\n", want, (int)st, e.msg);
  return 0;
}

static void test_linear_errors(void) {
  em_tensor x, x1, x4, w, w1, b, empty, y;
  int64_t sz4[4] = { 2, 3, 4, 5 };
  em_err e;
  make(&x, 2, 3, 10); make(&x1, 1, 7, 0); make(&w, 2, 4, 8); make(&w1, 1, 8, 0);
  make(&b, 1, 5, 0);
  em_tensor_init(&x4); em_tensor_new(&x4, 4, sz4, &e);
  em_tensor_init(&empty);
  CHECK(linear_fails(&x, &w, NULL, "expected 8 input features, got 10"));
  CHECK(linear_fails(&x1, &w, NULL, "expected 8 input features, got 7"));
  CHECK(linear_fails(&x4, &w, NULL, "expected a 1-D or 2-D input (N, in), got 2x3x4x5"));
  CHECK(linear_fails(&empty, &w, NULL, "expected a 1-D or 2-D input (N, in), got empty"));
  CHECK(linear_fails(&x, &w1, NULL, "expected a 2-D weight (out, in), got 8"));
  em_tensor_free(&x);
  make(&x, 2, 3, 8);
  CHECK(linear_fails(&x, &w, &b, "expected a bias of 4 elements, got 5"));
  em_tensor_init(&y);
  em_tensor_set(&y, &x);
  CHECK(em_linear_forward(&ctx, &x, &y, &w, NULL, &e) == EM_EARG);
  em_tensor_free(&y);
  em_tensor_free(&x); em_tensor_free(&x1); em_tensor_free(&x4); em_tensor_free(&w);
  em_tensor_free(&w1); em_tensor_free(&b);
}

int main(void) {
  em_rng_seed(&rng, 777);
  em_ctx_init(&ctx);
  TEST_RUN(test_linear_random);
  TEST_RUN(test_linear_shapes);
  TEST_RUN(test_linear_one_sample);
  TEST_RUN(test_linear_batch);
  TEST_RUN(test_linear_no_realloc);
  TEST_RUN(test_linear_errors);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
