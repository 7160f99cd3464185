/* random.c -- xoshiro256** seeded by splitmix64: the same stream everywhere. */

#include <math.h>

#include "ember.h"

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void em_rng_seed(em_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t em_rng_next(em_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double em_rng_uniform01(em_rng *r) {
  return (double)(em_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Visits t's elements in logical (row-major) order, whatever its strides,
** so a seed fills a transposed view with the same values as a fresh tensor. */
typedef struct cursor { const em_tensor *t; int64_t idx[EM_MAXDIM]; float *p; } cursor;

static void cursor_next(cursor *c) {
  const em_tensor *t = c->t;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (++c->idx[d] < t->size[d]) { c->p += t->stride[d]; return; }
    c->p -= (c->idx[d] - 1) * t->stride[d];
    c->idx[d] = 0;
  }
}

static void cursor_start(cursor *c, const em_tensor *t) {
  c->t = t;
  for (int i = 0; i < EM_MAXDIM; i++) c->idx[i] = 0;
  c->p = em_tensor_data(t);
}

em_status em_rng_uniform(em_rng *r, em_tensor *t, float a, float b, em_err *err) {
  int64_t n;
  cursor c;
  if (!r || !t) return em_fail(err, EM_EARG, "uniform: missing generator or tensor");
  if (!(a <= b) || !isfinite(a) || !isfinite(b))
    return em_fail(err, EM_EARG, "uniform: expected finite bounds a <= b, got %g and %g",
                   (double)a, (double)b);
  n = em_tensor_nelement(t);
  cursor_start(&c, t);
  for (int64_t k = 0; k < n; k++, cursor_next(&c))
    *c.p = (float)(a + ((double)b - a) * em_rng_uniform01(r));
  return EM_OK;
}

/* Box-Muller: each pair of uniforms gives two normals, used in turn; an odd
** count drops the last sine. 1 - u keeps the logarithm's argument in (0, 1]. */
em_status em_rng_normal(em_rng *r, em_tensor *t, float mean, float std, em_err *err) {
  const double two_pi = 6.283185307179586476925;
  int64_t n;
  cursor c;
  if (!r || !t) return em_fail(err, EM_EARG, "normal: missing generator or tensor");
  if (!(std >= 0) || !isfinite(std) || !isfinite(mean))
    return em_fail(err, EM_EARG, "normal: expected a finite mean and std >= 0, got %g and %g",
                   (double)mean, (double)std);
  n = em_tensor_nelement(t);
  cursor_start(&c, t);
  for (int64_t k = 0; k < n; k += 2) {
    double u1 = 1.0 - em_rng_uniform01(r), u2 = em_rng_uniform01(r);
    double rad = sqrt(-2.0 * log(u1)), th = two_pi * u2;
    *c.p = (float)(mean + std * rad * cos(th));
    cursor_next(&c);
    if (k + 1 < n) {
      *c.p = (float)(mean + std * rad * sin(th));
      cursor_next(&c);
    }
  }
  return EM_OK;
}
