/* test_batchnorm.c -- batch norm inference and its folding into a conv,
** against naive loops (a direct convolution followed by the bn formula). */

#include <string.h>

#include "test.h"

static em_rng rng;
static em_ctx ctx;

static int rnd(int lo, int hi) { return lo + (int)(em_rng_next(&rng) % (uint64_t)(hi - lo + 1)); }

static void random_tensor(em_tensor *t, int ndim, const int64_t *sz, float lo, float hi) {
  CHECK_OK(em_tensor_new(t, ndim, sz, &e_));
  CHECK_OK(em_rng_uniform(&rng, t, lo, hi, &e_));
}

typedef struct bn { em_tensor w, b, mean, var; } bn;

static void bn_random(bn *p, int64_t C) {
  em_tensor_init(&p->w); em_tensor_init(&p->b); em_tensor_init(&p->mean); em_tensor_init(&p->var);
  random_tensor(&p->w, 1, &C, -2, 2);
  random_tensor(&p->b, 1, &C, -1, 1);
  random_tensor(&p->mean, 1, &C, -1, 1);
  random_tensor(&p->var, 1, &C, 0.1f, 3);
}

static void bn_free(bn *p) {
  em_tensor_free(&p->w); em_tensor_free(&p->b); em_tensor_free(&p->mean); em_tensor_free(&p->var);
}

/* y = (x - mean) / sqrt(var + eps) * w + b on a contiguous x, channel dim 1 */
static void naive_bn(const em_tensor *x, em_tensor *y, const bn *p, int affine, float eps) {
  int64_t N = x->size[0], C = x->size[1], inner = em_tensor_nelement(x) / (N * C);
  const float *xs = em_tensor_data(x);
  float *ys = em_tensor_data(y);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < inner; i++) {
        int64_t k = (n * C + c) * inner + i;
        double v = (xs[k] - em_tensor_data(&p->mean)[c]) / sqrt(em_tensor_data(&p->var)[c] + (double)eps);
        if (affine) v = v * em_tensor_data(&p->w)[c] + em_tensor_data(&p->b)[c];
        ys[k] = (float)v;
      }
}

static void test_forward_random(void) {
  for (int trial = 0; trial < 100; trial++) {
    int ndim = rnd(2, 5), affine = trial % 3 != 0;
    int64_t sz[5];
    float eps = trial % 2 ? 1e-5f : 1e-3f;
    em_tensor x, y, ref;
    bn p;
    sz[0] = rnd(1, 3);
    sz[1] = rnd(1, 9);
    for (int i = 2; i < ndim; i++) sz[i] = rnd(1, 7);
    em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
    random_tensor(&x, ndim, sz, -3, 3);
    random_tensor(&ref, ndim, sz, 0, 0);
    bn_random(&p, sz[1]);
    naive_bn(&x, &ref, &p, affine, eps);
    CHECK_OK(em_batchnorm_forward(&ctx, &x, &y, affine ? &p.w : NULL, affine ? &p.b : NULL,
                                  &p.mean, &p.var, eps, &e_));
    test_compare(&y, &ref, 1e-5);
    /* in place */
    CHECK_OK(em_batchnorm_forward(&ctx, &x, &x, affine ? &p.w : NULL, affine ? &p.b : NULL,
                                  &p.mean, &p.var, eps, &e_));
    test_compare(&x, &ref, 1e-5);
    em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
    bn_free(&p);
  }
}

/* A transposed (strided) input, out of place and in place; strided params. */
static void test_forward_strided(void) {
  int64_t sz[4] = {2, 5, 6, 7}, psz[2] = {5, 2};
  em_tensor x, xt, xc, y, ref, wide, mean_view;
  bn p;
  em_tensor_init(&x); em_tensor_init(&xt); em_tensor_init(&xc);
  em_tensor_init(&y); em_tensor_init(&ref); em_tensor_init(&wide); em_tensor_init(&mean_view);
  random_tensor(&x, 4, sz, -2, 2);
  bn_random(&p, 6);   /* channels after the transpose below: 6 */
  CHECK_OK(em_tensor_transpose(&xt, &x, 1, 2, &e_));          /* 2x6x5x7, strided */
  CHECK_OK(em_tensor_new(&xc, 4, xt.size, &e_));
  CHECK_OK(em_tensor_copy(&xc, &xt, &e_));
  CHECK_OK(em_tensor_new(&ref, 4, xt.size, &e_));
  naive_bn(&xc, &ref, &p, 1, 1e-5f);
  CHECK_OK(em_batchnorm_forward(&ctx, &xt, &y, &p.w, &p.b, &p.mean, &p.var, 1e-5f, &e_));
  test_compare(&y, &ref, 1e-5);
  CHECK_OK(em_batchnorm_forward(&ctx, &xt, &xt, &p.w, &p.b, &p.mean, &p.var, 1e-5f, &e_));
  CHECK(!em_tensor_is_contiguous(&xt));
  CHECK_OK(em_tensor_copy(&xc, &xt, &e_));
  test_compare(&xc, &ref, 1e-5);
  /* running_mean given as a column of a 6x2 tensor (stride 2) */
  psz[0] = 6;
  random_tensor(&wide, 2, psz, 0, 0);
  CHECK_OK(em_tensor_select(&mean_view, &wide, 1, 0, &e_));
  CHECK_OK(em_tensor_copy(&mean_view, &p.mean, &e_));
  CHECK_OK(em_tensor_copy(&xt, &xc, &e_));
  naive_bn(&xc, &ref, &p, 1, 1e-5f);
  CHECK_OK(em_batchnorm_forward(&ctx, &xc, &y, &p.w, &p.b, &mean_view, &p.var, 1e-5f, &e_));
  test_compare(&y, &ref, 1e-5);
  em_tensor_free(&x); em_tensor_free(&xt); em_tensor_free(&xc);
  em_tensor_free(&y); em_tensor_free(&ref); em_tensor_free(&wide); em_tensor_free(&mean_view);
  bn_free(&p);
}

/* Direct convolution with zero padding, groups 1. */
static void naive_conv(const em_tensor *x, const em_tensor *w, const em_tensor *b, em_tensor *y,
                       int s, int pad) {
  int64_t N = x->size[0], Ci = x->size[1], H = x->size[2], W = x->size[3];
  int64_t Co = w->size[0], kh = w->size[2], kw = w->size[3];
  int64_t oh = (H + 2 * pad - kh) / s + 1, ow = (W + 2 * pad - kw) / s + 1;
  int64_t sz[4] = {N, Co, oh, ow};
  const float *xs = em_tensor_data(x), *ws = em_tensor_data(w);
  CHECK_OK(em_tensor_new(y, 4, sz, &e_));
  float *ys = em_tensor_data(y);
  for (int64_t n = 0; n < N; n++)
    for (int64_t o = 0; o < Co; o++)
      for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
          double acc = b && b->storage ? em_tensor_data(b)[o] : 0;
          for (int64_t c = 0; c < Ci; c++)
            for (int64_t u = 0; u < kh; u++)
              for (int64_t v = 0; v < kw; v++) {
                int64_t yy = i * s - pad + u, xx = j * s - pad + v;
                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                acc += (double)xs[((n * Ci + c) * H + yy) * W + xx] * ws[((o * Ci + c) * kh + u) * kw + v];
              }
          *ys++ = (float)acc;
        }
}

/* bn(conv(x, W, b)) == conv(x, W', b') after folding, with and without a
** conv bias (an empty bias is created) and with and without affine terms. */
static void test_fold(void) {
  for (int trial = 0; trial < 24; trial++) {
    int has_bias = trial & 1, affine = (trial >> 1) & 1;
    int64_t Ci = rnd(1, 4), Co = rnd(1, 6), k = rnd(1, 3) * 2 - 1;
    int64_t xs[4] = {rnd(1, 2), Ci, rnd(k, 9), rnd(k, 9)}, wsz[4] = {Co, Ci, k, k};
    int s = rnd(1, 2), pad = (int)(k / 2);
    float eps = 1e-3f;
    em_tensor x, w, b, conv, ref, y;
    bn p;
    em_tensor_init(&x); em_tensor_init(&w); em_tensor_init(&b);
    em_tensor_init(&conv); em_tensor_init(&ref); em_tensor_init(&y);
    random_tensor(&x, 4, xs, -1, 1);
    random_tensor(&w, 4, wsz, -1, 1);
    if (has_bias) random_tensor(&b, 1, &Co, -1, 1);
    bn_random(&p, Co);
    naive_conv(&x, &w, &b, &conv, s, pad);
    CHECK_OK(em_tensor_new(&ref, 4, conv.size, &e_));
    naive_bn(&conv, &ref, &p, affine, eps);
    CHECK_OK(em_batchnorm_fold(&w, &b, affine ? &p.w : NULL, affine ? &p.b : NULL,
                               &p.mean, &p.var, eps, &e_));
    CHECK(b.ndim == 1 && b.size[0] == Co);
    naive_conv(&x, &w, &b, &y, s, pad);
    test_compare(&y, &ref, 1e-5);
    em_tensor_free(&x); em_tensor_free(&w); em_tensor_free(&b);
    em_tensor_free(&conv); em_tensor_free(&ref); em_tensor_free(&y);
    bn_free(&p);
  }
}

static void test_errors(void) {
  int64_t sz[4] = {2, 4, 3, 3}, one = 4, zs[2] = {0, 4}, wsz[4] = {3, 2, 1, 1}, five = 5;
  em_tensor x, v, empty, y, z, w, b, b5;
  em_err e;
  bn p, p3;
  em_tensor_init(&x); em_tensor_init(&v); em_tensor_init(&empty); em_tensor_init(&y);
  em_tensor_init(&z); em_tensor_init(&w); em_tensor_init(&b); em_tensor_init(&b5);
  random_tensor(&x, 4, sz, -1, 1);
  random_tensor(&v, 1, &one, -1, 1);
  CHECK_OK(em_tensor_new(&z, 2, zs, &e_));
  bn_random(&p, 4);
  bn_random(&p3, 3);
  test_expect_error(em_batchnorm_forward(&ctx, &v, &y, NULL, NULL, &p.mean, &p.var, 1e-5f, &e), EM_ESHAPE, &e,
               "expected an input of 2 or more dimensions (N,C,...), got 1 (4)");
  test_expect_error(em_batchnorm_forward(&ctx, &empty, &y, NULL, NULL, &p.mean, &p.var, 1e-5f, &e), EM_ESHAPE, &e,
               "got an empty tensor");
  test_expect_error(em_batchnorm_forward(&ctx, &z, &y, NULL, NULL, &p.mean, &p.var, 1e-5f, &e), EM_ESHAPE, &e,
               "input 0x4 has a zero size");
  test_expect_error(em_batchnorm_forward(&ctx, &x, &y, NULL, NULL, &p3.mean, &p.var, 1e-5f, &e), EM_ESHAPE, &e,
               "expected 4 values in running_mean, got 3");
  test_expect_error(em_batchnorm_forward(&ctx, &x, &y, &p3.w, NULL, &p.mean, &p.var, 1e-5f, &e), EM_ESHAPE, &e,
               "expected 4 values in weight, got 3");
  test_expect_error(em_batchnorm_forward(&ctx, &x, &y, &p.w, &p3.b, &p.mean, &p.var, 1e-5f, &e), EM_ESHAPE, &e,
               "expected 4 values in bias, got 3");
  test_expect_error(em_batchnorm_forward(&ctx, &x, &y, NULL, NULL, &p.mean, &empty, 1e-5f, &e), EM_EARG, &e,
               "running_var is missing (expected 4 values)");
  test_expect_error(em_batchnorm_forward(&ctx, &x, &y, NULL, NULL, &p.mean, &p.var, -1.0f, &e), EM_EARG, &e,
               "eps must be a non-negative number, got -1");
  test_expect_error(em_batchnorm_forward(&ctx, &x, &y, NULL, NULL, &p.mean, &p.var, NAN, &e), EM_EARG, &e,
               "eps must be");
  /* fold: channel mismatch, bias of the wrong size, empty weight */
  random_tensor(&w, 4, wsz, -1, 1);
  test_expect_error(em_batchnorm_fold(&w, &b, &p.w, &p.b, &p.mean, &p.var, 1e-5f, &e), EM_ESHAPE, &e,
               "the convolution has 3 output channels, the batch normalisation 4");
  random_tensor(&b5, 1, &five, -1, 1);
  test_expect_error(em_batchnorm_fold(&w, &b5, &p3.w, &p3.b, &p3.mean, &p3.var, 1e-5f, &e), EM_ESHAPE, &e,
               "expected 3 values in the convolution bias, got 5 (5)");
  test_expect_error(em_batchnorm_fold(&empty, &b, &p3.w, &p3.b, &p3.mean, &p3.var, 1e-5f, &e), EM_ESHAPE, &e,
               "the convolution weight is empty");
  /* failures leave the conv untouched (and create no bias) */
  CHECK(b.storage == NULL);
  em_tensor_free(&x); em_tensor_free(&v); em_tensor_free(&empty); em_tensor_free(&y);
  em_tensor_free(&z); em_tensor_free(&w); em_tensor_free(&b); em_tensor_free(&b5);
  bn_free(&p); bn_free(&p3);
}

int main(void) {
  em_rng_seed(&rng, 7);
  em_ctx_init(&ctx);
  TEST_RUN(test_forward_random);
  TEST_RUN(test_forward_strided);
  TEST_RUN(test_fold);
  TEST_RUN(test_errors);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
