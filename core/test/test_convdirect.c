/* test_convdirect.c -- the direct convolution for few input planes
** (convdirect.c, taken by em_conv2d_forward_ex) against the naive reference. */

#include <string.h>

#include "test.h"
#include "convutil.h"

static em_rng rng;
static em_ctx ctx;

static int randint(int lo, int hi) { return test_randint(&rng, lo, hi); }

static void make(em_tensor *t, int ndim, int64_t a, int64_t b, int64_t c, int64_t d) {
  int64_t sz[4] = { a, b, c, d };
  test_random_tensor(&rng, t, ndim, sz);
}

/* One case: conv with every epilogue part the flags ask for (1 scale, 2 bias,
** 4 residual, 8 clamp), against the reference; through em_conv_direct_forward
** itself when ctx has AVX2 and `direct`, else through em_conv2d_forward_ex
** (whatever path it picks); twice when the packed weight is kept (filled,
** then used). */
static int direct_case(int64_t n, int64_t cin, int64_t h, int64_t w, int64_t cout,
                       em_conv_params p, int parts, int keep_packed, int direct,
                       em_tensor *buf) {
  em_tensor x, wt, b, sc, res, y, packed;
  em_conv_epilogue ep = { EM_ACT_NONE, 0.0f, 0.0f, NULL, NULL };
  em_err e;
  int ok = 1;
  int64_t ho = (h + p.pt + p.pb - ((p.kh - 1) * p.dh + 1)) / p.sh + 1;
  int64_t wo = (w + p.pl + p.pr - ((p.kw - 1) * p.dw + 1)) / p.sw + 1, total = n * cout * ho * wo;
  double *ref = malloc(sizeof *ref * (size_t)total);
  float lo = -0.3f, hi = 0.4f;
  make(&x, 4, n, cin, h, w);
  make(&wt, 4, cout, cin, p.kh, p.kw);
  make(&b, 1, cout, 0, 0, 0);
  make(&sc, 1, cout, 0, 0, 0);
  make(&res, 4, n, cout, ho, wo);
  em_tensor_init(&y); em_tensor_init(&packed);
  test_conv_ref(&x, &wt, parts & 1 ? em_tensor_data(&sc) : NULL, parts & 2 ? em_tensor_data(&b) : NULL,
                parts & 4 ? em_tensor_data(&res) : NULL, &p, ref, ho, wo);
  if (parts & 8) {
    ep.act = EM_ACT_CLAMP; ep.a = lo; ep.b = hi;
    for (int64_t i = 0; i < total; i++) ref[i] = ref[i] < lo ? lo : ref[i] > hi ? hi : ref[i];
  }
  ep.scale = parts & 1 ? &sc : NULL;
  ep.residual = parts & 4 ? &res : NULL;
  if (keep_packed) p.packed_weight = &packed;
  for (int call = 0; call < (keep_packed ? 2 : 1) && ok; call++) {
    em_status st;
    em_tensor_free(&y);   /* a fresh output each time: no value left from the last call */
    em_tensor_init(&y);
    if (direct && ctx.isa >= EM_ISA_AVX2) {
      int64_t osz[4] = { n, cout, ho, wo };
      em_direct_args a = { em_tensor_data(&x), em_tensor_data(&wt), parts & 1 ? em_tensor_data(&sc) : NULL,
                           parts & 2 ? em_tensor_data(&b) : NULL, parts & 4 ? em_tensor_data(&res) : NULL,
                           NULL, n, cin, cout, h, w, ho, wo, parts & 8 ? 1 : 0, lo, hi };
      st = em_tensor_new(&y, 4, osz, &e);
      a.out = em_tensor_data(&y);
      if (!st) st = em_conv_direct_forward(&ctx, &a, buf, &p, &e);
    } else {
      st = em_conv2d_forward_ex(&ctx, &x, &y, &wt, parts & 2 ? &b : NULL, buf, &p, &ep, &e);
    }
    if (st != EM_OK) {
      fprintf(stderr, "  conv failed: %s\n", e.msg);
      ok = 0;
      break;
    }
    ok = y.size[0] == n && y.size[1] == cout && y.size[2] == ho && y.size[3] == wo;
    double d = 0, scale = 1;
    for (int64_t i = 0; ok && i < total; i++) {
      double v = fabs(em_tensor_data(&y)[i] - ref[i]);
      if (!(v <= d)) d = v;
      if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    /* float sums of up to 4 x 11 x 11 products of values in [-1, 1) */
    if (ok && !(d <= 2e-5 * scale)) {
      fprintf(stderr, "  max error %g (scale %g)\n", d, scale);
      ok = 0;
    }
  }
  if (!ok)
    fprintf(stderr, "  case isa %d threads %d n%lld cin%lld %lldx%lld cout%lld k%dx%d s%d,%d "
            "pad%d,%d,%d,%d d%d,%d parts %d packed %d direct %d\n", (int)ctx.isa, ctx.nthreads,
            (long long)n, (long long)cin, (long long)h, (long long)w, (long long)cout, p.kh, p.kw,
            p.sh, p.sw, p.pt, p.pl, p.pb, p.pr, p.dh, p.dw, parts, keep_packed, direct);
  free(ref);
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&sc);
  em_tensor_free(&res); em_tensor_free(&y); em_tensor_free(&packed);
  return ok;
}

/* Random small geometries: 1-4 planes in, 1-20 out (panel tails), kernels
** 1-11, every stride 1-4 in each direction, padding, widths around the
** 16-pixel tile (row tails), some dilation, one or two images. */
static void test_direct_random(void) {
  em_tensor buf;
  int done = 0;
  em_tensor_init(&buf);
  while (done < 400) {
    int s = done % 4 + 1;   /* every stride equally often */
    em_conv_params p = test_conv_params(randint(1, 7), randint(1, 11), randint(1, 4), s,
                                        randint(0, 3), randint(0, 3), randint(0, 3), randint(0, 3),
                                        randint(0, 4) ? 1 : 2, randint(0, 4) ? 1 : 2, 1);
    int64_t h = randint(1, 24), w = randint(1, 70), n = randint(0, 3) ? 1 : 2;
    if ((p.kh - 1) * p.dh + 1 > h + p.pt + p.pb || (p.kw - 1) * p.dw + 1 > w + p.pl + p.pr) continue;
    CHECK(direct_case(n, randint(1, 4), h, w, randint(1, 20), p, randint(0, 15), randint(0, 1), 1, &buf));
    done++;
  }
  em_tensor_free(&buf);
}

/* The stems' kernels, strides and padding on smaller images (outputs 32-35
** wide, so em_conv2d_forward_ex takes the direct path), with every epilogue
** part, through em_conv2d_forward_ex and the kernel itself. */
static void test_direct_stems(void) {
  em_tensor buf;
  em_tensor_init(&buf);
  for (int d = 0; d < 2; d++) {   /* through conv2d_forward_ex, then the kernel itself */
    CHECK(direct_case(1, 3, 20, 70, 64, test_conv_params(7, 7, 2, 2, 3, 3, 3, 3, 1, 1, 1), 15, 1, d, &buf));
    CHECK(direct_case(1, 3, 21, 71, 32, test_conv_params(3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1), 11, 0, d, &buf));
    CHECK(direct_case(1, 3, 16, 64, 32, test_conv_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 15, 1, d, &buf));
    CHECK(direct_case(1, 3, 18, 66, 64, test_conv_params(3, 3, 2, 2, 0, 0, 0, 0, 1, 1, 1), 10, 0, d, &buf));
    CHECK(direct_case(1, 3, 23, 135, 64, test_conv_params(11, 11, 4, 4, 2, 2, 2, 2, 1, 1, 1), 10, 1, d, &buf));
    CHECK(direct_case(2, 3, 12, 70, 24, test_conv_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 15, 0, d, &buf));
    CHECK(direct_case(1, 4, 9, 35, 13, test_conv_params(5, 5, 1, 1, 2, 2, 2, 2, 1, 1, 1), 15, 1, d, &buf));
  }
  em_tensor_free(&buf);
}

/* Without a caller's scratch tensor (conv.c's local one) and with a buffer
** already larger than needed. */
static void test_direct_buffers(void) {
  em_tensor buf;
  int64_t big[1] = { 1 << 20 };
  em_tensor_init(&buf);
  CHECK(direct_case(1, 3, 30, 31, 16, test_conv_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 15, 0, 0, NULL));
  CHECK_OK(em_tensor_resize(&buf, 1, big, &e_));
  CHECK(direct_case(1, 3, 30, 31, 16, test_conv_params(3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1), 15, 0, 0, &buf));
  em_tensor_free(&buf);
}

int main(void) {
  em_rng_seed(&rng, 4242);
  em_ctx_init(&ctx);
  /* AVX2's tiles and, where the CPU has it, AVX-512's */
  for (int isa = em_cpu_isa() < EM_ISA_AVX2 ? em_cpu_isa() : EM_ISA_AVX2; isa <= (int)em_cpu_isa(); isa++)
    for (int threads = 1; threads <= 2; threads++) {
      ctx.isa = (em_isa)isa;
      em_ctx_set_threads(&ctx, threads);
      TEST_RUN(test_direct_random);
      TEST_RUN(test_direct_stems);
      TEST_RUN(test_direct_buffers);
    }
  ctx.isa = EM_ISA_C;   /* the same cases through im2col + OpenBLAS */
  TEST_RUN(test_direct_random);
  TEST_RUN(test_direct_stems);
  em_ctx_free(&ctx);
  TEST_REPORT();
}
