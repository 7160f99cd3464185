/* test.h -- a tiny assertion harness for the C unit tests.
** Each test file defines main() calling TEST_RUN(fn) and ends with TEST_REPORT(). */
#ifndef EMBER_TEST_H
#define EMBER_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ember.h"

static int test_passed, test_failed, test_cur_failed;

#define CHECK(cond) do { if (!(cond)) { \
    fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    test_cur_failed = 1; } } while (0)

#define CHECK_OK(call) do { em_err e_; e_.msg[0] = 0; em_status s_ = (call); \
    if (s_ != EM_OK) { fprintf(stderr, "  %s:%d: %s failed (%d): %s\n", \
      __FILE__, __LINE__, #call, (int)s_, e_.msg); test_cur_failed = 1; } } while (0)

/* passes `&e_` as the error slot: write CHECK_OK(em_foo(..., &e_)) */

#define CHECK_CLOSE(a, b, tol) do { double a_ = (a), b_ = (b); \
    if (!(fabs(a_ - b_) <= (tol))) { \
      fprintf(stderr, "  %s:%d: %s = %g, expected %s = %g (tol %g)\n", \
              __FILE__, __LINE__, #a, a_, #b, b_, (double)(tol)); \
      test_cur_failed = 1; } } while (0)

#define TEST_RUN(fn) do { test_cur_failed = 0; fn(); \
    if (test_cur_failed) { test_failed++; fprintf(stderr, "FAIL %s\n", #fn); } \
    else test_passed++; } while (0)

/* The last line is read by the test runner. */
#define TEST_REPORT() do { printf("%d passed, %d failed\n", test_passed, test_failed); \
    return test_failed ? 1 : 0; } while (0)

/* Max |a - b| over n floats. */
static inline double test_maxdiff(const float *a, const float *b, long n) {
  double m = 0;
  for (long i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (d > m || d != d) m = d != d ? INFINITY : d;
  }
  return m;
}

static inline double test_maxabs(const float *a, long n) {
  double m = 0;
  for (long i = 0; i < n; i++) if (fabs(a[i]) > m) m = fabs(a[i]);
  return m;
}

/* Element of t at a multi-index, through the strides. */
static inline float *test_at(const em_tensor *t, const int64_t *idx) {
  float *p = em_tensor_data(t);
  for (int d = 0; d < t->ndim; d++) p += idx[d] * t->stride[d];
  return p;
}

/* Increments a row-major multi-index over size[0..nd); 0 after the last one. */
static inline int test_next_index(int64_t *idx, int nd, const int64_t *size) {
  for (int d = nd - 1; d >= 0; d--) {
    if (++idx[d] < size[d]) return 1;
    idx[d] = 0;
  }
  return 0;
}

/* Checks a failed call's status and that its message holds frag. */
static inline void test_expect_error(em_status st, em_status want, const em_err *e, const char *frag) {
  CHECK(st == want);
  if (!strstr(e->msg, frag)) {
    fprintf(stderr, "  message '%s' lacks '%s'\n", e->msg, frag);
    CHECK(strstr(e->msg, frag) != NULL);
  }
}

/* Checks that a and b have the same sizes and max |a - b| <= rtol *
** max(max |b|, 1), printing the difference when not. */
static inline void test_compare(const em_tensor *a, const em_tensor *b, double rtol) {
  int64_t n = em_tensor_nelement(a);
  CHECK(em_tensor_same_size(a, b));
  if (!em_tensor_same_size(a, b)) return;
  double scale = test_maxabs(em_tensor_data(b), n);
  double d = test_maxdiff(em_tensor_data(a), em_tensor_data(b), n);
  if (!(d <= rtol * (scale > 1 ? scale : 1))) {
    fprintf(stderr, "  max diff %g (scale %g)\n", d, scale);
    CHECK(d <= rtol * (scale > 1 ? scale : 1));
  }
}

/* Checks max |got - want| <= 1e-4 max |want| (1e-4 when want is all zero)
** over n values against a reference in double, got's planes of plane
** floats ldo apart (ldo = plane: contiguous); *worst keeps the largest
** error seen relative to max |want|. */
static inline void test_close_ref(const float *got, int64_t ldo, int64_t plane, const double *want,
                                  int64_t n, double *worst) {
  double m = 0, d = 0;
  for (int64_t i = 0; i < n; i++) {
    double e = fabs(got[i / plane * ldo + i % plane] - want[i]);
    if (fabs(want[i]) > m) m = fabs(want[i]);
    if (!(e <= d)) d = e;
  }
  if (m > 0 && d / m > *worst) *worst = d / m;
  if (!(d <= 1e-4 * (m > 0 ? m : 1))) {
    fprintf(stderr, "  max diff %g (scale %g)\n", d, m);
    CHECK(d <= 1e-4 * (m > 0 ? m : 1));
  }
}

/* A uniform integer in [lo, hi] from r. */
static inline int test_randint(em_rng *r, int lo, int hi) {
  return lo + (int)(em_rng_next(r) % (uint64_t)(hi - lo + 1));
}

/* t becomes a new tensor of the given sizes, uniform in [-1, 1); exits on
** failure (a test cannot go on without it). */
static inline void test_random_tensor(em_rng *r, em_tensor *t, int ndim, const int64_t *size) {
  em_err e;
  em_tensor_init(t);
  if (em_tensor_new(t, ndim, size, &e) != EM_OK) { fprintf(stderr, "%s\n", e.msg); exit(1); }
  for (int64_t i = 0; i < em_tensor_nelement(t); i++)
    em_tensor_data(t)[i] = (float)(2 * em_rng_uniform01(r) - 1);
}

/* Convolution parameters; the fields after groups at their defaults. */
static inline em_conv_params test_conv_params(int kh, int kw, int sh, int sw, int pt, int pl,
                                              int pb, int pr, int dh, int dw, int groups) {
  em_conv_params p;
  memset(&p, 0, sizeof p);
  p.kh = kh; p.kw = kw; p.sh = sh; p.sw = sw; p.pt = pt; p.pl = pl; p.pb = pb; p.pr = pr;
  p.dh = dh; p.dw = dw; p.groups = groups;
  return p;
}

/* The convolution by its definition, seven loops deep, in double:
** y = scale * conv(x, w) + bias + res (scale, bias, res may be NULL);
** x N,C,H,W, w out,in/groups,kH,kW, y N,out,ho,wo. */
static inline void test_conv_ref(const em_tensor *x, const em_tensor *w, const float *scale,
                                 const float *bias, const float *res, const em_conv_params *p,
                                 double *y, int64_t ho, int64_t wo) {
  int64_t n = x->size[0], cin = x->size[1], h = x->size[2], wd = x->size[3];
  int64_t cout = w->size[0], cin_g = cin / p->groups, cout_g = cout / p->groups;
  const float *X = em_tensor_data(x), *W = em_tensor_data(w);
  for (int64_t i = 0; i < n; i++)
    for (int64_t oc = 0; oc < cout; oc++)
      for (int64_t oy = 0; oy < ho; oy++)
        for (int64_t ox = 0; ox < wo; ox++) {
          int64_t o = ((i * cout + oc) * ho + oy) * wo + ox, g = oc / cout_g;
          double s = 0;
          for (int64_t ic = 0; ic < cin_g; ic++)
            for (int ky = 0; ky < p->kh; ky++)
              for (int kx = 0; kx < p->kw; kx++) {
                int64_t iy = oy * p->sh - p->pt + ky * p->dh, ix = ox * p->sw - p->pl + kx * p->dw;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += (double)X[((i * cin + g * cin_g + ic) * h + iy) * wd + ix] *
                     W[((oc * cin_g + ic) * p->kh + ky) * p->kw + kx];
              }
          y[o] = s * (scale ? scale[oc] : 1) + (bias ? bias[oc] : 0) + (res ? res[o] : 0);
        }
}

#endif
