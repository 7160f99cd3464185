/* test_conv.c -- em_conv2d_forward and em_conv_transpose2d_forward against
** naive nested loops on random shapes, plus every shape error. */

#include <string.h>

#include "test.h"

static em_rng rng;
static em_ctx ctx;

static int randint(int lo, int hi) { return test_randint(&rng, lo, hi); }

/* A new tensor of the given sizes, uniform in [-1, 1). */
static void make(em_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t sz[4] = { a, b, c, d };
  test_random_tensor(&rng, t, ndim, sz);
}

static void ref_deconv(const em_tensor *x, const em_tensor *w, const float *bias, const em_conv_params *p,
                       double *y, int64_t ho, int64_t wo) {
  int64_t n = x->size[0], cin = x->size[1], h = x->size[2], wd = x->size[3];
  int64_t cout_g = w->size[1], cout = cout_g * p->groups, cin_g = cin / p->groups;
  const float *X = em_tensor_data(x), *W = em_tensor_data(w);
  for (int64_t i = 0; i < n * cout * ho * wo; i++) y[i] = bias ? bias[i / (ho * wo) % cout] : 0;
  for (int64_t i = 0; i < n; i++)
    for (int64_t ic = 0; ic < cin; ic++)
      for (int64_t iy = 0; iy < h; iy++)
        for (int64_t ix = 0; ix < wd; ix++)
          for (int64_t c = 0; c < cout_g; c++)
            for (int ky = 0; ky < p->kh; ky++)
              for (int kx = 0; kx < p->kw; kx++) {
                int64_t oy = iy * p->sh - p->pt + ky * p->dh, ox = ix * p->sw - p->pl + kx * p->dw;
                int64_t oc = ic / cin_g * cout_g + c;
                if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
                y[((i * cout + oc) * ho + oy) * wo + ox] +=
                    (double)X[((i * cin + ic) * h + iy) * wd + ix] *
                    W[((ic * cout_g + c) * p->kh + ky) * p->kw + kx];
              }
}

/* max |out - ref| <= 1e-5 * max |ref| (and the shapes agree) */
static int close_to(const em_tensor *out, const double *ref, int64_t n, int64_t c, int64_t ho, int64_t wo) {
  double md = 0, mx = 0;
  if (out->ndim != 4 || out->size[0] != n || out->size[1] != c || out->size[2] != ho || out->size[3] != wo) {
    fprintf(stderr, "  output has the wrong shape\n");
    return 0;
  }
  for (int64_t i = 0; i < n * c * ho * wo; i++) {
    double d = fabs(em_tensor_data(out)[i] - ref[i]);
    if (d > md || d != d) md = d != d ? INFINITY : d;
    if (fabs(ref[i]) > mx) mx = fabs(ref[i]);
  }
  if (md <= 1e-5 * mx + 1e-7) return 1;
  fprintf(stderr, "  max error %g, max |ref| %g\n", md, mx);
  return 0;
}

/* Runs one conv case against the reference; bias_mode 0 none, 1 NULL-less empty, 2 real. */
static int conv_case(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout,
                     em_conv_params p, int bias_mode, em_tensor *buf) {
  em_tensor x, wt, b, y;
  em_err e;
  int ok;
  int64_t ho = (h + p.pt + p.pb - ((p.kh - 1) * p.dh + 1)) / p.sh + 1;
  int64_t wo = (w + p.pl + p.pr - ((p.kw - 1) * p.dw + 1)) / p.sw + 1;
  double *ref = malloc(sizeof *ref * (size_t)(n * cout * ho * wo));
  make(&x, 4, n, cin, h, w);
  make(&wt, 4, cout, cin / p.groups, p.kh, p.kw);
  em_tensor_init(&b); em_tensor_init(&y);
  if (bias_mode == 2) make(&b, 1, cout, 0, 0, 0);
  test_conv_ref(&x, &wt, NULL, bias_mode == 2 ? em_tensor_data(&b) : NULL, NULL, &p, ref, ho, wo);
  /* every other case keeps the packed weight: filled by the first call,
  ** used by the second, which must give the same result */
  em_tensor packed;
  em_tensor_init(&packed);
  if (randint(0, 1)) p.packed_weight = &packed;
  ok = 1;
  for (int call = 0; call < (p.packed_weight ? 2 : 1) && ok; call++) {
    if (em_conv2d_forward(&ctx, &x, &y, &wt, bias_mode ? &b : NULL, buf, &p, &e) != EM_OK) {
      fprintf(stderr, "  conv failed: %s\n", e.msg);
      ok = 0;
    } else {
      ok = close_to(&y, ref, n, cout, ho, wo);
    }
  }
  em_tensor_free(&packed);
  if (!ok)
    fprintf(stderr, "  case n%lld cin%lld %lldx%lld cout%lld k%dx%d s%d,%d pad%d,%d,%d,%d d%d,%d g%d\n",
            (long long)n, (long long)cin, (long long)h, (long long)w, (long long)cout, p.kh, p.kw,
            p.sh, p.sw, p.pt, p.pl, p.pb, p.pr, p.dh, p.dw, p.groups);
  free(ref);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&y);
  return ok;
}

static int deconv_case(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout,
                       em_conv_params p, int oph, int opw, int with_bias) {
  em_tensor x, wt, b, y, buf;
  em_err e;
  int ok;
  int64_t ho = (h - 1) * p.sh - p.pt - p.pb + (p.kh - 1) * p.dh + 1 + oph;
  int64_t wo = (w - 1) * p.sw - p.pl - p.pr + (p.kw - 1) * p.dw + 1 + opw;
  double *ref = malloc(sizeof *ref * (size_t)(n * cout * ho * wo));
  make(&x, 4, n, cin, h, w);
  make(&wt, 4, cin, cout / p.groups, p.kh, p.kw);
  em_tensor_init(&b); em_tensor_init(&y); em_tensor_init(&buf);
  if (with_bias) make(&b, 1, cout, 0, 0, 0);
  ref_deconv(&x, &wt, with_bias ? em_tensor_data(&b) : NULL, &p, ref, ho, wo);
  if (em_conv_transpose2d_forward(&ctx, &x, &y, &wt, with_bias ? &b : NULL, &buf, &p, oph, opw, &e)) {
    fprintf(stderr, "  conv_transpose failed: %s\n", e.msg);
    ok = 0;
  } else {
    ok = close_to(&y, ref, n, cout, ho, wo);
  }
  if (!ok)
    fprintf(stderr, "  case n%lld cin%lld %lldx%lld cout%lld k%dx%d s%d,%d pad%d,%d,%d,%d d%d,%d g%d op%d,%d\n",
            (long long)n, (long long)cin, (long long)h, (long long)w, (long long)cout, p.kh, p.kw,
            p.sh, p.sw, p.pt, p.pl, p.pb, p.pr, p.dh, p.dw, p.groups, oph, opw);
  free(ref);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&y); em_tensor_free(&buf);
  return ok;
}

/* ------------------------------------------------------------ conv cases */

static void test_conv_random(void) {
  em_tensor buf;
  int done = 0;
  em_tensor_init(&buf);
  while (done < 300) {
    int gsel = randint(0, 3);
    int groups = gsel == 0 ? 1 : gsel == 1 ? 2 : gsel == 2 ? 4 : randint(2, 6);
    int cin_g = gsel == 3 ? 1 : randint(1, 5), cout_g = gsel == 3 ? randint(1, 2) : randint(1, 5);
    em_conv_params p = test_conv_params(randint(1, 5), randint(1, 5), randint(1, 3), randint(1, 3),
                              randint(0, 3), randint(0, 3), randint(0, 3), randint(0, 3),
                              randint(1, 2), randint(1, 2), groups);
    int64_t h = randint(1, 13), w = randint(1, 13), n = randint(0, 1) ? 1 : 3;
    if ((p.kh - 1) * p.dh + 1 > h + p.pt + p.pb || (p.kw - 1) * p.dw + 1 > w + p.pl + p.pr) continue;
    CHECK(conv_case(n, cin_g * groups, h, w, cout_g * groups, p, randint(0, 2), &buf));
    done++;
  }
  em_tensor_free(&buf);
}

static void test_conv_paths(void) {
  em_tensor buf;
  em_tensor_init(&buf);
  /* 1x1 stride 1 no padding: no im2col */
  CHECK(conv_case(1, 7, 5, 9, 6, test_conv_params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), 2, &buf));
  CHECK(conv_case(3, 8, 4, 3, 4, test_conv_params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2), 0, &buf));
  CHECK(conv_case(2, 8, 4, 3, 8, test_conv_params(1, 1, 1, 1, 0, 0, 0, 0, 2, 2, 4), 1, &buf));
  /* 1x1 strided without padding (ResNet's downsampling): odd sizes, uneven
  ** strides, groups, batches, and one large enough for two threads */
  CHECK(conv_case(1, 5, 7, 7, 3, test_conv_params(1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), 2, &buf));
  CHECK(conv_case(3, 6, 9, 8, 4, test_conv_params(1, 1, 3, 2, 0, 0, 0, 0, 1, 1, 2), 1, &buf));
  CHECK(conv_case(2, 64, 56, 55, 24, test_conv_params(1, 1, 2, 2, 0, 0, 0, 0, 1, 1, 1), 2, &buf));
  for (int i = 0; i < 40; i++) {
    int groups = randint(1, 3), sh = randint(1, 3), sw = randint(1, 3);
    CHECK(conv_case(randint(1, 2), groups * randint(1, 6), randint(1, 20), randint(1, 20),
                    groups * randint(1, 6),
                    test_conv_params(1, 1, sh, sw, 0, 0, 0, 0, randint(1, 2), randint(1, 2), groups),
                    randint(0, 2), &buf));
  }
  /* stride 2 along x, rows wide enough for the phase planes' vector split
  ** (16 columns and more, odd and even), any padding a kernel allows; and a
  ** row wider than that split takes (2048 columns: plane by plane) */
  for (int i = 0; i < 30; i++) {
    int kw = randint(2, 5), kh = randint(1, 4);
    CHECK(conv_case(randint(1, 2), randint(1, 4), randint(kh, 9), randint(16, 70), randint(1, 7),
                    test_conv_params(kh, kw, randint(1, 2), 2, randint(0, kh - 1), randint(0, kw - 1),
                                     randint(0, kh - 1), randint(0, kw - 1), 1, 1, 1),
                    randint(0, 2), &buf));
  }
  CHECK(conv_case(1, 2, 3, 2101, 3, test_conv_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 2, &buf));
  /* 1x1 padded */
  CHECK(conv_case(1, 5, 7, 7, 3, test_conv_params(1, 1, 1, 1, 1, 0, 1, 2, 1, 1, 1), 2, &buf));
  /* depthwise, with multiplier, strides and dilation */
  CHECK(conv_case(3, 16, 11, 13, 16, test_conv_params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 16), 2, &buf));
  CHECK(conv_case(1, 16, 11, 13, 16, test_conv_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 16), 0, &buf));
  CHECK(conv_case(1, 6, 9, 9, 12, test_conv_params(5, 3, 1, 3, 2, 1, 0, 2, 2, 1, 6), 2, &buf));
  CHECK(conv_case(1, 32, 14, 14, 32, test_conv_params(5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 32), 2, &buf));
  /* a ResNet stem: 7x7 stride 2 on 3 planes */
  CHECK(conv_case(1, 3, 32, 30, 8, test_conv_params(7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1), 2, &buf));
  /* kernel exactly the padded input; a 1x1 input */
  CHECK(conv_case(1, 2, 3, 3, 2, test_conv_params(5, 5, 1, 1, 1, 1, 1, 1, 1, 1, 1), 2, &buf));
  CHECK(conv_case(2, 3, 1, 1, 4, test_conv_params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), 2, &buf));
  /* larger than the split between threads, odd sizes */
  CHECK(conv_case(1, 33, 17, 19, 31, test_conv_params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 2, &buf));
  em_tensor_free(&buf);
}

/* ctx->dry: the forwards check and size their outputs and write nothing
** (an output already of the right size keeps its values), prepare no
** Winograd weight, and still refuse what does not fit. */
static void test_dry(void) {
  em_tensor x, wt, y, wino, pooled, cat;
  em_conv_params p = test_conv_params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  em_pool_params pp = { 3, 3, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1 };
  const em_tensor *two[2];
  em_err err;
  int64_t ysz[4] = { 1, 16, 16, 16 };
  em_ctx dry = ctx;
  dry.dry = 1;
  make(&x, 4, 1, 32, 16, 16);
  make(&wt, 4, 16, 32, 3, 3);
  em_tensor_init(&wino); em_tensor_init(&pooled); em_tensor_init(&cat); em_tensor_init(&y);
  CHECK_OK(em_tensor_new(&y, 4, ysz, &e_));
  CHECK_OK(em_tensor_fill(&y, 7.0f, &e_));
  p.wino_weight = &wino;
  CHECK_OK(em_conv2d_forward(&dry, &x, &y, &wt, NULL, NULL, &p, &e_));
  CHECK(y.ndim == 4 && y.size[1] == 16 && y.size[2] == 16 && y.size[3] == 16);
  CHECK(em_tensor_data(&y)[0] == 7.0f && em_tensor_data(&y)[16 * 256 - 1] == 7.0f);
  CHECK(wino.storage == NULL);
  CHECK_OK(em_maxpool2d_forward(&dry, &x, &pooled, &pp, &e_));
  CHECK(pooled.ndim == 4 && pooled.size[1] == 32 && pooled.size[2] == 8 && pooled.size[3] == 8);
  two[0] = &x; two[1] = &y;
  CHECK_OK(em_concat_forward(&dry, two, 2, &cat, 1, &e_));
  CHECK(cat.ndim == 4 && cat.size[1] == 48 && cat.size[2] == 16);
  /* a weight of 33 input planes does not fit 32: the same error as a real pass */
  em_tensor bad;
  make(&bad, 4, 16, 33, 3, 3);
  CHECK(em_conv2d_forward(&dry, &x, &y, &bad, NULL, NULL, &p, &err) == EM_ESHAPE);
  em_tensor_free(&bad);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&y); em_tensor_free(&wino);
  em_tensor_free(&pooled); em_tensor_free(&cat);
}

/* A dry pass sizes the caller's scratch as the forward will (ember.plan then
** maps it before the first forward): on every path the real forward after
** it keeps the same storage, and gives the loops' output. */
static void test_dry_scratch(void) {
  static const struct { int cin, cout, h, kh, kw, s, pad, groups, packed, defer; } cs[] = {
    { 32, 16, 16, 3, 3, 1, 1, 1, 0, 0 },   /* Winograd */
    { 32, 16, 16, 3, 3, 1, 1, 1, 0, 1 },   /* Winograd deferred: the product first */
    { 300, 24, 14, 3, 3, 1, 1, 1, 1, 0 },  /* Winograd, k past a block, packed */
    { 16, 24, 15, 3, 3, 2, 1, 1, 0, 0 },   /* stride 2: phase planes */
    { 24, 40, 14, 1, 1, 2, 0, 1, 1, 0 },   /* 1x1 stride 2, weight packed */
    { 20, 12, 9, 1, 7, 1, 3, 1, 1, 0 },    /* 1x7: the packed im2col */
    { 64, 48, 9, 1, 7, 1, 3, 1, 0, 0 },    /* 1x7 from 16 planes: F(2, 7) */
    { 48, 64, 11, 7, 1, 1, 3, 1, 0, 1 },   /* 7x1 by F(2, 7), deferred: the product first */
    { 3, 16, 40, 7, 7, 2, 3, 1, 0, 0 },    /* a stem: the direct path */
    { 8, 8, 12, 3, 3, 1, 1, 8, 0, 0 },     /* depthwise: no scratch */
  };
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa(); isa++)
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
      int pad = cs[i].pad, ph = cs[i].kh > 1 ? pad : 0, pw = cs[i].kw > 1 ? pad : 0;
      em_conv_params p = test_conv_params(cs[i].kh, cs[i].kw, cs[i].s, cs[i].s, ph, pw, ph, pw, 1, 1,
                                          cs[i].groups);
      int64_t h = cs[i].h, ho = (h + 2 * ph - cs[i].kh) / cs[i].s + 1, wo = (h + 2 * pw - cs[i].kw) / cs[i].s + 1;
      em_tensor x, wt, y, buf, wino, packed;
      make(&x, 4, 1, cs[i].cin, h, h);
      make(&wt, 4, cs[i].cout, cs[i].cin / cs[i].groups, cs[i].kh, cs[i].kw);
      em_tensor_init(&y); em_tensor_init(&buf); em_tensor_init(&wino); em_tensor_init(&packed);
      p.wino_weight = &wino;
      if (cs[i].packed) p.packed_weight = &packed;
      p.defer_prepare = cs[i].defer;
      em_ctx dry = ctx;
      dry.isa = (em_isa)isa;
      dry.dry = 1;
      CHECK_OK(em_conv2d_forward(&dry, &x, &y, &wt, NULL, &buf, &p, &e_));
      const void *before = buf.storage ? buf.storage->data : NULL;
      CHECK((before != NULL) == (cs[i].groups == 1));   /* sized, except depthwise's none */
      double *ref = malloc(sizeof *ref * (size_t)(cs[i].cout * ho * wo));
      test_conv_ref(&x, &wt, NULL, NULL, NULL, &p, ref, ho, wo);
      ctx.isa = (em_isa)isa;
      for (int pass = 0; pass < 2; pass++) {   /* a deferred layer: the product, then Winograd */
        CHECK_OK(em_conv2d_forward(&ctx, &x, &y, &wt, NULL, &buf, &p, &e_));
        p.defer_prepare = 0;
        CHECK(close_to(&y, ref, 1, cs[i].cout, ho, wo));
        CHECK(buf.storage ? buf.storage->data == before : !before);
      }
      ctx.isa = em_cpu_isa();
      free(ref);
      em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&y); em_tensor_free(&buf);
      em_tensor_free(&wino); em_tensor_free(&packed);
    }
}

/* One image through p against the naive loops, run again as the caches
** and flags of p change: x 1 x cin x h x w, a cout-plane weight of p's
** kernel, ref the loops' output (an output as large as the input). */
typedef struct one_image {
  em_tensor x, wt, y;
  double *ref;
  int64_t cout, h, w;
} one_image;

static void case_make(one_image *c, const em_conv_params *p, int64_t cin, int64_t cout, int64_t h,
                      int64_t w) {
  c->cout = cout; c->h = h; c->w = w;
  c->ref = malloc(sizeof *c->ref * (size_t)(cout * h * w));
  make(&c->x, 4, 1, cin, h, w);
  make(&c->wt, 4, cout, cin, p->kh, p->kw);
  em_tensor_init(&c->y);
  test_conv_ref(&c->x, &c->wt, NULL, NULL, NULL, p, c->ref, h, w);
}

/* Whether a forward through p gives the loops' output. */
static int case_run(one_image *c, const em_conv_params *p) {
  CHECK_OK(em_conv2d_forward(&ctx, &c->x, &c->y, &c->wt, NULL, NULL, p, &e_));
  return close_to(&c->y, c->ref, 1, c->cout, c->h, c->w);
}

static void case_free(one_image *c) {
  free(c->ref);
  em_tensor_free(&c->x); em_tensor_free(&c->wt); em_tensor_free(&c->y);
}

/* defer_prepare: a Winograd-sized convolution with an empty wino_weight
** multiplies by im2col and leaves it empty; without the flag the same call
** fills it. */
static void test_defer_prepare(void) {
  one_image c;
  em_tensor wino;
  em_conv_params p = test_conv_params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  case_make(&c, &p, 32, 16, 16, 16);
  em_tensor_init(&wino);
  p.wino_weight = &wino;
  p.defer_prepare = 1;
  CHECK(case_run(&c, &p));
  CHECK(wino.storage == NULL);
  p.defer_prepare = 0;
  CHECK(case_run(&c, &p));
  CHECK(wino.storage != NULL);
  p.defer_prepare = 1;   /* prepared: used, deferral or not */
  CHECK(case_run(&c, &p));
  case_free(&c);
  em_tensor_free(&wino);
}

/* pack_pixels: the packed-weight cache is filled and used only for outputs
** of at most that many pixels; a larger output multiplies by the weight as
** it is. */
static void test_pack_pixels(void) {
  one_image c;
  em_tensor packed;
  em_conv_params p = test_conv_params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1);
  case_make(&c, &p, 24, 20, 10, 10);
  em_tensor_init(&packed);
  p.packed_weight = &packed;
  p.pack_pixels = 99;   /* 10 x 10 = 100 pixels: past it */
  CHECK(case_run(&c, &p));
  CHECK(packed.storage == NULL);
  p.pack_pixels = 100;
  CHECK(case_run(&c, &p));
  CHECK(ctx.isa < EM_ISA_AVX2 || packed.storage != NULL);
  p.pack_pixels = 0;    /* no limit: the filled cache is used */
  CHECK(case_run(&c, &p));
  case_free(&c);
  em_tensor_free(&packed);
}

/* Steady state: the second call reuses output and scratch storage. */
static void test_conv_no_realloc(void) {
  em_tensor x, wt, y, buf;
  em_storage *ys, *bs;
  em_conv_params p = test_conv_params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  make(&x, 4, 2, 4, 8, 8);
  make(&wt, 4, 5, 4, 3, 3);
  em_tensor_init(&y); em_tensor_init(&buf);
  CHECK_OK(em_conv2d_forward(&ctx, &x, &y, &wt, NULL, &buf, &p, &e_));
  ys = y.storage; bs = buf.storage;
  CHECK_OK(em_conv2d_forward(&ctx, &x, &y, &wt, NULL, &buf, &p, &e_));
  CHECK(y.storage == ys && buf.storage == bs);
  /* NULL scratch is allowed too */
  CHECK_OK(em_conv2d_forward(&ctx, &x, &y, &wt, NULL, NULL, &p, &e_));
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&y); em_tensor_free(&buf);
}

/* A transposed (non-contiguous) input gives the same result as its copy. */
static void test_conv_noncontiguous(void) {
  em_tensor x, xt, xc, wt, y1, y2;
  em_conv_params p = test_conv_params(3, 2, 2, 1, 1, 0, 1, 1, 1, 2, 1);
  make(&x, 4, 2, 3, 7, 9);
  make(&wt, 4, 4, 3, 3, 2);
  em_tensor_init(&xt); em_tensor_init(&xc); em_tensor_init(&y1); em_tensor_init(&y2);
  CHECK_OK(em_tensor_transpose(&xt, &x, 2, 3, &e_));
  CHECK(!em_tensor_is_contiguous(&xt));
  CHECK_OK(em_tensor_new(&xc, 4, xt.size, &e_));
  CHECK_OK(em_tensor_copy(&xc, &xt, &e_));
  CHECK_OK(em_conv2d_forward(&ctx, &xt, &y1, &wt, NULL, NULL, &p, &e_));
  CHECK_OK(em_conv2d_forward(&ctx, &xc, &y2, &wt, NULL, NULL, &p, &e_));
  CHECK(em_tensor_same_size(&y1, &y2));
  CHECK(test_maxdiff(em_tensor_data(&y1), em_tensor_data(&y2), em_tensor_nelement(&y1)) == 0);
  em_tensor_free(&x); em_tensor_free(&xt); em_tensor_free(&xc); em_tensor_free(&wt);
  em_tensor_free(&y1); em_tensor_free(&y2);
}

/* An output whose planes lie two apart (the odd channels of a tensor twice
** as deep: a view into a channel shuffle's output, ember/plan.lua) is
** written in place, with the values a plain output gets, on every path
** (the product in place; Winograd, depthwise, the stems' direct
** convolution, a residual and the C path through a copy), and the planes
** between are left alone. */
static void test_conv_planes_apart(void) {
  static const struct { int cin, cout, k, groups, h, res, isa_c; } cs[] = {
    { 8, 6, 1, 1, 9, 0, 0 },  { 24, 58, 1, 1, 28, 0, 0 }, { 16, 5, 3, 1, 7, 0, 0 },
    { 32, 32, 3, 1, 16, 0, 0 }, { 12, 12, 3, 12, 14, 0, 0 }, { 3, 8, 3, 1, 40, 0, 0 },
    { 8, 6, 1, 1, 9, 1, 0 },  { 8, 6, 1, 1, 9, 0, 1 },
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    int64_t c = cs[i].cout, h = cs[i].h, pad = cs[i].k / 2;
    em_conv_params p = test_conv_params(cs[i].k, cs[i].k, 1, 1, pad, pad, pad, pad, 1, 1, cs[i].groups);
    em_conv_epilogue ep = { EM_ACT_RELU, 0, 0, NULL, NULL };
    em_tensor x, wt, b, res, big, v, plain;
    int64_t bsz[4] = { 1, 2 * c, h, h };
    make(&x, 4, 1, cs[i].cin, h, h);
    make(&wt, 4, c, cs[i].cin / cs[i].groups, cs[i].k, cs[i].k);
    make(&b, 1, c, 1, 1, 1);
    make(&res, 4, 1, c, h, h);
    if (cs[i].res) ep.residual = &res;
    em_tensor_init(&big); em_tensor_init(&v); em_tensor_init(&plain);
    CHECK_OK(em_tensor_new(&big, 4, bsz, &e_));
    CHECK_OK(em_tensor_fill(&big, 7.0f, &e_));
    em_tensor_set(&v, &big);   /* channels 1, 3, 5, ... */
    v.offset += (size_t)(h * h);
    v.size[1] = c;
    v.stride[1] = 2 * h * h;
    ctx.isa = cs[i].isa_c ? EM_ISA_C : em_cpu_isa();
    CHECK_OK(em_conv2d_forward_ex(&ctx, &x, &v, &wt, &b, NULL, &p, &ep, &e_));
    CHECK_OK(em_conv2d_forward_ex(&ctx, &x, &plain, &wt, &b, NULL, &p, &ep, &e_));
    CHECK(v.storage == big.storage && v.stride[1] == 2 * h * h);
    double d = 0;
    int untouched = 1;
    for (int64_t ch = 0; ch < c; ch++)
      for (int64_t j = 0; j < h * h; j++) {
        const float *y = em_tensor_data(&big) + (2 * ch + 1) * h * h + j;
        d = fmax(d, fabs(*y - em_tensor_data(&plain)[ch * h * h + j]));
        untouched &= y[-h * h] == 7.0f;
      }
    CHECK(d == 0 && untouched);
    em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&res);
    em_tensor_free(&big); em_tensor_free(&v); em_tensor_free(&plain);
  }
  ctx.isa = em_cpu_isa();
}

/* A residual that is the output tensor itself (ember/plan.lua's in-place
** residual): on the paths em_conv2d_residual_in_place names (the product,
** with k over one block when there is no scale; Winograd, also deferred to
** the product) the result is the reference's; on the others (a scale with
** k over one block, so Winograd with one, as it may defer to the product;
** depthwise, the stems' direct kernel, OpenBLAS) it is
** refused, as is a residual overlapping the output at another offset. */
static void test_conv_residual_in_place(void) {
  static const struct { int n, cin, cout, k, s, h, groups, scale, defer, want; } cs[] = {
    { 1, 64, 20, 1, 1, 9, 1, 0, 0, 1 },   { 2, 300, 14, 1, 1, 7, 1, 0, 0, 1 },
    { 1, 300, 14, 1, 1, 7, 1, 1, 0, 0 },  { 1, 40, 14, 1, 1, 7, 1, 1, 0, 1 },
    { 1, 8, 12, 3, 2, 15, 1, 0, 0, 1 },   { 1, 8, 12, 1, 1, 9, 2, 0, 0, 1 },
    { 1, 32, 32, 3, 1, 16, 1, 0, 0, 1 },  { 2, 32, 24, 3, 1, 8, 1, 0, 0, 1 },
    { 2, 32, 24, 3, 1, 8, 1, 1, 0, 0 },
    { 1, 40, 16, 3, 1, 28, 1, 0, 1, 1 },  { 1, 40, 16, 3, 1, 28, 1, 1, 0, 0 },
    { 1, 12, 12, 3, 1, 14, 12, 0, 0, 0 }, { 1, 3, 8, 3, 1, 40, 1, 0, 0, 0 },
  };
  for (int isa = 0; isa < 2; isa++)
    for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
      int64_t c = cs[i].cout, h = cs[i].h, pad = cs[i].k / 2, ho = (h + 2 * pad - cs[i].k) / cs[i].s + 1;
      int64_t total = cs[i].n * c * ho * ho;
      em_conv_params p = test_conv_params(cs[i].k, cs[i].k, cs[i].s, cs[i].s, pad, pad, pad, pad, 1, 1,
                                          cs[i].groups);
      em_conv_epilogue ep = { EM_ACT_RELU, 0, 0, NULL, NULL };
      em_tensor x, wt, b, sc, y, wino, shifted;
      em_err e_;
      int want = cs[i].want && !isa;
      double *ref = malloc(sizeof *ref * (size_t)total);
      make(&x, 4, cs[i].n, cs[i].cin, h, h);
      make(&wt, 4, c, cs[i].cin / cs[i].groups, cs[i].k, cs[i].k);
      make(&b, 1, c, 1, 1, 1);
      make(&sc, 1, c, 1, 1, 1);
      make(&y, 4, cs[i].n, c, ho, ho);   /* the residual, then the output */
      em_tensor_init(&wino); em_tensor_init(&shifted);
      if (cs[i].scale) ep.scale = &sc;
      if (cs[i].defer) { p.wino_weight = &wino; p.defer_prepare = 1; }
      ep.residual = &y;
      test_conv_ref(&x, &wt, cs[i].scale ? em_tensor_data(&sc) : NULL, em_tensor_data(&b),
                    em_tensor_data(&y), &p, ref, ho, ho);
      for (int64_t j = 0; j < total; j++) ref[j] = ref[j] > 0 ? ref[j] : 0;
      ctx.isa = isa ? EM_ISA_C : em_cpu_isa();
      CHECK(em_conv2d_residual_in_place(&ctx, &p, cs[i].cin, ho, cs[i].scale) == want);
      e_.msg[0] = 0;
      em_status st = em_conv2d_forward_ex(&ctx, &x, &y, &wt, &b, NULL, &p, &ep, &e_);
      if (want) {
        CHECK(st == EM_OK);
        CHECK(close_to(&y, ref, cs[i].n, c, ho, ho));
        if (cs[i].defer) CHECK(!wino.storage);   /* it ran by the product */
      } else {
        CHECK(st == EM_EARG && strstr(e_.msg, "must not share memory with the residual"));
      }
      /* the residual one value further on: never the output itself */
      em_tensor_set(&shifted, &y);
      shifted.offset += 1;
      shifted.size[3] -= 1;
      ep.residual = &shifted;
      CHECK(em_conv2d_forward_ex(&ctx, &x, &y, &wt, &b, NULL, &p, &ep, &e_) != EM_OK);
      free(ref);
      em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&sc);
      em_tensor_free(&y); em_tensor_free(&wino); em_tensor_free(&shifted);
    }
  ctx.isa = em_cpu_isa();
}

/* Calls conv2d and checks it fails with a message containing want. */
static int conv_fails(const em_tensor *x, const em_tensor *w, const em_tensor *b,
                      em_conv_params p, const char *want) {
  em_tensor y;
  em_err e;
  em_status st;
  e.msg[0] = 0;
  em_tensor_init(&y);
  st = em_conv2d_forward(&ctx, x, &y, w, b, NULL, &p, &e);
  em_tensor_free(&y);
  if (st != EM_OK && strstr(e.msg, want)) return 1;
  fprintf(stderr, "  expected an error with \"%s\", got %d \"%s\"\n", want, (int)st, e.msg);
  return 0;
}

static void test_conv_errors(void) {
  em_tensor x, x3, w, w3, b, empty, y;
  em_conv_params p3 = test_conv_params(3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), p;
  make(&x, 4, 1, 32, 5, 5);
  make(&x3, 3, 32, 5, 5, 0);
  make(&w, 4, 128, 64, 3, 3);
  make(&w3, 3, 128, 64, 9, 0);
  make(&b, 1, 127, 0, 0, 0);
  em_tensor_init(&empty);
  CHECK(conv_fails(&x, &w, NULL, p3, "expected 64 input planes, got 32"));
  CHECK(conv_fails(&x3, &w, NULL, p3, "expected a 4-D input (N,C,H,W), got 32x5x5"));
  CHECK(conv_fails(&empty, &w, NULL, p3, "expected a 4-D input (N,C,H,W), got empty"));
  CHECK(conv_fails(&x, &w3, NULL, p3, "expected a 4-D weight"));
  CHECK(conv_fails(&x, &empty, NULL, p3, "expected a 4-D weight"));
  p = p3; p.groups = 2;
  CHECK(conv_fails(&x, &w, NULL, p, "expected 128 input planes, got 32"));
  p = p3; p.groups = 3;
  CHECK(conv_fails(&x, &w, NULL, p, "128 output planes do not divide into 3 groups"));
  p = p3; p.groups = 0;
  CHECK(conv_fails(&x, &w, NULL, p, "groups must be positive, got 0"));
  p = p3; p.sh = 0;
  CHECK(conv_fails(&x, &w, NULL, p, "stride must be positive, got 0x1"));
  p = p3; p.dw = -1;
  CHECK(conv_fails(&x, &w, NULL, p, "dilation must be positive, got 1x-1"));
  p = p3; p.pb = -1;
  CHECK(conv_fails(&x, &w, NULL, p, "padding must not be negative"));
  p = p3; p.kh = 5;
  CHECK(conv_fails(&x, &w, NULL, p, "kernel 5x3 does not match weight 128x64x3x3"));
  {   /* a packed-weight cache that is the weight itself */
    em_tensor x64;
    make(&x64, 4, 1, 64, 5, 5);
    p = p3; p.packed_weight = &w;
    CHECK(conv_fails(&x64, &w, NULL, p, "must not share memory"));
    em_tensor_free(&x64);
  }
  {
    em_tensor w7, xs;
    make(&w7, 4, 4, 32, 7, 7);
    CHECK(conv_fails(&x, &w7, NULL, test_conv_params(7, 7, 1, 1, 0, 0, 0, 0, 1, 1, 1),
                     "kernel 7x7 (dilated) larger than padded input 5x5"));
    em_tensor w3x3;
    /* 3x3 dilated by 2 spans 5x5; padding 1 on one side gives 4x5 */
    make(&xs, 4, 1, 32, 3, 4);
    make(&w3x3, 4, 4, 32, 3, 3);
    CHECK(conv_fails(&xs, &w3x3, NULL, test_conv_params(3, 3, 1, 1, 1, 0, 0, 1, 2, 2, 1),
                     "kernel 5x5 (dilated) larger than padded input 4x5"));
    em_tensor_free(&w7); em_tensor_free(&xs); em_tensor_free(&w3x3);
  }
  {
    em_tensor x64;
    make(&x64, 4, 2, 64, 4, 4);
    CHECK(conv_fails(&x64, &w, &b, p3, "expected a bias of 128 elements, got 127"));
    /* output aliasing the input is refused, not silently overwritten */
    em_tensor_init(&y);
    em_tensor_set(&y, &x64);
    {
      em_err e;
      CHECK(em_conv2d_forward(&ctx, &x64, &y, &w, NULL, NULL, &p3, &e) == EM_EARG);
    }
    em_tensor_free(&y);
    em_tensor_free(&x64);
  }
  {
    /* a zero-sized dimension */
    em_tensor x0;
    int64_t sz[4] = { 1, 32, 0, 5 };
    em_err e;
    em_tensor_init(&x0);
    if (em_tensor_new(&x0, 4, sz, &e) == EM_OK) {
      CHECK(conv_fails(&x0, &w, NULL, p3, "has an empty dimension"));
    }
    em_tensor_free(&x0);
  }
  em_tensor_free(&x); em_tensor_free(&x3); em_tensor_free(&w); em_tensor_free(&w3);
  em_tensor_free(&b);
}

/* ------------------------------------------------------- transposed cases */

static void test_deconv_random(void) {
  int done = 0;
  while (done < 200) {
    int gsel = randint(0, 3);
    int groups = gsel == 0 ? 1 : gsel == 1 ? 2 : gsel == 2 ? 4 : randint(2, 6);
    int cin_g = gsel == 3 ? 1 : randint(1, 5), cout_g = gsel == 3 ? 1 : randint(1, 5);
    em_conv_params p = test_conv_params(randint(1, 5), randint(1, 5), randint(1, 3), randint(1, 3),
                              randint(0, 3), randint(0, 3), randint(0, 3), randint(0, 3),
                              randint(1, 2), randint(1, 2), groups);
    int64_t h = randint(1, 9), w = randint(1, 9), n = randint(0, 1) ? 1 : 3;
    int oph = randint(0, (p.sh > p.dh ? p.sh : p.dh) - 1), opw = randint(0, (p.sw > p.dw ? p.sw : p.dw) - 1);
    int64_t ho = (h - 1) * p.sh - p.pt - p.pb + (p.kh - 1) * p.dh + 1 + oph;
    int64_t wo = (w - 1) * p.sw - p.pl - p.pr + (p.kw - 1) * p.dw + 1 + opw;
    if (ho < 1 || wo < 1) continue;
    CHECK(deconv_case(n, cin_g * groups, h, w, cout_g * groups, p, oph, opw, randint(0, 1)));
    done++;
  }
}

static void test_deconv_paths(void) {
  /* 1x1 stride 1: sgemm straight into the output */
  CHECK(deconv_case(2, 6, 5, 7, 4, test_conv_params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1), 0, 0, 1));
  CHECK(deconv_case(1, 6, 5, 7, 4, test_conv_params(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2), 0, 0, 0));
  /* a DCGAN-style 4x4 stride-2 upsampler, and the ONNX-style 3x3 stride 3,2 */
  CHECK(deconv_case(1, 8, 4, 4, 4, test_conv_params(4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 1), 0, 0, 1));
  CHECK(deconv_case(1, 1, 3, 3, 2, test_conv_params(3, 3, 3, 2, 0, 0, 0, 0, 1, 1, 1), 1, 1, 1));
  /* depthwise upsampling with dilation */
  CHECK(deconv_case(3, 5, 6, 5, 5, test_conv_params(3, 3, 2, 2, 1, 2, 0, 1, 2, 1, 5), 1, 0, 1));
}

static void test_deconv_errors(void) {
  em_tensor x, w, y;
  em_err e;
  em_conv_params p = test_conv_params(3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1), q;
  make(&x, 4, 1, 8, 4, 4);
  make(&w, 4, 16, 4, 3, 3);
  em_tensor_init(&y);
  CHECK(em_conv_transpose2d_forward(&ctx, &x, &y, &w, NULL, NULL, &p, 0, 0, &e) == EM_ESHAPE);
  CHECK(strstr(e.msg, "expected 16 input planes, got 8") != NULL);
  em_tensor_free(&w);
  make(&w, 4, 8, 4, 3, 3);
  CHECK(em_conv_transpose2d_forward(&ctx, &x, &y, &w, NULL, NULL, &p, 2, 0, &e) == EM_EARG);
  CHECK(strstr(e.msg, "output padding 2x0 must be smaller than stride 2x2 or dilation 1x1") != NULL);
  q = p; q.pt = q.pb = 5;
  CHECK(em_conv_transpose2d_forward(&ctx, &x, &y, &w, NULL, NULL, &q, 0, 0, &e) == EM_ESHAPE);
  CHECK(strstr(e.msg, "leaves no output") != NULL);
  q = p; q.groups = 3;
  CHECK(em_conv_transpose2d_forward(&ctx, &x, &y, &w, NULL, NULL, &q, 0, 0, &e) == EM_ESHAPE);
  CHECK(strstr(e.msg, "8 input planes do not divide into 3 groups") != NULL);
  q = p; q.sw = 0;
  CHECK(em_conv_transpose2d_forward(&ctx, &x, &y, &w, NULL, NULL, &q, 0, 0, &e) == EM_EARG);
  em_tensor_free(&x);
  make(&x, 2, 8, 4, 0, 0);
  CHECK(em_conv_transpose2d_forward(&ctx, &x, &y, &w, NULL, NULL, &p, 0, 0, &e) == EM_ESHAPE);
  CHECK(strstr(e.msg, "expected a 4-D input (N,C,H,W), got 8x4") != NULL);
  em_tensor_free(&x); em_tensor_free(&w); em_tensor_free(&y);
}

int main(void) {
  em_rng_seed(&rng, 12345);
  em_ctx_init(&ctx);
  TEST_RUN(test_conv_random);
  TEST_RUN(test_conv_paths);
  if (em_cpu_isa() > EM_ISA_AVX2) {   /* again with the AVX2 kernels an AVX-512 CPU passes by */
    ctx.isa = EM_ISA_AVX2;
    TEST_RUN(test_conv_random);
    TEST_RUN(test_conv_paths);
  }
  ctx.isa = EM_ISA_C;   /* again through im2col + OpenBLAS, the path without AVX2 */
  TEST_RUN(test_conv_random);
  TEST_RUN(test_conv_paths);
  ctx.isa = em_cpu_isa();
  TEST_RUN(test_conv_no_realloc);
  TEST_RUN(test_dry);
  TEST_RUN(test_dry_scratch);
  TEST_RUN(test_defer_prepare);
  TEST_RUN(test_pack_pixels);
  TEST_RUN(test_conv_noncontiguous);
  TEST_RUN(test_conv_planes_apart);
  TEST_RUN(test_conv_residual_in_place);
  int nth = ctx.nthreads;
  em_ctx_set_threads(&ctx, 1);
  TEST_RUN(test_conv_residual_in_place);
  em_ctx_set_threads(&ctx, nth);
  TEST_RUN(test_conv_errors);
  TEST_RUN(test_deconv_random);   /* ember's product on 2 threads */
  TEST_RUN(test_deconv_paths);
  TEST_RUN(test_deconv_errors);
  em_ctx_set_threads(&ctx, 1);
  TEST_RUN(test_deconv_paths);
  ctx.isa = EM_ISA_C;   /* OpenBLAS */
  TEST_RUN(test_deconv_random);
  TEST_RUN(test_deconv_paths);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
