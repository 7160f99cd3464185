/* simd.h -- the first n (< 8) lanes of a vector from and to memory without
** masked loads or stores (vmaskmovps costs several plain accesses on AMD's
** Zen; its store form is microcoded) and without touching a float past them;
** the even and odd elements of 16 floats (stride 2).
** Internal, x86 only: included by the files with AVX2 kernels. */
#ifndef EMBER_SIMD_H
#define EMBER_SIMD_H

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* p[0 .. n-1] in lanes 0 .. n-1, zeros after; n < 8. */
__attribute__((target("avx2"))) static inline __m256 em_load_part(const float *p, int n) {
  __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps(), *x = &lo;
  if (n >= 4) {
    lo = _mm_loadu_ps(p);
    p += 4, n -= 4, x = &hi;
  }
  if (n >= 2) {
    __m128 t = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)p));   /* unaligned-safe */
    *x = n == 3 ? _mm_movelh_ps(t, _mm_load_ss(p + 2)) : t;
  } else if (n == 1) {
    *x = _mm_load_ss(p);
  }
  return _mm256_set_m128(hi, lo);
}

/* Elements 0, 2, ..., 14 (evens) or 1, 3, ..., 15 (odds) of the 16 floats
** a, b: an in-lane shuffle, then the 64-bit pairs put in order. */
__attribute__((target("avx2"))) static inline __m256 em_evens8(__m256 a, __m256 b) {
  __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));   /* a0 a2 b0 b2 | a4 a6 b4 b6 */
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}
__attribute__((target("avx2"))) static inline __m256 em_odds8(__m256 a, __m256 b) {
  __m256 t = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(t), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Lanes 0 .. n-1 of v to p[0 .. n-1]; n < 8. */
__attribute__((target("avx2"))) static inline void em_store_part(float *p, __m256 v, int n) {
  __m128 x = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(p, x);
    x = _mm256_extractf128_ps(v, 1);
    p += 4, n -= 4;
  }
  if (n >= 2) {
    _mm_storel_epi64((__m128i *)p, _mm_castps_si128(x));
    x = _mm_movehl_ps(x, x);
    p += 2, n -= 2;
  }
  if (n) _mm_store_ss(p, x);
}
#endif

#endif
