/* test_pool.c -- max, average and adaptive pooling against naive loops.
** Random shapes with odd sizes, strides, asymmetric padding, dilation, ceil mode. */

#include <string.h>

#include "test.h"

static em_rng rng;
static em_ctx ctx;

static int rnd(int lo, int hi) { return lo + (int)(em_rng_next(&rng) % (uint64_t)(hi - lo + 1)); }

static void random_tensor(em_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w) {
  int64_t sz[4] = {n, c, h, w};
  CHECK_OK(em_tensor_new(t, 4, sz, &e_));
  CHECK_OK(em_rng_uniform(&rng, t, -2, 2, &e_));
}

static float at(const em_tensor *t, int64_t n, int64_t c, int64_t y, int64_t x) {
  return em_tensor_data(t)[n * t->stride[0] + c * t->stride[1] + y * t->stride[2] + x * t->stride[3]];
}

/* Output length by the definition: windows of extent ext every s cells over
** the padded input (total T). Floor mode keeps the windows that fit; ceil
** mode also keeps a window when the one before it left padded cells
** uncovered, provided it starts inside the input or the left padding. */
static int64_t naive_len(int64_t in, int k, int s, int pl, int pr, int d, int ceil_mode) {
  int64_t ext = (int64_t)d * (k - 1) + 1, T = in + pl + pr, n = 0;
  for (int64_t q = 0;; q += s) {
    int keep = ceil_mode ? (q - s + ext < T && q < in + pl) : (q + ext <= T);
    if (!keep) break;
    n++;
  }
  return n > 0 ? n : -1;
}

static void naive_max(const em_tensor *x, em_tensor *y, const em_pool_params *p) {
  int64_t N = x->size[0], C = x->size[1], H = x->size[2], W = x->size[3];
  int64_t oh = y->size[2], ow = y->size[3];
  float *o = em_tensor_data(y);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
          float m = -INFINITY;
          for (int ky = 0; ky < p->kh; ky++)
            for (int kx = 0; kx < p->kw; kx++) {
              int64_t yy = i * p->sh - p->pt + ky * p->dh, xx = j * p->sw - p->pl + kx * p->dw;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              float v = at(x, n, c, yy, xx);
              if (v > m || isnan(v)) m = v;
            }
          *o++ = m;
        }
}

static void naive_avg(const em_tensor *x, em_tensor *y, const em_pool_params *p) {
  int64_t N = x->size[0], C = x->size[1], H = x->size[2], W = x->size[3];
  int64_t oh = y->size[2], ow = y->size[3];
  float *o = em_tensor_data(y);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
          double s = 0;
          int cnt_in = 0, cnt_pad = 0;
          for (int ky = 0; ky < p->kh; ky++)
            for (int kx = 0; kx < p->kw; kx++) {
              int64_t yy = i * p->sh - p->pt + ky, xx = j * p->sw - p->pl + kx;
              /* cells of the padded input count with count_include_pad */
              if (yy >= -p->pt && yy < H + p->pb && xx >= -p->pl && xx < W + p->pr) cnt_pad++;
              if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
              s += at(x, n, c, yy, xx);
              cnt_in++;
            }
          *o++ = cnt_in ? (float)(s / (p->count_include_pad ? cnt_pad : cnt_in)) : 0.0f;
        }
}

/* Outputs of y that differ from ref: NaN must meet NaN; max pooling exact,
** average pooling within 1e-6 relative. */
static int64_t mismatches(const em_tensor *y, const em_tensor *ref, int max) {
  int64_t bad = 0;
  const float *a = em_tensor_data(y), *b = em_tensor_data(ref);
  for (int64_t i = 0; i < em_tensor_nelement(y); i++)
    if (isnan(a[i]) != isnan(b[i]) ||
        (!isnan(b[i]) && fabsf(a[i] - b[i]) > (max ? 0.0f : 1e-6f * (1 + fabsf(b[i])))))
      bad++;
  return bad;
}

static void random_params(em_pool_params *p, int max) {
  memset(p, 0, sizeof *p);
  p->kh = rnd(1, 5); p->kw = rnd(1, 5);
  p->sh = rnd(1, 3); p->sw = rnd(1, 3);
  p->dh = max ? rnd(1, 2) : 1; p->dw = max ? rnd(1, 2) : 1;
  p->pt = rnd(0, p->kh / 2); p->pb = rnd(0, p->kh / 2);
  p->pl = rnd(0, p->kw / 2); p->pr = rnd(0, p->kw / 2);
  p->ceil_mode = rnd(0, 1);
  p->count_include_pad = rnd(0, 1);
}

/* Random layers on each ISA the CPU has (ctx.isa forced); a third with
** rows of up to 70 columns (several vector blocks, edges on both sides) and
** a few with NaNs, which must land where the naive loop puts them. */
static void run_random_isa(int max, em_isa isa) {
  int ran = 0;
  ctx.isa = isa;
  for (int trial = 0; trial < 400; trial++) {
    em_tensor x, y, ref;
    em_pool_params p;
    em_err e;
    int64_t N = rnd(1, 3), C = rnd(1, 4), H = rnd(1, 13), W = trial % 3 ? rnd(1, 13) : rnd(1, 70);
    em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
    random_params(&p, max);
    random_tensor(&x, N, C, H, W);
    if (max && trial % 7 == 0)
      em_tensor_data(&x)[em_rng_next(&rng) % (uint64_t)em_tensor_nelement(&x)] = NAN;
    int64_t oh = naive_len(H, p.kh, p.sh, p.pt, p.pb, p.dh, p.ceil_mode);
    int64_t ow = naive_len(W, p.kw, p.sw, p.pl, p.pr, p.dw, p.ceil_mode);
    em_status st = max ? em_maxpool2d_forward(&ctx, &x, &y, &p, &e)
                       : em_avgpool2d_forward(&ctx, &x, &y, &p, &e);
    if (oh < 1 || ow < 1) {
      CHECK(st == EM_ESHAPE);
      if (st != EM_ESHAPE)
        fprintf(stderr, "  expected a shape error for %lldx%lld k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d ceil %d\n",
                (long long)H, (long long)W, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl, p.pb, p.pr, p.ceil_mode);
    } else {
      CHECK(st == EM_OK);
      if (st == EM_OK) {
        int64_t sz[4] = {N, C, oh, ow};
        CHECK(y.size[2] == oh && y.size[3] == ow);
        if (y.size[2] != oh || y.size[3] != ow)
          fprintf(stderr, "  got %lldx%lld, expected %lldx%lld for %lldx%lld k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d ceil %d\n",
                  (long long)y.size[2], (long long)y.size[3], (long long)oh, (long long)ow,
                  (long long)H, (long long)W, p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl, p.pb, p.pr, p.ceil_mode);
        CHECK_OK(em_tensor_new(&ref, 4, sz, &e_));
        if (max) naive_max(&x, &ref, &p); else naive_avg(&x, &ref, &p);
        if (max) {   /* exact, NaN for NaN */
          int64_t bad = mismatches(&y, &ref, 1);
          CHECK(bad == 0);
          if (bad)
            fprintf(stderr, "  isa %d: %lld outputs differ for %lldx%lld k%dx%d s%d,%d d%d,%d p%d,%d,%d,%d ceil %d\n",
                    (int)isa, (long long)bad, (long long)H, (long long)W, p.kh, p.kw, p.sh, p.sw, p.dh,
                    p.dw, p.pt, p.pl, p.pb, p.pr, p.ceil_mode);
        } else {
          test_compare(&y, &ref, 1e-5);
        }
        ran++;
      } else {
        fprintf(stderr, "  unexpected error: %s\n", e.msg);
      }
    }
    em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
  }
  CHECK(ran > 200);
  ctx.isa = em_cpu_isa();
}

static void run_random(int max) {
  for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa() && isa <= EM_ISA_AVX2; isa++)
    run_random_isa(max, (em_isa)isa);
}

static void test_max_random(void) { run_random(1); }
static void test_avg_random(void) { run_random(0); }

/* "Same" poolings (k odd, stride 1, padding k / 2), which run a plane at a
** time (poolplane.c), against the naive loops: k 1 to 7, planes from k x k to
** past the plane limit, both divisors, a NaN in some max planes. */
static void test_same_planes(void) {
  int checked = 0;
  for (int trial = 0; trial < 120; trial++) {
    em_tensor x, y, ref;
    em_pool_params p = {0};
    int max = trial % 2, k = 1 + 2 * rnd(0, 3);
    int64_t H = rnd(k, 40), W = trial % 5 == 0 ? rnd(60, 80) : rnd(k, 40), sz[4];
    em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
    p.kh = p.kw = k;
    p.sh = p.sw = 1;
    p.pt = p.pb = p.pl = p.pr = k / 2;
    p.dh = p.dw = 1;
    p.ceil_mode = rnd(0, 1);
    p.count_include_pad = rnd(0, 1);
    random_tensor(&x, 1, rnd(1, 5), H, W);
    if (max && trial % 6 == 1)
      em_tensor_data(&x)[em_rng_next(&rng) % (uint64_t)em_tensor_nelement(&x)] = NAN;
    CHECK_OK(max ? em_maxpool2d_forward(&ctx, &x, &y, &p, &e_) : em_avgpool2d_forward(&ctx, &x, &y, &p, &e_));
    memcpy(sz, y.size, sizeof sz);
    CHECK(sz[2] == H && sz[3] == W);
    CHECK_OK(em_tensor_new(&ref, 4, sz, &e_));
    if (max) naive_max(&x, &ref, &p); else naive_avg(&x, &ref, &p);
    int64_t bad = mismatches(&y, &ref, max);
    CHECK(bad == 0);
    if (bad)
      fprintf(stderr, "  %s k%d %lldx%lld include_pad %d: %lld outputs differ\n", max ? "max" : "avg", k,
              (long long)H, (long long)W, p.count_include_pad, (long long)bad);
    checked++;
    em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
  }
  CHECK(checked == 120);
}

/* 3x3 "same" planes, which poolplane.c runs by rows of vectors from 8 to
** 256 columns wide: every width from 3 to 41 (a part of one vector, one to
** six vectors, the last overlapping), a few heights, both poolings and divisors, and for max a
** NaN in the first or last column of a row or anywhere. */
static void test_same3_widths(void) {
  int checked = 0;
  for (int64_t W = 3; W <= 41; W++)
    for (int trial = 0; trial < 6; trial++) {
      em_tensor x, y, ref;
      em_pool_params p = {0};
      int max = trial % 2;
      int64_t H = trial < 2 ? 3 : trial < 4 ? 4 : 11;
      em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
      p.kh = p.kw = 3;
      p.sh = p.sw = p.dh = p.dw = 1;
      p.pt = p.pb = p.pl = p.pr = 1;
      p.count_include_pad = trial / 2 % 2;
      random_tensor(&x, 1, 2, H, W);
      if (max && trial >= 3) {
        int64_t row = rnd(0, (int)(2 * H - 1));
        em_tensor_data(&x)[row * W + (trial == 3 ? 0 : trial == 5 ? W - 1 : rnd(0, (int)W - 1))] = NAN;
      }
      CHECK_OK(max ? em_maxpool2d_forward(&ctx, &x, &y, &p, &e_) : em_avgpool2d_forward(&ctx, &x, &y, &p, &e_));
      CHECK_OK(em_tensor_new(&ref, 4, y.size, &e_));
      if (max) naive_max(&x, &ref, &p); else naive_avg(&x, &ref, &p);
      int64_t bad = mismatches(&y, &ref, max);
      CHECK(bad == 0);
      if (bad)
        fprintf(stderr, "  %s 3x3 %lldx%lld include_pad %d: %lld outputs differ\n", max ? "max" : "avg",
                (long long)H, (long long)W, p.count_include_pad, (long long)bad);
      checked++;
      em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
    }
  CHECK(checked == 39 * 6);
}

/* 3x3 max pools of stride 2, which poolplane.c runs a plane at a time
** from 8 columns on: every width from 5 to 70 (the last vector partly past
** the row, the row's last block moved into place), heights 1 to 12, padding
** 0 or 1 at top and left and 0 to 2 at bottom and right, both ceil modes,
** and NaNs in a window's first, middle or last row or column: exact
** against the naive loop, NaN for NaN. */
static void test_max_s2_planes(void) {
  int checked = 0;
  for (int64_t W = 5; W <= 70; W++)
    for (int trial = 0; trial < 8; trial++) {
      em_tensor x, y, ref;
      em_pool_params p = {0};
      int64_t H = rnd(1, 12);
      em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
      p.kh = p.kw = 3;
      p.sh = p.sw = 2;
      p.dh = p.dw = 1;
      p.pt = trial & 1; p.pl = trial >> 1 & 1;
      p.pb = rnd(0, 2); p.pr = rnd(0, 2);
      p.ceil_mode = trial >> 2 & 1;
      if (H + p.pt + p.pb < 3) H = 3 - p.pt - p.pb;
      random_tensor(&x, 1, 3, H, W);
      if (rnd(0, 2) == 0) {   /* one NaN: anywhere, or in the first or last column */
        int64_t row = rnd(0, (int)(3 * H - 1)), col = rnd(0, 2) == 0 ? 0 : rnd(0, 1) ? W - 1 : rnd(0, (int)W - 1);
        em_tensor_data(&x)[row * W + col] = NAN;
      }
      CHECK_OK(em_maxpool2d_forward(&ctx, &x, &y, &p, &e_));
      CHECK_OK(em_tensor_new(&ref, 4, y.size, &e_));
      naive_max(&x, &ref, &p);
      int64_t bad = mismatches(&y, &ref, 1);
      CHECK(bad == 0);
      if (bad)
        fprintf(stderr, "  max 3x3 s2 %lldx%lld pad %d,%d,%d,%d ceil %d: %lld of %lld outputs differ\n",
                (long long)H, (long long)W, p.pt, p.pl, p.pb, p.pr, p.ceil_mode, (long long)bad,
                (long long)em_tensor_nelement(&y));
      checked++;
      em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
    }
  CHECK(checked == 66 * 8);
}

/* Output sizes that PyTorch 1.13 gives (torch.nn.functional.max_pool2d). */
static void test_ceil_sizes(void) {
  struct { int H, k, s, p, ceil, out; } cases[] = {
    {5, 2, 2, 0, 1, 3}, {5, 2, 2, 0, 0, 2}, {4, 3, 2, 0, 1, 2},
    {2, 3, 3, 1, 1, 1},   /* the third window would start in right padding */
    {6, 3, 2, 1, 1, 4}, {2, 3, 2, 0, 1, 1}, {112, 3, 2, 1, 0, 56}, {7, 3, 2, 0, 1, 3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    em_tensor x, y;
    em_pool_params p = {0};
    em_tensor_init(&x); em_tensor_init(&y);
    random_tensor(&x, 1, 1, cases[i].H, cases[i].H);
    p.kh = p.kw = cases[i].k; p.sh = p.sw = cases[i].s;
    p.pt = p.pl = p.pb = p.pr = cases[i].p; p.dh = p.dw = 1; p.ceil_mode = cases[i].ceil;
    CHECK_OK(em_maxpool2d_forward(&ctx, &x, &y, &p, &e_));
    CHECK(y.size[2] == cases[i].out && y.size[3] == cases[i].out);
    CHECK_OK(em_avgpool2d_forward(NULL, &x, &y, &p, &e_));
    CHECK(y.size[2] == cases[i].out);
    em_tensor_free(&x); em_tensor_free(&y);
  }
}

/* A strided (transposed) input gives the same result as its contiguous copy. */
static void test_noncontiguous(void) {
  em_tensor x, xt, xc, y1, y2;
  em_pool_params p = {3, 2, 2, 1, 1, 0, 0, 1, 1, 1, 1, 1};
  em_tensor_init(&x); em_tensor_init(&xt); em_tensor_init(&xc);
  em_tensor_init(&y1); em_tensor_init(&y2);
  random_tensor(&x, 2, 3, 7, 9);
  CHECK_OK(em_tensor_transpose(&xt, &x, 2, 3, &e_));
  CHECK_OK(em_tensor_new(&xc, 4, xt.size, &e_));
  CHECK_OK(em_tensor_copy(&xc, &xt, &e_));
  CHECK_OK(em_maxpool2d_forward(&ctx, &xt, &y1, &p, &e_));
  CHECK_OK(em_maxpool2d_forward(&ctx, &xc, &y2, &p, &e_));
  test_compare(&y1, &y2, 0);
  CHECK_OK(em_avgpool2d_forward(&ctx, &xt, &y1, &p, &e_));
  CHECK_OK(em_avgpool2d_forward(&ctx, &xc, &y2, &p, &e_));
  test_compare(&y1, &y2, 0);
  CHECK_OK(em_adaptive_avgpool2d_forward(&ctx, &xt, &y1, 3, 4, &e_));
  CHECK_OK(em_adaptive_avgpool2d_forward(&ctx, &xc, &y2, 3, 4, &e_));
  test_compare(&y1, &y2, 0);
  em_tensor_free(&x); em_tensor_free(&xt); em_tensor_free(&xc);
  em_tensor_free(&y1); em_tensor_free(&y2);
}

static void naive_adaptive(const em_tensor *x, em_tensor *y, int max) {
  int64_t N = x->size[0], C = x->size[1], H = x->size[2], W = x->size[3];
  int64_t oh = y->size[2], ow = y->size[3];
  float *o = em_tensor_data(y);
  for (int64_t n = 0; n < N; n++)
    for (int64_t c = 0; c < C; c++)
      for (int64_t i = 0; i < oh; i++)
        for (int64_t j = 0; j < ow; j++) {
          int64_t y0 = (int64_t)floor((double)i * H / oh), y1 = (int64_t)ceil((double)(i + 1) * H / oh);
          int64_t x0 = (int64_t)floor((double)j * W / ow), x1 = (int64_t)ceil((double)(j + 1) * W / ow);
          double s = 0, m = -INFINITY;
          for (int64_t yy = y0; yy < y1; yy++)
            for (int64_t xx = x0; xx < x1; xx++) {
              double v = at(x, n, c, yy, xx);
              s += v;
              if (v > m) m = v;
            }
          *o++ = (float)(max ? m : s / ((y1 - y0) * (x1 - x0)));
        }
}

static void test_adaptive_random(void) {
  for (int trial = 0; trial < 200; trial++) {
    em_tensor x, y, ref;
    int max = trial & 1;
    int64_t N = rnd(1, 3), C = rnd(1, 4), H = rnd(1, 15), W = rnd(1, 15);
    int oh = rnd(1, 9), ow = rnd(1, 9);
    em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
    random_tensor(&x, N, C, H, W);
    int64_t sz[4] = {N, C, oh, ow};
    CHECK_OK(em_tensor_new(&ref, 4, sz, &e_));
    naive_adaptive(&x, &ref, max);
    if (max) CHECK_OK(em_adaptive_maxpool2d_forward(&ctx, &x, &y, oh, ow, &e_));
    else CHECK_OK(em_adaptive_avgpool2d_forward(&ctx, &x, &y, oh, ow, &e_));
    test_compare(&y, &ref, 1e-5);
    em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
  }
}

static void test_nan_wins(void) {
  em_tensor x, y;
  em_pool_params p = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1};
  em_tensor_init(&x); em_tensor_init(&y);
  random_tensor(&x, 1, 1, 4, 4);
  em_tensor_data(&x)[5] = NAN;
  CHECK_OK(em_maxpool2d_forward(&ctx, &x, &y, &p, &e_));
  CHECK(isnan(em_tensor_data(&y)[0]) && !isnan(em_tensor_data(&y)[1]));
  CHECK_OK(em_adaptive_maxpool2d_forward(&ctx, &x, &y, 1, 1, &e_));
  CHECK(isnan(em_tensor_data(&y)[0]));
  /* the global pool of 7x7 reads 6 runs of 8 lanes and one tail element */
  for (int at = 40; at <= 48; at += 8) {
    em_tensor_free(&x);
    random_tensor(&x, 1, 1, 7, 7);
    em_tensor_data(&x)[at] = NAN;
    CHECK_OK(em_adaptive_maxpool2d_forward(&ctx, &x, &y, 1, 1, &e_));
    CHECK(isnan(em_tensor_data(&y)[0]));
  }
  em_tensor_free(&x); em_tensor_free(&y);
}

/* Rows wider than one tile of the separable max (512 input columns), the
** squeezenet and resnet shapes among them, with NaNs sprinkled in: the same
** maxima and the same NaN positions as the naive loop. */
static void test_max_wide_rows(void) {
  static const int cfg[][6] = {   /* k, s, pad, ceil, H, W */
    {3, 2, 0, 1, 9, 1111}, {3, 2, 1, 0, 6, 1030}, {5, 1, 2, 0, 4, 1025},
    {2, 2, 0, 0, 5, 1537}, {3, 3, 1, 1, 7, 700}, {3, 2, 0, 1, 111, 111},
  };
  for (size_t t = 0; t < sizeof cfg / sizeof cfg[0]; t++) {
    em_tensor x, y, ref;
    em_pool_params p;
    memset(&p, 0, sizeof p);
    p.kh = p.kw = cfg[t][0]; p.sh = p.sw = cfg[t][1];
    p.pt = p.pl = p.pb = p.pr = cfg[t][2]; p.ceil_mode = cfg[t][3];
    p.dh = p.dw = 1;
    em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&ref);
    random_tensor(&x, 1, 2, cfg[t][4], cfg[t][5]);
    for (int k = 0; k < 5; k++)
      em_tensor_data(&x)[em_rng_next(&rng) % (uint64_t)em_tensor_nelement(&x)] = NAN;
    for (int isa = EM_ISA_C; isa <= (int)em_cpu_isa() && isa <= EM_ISA_AVX2; isa++) {
      ctx.isa = (em_isa)isa;
      CHECK_OK(em_maxpool2d_forward(&ctx, &x, &y, &p, &e_));
      em_tensor_free(&ref);
      CHECK_OK(em_tensor_new(&ref, 4, y.size, &e_));
      naive_max(&x, &ref, &p);
      int64_t n = em_tensor_nelement(&y), bad = mismatches(&y, &ref, 1);
      CHECK(bad == 0);
      if (bad) fprintf(stderr, "  config %zu isa %d: %lld of %lld outputs differ\n", t, isa, (long long)bad, (long long)n);
    }
    ctx.isa = em_cpu_isa();
    em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&ref);
  }
}

static void test_errors(void) {
  em_tensor x, x3, empty, y, z;
  em_pool_params p = {3, 3, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1};
  em_err e;
  int64_t sz3[3] = {2, 5, 5}, zs[4] = {1, 0, 4, 4};
  em_tensor_init(&x); em_tensor_init(&x3); em_tensor_init(&empty);
  em_tensor_init(&y); em_tensor_init(&z);
  random_tensor(&x, 1, 2, 2, 2);
  CHECK_OK(em_tensor_new(&x3, 3, sz3, &e_));
  CHECK_OK(em_tensor_new(&z, 4, zs, &e_));

  test_expect_error(em_maxpool2d_forward(&ctx, &x3, &y, &p, &e), EM_ESHAPE, &e,
               "expected a 4-dimensional input (N,C,H,W), got 3 dimensions (2x5x5)");
  test_expect_error(em_avgpool2d_forward(&ctx, &empty, &y, &p, &e), EM_ESHAPE, &e, "got an empty tensor");
  test_expect_error(em_maxpool2d_forward(&ctx, &z, &y, &p, &e), EM_ESHAPE, &e, "input 1x0x4x4 has a zero size");
  /* kernel larger than the padded input: floor mode has no window */
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &y, &p, &e), EM_ESHAPE, &e,
               "kernel 3x3 is larger than the padded input 2x2");
  p.dh = p.dw = 2; p.kh = p.kw = 2;
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &y, &p, &e), EM_ESHAPE, &e, "");
  p.dh = p.dw = 3;
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &y, &p, &e), EM_ESHAPE, &e,
               "dilated kernel 4x4 is larger than the padded input 2x2");
  p.dh = p.dw = 1; p.kh = p.kw = 3;
  test_expect_error(em_avgpool2d_forward(&ctx, &x, &y, &p, &e), EM_ESHAPE, &e,
               "kernel 3x3 is larger than the padded input 2x2");
  /* ... but ceil mode keeps one window there, as PyTorch does */
  p.ceil_mode = 1; p.sh = p.sw = 2;
  CHECK_OK(em_maxpool2d_forward(&ctx, &x, &y, &p, &e_));
  CHECK(y.size[2] == 1 && y.size[3] == 1);
  p.ceil_mode = 0; p.sh = p.sw = 1;
  /* padding as wide as the kernel */
  p.pt = 3;
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &y, &p, &e), EM_EARG, &e,
               "padding (top 3, left 0, bottom 0, right 0) must be smaller than the kernel 3x3");
  p.pt = -1;
  test_expect_error(em_avgpool2d_forward(&ctx, &x, &y, &p, &e), EM_EARG, &e, "padding must not be negative");
  p.pt = 0; p.kw = 0;
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &y, &p, &e), EM_EARG, &e, "kernel size must be positive, got 0x3");
  p.kw = 3; p.sh = 0;
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &y, &p, &e), EM_EARG, &e, "stride must be positive, got 1,0");
  p.sh = 1; p.dw = 0;
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &y, &p, &e), EM_EARG, &e, "dilation must be positive, got 0,1");
  p.dw = 2;
  test_expect_error(em_avgpool2d_forward(&ctx, &x, &y, &p, &e), EM_EARG, &e, "average pooling has no dilation, got 2,1");
  p.dw = 1;
  /* output sharing the input */
  p.kh = p.kw = 1;
  test_expect_error(em_maxpool2d_forward(&ctx, &x, &x, &p, &e), EM_EARG, &e, "must not share storage");
  test_expect_error(em_adaptive_avgpool2d_forward(&ctx, &x, &x, 1, 1, &e), EM_EARG, &e, "must not share storage");
  test_expect_error(em_adaptive_avgpool2d_forward(&ctx, &x, &y, 0, 2, &e), EM_EARG, &e,
               "output size must be positive, got 2x0");
  test_expect_error(em_adaptive_maxpool2d_forward(&ctx, &x3, &y, 1, 1, &e), EM_ESHAPE, &e, "got 3 dimensions");
  em_tensor_free(&x); em_tensor_free(&x3); em_tensor_free(&empty);
  em_tensor_free(&y); em_tensor_free(&z);
}

/* The output keeps its storage across calls of the same shape. */
static void test_output_reused(void) {
  em_tensor x, y;
  em_pool_params p = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1};
  em_tensor_init(&x); em_tensor_init(&y);
  random_tensor(&x, 2, 3, 8, 8);
  CHECK_OK(em_maxpool2d_forward(&ctx, &x, &y, &p, &e_));
  em_storage *s = y.storage;
  CHECK_OK(em_maxpool2d_forward(&ctx, &x, &y, &p, &e_));
  CHECK(y.storage == s);
  em_tensor_free(&x); em_tensor_free(&y);
}

int main(void) {
  em_rng_seed(&rng, 42);
  em_ctx_init(&ctx);
  TEST_RUN(test_max_random);
  TEST_RUN(test_avg_random);
  TEST_RUN(test_same_planes);
  TEST_RUN(test_same3_widths);
  TEST_RUN(test_max_s2_planes);
  TEST_RUN(test_ceil_sizes);
  TEST_RUN(test_noncontiguous);
  TEST_RUN(test_adaptive_random);
  TEST_RUN(test_nan_wins);
  TEST_RUN(test_max_wide_rows);
  TEST_RUN(test_errors);
  TEST_RUN(test_output_reused);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
