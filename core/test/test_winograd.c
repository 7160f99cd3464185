/* test_winograd.c -- Winograd F(4x4, 3x3) and F(2x2, 3x3) against the
** definition on random shapes (direct and through em_conv2d_forward), their
** epilogue, and their errors. */

#include "test.h"

static em_rng rng;
static em_ctx ctx;
static double worst;   /* largest error seen, relative to max |reference| */

static int randint(int lo, int hi) { return test_randint(&rng, lo, hi); }

static void make(em_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t sz[4] = { a, b, c, d };
  test_random_tensor(&rng, t, ndim, sz);
}

/* 3x3, stride 1, in double: y = clamp(scale * conv + bias + res). */
static void ref(const em_tensor *x, const em_tensor *w, const float *scale, const float *bias,
                const float *res,
                int pt, int pl, int64_t ho, int64_t wo, float lo, float hi, double *y) {
  int r = (int)w->size[2];
  em_conv_params p = test_conv_params(r, r, 1, 1, pt, pl, 0, 0, 1, 1, 1);
  test_conv_ref(x, w, scale, bias, res, &p, y, ho, wo);
  for (int64_t i = 0; i < x->size[0] * w->size[0] * ho * wo; i++)
    y[i] = y[i] < lo ? lo : y[i] > hi ? hi : y[i];
}

static void compare(const float *got, const double *want, int64_t n) {
  test_close_ref(got, n, n, want, n, &worst);
}

/* Random shapes straight through em_winograd_forward, the three variants
** (F(4x4, 3x3), F(2x2, 3x3), F(2x2, 5x5)): sizes not multiples of the
** block, asymmetric padding, batches, with and without bias, residual,
** clamp. */
static void test_random(void) {
  for (int iter = 0; iter < 180; iter++) {
    int v = iter / 2 % 3, m = v ? 2 : 4, k = v == 2 ? 5 : 3, kk = (m + k - 1) * (m + k - 1);
    int64_t n = randint(1, 3), cin = randint(1, 24), cout = randint(1, 20);
    int pt = randint(0, k - 1), pl = randint(0, k - 1), pb = randint(0, k - 1), pr = randint(0, k - 1);
    int64_t h = randint(k - pt - pb > 1 ? k - pt - pb : 1, 19), w = randint(k - pl - pr > 1 ? k - pl - pr : 1, 21);
    int64_t ho = h + pt + pb - (k - 1), wo = w + pl + pr - (k - 1);
    int with_bias = iter % 2, with_res = iter % 3 == 0, clamp = iter % 4 == 1, with_scale = iter % 5 < 2;
    em_tensor x, wt, b, r, u, y, buf, sc;
    make(&sc, 1, cout, 1, 1, 1);
    make(&x, 4, n, cin, h, w);
    make(&wt, 4, cout, cin, k, k);
    make(&b, 1, cout, 1, 1, 1);
    make(&r, 4, n, cout, ho, wo);
    em_tensor_init(&u); em_tensor_init(&buf); make(&y, 4, n, cout, ho, wo);
    float lo = clamp ? 0.0f : -INFINITY, hi = clamp ? 1.5f : INFINITY;
    const float *bias = with_bias ? em_tensor_data(&b) : NULL, *res = with_res ? em_tensor_data(&r) : NULL;
    const float *scale = with_scale ? em_tensor_data(&sc) : NULL;
    em_wino_args a = { em_tensor_data(&x), bias, res, em_tensor_data(&y), n, cin, cout, h, w,
                       ho, wo, pt, pl, clamp, lo, hi, scale, k, 0 };
    double *want = malloc(sizeof *want * (size_t)(n * cout * ho * wo));
    ref(&x, &wt, scale, bias, res, pt, pl, ho, wo, lo, hi, want);
    CHECK_OK(em_winograd_prepare(&ctx, &wt, &u, m, &e_));
    CHECK(u.ndim == 4 && u.size[0] == kk && u.size[1] == (cout + 5) / 6 && u.size[2] == cin && u.size[3] == 6);
    em_ctx_set_threads(&ctx, 1 + iter % 2);
    CHECK_OK(em_winograd_forward(&ctx, &a, &u, &buf, &e_));
    compare(em_tensor_data(&y), want, n * cout * ho * wo);
    /* the plain-C build (transforms and product) against the reference too */
    em_tensor y2;
    make(&y2, 4, n, cout, ho, wo);
    em_wino_args a2 = a;
    a2.out = em_tensor_data(&y2);
    em_isa isa = ctx.isa;
    ctx.isa = EM_ISA_C;
    CHECK_OK(em_winograd_forward(&ctx, &a2, &u, &buf, &e_));
    ctx.isa = isa;
    compare(em_tensor_data(&y2), want, n * cout * ho * wo);
    em_tensor_free(&y2);
    free(want);
    em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&r);
    em_tensor_free(&u); em_tensor_free(&y); em_tensor_free(&buf); em_tensor_free(&sc);
  }
}

/* The ways two threads share a layer's tiles, each against the definition
** (20 output planes: a last weight panel of 2; residual, clamp): 16 tiles
** (14x14), fewer than a chunk each, and 49 (28x28) and 81 (35x35), whose
** chunks would fall unevenly (32 + 17, 32 + 49 tiles), all split by output
** planes; 196 (56x56) and 2 x 49 in a batch, in chunks. */
static void test_thread_splits(void) {
  static const int64_t shape[][2] = { { 1, 14 }, { 1, 28 }, { 1, 35 }, { 1, 56 }, { 2, 28 } };
  for (int i = 0; i < 5; i++) {
    int64_t n = shape[i][0], h = shape[i][1], cin = 8, cout = 20;
    em_tensor x, wt, b, r, u, y, buf;
    make(&x, 4, n, cin, h, h);
    make(&wt, 4, cout, cin, 3, 3);
    make(&b, 1, cout, 1, 1, 1);
    make(&r, 4, n, cout, h, h);
    em_tensor_init(&u); em_tensor_init(&buf); make(&y, 4, n, cout, h, h);
    em_wino_args a = { em_tensor_data(&x), em_tensor_data(&b), em_tensor_data(&r), em_tensor_data(&y),
                       n, cin, cout, h, h, h, h, 1, 1, 1, 0.0f, 2.0f, NULL, 3, 0 };
    double *want = malloc(sizeof *want * (size_t)(n * cout * h * h));
    ref(&x, &wt, NULL, em_tensor_data(&b), em_tensor_data(&r), 1, 1, h, h, 0.0f, 2.0f, want);
    CHECK_OK(em_winograd_prepare(&ctx, &wt, &u, 4, &e_));
    em_ctx_set_threads(&ctx, 2);
    CHECK_OK(em_winograd_forward(&ctx, &a, &u, &buf, &e_));
    compare(em_tensor_data(&y), want, n * cout * h * h);
    free(want);
    em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&r);
    em_tensor_free(&u); em_tensor_free(&y); em_tensor_free(&buf);
  }
}

/* A k x k layer's random input, weight and bias, the tensors a forward
** fills, and the definition's output (padding top pt, left pl). */
typedef struct layer {
  em_tensor x, wt, b, u, y, buf;
  double *want;
} layer;

static void layer_make(layer *l, int64_t n, int64_t cin, int64_t cout, int k, int64_t h, int64_t w,
                       int pt, int pl, int64_t ho, int64_t wo) {
  make(&l->x, 4, n, cin, h, w);
  make(&l->wt, 4, cout, cin, k, k);
  make(&l->b, 1, cout, 1, 1, 1);
  em_tensor_init(&l->u); em_tensor_init(&l->y); em_tensor_init(&l->buf);
  l->want = malloc(sizeof *l->want * (size_t)(n * cout * ho * wo));
  ref(&l->x, &l->wt, NULL, em_tensor_data(&l->b), NULL, pt, pl, ho, wo, -INFINITY, INFINITY, l->want);
}

static void layer_free(layer *l) {
  free(l->want);
  em_tensor_free(&l->x); em_tensor_free(&l->wt); em_tensor_free(&l->b); em_tensor_free(&l->u);
  em_tensor_free(&l->y); em_tensor_free(&l->buf);
}

/* Through em_conv2d_forward with algo forced to WINOGRAD, WINOGRAD2 or
** AUTO, with a prepared weight (of either tile), an empty one it fills, or
** none (transformed per call): all agree with the definition, and a kept
** weight ends up of the tile that ran. */
static void test_conv_dispatch(void) {
  for (int iter = 0; iter < 48; iter++) {
    int64_t n = randint(1, 2), cin = randint(1, 40), cout = randint(1, 40);
    int pad = randint(0, 1), pb = randint(0, 2);
    int64_t h = randint(3, 30), w = randint(3, 30);
    int64_t ho = h + pad + pb - 2, wo = w + pad + pad - 2;
    layer l;
    em_conv_params p = { 3, 3, 1, 1, pad, pad, pb, pad, 1, 1, 1, EM_CONV_WINOGRAD, NULL, NULL, 0, 0 };
    layer_make(&l, n, cin, cout, 3, h, w, pad, pad, ho, wo);
    if (iter % 3 == 0) p.algo = EM_CONV_AUTO;
    if (iter % 3 == 1) p.algo = EM_CONV_WINOGRAD2;
    if (iter % 2) {   /* kept by the caller: prepared (either tile), or empty and filled */
      if (iter % 4 == 1) CHECK_OK(em_winograd_prepare(&ctx, &l.wt, &l.u, iter % 8 == 1 ? 2 : 4, &e_));
      p.wino_weight = &l.u;
    }
    CHECK_OK(em_conv2d_forward(&ctx, &l.x, &l.y, &l.wt, &l.b, &l.buf, &p, &e_));
    int tile = em_conv2d_winograd(&ctx, &p, cin, cout, ho, wo);
    const em_tensor *u = &l.u, *y = &l.y;
    if (iter % 2 && tile)
      CHECK(u->storage && u->ndim == 4 && u->size[0] == (tile + 2) * (tile + 2) &&
            u->size[1] == (cout + 5) / 6 && u->size[2] == cin && u->size[3] == 6);
    CHECK(y->ndim == 4 && y->size[0] == n && y->size[1] == cout && y->size[2] == ho && y->size[3] == wo);
    if (y->ndim == 4 && y->size[2] == ho && y->size[3] == wo)
      compare(em_tensor_data(y), l.want, n * cout * ho * wo);
    layer_free(&l);
  }
}

/* 5x5 layers through em_conv2d_forward, AUTO (F(2x2, 5x5) from 32 input
** planes and 16 blocks, else im2col) or WINOGRAD2, kept weight or none. */
static void test_conv_dispatch5(void) {
  for (int iter = 0; iter < 24; iter++) {
    int64_t n = randint(1, 2), cin = randint(1, 40), cout = randint(1, 40);
    int pad = randint(0, 2);
    int64_t h = randint(5, 24), w = randint(5, 24), ho = h + 2 * pad - 4, wo = w + 2 * pad - 4;
    layer l;
    em_conv_params p = { 5, 5, 1, 1, pad, pad, pad, pad, 1, 1, 1,
                         iter % 2 ? EM_CONV_AUTO : EM_CONV_WINOGRAD2, NULL, NULL, 0, 0 };
    layer_make(&l, n, cin, cout, 5, h, w, pad, pad, ho, wo);
    if (iter % 4 < 2) p.wino_weight = &l.u;
    CHECK_OK(em_conv2d_forward(&ctx, &l.x, &l.y, &l.wt, &l.b, &l.buf, &p, &e_));
    int tile = em_conv2d_winograd(&ctx, &p, cin, cout, ho, wo);
    CHECK(tile == (iter % 2 == 0 || (cin >= 32 && cout >= 16 && (ho + 1) / 2 * ((wo + 1) / 2) >= 16) ? 2 : 0));
    if (p.wino_weight) CHECK(tile ? l.u.storage && l.u.size[0] == 36 && l.u.size[2] == cin : !l.u.storage);
    compare(em_tensor_data(&l.y), l.want, n * cout * ho * wo);
    layer_free(&l);
  }
}

static void test_errors(void) {
  em_tensor x, wt, w5, u, y, buf, flat;
  em_err e;
  make(&x, 4, 1, 4, 8, 8);
  make(&wt, 4, 5, 4, 3, 3);
  make(&w5, 4, 5, 4, 5, 5);
  make(&flat, 2, 5, 36, 1, 1);
  em_tensor_init(&u); em_tensor_init(&y); em_tensor_init(&buf);
  em_tensor w4;
  make(&w4, 4, 5, 4, 4, 4);
  test_expect_error(em_winograd_prepare(NULL, &w4, &u, 2, &e), EM_ESHAPE, &e,
                    "expected a weight out,in,3,3 or out,in,5,5, got 5x4x4x4");
  em_tensor_free(&w4);
  test_expect_error(em_winograd_prepare(NULL, &w5, &u, 4, &e), EM_EARG, &e,
                    "output tile 4 for a 5x5 kernel, expected 2");
  test_expect_error(em_winograd_prepare(NULL, &flat, &u, 2, &e), EM_ESHAPE, &e, "got 5x36");
  test_expect_error(em_winograd_prepare(NULL, &wt, &wt, 4, &e), EM_EARG, &e, "must not share memory");
  test_expect_error(em_winograd_prepare(NULL, &u, &y, 4, &e), EM_ESHAPE, &e, "expected a weight");
  test_expect_error(em_winograd_prepare(NULL, &wt, &u, 3, &e), EM_EARG, &e,
                    "output tile 3 for a 3x3 kernel, expected 2 or 4");
  /* forced on a convolution it cannot do */
  em_conv_params p5 = { 5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1, EM_CONV_WINOGRAD, NULL, NULL, 0, 0 };
  test_expect_error(em_conv2d_forward(&ctx, &x, &y, &w5, NULL, &buf, &p5, &e), EM_EARG, &e,
                    "winograd needs a 3x3 kernel (winograd2 also 5x5, and 1x7 or 7x1 without padding "
                    "across), stride 1, dilation 1 and groups 1");
  /* F(2x2, 5x5) forced on a 5x5 layer whose kept weight is F(2x2, 3x3)'s
  ** size: the forward names the shape it expected */
  em_wino_args a5 = { em_tensor_data(&x), NULL, NULL, NULL, 1, 4, 5, 8, 8, 4, 4, 0, 0, 0, 0, 0, NULL, 5, 0 };
  em_tensor w16;
  make(&w16, 4, 16, 1, 4, 6);
  test_expect_error(em_winograd_forward(&ctx, &a5, &w16, &buf, &e), EM_ESHAPE, &e, "got 16x1x4x6");
  a5.k = 4;
  test_expect_error(em_winograd_forward(&ctx, &a5, &w16, &buf, &e), EM_EARG, &e, "a 4x4 kernel, expected 3x3 or 5x5");
  em_tensor_free(&w16);
  em_conv_params ps = { 3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1, EM_CONV_WINOGRAD, NULL, NULL, 0, 0 };
  test_expect_error(em_conv2d_forward(&ctx, &x, &y, &wt, NULL, &buf, &ps, &e), EM_EARG, &e, "winograd needs");
  em_conv_params pa = { 3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1, 7, NULL, NULL, 0, 0 };
  test_expect_error(em_conv2d_forward(&ctx, &x, &y, &wt, NULL, &buf, &pa, &e), EM_EARG, &e,
                    "unknown convolution algorithm 7");
  /* a prepared weight of another shape (one of the other tile is redone) */
  em_tensor w36;
  make(&w36, 2, 36, 5, 1, 1);
  em_conv_params p = { 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, EM_CONV_WINOGRAD, &w36, NULL, 0, 0 };
  test_expect_error(em_conv2d_forward(&ctx, &x, &y, &wt, NULL, &buf, &p, &e), EM_ESHAPE, &e,
                    "expected a contiguous transformed weight 36x1x4x6 (or 16x... for F(2x2, 3x3)), got 36x5");
  em_tensor_free(&w36);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&w5); em_tensor_free(&u);
  em_tensor_free(&y); em_tensor_free(&buf); em_tensor_free(&flat);
}

int main(void) {
  em_rng_seed(&rng, 7);
  em_ctx_init(&ctx);
  TEST_RUN(test_random);
  TEST_RUN(test_thread_splits);
  if (em_cpu_isa() > EM_ISA_AVX2) {   /* again with the AVX2 product an AVX-512 CPU passes by */
    ctx.isa = EM_ISA_AVX2;
    TEST_RUN(test_random);
    TEST_RUN(test_thread_splits);
    ctx.isa = em_cpu_isa();
  }
  TEST_RUN(test_conv_dispatch);
  TEST_RUN(test_conv_dispatch5);
  TEST_RUN(test_errors);
  printf("winograd: largest error %.3g x max |reference|\n", worst);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
