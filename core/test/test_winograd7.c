/* test_winograd7.c -- F(2, 7) for 1x7 and 7x1 convolutions against the
** definition (in double) on random shapes, every ISA, one and two threads,
** with the epilogue and output planes apart; through em_conv2d_forward
** (the automatic choice, forced, refused); its errors. */

#include "test.h"

static em_rng rng;
static em_ctx ctx;
static double worst;   /* largest error seen, relative to max |reference| */

static int randint(int lo, int hi) { return test_randint(&rng, lo, hi); }

static void make(em_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t sz[4] = { a, b, c, d };
  test_random_tensor(&rng, t, 4, sz);
}

static void compare(const float *got, int64_t ldo, int64_t plane, const double *want, int64_t n) {
  test_close_ref(got, ldo, plane, want, n, &worst);
}

/* Random 1x7 and 7x1 layers straight through em_winograd7_forward: sizes
** of any parity, padding 0-6 on either end of the axis, batches, scale,
** bias, residual, clamp; output planes apart for one image, the floats
** between them untouched. */
static void test_random(void) {
  for (int iter = 0; iter < 120; iter++) {
    int vertical = iter % 2, pa = randint(0, 6), pb = randint(0, 6);
    int64_t n = randint(1, 3), cin = randint(1, 24), cout = randint(1, 20);
    int64_t along = randint(7 - pa - pb > 1 ? 7 - pa - pb : 1, 23), across = randint(1, 21);
    int64_t h = vertical ? along : across, w = vertical ? across : along;
    em_conv_params p = vertical ? test_conv_params(7, 1, 1, 1, pa, 0, pb, 0, 1, 1, 1)
                                : test_conv_params(1, 7, 1, 1, 0, pa, 0, pb, 1, 1, 1);
    int64_t ho = h + p.pt + p.pb - (p.kh - 1), wo = w + p.pl + p.pr - (p.kw - 1), plane = ho * wo;
    int64_t ldo = n == 1 && iter % 3 == 0 ? plane + randint(1, 40) : plane;
    int with_bias = iter % 4 < 2, with_res = iter % 3 == 1, clamp = iter % 5 == 2, with_scale = iter % 7 < 3;
    em_tensor x, wt, b, r, sc, u, y, buf;
    make(&x, n, cin, h, w);
    make(&wt, cout, cin, p.kh, p.kw);
    make(&b, cout, 1, 1, 1);
    make(&sc, cout, 1, 1, 1);
    make(&r, n, cout, ho, wo);
    make(&y, 1, 1, 1, n * cout * ldo);
    em_tensor_init(&u); em_tensor_init(&buf);
    float lo = clamp ? 0.0f : -INFINITY, hi = clamp ? 1.5f : INFINITY;
    const float *bias = with_bias ? em_tensor_data(&b) : NULL, *res = with_res ? em_tensor_data(&r) : NULL;
    const float *scale = with_scale ? em_tensor_data(&sc) : NULL;
    double *want = malloc(sizeof *want * (size_t)(n * cout * plane));
    test_conv_ref(&x, &wt, scale, bias, res, &p, want, ho, wo);
    for (int64_t i = 0; i < n * cout * plane; i++) want[i] = want[i] < lo ? lo : want[i] > hi ? hi : want[i];
    CHECK_OK(em_winograd7_prepare(&ctx, &wt, &u, &e_));
    CHECK(u.ndim == 4 && u.size[0] == 8 && u.size[1] == (cout + 5) / 6 && u.size[2] == cin && u.size[3] == 6);
    for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa(); isa++) {
      float *out = em_tensor_data(&y);
      for (int64_t i = 0; i < n * cout * ldo; i++) out[i] = 1234.5f;
      em_wino_args a = { em_tensor_data(&x), bias, res, out, n, cin, cout, h, w, ho, wo,
                         p.pt, p.pl, clamp, lo, hi, scale, p.kh, ldo == plane ? 0 : ldo };
      ctx.isa = (em_isa)isa;
      em_ctx_set_threads(&ctx, 1 + (iter + isa) % 2);
      CHECK(em_winograd7_scratch(&ctx, n, cin, cout, h, w, ho, wo, vertical, pa) > 0);
      CHECK_OK(em_winograd7_forward(&ctx, &a, &u, &buf, &e_));
      CHECK(em_tensor_nelement(&buf) == em_winograd7_scratch(&ctx, n, cin, cout, h, w, ho, wo, vertical, pa));
      compare(out, ldo, plane, want, n * cout * plane);
      for (int64_t q = 0; q < n * cout; q++)   /* between the planes: untouched */
        for (int64_t i = plane; i < ldo; i++) CHECK(out[q * ldo + i] == 1234.5f);
    }
    ctx.isa = em_cpu_isa();
    free(want);
    em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&r);
    em_tensor_free(&sc); em_tensor_free(&u); em_tensor_free(&y); em_tensor_free(&buf);
  }
}

/* Through em_conv2d_forward: AUTO takes F(2, 7) from 16 planes in and out
** with AVX2 or AVX-512 (the transformed weight kept is 8 x ...), WINOGRAD2 forces
** it on fewer; both against the definition; padding across the axis or a
** stride refuses it. */
static void test_conv_dispatch(void) {
  for (int iter = 0; iter < 24; iter++) {
    int vertical = iter % 2;
    int64_t n = randint(1, 2), cin = iter % 4 < 2 ? randint(16, 40) : randint(1, 15), cout = randint(8, 40);
    int64_t h = randint(7, 20), w = randint(7, 20);
    em_conv_params p = vertical ? test_conv_params(7, 1, 1, 1, 3, 0, 3, 0, 1, 1, 1)
                                : test_conv_params(1, 7, 1, 1, 0, 3, 0, 3, 1, 1, 1);
    p.algo = iter % 3 == 0 ? EM_CONV_WINOGRAD2 : EM_CONV_AUTO;
    em_tensor x, wt, b, u, y, buf;
    make(&x, n, cin, h, w);
    make(&wt, cout, cin, p.kh, p.kw);
    make(&b, cout, 1, 1, 1);
    em_tensor_init(&u); em_tensor_init(&y); em_tensor_init(&buf);
    p.wino_weight = &u;
    double *want = malloc(sizeof *want * (size_t)(n * cout * h * w));
    test_conv_ref(&x, &wt, NULL, em_tensor_data(&b), NULL, &p, want, h, w);
    CHECK_OK(em_conv2d_forward(&ctx, &x, &y, &wt, &b, &buf, &p, &e_));
    int tile = em_conv2d_winograd(&ctx, &p, cin, cout, h, w);
    CHECK(tile == (p.algo == EM_CONV_WINOGRAD2 ||
                   (cin >= 16 && cout >= 16 && ctx.isa >= EM_ISA_AVX2) ? 2 : 0));
    CHECK(tile ? u.storage && u.size[0] == 8 && u.size[2] == cin : !u.storage);
    compare(em_tensor_data(&y), h * w, h * w, want, n * cout * h * w);
    free(want);
    em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&u);
    em_tensor_free(&y); em_tensor_free(&buf);
  }
  em_conv_params across = test_conv_params(1, 7, 1, 1, 1, 3, 1, 3, 1, 1, 1);
  em_conv_params stride = test_conv_params(7, 1, 2, 1, 3, 0, 3, 0, 1, 1, 1);
  CHECK(!em_winograd7_fits(&across) && !em_winograd7_fits(&stride));
  CHECK(em_conv2d_winograd(&ctx, &across, 64, 64, 19, 19) == 0);
}

static void test_errors(void) {
  em_tensor x, w17, w33, u, y, buf, bad;
  em_err e;
  make(&x, 1, 4, 9, 9);
  make(&w17, 5, 4, 1, 7);
  make(&w33, 5, 4, 3, 3);
  make(&bad, 8, 2, 4, 6);
  em_tensor_init(&u); em_tensor_init(&y); em_tensor_init(&buf);
  test_expect_error(em_winograd7_prepare(NULL, &w33, &u, &e), EM_ESHAPE, &e,
                    "expected a weight out,in,1,7 or out,in,7,1, got 5x4x3x3");
  test_expect_error(em_winograd7_prepare(NULL, &w17, &w17, &e), EM_EARG, &e, "must not share memory");
  test_expect_error(em_winograd_prepare(NULL, &w17, &u, 4, &e), EM_EARG, &e,
                    "output tile 4 for a 1x7 kernel, expected 2");
  em_wino_args a = { em_tensor_data(&x), NULL, NULL, NULL, 1, 4, 5, 9, 9, 9, 3, 0, 0, 0, 0, 0, NULL, 1, 0 };
  test_expect_error(em_winograd7_forward(&ctx, &a, &bad, &buf, &e), EM_ESHAPE, &e,
                    "expected a contiguous transformed weight 8x1x4x6, got 8x2x4x6");
  /* forced on a 1x7 layer padded across its axis */
  em_conv_params p = test_conv_params(1, 7, 1, 1, 1, 3, 1, 3, 1, 1, 1);
  p.algo = EM_CONV_WINOGRAD2;
  test_expect_error(em_conv2d_forward(&ctx, &x, &y, &w17, NULL, &buf, &p, &e), EM_EARG, &e,
                    "winograd needs a 3x3 kernel (winograd2 also 5x5, and 1x7 or 7x1 without padding across)");
  em_tensor_free(&x); em_tensor_free(&w17); em_tensor_free(&w33); em_tensor_free(&u);
  em_tensor_free(&y); em_tensor_free(&buf); em_tensor_free(&bad);
}

int main(void) {
  em_rng_seed(&rng, 11);
  em_ctx_init(&ctx);
  TEST_RUN(test_random);
  TEST_RUN(test_conv_dispatch);
  TEST_RUN(test_errors);
  printf("winograd7: largest error %.3g x max |reference|\n", worst);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
