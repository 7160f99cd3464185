/* test_depthwise.c -- the depthwise kernels of every ISA and the fused conv
** epilogue (bias, residual, activation) against naive loops; epilogue errors. */

#include <string.h>

#include "test.h"

static em_rng rng;
static em_ctx ctx;

static int randint(int lo, int hi) { return test_randint(&rng, lo, hi); }

static void make(em_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t sz[4] = { a, b, c, d };
  test_random_tensor(&rng, t, 4, sz);
}

static em_conv_params params(int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                             int dil, int groups) {
  return test_conv_params(kh, kw, sh, sw, pt, pl, pb, pr, dil, dil, groups);
}

static double act_ref(double v, int act, double a, double b) {
  switch (act) {
  case EM_ACT_RELU: return v > 0 ? v : 0;
  case EM_ACT_CLAMP: return v < a ? a : v > b ? b : v;
  case EM_ACT_SIGMOID: return 1 / (1 + exp(-v));
  default: return v;
  }
}

/* y = act(scale * conv(x, w) + bias + res), in double. */
static void ref(const em_tensor *x, const em_tensor *w, const float *scale, const float *bias,
                const float *res, const em_conv_params *p, int act, float a, float b, double *y,
                int64_t ho, int64_t wo) {
  test_conv_ref(x, w, scale, bias, res, p, y, ho, wo);
  for (int64_t i = 0; i < x->size[0] * w->size[0] * ho * wo; i++) y[i] = act_ref(y[i], act, a, b);
}

/* One random case: a depthwise layer (groups = cin, multiplier m) when dw,
** else a grouped or plain one; run on the given ISA; compared in float
** tolerance. small: a 3x3 stride-1 "same" layer on planes up to 9x9 (1) or
** 7-34 wide (3), a 3x3 stride-2 one on planes 7-34 wide (2). */
static void one_case_of(em_isa isa, int dw, int k3, int with_res, int act, int small, double *worst) {
  int g = randint(1, 6), m = dw ? randint(1, 2) : randint(1, 3);
  int cin = dw ? g : g * randint(1, 3), cout = g * m;
  int kh = k3 ? 3 : randint(1, 5), kw = k3 ? 3 : randint(1, 5);
  int s = randint(1, 2), sh = k3 ? s : randint(1, 3), sw = k3 ? s : randint(1, 3);
  int dil = k3 ? 1 : randint(1, 2);
  int pt = randint(0, 2), pl = randint(0, 2), pb = randint(0, 2), pr = randint(0, 2);
  /* a quarter of the planes wider than the padded small-plane kernel takes */
  int64_t n = randint(1, 3), h = randint(1, 40), w = randint(0, 3) ? randint(1, 70) : randint(100, 260);
  if (small == 1) {
    kh = kw = 3, sh = sw = 1, dil = 1, pt = pl = pb = pr = 1;
    h = randint(1, 9), w = randint(1, 9);
  } else if (small == 3) {   /* stride 1, "same", planes 7-34 wide */
    kh = kw = 3, sh = sw = 1, dil = 1, pt = pl = pb = pr = 1;
    h = randint(1, 34), w = randint(7, 34);
  } else if (small == 2) {   /* stride 2, padding 1 left and top */
    kh = kw = 3, sh = sw = 2, dil = 1, pt = pl = 1, pb = randint(0, 1), pr = randint(0, 1);
    h = randint(1, 36), w = randint(7, 66);
  }
  em_conv_params p = params(kh, kw, sh, sw, pt, pl, pb, pr, dil, g);
  int64_t ekh = (int64_t)(kh - 1) * dil + 1, ekw = (int64_t)(kw - 1) * dil + 1;
  if (h + pt + pb < ekh) h = ekh;
  if (w + pl + pr < ekw) w = ekw;
  int64_t ho = (h + pt + pb - ekh) / sh + 1, wo = (w + pl + pr - ekw) / sw + 1;
  em_tensor x, wt, bias, res, y, buf, sc;
  em_conv_epilogue ep = { act, act == EM_ACT_CLAMP ? -0.3f : 0, act == EM_ACT_CLAMP ? 0.5f : 0, NULL, NULL };
  int has_bias = randint(0, 1), has_scale = randint(0, 2) == 0;
  make(&x, n, cin, h, w); make(&wt, cout, cin / g, kh, kw);
  make(&bias, 1, 1, 1, cout); make(&res, n, cout, ho, wo); make(&sc, 1, 1, 1, cout);
  if (has_scale) ep.scale = &sc;
  em_tensor_init(&y); em_tensor_init(&buf);
  if (with_res) ep.residual = &res;
  double *r = malloc(sizeof(double) * (size_t)(n * cout * ho * wo));
  ref(&x, &wt, has_scale ? em_tensor_data(&sc) : NULL, has_bias ? em_tensor_data(&bias) : NULL, with_res ? em_tensor_data(&res) : NULL,
      &p, act, ep.a, ep.b, r, ho, wo);
  ctx.isa = isa;
  CHECK_OK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, has_bias ? &bias : NULL, &buf, &p, &ep, &e_));
  CHECK(y.ndim == 4 && y.size[0] == n && y.size[1] == cout && y.size[2] == ho && y.size[3] == wo);
  double d = 0;
  for (int64_t i = 0; i < n * cout * ho * wo; i++) {
    double di = fabs(em_tensor_data(&y)[i] - r[i]);
    if (di > d || di != di) d = di != di ? INFINITY : di;
  }
  if (d > 1e-5) {
    fprintf(stderr, "  isa %d dw %d: n%lld c%d->%d %lldx%lld k%dx%d s%dx%d p%d,%d,%d,%d d%d act %d res %d: %g\n",
            isa, dw, (long long)n, cin, cout, (long long)h, (long long)w, kh, kw, sh, sw,
            pt, pl, pb, pr, dil, act, with_res, d);
  }
  CHECK(d <= 1e-5);
  if (d > *worst) *worst = d;
  free(r);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&bias); em_tensor_free(&res);
  em_tensor_free(&y); em_tensor_free(&buf); em_tensor_free(&sc);
}

static void one_case(em_isa isa, int dw, int k3, int with_res, int act, double *worst) {
  one_case_of(isa, dw, k3, with_res, act, 0, worst);
}

static const int acts[] = { EM_ACT_NONE, EM_ACT_RELU, EM_ACT_CLAMP, EM_ACT_SIGMOID };

/* Planes up to 9x9 and 7-34 wide at stride 1 (the in-register kernel
** takes 5-32 wide ones) and 7-66 wide at stride 2 (9-32), one or
** more images, one or two output planes per input plane. */
static void test_small_planes(void) {
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa(); isa++) {
    double worst = 0;
    for (int t = 0; t < 600; t++) one_case_of((em_isa)isa, 1, 1, t % 2, acts[t % 4], 1 + t / 200, &worst);
    printf("  small planes isa %d: max |diff| %.2g over 600 random layers\n", isa, worst);
  }
  ctx.isa = em_cpu_isa();
}

/* Every ISA the CPU has, each forced through ctx.isa. */
static void test_depthwise_isas(void) {
  em_isa best = em_cpu_isa();
  for (int isa = EM_ISA_C; isa <= (int)best; isa++) {
    double worst = 0;
    for (int t = 0; t < 300; t++)
      one_case((em_isa)isa, 1, t % 2, t % 3 == 0, acts[t % 4], &worst);
    printf("  depthwise isa %d: max |diff| %.2g over 300 random layers\n", isa, worst);
  }
  ctx.isa = best;
}

/* The 3x3 paths at MobileNet's sizes, where the vector bodies do most work. */
static void test_mobilenet_shapes(void) {
  static const int shapes[][3] = { { 32, 112, 1 }, { 96, 112, 2 }, { 144, 56, 1 }, { 144, 56, 2 },
                                   { 192, 28, 2 }, { 384, 14, 1 }, { 576, 14, 2 }, { 960, 7, 1 },
                                   { 8, 230, 1 }, { 8, 240, 2 } };
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa(); isa++)
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
      int c = shapes[i][0], hw = shapes[i][1], s = shapes[i][2];
      em_conv_params p = params(3, 3, s, s, 1, 1, 1, 1, 1, c);
      em_tensor x, wt, bias, y;
      int64_t ho = (hw - 1) / s + 1;
      em_conv_epilogue ep = { EM_ACT_CLAMP, 0, 6, NULL, NULL };
      make(&x, 1, c, hw, hw); make(&wt, c, 1, 3, 3); make(&bias, 1, 1, 1, c);
      em_tensor_init(&y);
      double *r = malloc(sizeof(double) * (size_t)(c * ho * ho));
      ref(&x, &wt, NULL, em_tensor_data(&bias), NULL, &p, EM_ACT_CLAMP, 0, 6, r, ho, ho);
      ctx.isa = (em_isa)isa;
      CHECK_OK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, &bias, NULL, &p, &ep, &e_));
      double d = 0;
      for (int64_t j = 0; j < c * ho * ho; j++) d = fmax(d, fabs(em_tensor_data(&y)[j] - r[j]));
      CHECK(d <= 1e-5);
      free(r);
      em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&bias); em_tensor_free(&y);
    }
  ctx.isa = em_cpu_isa();
}

/* The sgemm path's epilogue (plain, grouped, 1x1 direct), and plain
** em_conv2d_forward equal to the _ex form with no epilogue. */
static void test_gemm_epilogue(void) {
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa() && isa <= EM_ISA_AVX2; isa++) {
    double worst = 0;   /* C: im2col + OpenBLAS; AVX2: ember's own product */
    for (int t = 0; t < 200; t++) one_case((em_isa)isa, 0, 0, t % 2, acts[t % 4], &worst);
    printf("  gemm epilogue isa %d: max |diff| %.2g over 200 random layers\n", isa, worst);
  }
  ctx.isa = em_cpu_isa();
  em_tensor x, wt, y1, y2;
  em_conv_params p = params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1);
  make(&x, 2, 5, 7, 9); make(&wt, 4, 5, 1, 1);
  em_tensor_init(&y1); em_tensor_init(&y2);
  CHECK_OK(em_conv2d_forward(&ctx, &x, &y1, &wt, NULL, NULL, &p, &e_));
  CHECK_OK(em_conv2d_forward_ex(&ctx, &x, &y2, &wt, NULL, NULL, &p, NULL, &e_));
  CHECK(test_maxdiff(em_tensor_data(&y1), em_tensor_data(&y2), em_tensor_nelement(&y1)) == 0);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&y1); em_tensor_free(&y2);
}

static void test_epilogue_errors(void) {
  em_tensor x, wt, y, res;
  em_err e;
  em_conv_params p = params(3, 3, 1, 1, 1, 1, 1, 1, 1, 4);
  em_conv_epilogue ep = { EM_ACT_RELU, 0, 0, NULL, NULL };
  make(&x, 1, 4, 6, 6); make(&wt, 4, 1, 3, 3); make(&res, 1, 4, 6, 5);
  em_tensor_init(&y);
  ep.residual = &res;
  CHECK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, NULL, NULL, &p, &ep, &e) == EM_ESHAPE);
  CHECK(strstr(e.msg, "residual of the output's shape 1x4x6x6, got 1x4x6x5") != NULL);
  em_tensor_free(&res);
  make(&res, 1, 4, 6, 6);
  CHECK(em_conv2d_forward_ex(&ctx, &x, &res, &wt, NULL, NULL, &p, &ep, &e) == EM_EARG);
  CHECK(strstr(e.msg, "residual") != NULL);
  ep.residual = NULL;
  ep.scale = &res;   /* 144 values for 4 output planes */
  CHECK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, NULL, NULL, &p, &ep, &e) == EM_ESHAPE);
  CHECK(strstr(e.msg, "expected a scale of 4 elements, got 1x4x6x6") != NULL);
  ep.scale = NULL;
  ep.act = 99;
  CHECK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, NULL, NULL, &p, &ep, &e) == EM_EARG);
  CHECK(strstr(e.msg, "unknown activation 99") != NULL);
  ep.act = -1;
  CHECK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, NULL, NULL, &p, &ep, &e) == EM_EARG);
  /* the input's own checks still come first */
  ep.act = EM_ACT_RELU;
  p.groups = 2;
  CHECK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, NULL, NULL, &p, &ep, &e) == EM_ESHAPE);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&y); em_tensor_free(&res);
}

/* A residual that is a narrowed (non-contiguous) view is copied, not misread. */
static void test_strided_residual(void) {
  em_tensor x, wt, y, big, res;
  em_conv_params p = params(3, 3, 2, 2, 1, 1, 1, 1, 1, 3);
  em_conv_epilogue ep = { EM_ACT_NONE, 0, 0, NULL, NULL };
  make(&x, 1, 3, 9, 9); make(&wt, 3, 1, 3, 3); make(&big, 1, 3, 5, 10);
  em_tensor_init(&y); em_tensor_init(&res);
  CHECK_OK(em_tensor_narrow(&res, &big, 3, 0, 5, &e_));
  ep.residual = &res;
  double r[75];
  float rc[75];
  for (int i = 0; i < 75; i++) rc[i] = em_tensor_data(&big)[i / 25 * 50 + i % 25 / 5 * 10 + i % 5];
  ref(&x, &wt, NULL, NULL, rc, &p, EM_ACT_NONE, 0, 0, r, 5, 5);
  CHECK_OK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, NULL, NULL, &p, &ep, &e_));
  double d = 0;
  for (int i = 0; i < 75; i++) d = fmax(d, fabs(em_tensor_data(&y)[i] - r[i]));
  CHECK(d <= 1e-5);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&y); em_tensor_free(&big); em_tensor_free(&res);
}

int main(void) {
  em_rng_seed(&rng, 7);
  em_ctx_init(&ctx);
  printf("  cpu isa %d (0 C, 1 AVX2+FMA, 2 AVX-512F)\n", (int)ctx.isa);
  TEST_RUN(test_depthwise_isas);
  TEST_RUN(test_mobilenet_shapes);
  TEST_RUN(test_small_planes);
  TEST_RUN(test_gemm_epilogue);
  TEST_RUN(test_epilogue_errors);
  TEST_RUN(test_strided_residual);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
