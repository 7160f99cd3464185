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

#endif
