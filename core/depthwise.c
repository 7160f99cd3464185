/* depthwise.c -- convolution with one input plane per group (MobileNet's 3x3
** depthwise layers): direct kernels in C, AVX2+FMA and AVX-512, epilogue fused. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define X86 1
#else
#define X86 0
#endif

#include "ember.h"
#include "convutil.h"
#include "simd.h"

/* The CPU's best set, asked once per em_ctx (em_ctx_init) rather than kept in
** a global: a context may also be lowered to force a path (tests, timing).
** libgcc's check includes the OS's support (XCR0) for the wider registers. */
em_isa em_cpu_isa(void) {
#if X86 && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return EM_ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return EM_ISA_AVX2;
#endif
  return EM_ISA_C;
}

/* Outputs i in [0, count) whose taps i*s + off .. i*s + off + ext - 1 all
** fall in [0, limit): [*lo, *hi). Outside it some tap reads padding. */
static void inner_span(int64_t limit, int64_t count, int s, int64_t off, int64_t ext,
                       int64_t *lo, int64_t *hi) {
  *lo = clamp64(ceil_div(-off, s), 0, count);
  *hi = clamp64(ceil_div(limit - off - ext + 1, s), *lo, count);
}

/* One plane's geometry and epilogue; clamp folds RELU (lo 0, hi inf) and CLAMP. */
typedef struct plane {
  const float *src, *k, *res;   /* input plane, kh*kw taps, residual plane or NULL */
  const float *next;            /* the input plane after this one, or NULL */
  float *dst, bias, lo, hi;
  int64_t h, w, ho, wo;
  int clamp;
} plane;

static inline float finish(const plane *q, float v, int64_t i) {
  if (q->res) v += q->res[i];
  if (q->clamp) v = v < q->lo ? q->lo : v > q->hi ? q->hi : v;
  return v;
}

/* Any kernel, stride, dilation: each output row is accumulated tap by tap
** over the span of outputs where the tap is inside the input (the row stays
** in L1), then finished. Inlined into each ISA's function so the compiler
** vectorises it for that ISA. */
static inline __attribute__((always_inline))
void plane_generic(const plane *q, const em_conv_params *p) {
  for (int64_t oy = 0; oy < q->ho; oy++) {
    float *o = q->dst + oy * q->wo;
    for (int64_t ox = 0; ox < q->wo; ox++) o[ox] = q->bias;
    for (int ky = 0; ky < p->kh; ky++) {
      int64_t iy = oy * p->sh - p->pt + (int64_t)ky * p->dh;
      if (iy < 0 || iy >= q->h) continue;
      const float *row = q->src + iy * q->w;
      for (int kx = 0; kx < p->kw; kx++) {
        float kv = q->k[ky * p->kw + kx];
        int64_t offx = (int64_t)kx * p->dw - p->pl, lo, hi;
        inner_span(q->w, q->wo, p->sw, offx, 1, &lo, &hi);
        if (p->sw == 1) {
          const float *r = row + offx;
          for (int64_t ox = lo; ox < hi; ox++) o[ox] += kv * r[ox];
        } else {
          for (int64_t ox = lo; ox < hi; ox++) o[ox] += kv * row[ox * p->sw + offx];
        }
      }
    }
    if (q->res || q->clamp)
      for (int64_t ox = 0; ox < q->wo; ox++) o[ox] = finish(q, o[ox], oy * q->wo + ox);
  }
}

static void plane_generic_c(const plane *q, const em_conv_params *p) { plane_generic(q, p); }

/* 3x3, no dilation, stride s: output (oy, ox) with bounds tests, for the
** columns next to the padding. rows[ky] is NULL where the row is padding. */
static inline float edge3x3(const plane *q, const float *const rows[3], int64_t ox, int s, int pl) {
  float v = q->bias;
  for (int ky = 0; ky < 3; ky++) {
    if (!rows[ky]) continue;
    for (int kx = 0; kx < 3; kx++) {
      int64_t ix = ox * s - pl + kx;
      if (ix >= 0 && ix < q->w) v += q->k[ky * 3 + kx] * rows[ky][ix];
    }
  }
  return v;
}

/* The SIMD 3x3 kernels, one body for both widths. Each vector of V outputs
** is summed in a register from bias, nine taps, residual and clamp, then
** stored once; so a last partial vector may be recomputed overlapping the
** previous one instead of falling back to scalar code. For stride 2 the V
** needed inputs of a tap are every other one of 2V loaded: tap 0 is the
** evens of the load at the window's start, taps 1 and 2 the evens and odds
** of the load one further, so no load reads past the last input used. */
#define DW3X3_BODY(VEC, V, LOADU, STOREU, SET1, FMA, ADD, MIN, MAX, EVENS, ODDS)       \
  int64_t xa, xb;                                                                     \
  VEC kv[9], vlo = SET1(q->lo), vhi = SET1(q->hi), vb = SET1(q->bias);                \
  for (int i = 0; i < 9; i++) kv[i] = SET1(q->k[i]);                                  \
  inner_span(q->w, q->wo, s, -(int64_t)pl, 3, &xa, &xb);                              \
  for (int64_t oy = 0; oy < q->ho; oy++) {                                            \
    const float *rows[3];                                                             \
    float *o = q->dst + oy * q->wo;                                                   \
    const float *res = q->res ? q->res + oy * q->wo : NULL;                           \
    for (int ky = 0; ky < 3; ky++) {                                                  \
      int64_t iy = oy * s - pt + ky;                                                  \
      rows[ky] = iy >= 0 && iy < q->h ? q->src + iy * q->w : NULL;                    \
    }                                                                                 \
    int64_t edge_hi = xb - xa >= V ? xa : xb;   /* scalar up to here */               \
    for (int64_t ox = 0; ox < edge_hi; ox++) o[ox] = finish(q, edge3x3(q, rows, ox, s, pl), oy * q->wo + ox); \
    for (int64_t ox = xb; ox < q->wo; ox++) o[ox] = finish(q, edge3x3(q, rows, ox, s, pl), oy * q->wo + ox); \
    if (edge_hi == xb) continue;                                                      \
    for (int64_t x0 = xa; x0 < xb; x0 += V) {                                         \
      int64_t ox = x0 + V <= xb ? x0 : xb - V;                                        \
      VEC acc = vb;                                                                   \
      for (int ky = 0; ky < 3; ky++) {                                                \
        const float *r = rows[ky];                                                    \
        if (!r) continue;                                                             \
        r += ox * s - pl;                                                             \
        if (s == 1) {                                                                 \
          acc = FMA(kv[3 * ky], LOADU(r), acc);                                       \
          acc = FMA(kv[3 * ky + 1], LOADU(r + 1), acc);                               \
          acc = FMA(kv[3 * ky + 2], LOADU(r + 2), acc);                               \
        } else {                                                                      \
          VEC a0 = LOADU(r), a1 = LOADU(r + V), b0 = LOADU(r + 1), b1 = LOADU(r + 1 + V); \
          acc = FMA(kv[3 * ky], EVENS(a0, a1), acc);                                  \
          acc = FMA(kv[3 * ky + 1], EVENS(b0, b1), acc);                              \
          acc = FMA(kv[3 * ky + 2], ODDS(b0, b1), acc);                               \
        }                                                                             \
      }                                                                               \
      if (res) acc = ADD(acc, LOADU(res + ox));                                       \
      if (q->clamp) acc = MIN(vhi, MAX(vlo, acc));   /* NaN stays NaN, as em_act */  \
      STOREU(o + ox, acc);                                                            \
    }                                                                                 \
  }

#if X86 && defined(__GNUC__)
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx2,fma")))

AVX512 static inline __m512 evens16(__m512 a, __m512 b) {
  const __m512i idx = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  return _mm512_permutex2var_ps(a, idx, b);
}
AVX512 static inline __m512 odds16(__m512 a, __m512 b) {
  const __m512i idx = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  return _mm512_permutex2var_ps(a, idx, b);
}

/* Lanes c..c+7 inside a row of w columns. */
AVX2 static inline __m256i cols_inside(int64_t c, int64_t w) {
  __m256i i = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)c));
  return _mm256_and_si256(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(-1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int)w), i));
}

#define FIRST2 2   /* block3x3's edge for a stride-2 row's first block */

/* Columns c..c+7 of row r, 0 outside the row (edge): a masked load does not
** touch its masked-off lanes, so it may start before the row or end past it. */
AVX2 static inline __attribute__((always_inline))
__m256 load8(const float *r, int64_t c, int edge, __m256i in) {
  return edge ? _mm256_maskload_ps(r + c, in) : _mm256_loadu_ps(r + c);
}

/* The first cnt (< 8) lanes of v to o, a row of a plane ending at end. A
** masked store is microcoded on AMD's Zen (tens of cycles): where the 8 lanes
** stay in the plane they are stored plainly, the extra ones falling on the
** next rows, stored after this one; else through a buffer (past the plane
** lies another, maybe another thread's). */
AVX2 static inline void store_first(float *o, __m256 v, int64_t cnt, const float *end) {
  if (o + 8 <= end) {
    _mm256_storeu_ps(o, v);
    return;
  }
  float t[8];
  _mm256_storeu_ps(t, v);
  for (int64_t i = 0; i < cnt; i++) o[i] = t[i];
}

/* One kernel row's three taps k[0..2] on 8 outputs. Stride 1: a, b, c are
** the 8 columns from c, c + 1 and c + 2 (d unused). Stride 2: a, b the 16
** columns from c, c, d the 16 from c + 1; tap 0 is the evens of a b, tap 1
** their odds, tap 2 the odds of c d, left in the in-lane shuffles' order
** (see in_order). */
AVX2 static inline __attribute__((always_inline))
__m256 taps3(const __m256 *k, int s, __m256 a, __m256 b, __m256 c, __m256 d) {
  if (s == 1) return _mm256_fmadd_ps(k[2], c, _mm256_fmadd_ps(k[1], b, _mm256_mul_ps(k[0], a)));
  __m256 t = _mm256_mul_ps(k[0], _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
  t = _mm256_fmadd_ps(k[1], _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)), t);
  return _mm256_fmadd_ps(k[2], _mm256_shuffle_ps(c, d, _MM_SHUFFLE(3, 1, 3, 1)), t);
}

/* Columns 0 2 8 10 4 6 12 14, as stride 2's shuffles leave them, in order. */
AVX2 static inline __m256 in_order(__m256 v) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}

/* Eight outputs from input column c of the n rows inside the input (their
** kernel rows in k); edge: masked loads. One sum per kernel row, added at
** the end: nine dependent FMAs made the loop wait on their latency. Stride
** 2 stays in the order the in-lane shuffles leave (columns 0 2 8 10 4 6 12
** 14, the same for every tap: tap 0 the evens of the 16 columns from c,
** tap 1 their odds, tap 2 the odds of the 16 from c + 1, so no load reaches
** past the last column used) and is permuted once at the end. */
/* Columns -1..6 of row x, column -1 the padding's 0: a stride-2 row's
** first block, whose other loads lie inside (masked loads cost several
** plain ones on Zen 1). */
AVX2 static inline __m256 load_m1(const float *x) {
  __m256 v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x), _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6));
  return _mm256_blend_ps(v, _mm256_setzero_ps(), 1);
}

AVX2 static inline __attribute__((always_inline))
__m256 block3x3(const float *const *r, const __m256 *k, int n, int64_t c, int64_t w, int s, int edge,
                __m256 bias) {
  __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m8 = m0, m9 = m0;
  __m256 part[3] = { _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps() };
  if (edge == FIRST2) {   /* stride 2, c == -1, c + 16 inside */
    for (int i = 0; i < n; i++)
      part[i] = taps3(k + 3 * i, 2, load_m1(r[i]), _mm256_loadu_ps(r[i] + 7), _mm256_loadu_ps(r[i]),
                      _mm256_loadu_ps(r[i] + 8));
    return in_order(_mm256_add_ps(_mm256_add_ps(bias, part[0]), _mm256_add_ps(part[1], part[2])));
  }
  if (edge) {
    m0 = cols_inside(c, w); m1 = cols_inside(c + 1, w);
    if (s == 1) m2 = cols_inside(c + 2, w);
    else { m8 = cols_inside(c + 8, w); m9 = cols_inside(c + 9, w); }
  }
  for (int i = 0; i < n; i++) {
    const float *x = r[i];
    if (s == 1)
      part[i] = taps3(k + 3 * i, 1, load8(x, c, edge, m0), load8(x, c + 1, edge, m1),
                      load8(x, c + 2, edge, m2), _mm256_setzero_ps());
    else
      part[i] = taps3(k + 3 * i, 2, load8(x, c, edge, m0), load8(x, c + 8, edge, m8),
                      load8(x, c + 1, edge, m1), load8(x, c + 9, edge, m9));
  }
  __m256 acc = _mm256_add_ps(_mm256_add_ps(bias, part[0]), _mm256_add_ps(part[1], part[2]));
  return s == 2 ? in_order(acc) : acc;
}

/* Output row o from the n input rows r (kernel rows k), in blocks of 8: the
** last overlapping the one before it, a row narrower than 8 stored through a
** mask; blocks with a column outside the input load through masks. */
AVX2 static inline __attribute__((always_inline))
void row3x3(const plane *q, const float *const *r, const __m256 *k, int n, float *o, const float *res,
            int s, int pl, __m256 bias, __m256 vlo, __m256 vhi) {
  const int64_t wo = q->wo, w = q->w;
  const int64_t reach = s == 1 ? 9 : 16;   /* last column a block reads, after c */
  if (wo < 8) {
    __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)wo), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc = block3x3(r, k, n, -(int64_t)pl, w, s, 1, bias);
    if (res) acc = _mm256_add_ps(acc, _mm256_maskload_ps(res, keep));
    if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
    store_first(o, acc, wo, q->dst + q->ho * wo);
    return;
  }
  /* the blocks clear of the edges in a loop of their own: with the masked
  ** body beside it the compiler spilled the loop's addresses and taps */
  int64_t x0 = 0;
  for (; x0 < wo; x0 += 8) {
    int64_t ox = x0 + 8 <= wo ? x0 : wo - 8, c = ox * s - pl;
    if (c >= 0 && c + reach < w) break;
    __m256 acc = s == 2 && c == -1 && c + reach < w ? block3x3(r, k, n, c, w, s, FIRST2, bias)
                                                   : block3x3(r, k, n, c, w, s, 1, bias);
    if (res) acc = _mm256_add_ps(acc, _mm256_loadu_ps(res + ox));
    if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));   /* NaN stays NaN, as em_act */
    _mm256_storeu_ps(o + ox, acc);
  }
  for (; x0 + 8 <= wo && x0 * s - pl + reach < w; x0 += 8) {
    __m256 acc = block3x3(r, k, n, x0 * s - pl, w, s, 0, bias);
    if (res) acc = _mm256_add_ps(acc, _mm256_loadu_ps(res + x0));
    if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
    _mm256_storeu_ps(o + x0, acc);
  }
  for (; x0 < wo; x0 += 8) {
    int64_t ox = x0 + 8 <= wo ? x0 : wo - 8, c = ox * s - pl;
    __m256 acc = c < 0 || c + reach >= w ? block3x3(r, k, n, c, w, s, 1, bias)
                                         : block3x3(r, k, n, c, w, s, 0, bias);
    if (res) acc = _mm256_add_ps(acc, _mm256_loadu_ps(res + ox));
    if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
    _mm256_storeu_ps(o + ox, acc);
  }
}

/* 3x3, stride s (1 or 2), any plane: the rows inside the input and their
** kernel rows, then a body with n = 3 (all but the border rows) and s constant. */
/* The next plane's cache lines are fetched into L2 while this plane computes
** (MobileNet's 112x112 planes come from memory; the bordered kernel's copy
** then finds them there): output row oy fetches lines [oy * share, (oy + 1)
** * share) of them, lines in all. */
AVX2 static inline __attribute__((always_inline))
void prefetch_next(const plane *q, int64_t oy, int64_t share, int64_t lines) {
  if (q->next)
    for (int64_t l = oy * share; l < (oy + 1) * share && l < lines; l++)
      _mm_prefetch((const char *)q->next + l * 64, _MM_HINT_T1);
}

AVX2 static inline __attribute__((always_inline))
void plane3x3_avx2_s(const plane *q, int s, int pt, int pl) {
  __m256 kv[9], vlo = _mm256_set1_ps(q->lo), vhi = _mm256_set1_ps(q->hi), vb = _mm256_set1_ps(q->bias);
  for (int i = 0; i < 9; i++) kv[i] = _mm256_set1_ps(q->k[i]);
  const int64_t lines = (q->h * q->w * 4 + 63) / 64, share = (lines + q->ho - 1) / q->ho;
  for (int64_t oy = 0; oy < q->ho; oy++) {
    prefetch_next(q, oy, share, lines);
    const float *r[3];
    int n = 0, ky0 = -1;
    for (int ky = 0; ky < 3; ky++) {
      int64_t iy = oy * s - pt + ky;
      if (iy < 0 || iy >= q->h) continue;
      if (ky0 < 0) ky0 = ky;
      r[n++] = q->src + iy * q->w;
    }
    float *o = q->dst + oy * q->wo;
    const float *res = q->res ? q->res + oy * q->wo : NULL;
    if (n == 3) row3x3(q, r, kv, 3, o, res, s, pl, vb, vlo, vhi);
    else if (n > 0) row3x3(q, r, kv + 3 * ky0, n, o, res, s, pl, vb, vlo, vhi);
    else {   /* every tap in padding (pad >= 3): bias and epilogue */
      for (int64_t ox = 0; ox < q->wo; ox++) o[ox] = finish(q, q->bias, oy * q->wo + ox);
    }
  }
}
AVX2 static void plane3x3_avx2(const plane *q, int s, int pt, int pl) {
  if (s == 1) plane3x3_avx2_s(q, 1, pt, pl);
  else plane3x3_avx2_s(q, 2, pt, pl);
}
AVX512 static void plane3x3_avx512(const plane *q, int s, int pt, int pl) {
  DW3X3_BODY(__m512, 16, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps,
             _mm512_add_ps, _mm512_min_ps, _mm512_max_ps, evens16, odds16)
}
AVX2 static void plane_generic_avx2(const plane *q, const em_conv_params *p) { plane_generic(q, p); }

/* Small planes (ShuffleNet's and MobileNet's 56x56 outputs and below):
** edges are a large share of the outputs there, so the plane is first copied
** into pad, a buffer of rows of pw floats whose border the caller zeroed,
** and every output then runs the 8-lane body with no bounds tests and no
** masked loads (on Zen 1 these made a 7x7 plane of stride 2 cost 1500
** cycles): the last vector of a row overlaps the one before it, or, in a
** row narrower than 8, computes 8 and stores wo (the buffer is wide enough
** for those reads, see pad_size). Stride 2 takes its taps as plane3x3_avx2
** does: evens and odds of two loads, permuted once at the end. */
AVX2 static inline __attribute__((always_inline))
void plane3x3_padded_s(const plane *q, int s, int pt, int pl, float *pad, int64_t pw) {
  const int64_t wo = q->wo;
  const int narrow = wo < 8;
  __m256 kv[9], vlo = _mm256_set1_ps(q->lo), vhi = _mm256_set1_ps(q->hi), vb = _mm256_set1_ps(q->bias);
  __m256i mask = _mm256_setzero_si256();
  if (narrow) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)wo), lane);
  }
  for (int i = 0; i < 9; i++) kv[i] = _mm256_set1_ps(q->k[i]);
  /* rows are short: vector moves and a masked tail rather than memcpy calls */
  const int64_t wfull = q->w & ~(int64_t)7;
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(q->w - wfull)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t iy = 0; iy < q->h; iy++) {
    const float *from = q->src + iy * q->w;
    float *to = pad + (iy + pt) * pw + pl;
    for (int64_t x = 0; x < wfull; x += 8) _mm256_storeu_ps(to + x, _mm256_loadu_ps(from + x));
    /* the tail's other lanes are zeroed: stored whole they fall on the right
    ** border (zeros) or the next row, copied after this one (see pick). A
    ** plain load while the plane's later rows hold the 8 floats (masked
    ** loads cost several plain ones on Zen 1) */
    if (wfull < q->w)
      _mm256_storeu_ps(to + wfull, wfull + 8 - q->w <= (q->h - 1 - iy) * q->w
                                       ? _mm256_and_ps(_mm256_loadu_ps(from + wfull),
                                                       _mm256_castsi256_ps(tail))
                                       : _mm256_maskload_ps(from + wfull, tail));
  }
  const int64_t lines = (q->h * q->w * 4 + 63) / 64, share = (lines + q->ho - 1) / q->ho;
  for (int64_t oy = 0; oy < q->ho; oy++) {
    prefetch_next(q, oy, share, lines);
    const float *rows = pad + oy * s * pw;
    float *o = q->dst + oy * wo;
    const float *res = q->res ? q->res + oy * wo : NULL;
    for (int64_t x0 = 0; x0 < wo; x0 += 8) {
      int64_t ox = narrow || x0 + 8 <= wo ? x0 : wo - 8;
      /* one sum per kernel row: nine dependent FMAs made the loop wait on
      ** their latency (the FP scheduler holds too few of them to overlap) */
      __m256 part[3];
      for (int ky = 0; ky < 3; ky++) {
        const float *r = rows + ky * pw + ox * s;
        if (s == 1)
          part[ky] = taps3(kv + 3 * ky, 1, _mm256_loadu_ps(r), _mm256_loadu_ps(r + 1),
                           _mm256_loadu_ps(r + 2), _mm256_setzero_ps());
        else
          part[ky] = taps3(kv + 3 * ky, 2, _mm256_loadu_ps(r), _mm256_loadu_ps(r + 8),
                           _mm256_loadu_ps(r + 1), _mm256_loadu_ps(r + 9));
      }
      __m256 acc = _mm256_add_ps(_mm256_add_ps(vb, part[0]), _mm256_add_ps(part[1], part[2]));
      if (s == 2) acc = in_order(acc);
      if (narrow) {
        if (res) acc = _mm256_add_ps(acc, _mm256_maskload_ps(res, mask));
        if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
        store_first(o, acc, wo, q->dst + q->ho * wo);
        break;
      }
      if (res) acc = _mm256_add_ps(acc, _mm256_loadu_ps(res + ox));
      if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
      _mm256_storeu_ps(o + ox, acc);
    }
  }
}
/* Columns 8j-1 .. 8j+6 (l), 8j .. 8j+7 (c) and 8j+1 .. 8j+8 (r) of input
** row iy of a plane w wide (5-32), as its vector j of outputs needs them:
** column -1 and columns from w on are 0; rows outside the plane all 0. Loads
** reaching past the row read the next one (their lanes are masked or feed
** only outputs past w), except on the last row, where past it may lie the
** end of the tensor. */
AVX2 static inline __attribute__((always_inline))
void taps_s1(const float *x, int64_t iy, int64_t h, int64_t w, int j, __m256 keep_r,
             __m256 *l, __m256 *c, __m256 *r) {
  const float *p = x + iy * w + 8 * j;
  if (iy < 0 || iy >= h) {
    *l = *c = *r = _mm256_setzero_ps();
    return;
  }
  int last = iy == h - 1, n = (int)(w - 8 * j);   /* columns of this vector in the row */
  *c = last && n < 8 ? em_load_part(p, n) : _mm256_loadu_ps(p);
  if (j == 0)
    *l = _mm256_blend_ps(_mm256_permutevar8x32_ps(*c, _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6)),
                         _mm256_setzero_ps(), 1);
  else   /* columns 8j-1 .. 8j+6: n + 1 of them in the row */
    *l = last && n + 1 < 8 ? em_load_part(p - 1, n + 1) : _mm256_loadu_ps(p - 1);
  if (n > 8) *r = _mm256_loadu_ps(p + 1);   /* all inside the row */
  else *r = _mm256_and_ps(last ? em_load_part(p + 1, n - 1) : _mm256_loadu_ps(p + 1), keep_r);
}

/* A 3x3 stride-1 plane 5-32 wide with padding 1 ("same": MobileNet's and
** ShuffleNet's layers from 28x28 to 7x7), in registers, one vector of 8
** output columns at a time, last first (56 and 112 wide ran 1.2x faster
** alone this way, but no faster, or slower, inside MobileNet, where the
** input comes from memory and the bordered kernel prefetches the next
** plane; prefetching here cost 20-30% on hot planes): the l, c and r taps of each input
** row are loads at -1, 0 and +1 (the edges masked; vector 0's left taps a
** lane permute of its centre), and each row adds its three kernel rows to
** the three output rows it touches (the pending ones: u0 and u1 for the
** row above, n0 for this one). A vector stored 8 wide at a row's end falls on the
** next row's first columns, stored after it (vector 0 comes last); the last
** row stores only its own. Same sums in the same order as the bordered
** kernel. */
AVX2 static void plane3x3_small_s1_avx2(const plane *q) {
  const int64_t h = q->h, w = q->w;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 vb = _mm256_set1_ps(q->bias), vlo = _mm256_set1_ps(q->lo), vhi = _mm256_set1_ps(q->hi);
  const __m256 zero = _mm256_setzero_ps();
  __m256 kv[9];
  for (int i = 0; i < 9; i++) kv[i] = _mm256_set1_ps(q->k[i]);
  for (int j = (int)((w - 1) / 8); j >= 0; j--) {
    const int n = (int)(w - 8 * j);   /* outputs of this vector in a row */
    /* r's lanes from column w on are the padding's 0 */
    const __m256 keep_r = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(n - 1), lane));
    __m256 u0 = zero, u1 = zero, n0 = zero;
    for (int64_t iy = 0; iy <= h; iy++) {
      __m256 l, c, r;
      taps_s1(q->src, iy, h, w, j, keep_r, &l, &c, &r);
      if (iy > 0) {   /* output row iy - 1 is complete */
        int64_t oy = iy - 1;
        float *o = q->dst + oy * w + 8 * j;
        int whole = oy < h - 1 || n >= 8;
        __m256 acc = _mm256_add_ps(_mm256_add_ps(vb, u0), _mm256_add_ps(u1, taps3(kv + 6, 1, l, c, r, zero)));
        if (q->res) {
          const float *rs = q->res + oy * w + 8 * j;
          acc = _mm256_add_ps(acc, whole ? _mm256_loadu_ps(rs) : em_load_part(rs, n));
        }
        if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
        if (whole) _mm256_storeu_ps(o, acc);
        else em_store_part(o, acc, n);
      }
      if (iy == h) break;
      u0 = n0;
      u1 = taps3(kv + 3, 1, l, c, r, zero);
      n0 = taps3(kv, 1, l, c, r, zero);
    }
  }
}

/* plane3x3_small_s1_avx2 in 16 lanes: one vector covers a 14-wide row
** (two of 8 did), two a 28-wide one; the edges through masked loads and
** stores, which AVX-512's masks make as cheap as plain ones. Same sums in
** the same order. */
AVX512 static inline __m512 taps3z(const __m512 *k, __m512 a, __m512 b, __m512 c) {
  return _mm512_fmadd_ps(k[2], c, _mm512_fmadd_ps(k[1], b, _mm512_mul_ps(k[0], a)));
}

/* Lanes of the 16 columns from x in a row w wide: the columns inside it
** (c), those whose left neighbour is (l: not column -1) and whose right one
** is (r: not column w). */
typedef struct lanes16 { __mmask16 l, c, r; } lanes16;

AVX512 static inline lanes16 lanes_at(int64_t x, int64_t w) {
  const int64_t n = w - x < 16 ? w - x : 16, nr = w - x - 1 < 16 ? w - x - 1 : 16;
  lanes16 m;
  m.c = (__mmask16)((1u << n) - 1);
  m.l = x ? m.c : (__mmask16)(m.c & ~1u);
  m.r = (__mmask16)((1u << nr) - 1);
  return m;
}

AVX512 static void plane3x3_small_s1_avx512(const plane *q) {
  const int64_t h = q->h, w = q->w;
  const __m512 vb = _mm512_set1_ps(q->bias), vlo = _mm512_set1_ps(q->lo), vhi = _mm512_set1_ps(q->hi);
  const __m512 zero = _mm512_setzero_ps();
  __m512 kv[9];
  for (int i = 0; i < 9; i++) kv[i] = _mm512_set1_ps(q->k[i]);
  for (int64_t j = 0; 16 * j < w; j++) {
    const lanes16 m = lanes_at(16 * j, w);
    __m512 u0 = zero, u1 = zero, n0 = zero;
    for (int64_t iy = 0; iy <= h; iy++) {
      __m512 l = zero, c = zero, r = zero;
      if (iy < h) {
        const float *x = q->src + iy * w + 16 * j;
        l = _mm512_maskz_loadu_ps(m.l, x - 1);
        c = _mm512_maskz_loadu_ps(m.c, x);
        r = _mm512_maskz_loadu_ps(m.r, x + 1);
      }
      if (iy > 0) {   /* output row iy - 1 is complete */
        int64_t at = (iy - 1) * w + 16 * j;
        __m512 acc = _mm512_add_ps(_mm512_add_ps(vb, u0), _mm512_add_ps(u1, taps3z(kv + 6, l, c, r)));
        if (q->res) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m.c, q->res + at));
        if (q->clamp) acc = _mm512_min_ps(vhi, _mm512_max_ps(vlo, acc));
        _mm512_mask_storeu_ps(q->dst + at, m.c, acc);
      }
      if (iy == h) break;
      u0 = n0;
      u1 = taps3z(kv + 3, l, c, r);
      n0 = taps3z(kv, l, c, r);
    }
  }
}

/* A stride-2 input row's three taps for output vectors j < nv (8 outputs
** each, ox = 8j + lane): e the even columns 2ox, o the odd ones 2ox + 1, ol
** the odd ones left of them, 2ox - 1 (column -1: the padding's 0). */
typedef struct row_s2 {
  __m256 ol[2], e[2], o[2];
} row_s2;

/* Row iy of a plane 9-32 wide (nv = 1: up to 16, 2: up to 32), columns past
** w zero. Rows outside the plane are all zero; the last row loads only its
** own floats (past it may lie the end of the tensor), the others plain
** 8-float loads whose lanes past w, the next rows, are masked off. */
AVX2 static inline __attribute__((always_inline))
row_s2 small_row_s2(const float *x, int64_t iy, int64_t h, int64_t w, const __m256 *keep, int nv) {
  const __m256i rot = _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6);
  __m256 v[4];
  row_s2 r;
  for (int i = 0; i < 2 * nv; i++) {
    int64_t n = w - 8 * i;
    const float *p = x + iy * w + 8 * i;
    if (iy < 0 || iy >= h || n <= 0) v[i] = _mm256_setzero_ps();
    else if (iy < h - 1 || n >= 8) v[i] = _mm256_and_ps(_mm256_loadu_ps(p), keep[i]);
    else v[i] = em_load_part(p, (int)n);
  }
  for (int j = 0; j < nv; j++) {
    r.e[j] = in_order(_mm256_shuffle_ps(v[2 * j], v[2 * j + 1], _MM_SHUFFLE(2, 0, 2, 0)));
    r.o[j] = in_order(_mm256_shuffle_ps(v[2 * j], v[2 * j + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    __m256 sh = _mm256_permutevar8x32_ps(r.o[j], rot);
    r.ol[j] = _mm256_blend_ps(sh, j ? _mm256_permutevar8x32_ps(r.o[j - 1], rot) : _mm256_setzero_ps(), 1);
  }
  return r;
}

/* One kernel row on output vector j, in taps3's order. */
AVX2 static inline __m256 taps_s2(const __m256 *k, const row_s2 *r, int j) {
  return _mm256_fmadd_ps(k[2], r->o[j], _mm256_fmadd_ps(k[1], r->e[j], _mm256_mul_ps(k[0], r->ol[j])));
}

/* A 3x3 stride-2 plane 9-32 wide with padding 1 at top and left (0 or 1 at
** bottom and right: ShuffleNet's and MobileNet's 14x14 and 28x28 layers of
** stride 2), in registers: each input row is deinterleaved once into its
** even and odd columns; an odd row serves two output rows. Output rows are
** stored 8 wide, the lanes past wo falling on the next row, stored after
** it; the last row only its own. Same sums in the same order as the
** bordered kernel (a 14x14 plane through it spent more on the copy and the
** loop than on its 63 FMAs). */
AVX2 static inline __attribute__((always_inline))
void plane3x3_small_s2(const plane *q, int nv) {
  const int64_t h = q->h, w = q->w, ho = q->ho, wo = q->wo;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256 keep[4];
  for (int i = 0; i < 2 * nv; i++)
    keep[i] = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(w - 8 * i)), lane));
  const __m256 vb = _mm256_set1_ps(q->bias), vlo = _mm256_set1_ps(q->lo), vhi = _mm256_set1_ps(q->hi);
  __m256 kv[9];
  for (int i = 0; i < 9; i++) kv[i] = _mm256_set1_ps(q->k[i]);
  row_s2 r0 = small_row_s2(q->src, -1, h, w, keep, nv);
  for (int64_t oy = 0; oy < ho; oy++) {
    row_s2 r1 = small_row_s2(q->src, 2 * oy, h, w, keep, nv);
    row_s2 r2 = small_row_s2(q->src, 2 * oy + 1, h, w, keep, nv);
    float *o = q->dst + oy * wo;
    const float *res = q->res ? q->res + oy * wo : NULL;
    for (int j = 0; j < nv; j++) {
      __m256 acc = _mm256_add_ps(_mm256_add_ps(vb, taps_s2(kv, &r0, j)),
                                 _mm256_add_ps(taps_s2(kv + 3, &r1, j), taps_s2(kv + 6, &r2, j)));
      int64_t n = wo - 8 * j;   /* outputs of this vector in the row */
      int whole = oy < ho - 1 || n >= 8;
      if (res) acc = _mm256_add_ps(acc, whole ? _mm256_loadu_ps(res + 8 * j) : em_load_part(res + 8 * j, (int)n));
      if (q->clamp) acc = _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc));
      if (whole) _mm256_storeu_ps(o + 8 * j, acc);
      else em_store_part(o + 8 * j, acc, (int)n);
    }
    r0 = r2;
  }
}

/* Stride 1, padding 1 ("same"), planes over 64 wide (MobileNet's 112x112
** layer): each output row's vectors of 16 straight from the
** input rows, the edge columns through masked loads and the row's last
** vector through a masked store, so no copy into a bordered buffer; the
** next plane fetched into L2 meanwhile, as the bordered kernel does. */
AVX512 static void plane3x3_s1_avx512(const plane *q) {
  const int64_t h = q->h, w = q->w;
  const __m512 vb = _mm512_set1_ps(q->bias), vlo = _mm512_set1_ps(q->lo), vhi = _mm512_set1_ps(q->hi);
  const int64_t lines = (h * w * 4 + 63) / 64, share = (lines + h - 1) / h;
  __m512 kv[9];
  for (int i = 0; i < 9; i++) kv[i] = _mm512_set1_ps(q->k[i]);
  for (int64_t oy = 0; oy < h; oy++) {
    prefetch_next(q, oy, share, lines);
    const float *r[3];
    for (int ky = 0; ky < 3; ky++) r[ky] = oy - 1 + ky >= 0 && oy - 1 + ky < h ? q->src + (oy - 1 + ky) * w : NULL;
    for (int64_t x = 0; x < w; x += 16) {
      const lanes16 m = lanes_at(x, w);
      __m512 part[3];
      for (int ky = 0; ky < 3; ky++)
        part[ky] = r[ky] ? taps3z(kv + 3 * ky, _mm512_maskz_loadu_ps(m.l, r[ky] + x - 1),
                                  _mm512_maskz_loadu_ps(m.c, r[ky] + x),
                                  _mm512_maskz_loadu_ps(m.r, r[ky] + x + 1))
                         : _mm512_setzero_ps();
      __m512 acc = _mm512_add_ps(_mm512_add_ps(vb, part[0]), _mm512_add_ps(part[1], part[2]));
      if (q->res) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(m.c, q->res + oy * w + x));
      if (q->clamp) acc = _mm512_min_ps(vhi, _mm512_max_ps(vlo, acc));
      _mm512_mask_storeu_ps(q->dst + oy * w + x, m.c, acc);
    }
  }
}

/* plane3x3_small_s2 in 16 lanes: a row up to 32 wide is two masked loads,
** its evens and odds one permute each, and all its outputs (up to 16) one
** vector (two of 8 did past 16 wide). Same sums in the same order. */
typedef struct row_z { __m512 ol, e, o; } row_z;

AVX512 static inline row_z small_row_z(const float *x, int64_t iy, int64_t h, int64_t w) {
  row_z r;
  if (iy < 0 || iy >= h) {
    r.ol = r.e = r.o = _mm512_setzero_ps();
    return r;
  }
  const int64_t n1 = w - 16 > 0 ? w - 16 : 0;
  __m512 v0 = _mm512_maskz_loadu_ps((__mmask16)((1u << (w < 16 ? w : 16)) - 1), x + iy * w);
  __m512 v1 = _mm512_maskz_loadu_ps((__mmask16)((1u << n1) - 1), x + iy * w + 16);
  r.e = evens16(v0, v1);
  r.o = odds16(v0, v1);   /* column 2ox - 1 below: lane ox - 1 of the odds, 0 for ox 0 */
  r.ol = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(r.o), _mm512_setzero_si512(), 15));
  return r;
}

AVX512 static inline __m512 taps_z(const __m512 *k, const row_z *r) {
  return _mm512_fmadd_ps(k[2], r->o, _mm512_fmadd_ps(k[1], r->e, _mm512_mul_ps(k[0], r->ol)));
}

AVX512 static void plane3x3_small_s2_avx512(const plane *q) {
  const int64_t h = q->h, w = q->w, ho = q->ho, wo = q->wo;
  const __mmask16 mo = (__mmask16)((1u << wo) - 1);
  const __m512 vb = _mm512_set1_ps(q->bias), vlo = _mm512_set1_ps(q->lo), vhi = _mm512_set1_ps(q->hi);
  __m512 kv[9];
  for (int i = 0; i < 9; i++) kv[i] = _mm512_set1_ps(q->k[i]);
  row_z r0 = small_row_z(q->src, -1, h, w);
  for (int64_t oy = 0; oy < ho; oy++) {
    row_z r1 = small_row_z(q->src, 2 * oy, h, w), r2 = small_row_z(q->src, 2 * oy + 1, h, w);
    __m512 acc = _mm512_add_ps(_mm512_add_ps(vb, taps_z(kv, &r0)),
                               _mm512_add_ps(taps_z(kv + 3, &r1), taps_z(kv + 6, &r2)));
    if (q->res) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(mo, q->res + oy * wo));
    if (q->clamp) acc = _mm512_min_ps(vhi, _mm512_max_ps(vlo, acc));
    _mm512_mask_storeu_ps(q->dst + oy * wo, mo, acc);
    r0 = r2;
  }
}

AVX2 static void plane3x3_small_s2_avx2(const plane *q) {
  if (q->w <= 16) plane3x3_small_s2(q, 1);
  else plane3x3_small_s2(q, 2);
}

AVX2 static void plane3x3_padded_avx2(const plane *q, int s, int pt, int pl, float *pad, int64_t pw) {
  if (s == 1) plane3x3_padded_s(q, 1, pt, pl, pad, pw);
  else plane3x3_padded_s(q, 2, pt, pl, pad, pw);
}
AVX512 static void plane_generic_avx512(const plane *q, const em_conv_params *p) { plane_generic(q, p); }
#endif

/* Most floats of each thread's buffer for the padded kernel (64 KB, in L2;
** a 112x112 plane with its border fits). */
#define PAD_FLOATS 16384
/* Widest output the padded kernel takes: MobileNet's 112x112 layer of
** stride 1 ran 1.5-1.9x faster through it than with masked edges, its
** stride-2 layer on 112x112 planes as fast (2 cores, Zen 1). */
#define PADDED_MAX_WO 112

/* The padded kernel's buffer for a 3x3 layer of stride s (1 or 2): ph rows
** of pw floats, holding the input at (pt, pl) and zeros around it, wide and
** tall enough for every load of the 8-lane body (a row narrower than 8 is
** computed 8 wide; at stride 2 a block of 8 reads 17 columns). */
static inline void pad_size(const em_conv_params *p, int64_t h, int64_t w, int64_t ho, int64_t wo,
                            int64_t *ph, int64_t *pw) {
  int64_t s = p->sh, need_w = ((wo < 8 ? 8 : wo) - 8) * s + (s == 1 ? 10 : 17), need_h = (ho - 1) * s + 3;
  *pw = need_w > p->pl + w ? need_w : p->pl + w;
  *ph = need_h > p->pt + h ? need_h : p->pt + h;
}

/* Which kernel runs every plane: decided once per call. The 3x3 kernels
** take the widest vector that fits the columns clear of padding (MobileNet's
** last layers are 7 wide: 4 lanes there, 16 would leave all to scalar code);
** planes with outputs up to 112 wide go through the padded buffer instead. */
enum kind { GENERIC_C, GENERIC_AVX2, GENERIC_AVX512, K3_AVX2, K3_AVX512, K3_PADDED, K3_SMALL_S1,
             K3_SMALL_S1_AVX512, K3_SMALL_S2, K3_SMALL_S2_AVX512, K3_S1_AVX512 };

static enum kind pick(em_isa isa, const em_conv_params *p, int64_t h, int64_t w, int64_t ho,
                      int64_t wo) {
#if X86 && defined(__GNUC__)
  int k3 = p->kh == 3 && p->kw == 3 && p->dh == 1 && p->dw == 1 && p->sh == p->sw &&
           (p->sh == 1 || p->sh == 2);
  int64_t xa, xb, ph, pw;
  inner_span(w, wo, p->sw, -(int64_t)p->pl, 3, &xa, &xb);
  /* stride 1, 5-32 wide, "same" padding: in registers (from 5 wide the
  ** 9 floats a row's right taps read stay within the next row) */
  if (k3 && isa >= EM_ISA_AVX2 && p->sh == 1 && p->pt == 1 && p->pl == 1 && p->pb == 1 &&
      p->pr == 1 && w >= 5 && w <= 32 && ho == h && wo == w)
    return isa >= EM_ISA_AVX512 ? K3_SMALL_S1_AVX512 : K3_SMALL_S1;
  /* stride 1, "same", over 64 wide: 16 lanes straight from the input
  ** (MobileNet's 32x112x112 0.061 -> 0.055 ms in the net; its 144x56x56
  ** 0.069 -> 0.080, left to the bordered copy) */
  if (k3 && isa >= EM_ISA_AVX512 && p->sh == 1 && p->pt == 1 && p->pl == 1 && p->pb == 1 &&
      p->pr == 1 && w > 64 && ho == h && wo == w)
    return K3_S1_AVX512;
  /* stride 2, 9-32 wide, padding 1 at top and left: in registers */
  if (k3 && isa >= EM_ISA_AVX2 && p->sh == 2 && p->pt == 1 && p->pl == 1 && p->pb <= 1 &&
      p->pr <= 1 && w >= 9 && w <= 32)
    return isa >= EM_ISA_AVX512 ? K3_SMALL_S2_AVX512 : K3_SMALL_S2;
  /* stride 2 over planes wider than 32 with AVX-512: 16 lanes straight from
  ** the input (MobileNet's 96x112x112 0.074 -> 0.068 ms, 144x56x56 0.038 ->
  ** 0.029, 2 threads; at stride 1 the padded copy stays ahead) */
  if (k3 && isa >= EM_ISA_AVX512 && p->sh == 2 && w > 32 && xb - xa >= 16) return K3_AVX512;
  /* stride 2 over planes wider than 64, straight from the input: copying a
  ** 112x112 plane (50 KB) cost more than the padding's edges (MobileNet's
  ** 96x112x112 layer 0.78 -> 0.60 ms on one thread; at 56 wide and below
  ** the copy stays ahead) */
  if (k3 && isa >= EM_ISA_AVX2 && p->sh == 2 && p->pt == 1 && p->pl == 1 && w > 64 && w == 2 * wo)
    return K3_AVX2;
  if (k3 && isa >= EM_ISA_AVX2 && wo <= PADDED_MAX_WO) {
    pad_size(p, h, w, ho, wo, &ph, &pw);
    if (ph * pw + 8 <= PAD_FLOATS) return K3_PADDED;   /* + 8: a row tail stored whole */
  }
  if (isa >= EM_ISA_AVX512 && !k3) return GENERIC_AVX512;
  if (isa >= EM_ISA_AVX512 && xb - xa >= 16) return K3_AVX512;
  if (isa >= EM_ISA_AVX2 && !k3) return GENERIC_AVX2;
  if (isa >= EM_ISA_AVX2) return K3_AVX2;
#else
  (void)isa; (void)p; (void)h; (void)w; (void)ho; (void)wo;
#endif
  return GENERIC_C;
}

typedef struct dw_job {
  const em_dw_args *a;
  const em_conv_params *p;
  enum kind kind;
  float *pads;            /* each thread's padded plane (K3_PADDED) */
  int64_t padsz, pw, planes, per_group;
  int simple, clamp;
  float lo, hi;
} dw_job;

static void dw_planes(void *arg, int64_t i0, int64_t i1, int t) {
  const dw_job *j = arg;
  const em_dw_args *a = j->a;
  const em_conv_params *p = j->p;
  const int64_t planes = j->planes, per_group = j->per_group, pw = j->pw;
  const int simple = j->simple, clamp = j->clamp;
  const float lo = j->lo, hi = j->hi;
  float *pad = j->pads ? j->pads + t * j->padsz : NULL;
  const enum kind mine = j->kind;
  for (int64_t i = i0; i < i1; i++) {
    /* one image, one plane per group (MobileNet): no divisions, which
    ** cost a good part of a 7x7 plane's FMAs on Zen 1 */
    int64_t img = simple ? 0 : i / a->cout, oc = simple ? i : i % a->cout, osz = a->ho * a->wo;
    plane q;
    q.src = a->in + (img * a->cin + (simple ? oc : oc / per_group)) * a->h * a->w;
    q.next = NULL;
    if (simple && i + 1 < planes) q.next = q.src + a->h * a->w;
    else if (i + 1 < planes) {
      int64_t nx = i + 1, from = ((nx / a->cout) * a->cin + (nx % a->cout) / per_group) * a->h * a->w;
      if (a->in + from != q.src) q.next = a->in + from;
    }
    q.k = a->wt + oc * p->kh * p->kw;
    q.res = a->res ? a->res + i * osz : NULL;
    q.dst = a->out + i * osz;
    q.bias = a->bias ? a->bias[oc] : 0.0f;
    q.lo = lo; q.hi = hi; q.clamp = clamp;
    q.h = a->h; q.w = a->w; q.ho = a->ho; q.wo = a->wo;
    switch (mine) {
#if X86 && defined(__GNUC__)
    case K3_PADDED: plane3x3_padded_avx2(&q, p->sh, p->pt, p->pl, pad, pw); break;
    case K3_SMALL_S2: plane3x3_small_s2_avx2(&q); break;
    case K3_SMALL_S2_AVX512: plane3x3_small_s2_avx512(&q); break;
    case K3_S1_AVX512: plane3x3_s1_avx512(&q); break;
    case K3_SMALL_S1: plane3x3_small_s1_avx2(&q); break;
    case K3_SMALL_S1_AVX512: plane3x3_small_s1_avx512(&q); break;
    case K3_AVX512: plane3x3_avx512(&q, p->sh, p->pt, p->pl); break;
    case K3_AVX2: plane3x3_avx2(&q, p->sh, p->pt, p->pl); break;
    case GENERIC_AVX512: plane_generic_avx512(&q, p); break;
    case GENERIC_AVX2: plane_generic_avx2(&q, p); break;
#endif
    default: plane_generic_c(&q, p); break;
    }
  }
}

void em_depthwise_forward(em_ctx *ctx, const em_dw_args *a, const em_conv_params *p) {
  int64_t ph = 0;
  dw_job j = { a, p, pick(ctx->isa, p, a->h, a->w, a->ho, a->wo), NULL, 0, 0, a->n * a->cout,
               a->cout / p->groups, 0, a->act == EM_ACT_RELU || a->act == EM_ACT_CLAMP,
               a->act == EM_ACT_RELU ? 0.0f : a->lo, a->act == EM_ACT_RELU ? INFINITY : a->hi };
  j.simple = a->n == 1 && j.per_group == 1;
  if (j.kind == K3_PADDED) {
    /* each thread's padded plane: the border zeroed once, each plane then
    ** overwrites only the interior; without the memory the kernel runs
    ** with masked edges, same result */
    pad_size(p, a->h, a->w, a->ho, a->wo, &ph, &j.pw);
    j.padsz = ph * j.pw + 8;
    if (!(j.pads = calloc((size_t)(ctx->nthreads * j.padsz), sizeof(float)))) j.kind = K3_AVX2;
  }
  em_parallel(ctx, ctx->nthreads, j.planes, dw_planes, &j);
  free(j.pads);
}
