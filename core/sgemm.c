/* sgemm.c -- ember's own float matrix product (sgemm.h): a 6x16 register
** tile in AVX2+FMA (12 accumulators), a 6x8 one for narrow edges, 6x32,
** 6x48 and 6x16 tiles and a permuting kernel for 1-4 edge columns in
** AVX-512 (chosen at run time), a portable C tile, and the blocking and
** threading around them.
**
** Why not OpenBLAS here: a convolution at batch 1 is a short, wide product
** (m = output planes, n = output pixels, k = input planes x taps) that
** OpenBLAS reaches only after im2col wrote the whole k x n matrix to memory,
** and then it packs that matrix once more. Here the pack function of the
** caller fills one kc x nc block of B straight from the input image, the
** block stays in the core's L2 while every row panel of A runs over it, and
** the scale, bias, residual and clamp are applied as the tile is stored.
**
** A is read from panels of 6 rows, k after k (6 floats per k): packed once
** per call and k block into the thread's scratch, or packed ahead of time by
** the caller (Winograd's transformed weights). Reading the rows where they
** lie ran at 40% of OpenBLAS on a 1024-wide A: six rows 4 KB apart fall in
** the same L1 sets. */

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sgemm.h"
#include "simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#define MR EM_GEMM_MR
#define NR EM_GEMM_NR
#define KC EM_GEMM_KC   /* rows of a B block: a 16-column panel is 16 KB, in L1 */
#define NC EM_GEMM_NC   /* columns of a B block: kc x nc is 192 KB, in the 512 KB L2 */
#ifndef PAR_FLOPS
#define PAR_FLOPS (1 << 20)   /* below this a second thread costs more than it brings */
#endif

/* What a tile does when it stores: the first k block stores its product,
** later blocks add theirs to what C holds; the last one also scales, adds
** bias and residual, and clamps. */
typedef struct tile_ep {
  const float *scale;        /* the tile's 6 rows of scale, or NULL */
  const float *bias;         /* the tile's 6 rows of bias, or NULL */
  const float *res;          /* the tile's corner in the residual, or NULL */
  int64_t ldr;
  int first, last, clamp;
  float lo, hi;
  const float *pf;           /* the A panel the next tile reads, to prefetch (6 floats a k), or NULL */
} tile_ep;

/* a: the tile's A panel (a[k * 6 + r]); b: its B panel (b[k * 16 + l]);
** the first mr rows are stored. */
typedef void (*kern_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                        int mr, const tile_ep *e);

/* ------------------------------------------------------------ portable C */

/* The epilogue on one value v of row r, column l of the tile, stored at *o. */
static inline float finish(float v, const float *o, int r, int l, const tile_ep *e) {
  if (!e->first) v += *o;
  if (e->last) {
    if (e->scale) v *= e->scale[r];
    v += (e->bias ? e->bias[r] : 0.0f) + (e->res ? e->res[r * e->ldr + l] : 0.0f);
    if (e->clamp) {
      v = v < e->lo ? e->lo : v;
      v = v > e->hi ? e->hi : v;
    }
  }
  return v;
}

static void edge_c(const float *t, float *c, int64_t ldc, int mr, int nr, const tile_ep *e) {
  for (int r = 0; r < mr; r++)
    for (int l = 0; l < nr; l++) c[r * ldc + l] = finish(t[r * NR + l], c + r * ldc + l, r, l, e);
}

static void kern_c(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int mr,
                   const tile_ep *e) {
  float acc[MR][NR] = { { 0 } };
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR)
    for (int r = 0; r < MR; r++) {
      float x = a[r];
      for (int l = 0; l < NR; l++) acc[r][l] += x * b[l];
    }
  for (int r = 0; r < mr; r++) {
    float *o = c + r * ldc;
    for (int l = 0; l < NR; l++) {
      o[l] = finish(acc[r][l], o + l, r, l, e);
    }
  }
}

/* ------------------------------------------------------------ AVX2 + FMA */

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

/* n floats at p: 8 plainly, fewer in pieces (simd.h). */
AVX2 static inline __m256 load_n(const float *p, int n) {
  return n == 8 ? _mm256_loadu_ps(p) : em_load_part(p, n);
}

/* Columns l .. l + n - 1 (n <= 8) of row r of a tile, v, stored at o with
** the epilogue. */
AVX2 static inline void store8(float *o, __m256 v, int r, int l, int n, const tile_ep *e) {
  if (!e->first) v = _mm256_add_ps(v, load_n(o, n));
  if (e->last) {
    if (e->scale) v = _mm256_mul_ps(v, _mm256_set1_ps(e->scale[r]));
    if (e->bias) v = _mm256_add_ps(v, _mm256_set1_ps(e->bias[r]));
    if (e->res) v = _mm256_add_ps(v, load_n(e->res + r * e->ldr + l, n));
    if (e->clamp)
      v = _mm256_min_ps(_mm256_set1_ps(e->hi), _mm256_max_ps(_mm256_set1_ps(e->lo), v));   /* NaN stays */
  }
  if (n == 8) _mm256_storeu_ps(o, v);
  else em_store_part(o, v, n);
}

/* An edge tile's mr x nr corner of the bare product t (row stride NR) into
** c with the epilogue, 8 columns a vector, the last 1-7 read and written in
** pieces (scalar loops took a third of MobileNet's 32 -> 16 layer at
** 112x112 when 4-row tiles came here too, and a 14x14 output's 4-column
** edge 3% of a Winograd layer). */
AVX2 static void edge_avx2(const float *t, float *c, int64_t ldc, int mr, int nr,
                           const tile_ep *e) {
  for (int r = 0; r < mr; r++)
    for (int l = 0; l < nr; l += 8)
      store8(c + r * ldc + l, _mm256_loadu_ps(t + r * NR + l), r, l, nr - l < 8 ? nr - l : 8, e);
}

/* TILE(first, last, res, clamp) with e's flags as constants: one call of
** the store per combination, each inlined with its tests folded away. */
#define EPILOGUE(e, TILE)                                                      \
  do {                                                                         \
    if (!(e)->last) {                                                          \
      if ((e)->first) TILE(1, 0, 0, 0);                                        \
      else TILE(0, 0, 0, 0);                                                   \
      break;                                                                   \
    }                                                                          \
    switch (((e)->first ? 4 : 0) | ((e)->res ? 2 : 0) | ((e)->clamp ? 1 : 0)) { \
    case 0: TILE(0, 1, 0, 0); break;                                           \
    case 1: TILE(0, 1, 0, 1); break;                                           \
    case 2: TILE(0, 1, 1, 0); break;                                           \
    case 3: TILE(0, 1, 1, 1); break;                                           \
    case 4: TILE(1, 1, 0, 0); break;                                           \
    case 5: TILE(1, 1, 0, 1); break;                                           \
    case 6: TILE(1, 1, 1, 0); break;                                           \
    default: TILE(1, 1, 1, 1); break;                                          \
    }                                                                          \
  } while (0)

/* The 6 x 16 tile's epilogue with every choice but the scale made once per
** tile (first, last, res and clamp constants once inlined): store8's tests
** per vector cost ~140 cycles a tile, 13% of a 64 -> 256 1x1 layer. */
static const float zeros[MR] = { 0 };

AVX2 static inline __attribute__((always_inline))
void store_tile(float *c, int64_t ldc, int mr, __m256 acc[MR][2], const tile_ep *e,
                const int first, const int last, const int res, const int clamp) {
  const float *scale = e->scale, *bias = e->bias ? e->bias : zeros, *rs = e->res;
  const int64_t ldr = e->ldr;
  const __m256 lo = _mm256_set1_ps(e->lo), hi = _mm256_set1_ps(e->hi);
  for (int r = 0; r < MR && r < mr; r++) {
    float *o = c + r * ldc;
    const __m256 b = _mm256_set1_ps(bias[r]), s = _mm256_set1_ps(scale ? scale[r] : 1.0f);
    for (int h = 0; h < 2; h++) {
      __m256 v = acc[r][h];
      if (!first) v = _mm256_add_ps(v, _mm256_loadu_ps(o + 8 * h));
      if (last) {
        if (scale) v = _mm256_mul_ps(v, s);   /* as store8 rounds */
        v = _mm256_add_ps(v, b);
        if (res) v = _mm256_add_ps(v, _mm256_loadu_ps(rs + r * ldr + 8 * h));
        if (clamp) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));   /* NaN stays NaN, as em_act */
      }
      _mm256_storeu_ps(o + 8 * h, v);
    }
  }
}

#define ROW(r)                                            \
  x = _mm256_broadcast_ss(a + r);                         \
  c##r##0 = _mm256_fmadd_ps(x, b0, c##r##0);              \
  c##r##1 = _mm256_fmadd_ps(x, b1, c##r##1)

/* A 6 x 16 tile, or its first mr rows: a matrix with 16 rows has a 4-row
** panel in every third tile, stored here rather than through edge_tile.
** With src, the B panel is read from the plain matrix src (row stride lds)
** and stored to b as it goes: the first row panel of a block packs B for the
** others with loads and stores the FMAs leave room for (em_pack_mat on its
** own took 4-5% of MobileNet and ShuffleNet). */
AVX2 static inline __attribute__((always_inline))
void tile16(int64_t kc, const float *a, float *b, float *c, int64_t ldc, int mr,
            const tile_ep *e, const float *src, int64_t lds, const int64_t *off, const int rows) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
    __m256 b0, b1, x;
    if (src) {
      const float *r = off ? src + off[k] : src + k * lds;
      _mm_prefetch((const char *)(r + NR), _MM_HINT_T0);   /* the next panel's row */
      b0 = _mm256_loadu_ps(r);
      b1 = _mm256_loadu_ps(r + 8);
      _mm256_storeu_ps(b, b0);
      _mm256_storeu_ps(b + 8, b1);
    } else {
      b0 = _mm256_loadu_ps(b);
      b1 = _mm256_loadu_ps(b + 8);
    }
    ROW(0); ROW(1);
    if (rows > 2) { ROW(2); ROW(3); }
    if (rows > 4) { ROW(4); ROW(5); }
  }
  __m256 acc[MR][2] = { { c00, c01 }, { c10, c11 }, { c20, c21 },
                        { c30, c31 }, { c40, c41 }, { c50, c51 } };
#define TILE(f, l, r, k) store_tile(c, ldc, mr, acc, e, f, l, r, k)
  EPILOGUE(e, TILE);
#undef TILE
}

/* A last row panel of 1-4 rows (m = 16, 58, 160, 1000...) computes 4 or 2
** of them, not 6: its FMAs for rows past m were a tenth of a 16-row layer. */
AVX2 static void kern_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                           int mr, const tile_ep *e) {
  if (mr > 4) tile16(kc, a, (float *)b, c, ldc, mr, e, NULL, 0, NULL, 6);
  else if (mr > 2) tile16(kc, a, (float *)b, c, ldc, mr, e, NULL, 0, NULL, 4);
  else tile16(kc, a, (float *)b, c, ldc, mr, e, NULL, 0, NULL, 2);
}

/* B's rows at src + k * lds, or at src + off[k] (phase planes). */
AVX2 static void kern_pack_avx2(int64_t kc, const float *a, const float *src, int64_t lds,
                                const int64_t *off, float *b, float *c, int64_t ldc, int mr,
                                const tile_ep *e) {
  if (off) {
    if (mr > 4) tile16(kc, a, b, c, ldc, mr, e, src, 0, off, 6);
    else tile16(kc, a, b, c, ldc, mr, e, src, 0, off, 4);
    return;
  }
  if (mr > 4) tile16(kc, a, b, c, ldc, mr, e, src, lds, NULL, 6);
  else if (mr > 2) tile16(kc, a, b, c, ldc, mr, e, src, lds, NULL, 4);
  else tile16(kc, a, b, c, ldc, mr, e, src, lds, NULL, 2);
}
#undef ROW

/* The last panel of a matrix up to 8 columns wide (49 = 3 x 16 + 1 at 7x7):
** half the work of the 16-wide tile; raw product into c (an edge tile). */
#define ROW8(r)                                           \
  c##r = _mm256_fmadd_ps(_mm256_broadcast_ss(a + r), b0, c##r)

AVX2 static void kern8_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                            int mr, const tile_ep *e) {
  __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  (void)e; (void)mr;
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
    __m256 b0 = _mm256_loadu_ps(b);
    ROW8(0); ROW8(1); ROW8(2); ROW8(3); ROW8(4); ROW8(5);
  }
  _mm256_storeu_ps(c, c0);
  _mm256_storeu_ps(c + ldc, c1);
  _mm256_storeu_ps(c + 2 * ldc, c2);
  _mm256_storeu_ps(c + 3 * ldc, c3);
  _mm256_storeu_ps(c + 4 * ldc, c4);
  _mm256_storeu_ps(c + 5 * ldc, c5);
}
#undef ROW8

/* The last 3 or 4 columns (196 = 12 x 16 + 4 at 14x14): 128-bit vectors,
** half the FMA work per k of the 8-wide tile, two k at a time in separate
** accumulators against the FMA latency; raw product into t (row stride NR),
** lanes 4-7 zero. */
#define ROW1(r) c##r = _mm_fmadd_ps(_mm_broadcast_ss(a + r), b0, c##r)
#define ROW4(r) ROW1(r); d##r = _mm_fmadd_ps(_mm_broadcast_ss(a + MR + r), b1, d##r)

AVX2 static void kern4_avx2(int64_t kc, const float *a, const float *b, float *t) {
  __m128 c0 = _mm_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
  __m128 d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0;
  int64_t k = 0;
  for (; k + 2 <= kc; k += 2, a += 2 * MR, b += 2 * NR) {
    __m128 b0 = _mm_loadu_ps(b), b1 = _mm_loadu_ps(b + NR);
    ROW4(0); ROW4(1); ROW4(2); ROW4(3); ROW4(4); ROW4(5);
  }
  if (k < kc) {   /* an odd k's last row, into c alone */
    __m128 b0 = _mm_loadu_ps(b);
    ROW1(0); ROW1(1); ROW1(2); ROW1(3); ROW1(4); ROW1(5);
  }
  _mm256_storeu_ps(t, _mm256_zextps128_ps256(_mm_add_ps(c0, d0)));
  _mm256_storeu_ps(t + NR, _mm256_zextps128_ps256(_mm_add_ps(c1, d1)));
  _mm256_storeu_ps(t + 2 * NR, _mm256_zextps128_ps256(_mm_add_ps(c2, d2)));
  _mm256_storeu_ps(t + 3 * NR, _mm256_zextps128_ps256(_mm_add_ps(c3, d3)));
  _mm256_storeu_ps(t + 4 * NR, _mm256_zextps128_ps256(_mm_add_ps(c4, d4)));
  _mm256_storeu_ps(t + 5 * NR, _mm256_zextps128_ps256(_mm_add_ps(c5, d5)));
}
#undef ROW4
#undef ROW1

/* The last 1 or 2 columns (49 = 3 x 16 + 1 at 7x7, 3025 = 189 x 16 + 1 at
** 55x55): the A panel's 6 rows are the vector and each column's B value is
** broadcast, so a column costs one FMA per k instead of the 6 of the 8-wide
** tile (1.08x on 512x49x4608; at 4 columns it measured even with that tile).
** Four k at a time in separate accumulators, as an FMA waits 4-5 cycles for
** its sum (two: a 1024 -> 512 1x1 layer at 7x7 1.52 ms, four: 1.47, 48
** columns alone 1.36, one thread, Zen 1). Raw product into t (row stride NR). */
/* The 6 floats at p, lanes 6 and 7 zero: the panel's last k may end its
** buffer, where an 8-float load could cross into an unmapped page. */
AVX2 static inline __m256 load6(const float *p) {
  __m128 hi = _mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)(p + 4)));
  return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(p)), hi, 1);
}

AVX2 static inline void thin_cols(int64_t kc, const float *a, const float *b, float *t,
                                  const int nr) {
  __m256 s[2][4];
  int64_t k = 0;
  for (int l = 0; l < nr; l++) s[l][0] = s[l][1] = s[l][2] = s[l][3] = _mm256_setzero_ps();
  /* plain 8-float loads while they stay in the panel (their lanes 6 and 7,
  ** the next k's rows, are never stored): masked loads made the one
  ** column of a 7x7 layer cost as much as a 16-column tile on Zen 1 */
  for (; k + 5 <= kc; k += 4)
    for (int u = 0; u < 4; u++) {
      __m256 x = _mm256_loadu_ps(a + (k + u) * MR);
      for (int l = 0; l < nr; l++)
        s[l][u] = _mm256_fmadd_ps(x, _mm256_broadcast_ss(b + (k + u) * NR + l), s[l][u]);
    }
  for (; k < kc; k++) {
    __m256 x = load6(a + k * MR);
    for (int l = 0; l < nr; l++)
      s[l][0] = _mm256_fmadd_ps(x, _mm256_broadcast_ss(b + k * NR + l), s[l][0]);
  }
  for (int l = 0; l < nr; l++) {
    float v[8];
    _mm256_storeu_ps(v, _mm256_add_ps(_mm256_add_ps(s[l][0], s[l][1]), _mm256_add_ps(s[l][2], s[l][3])));
    for (int r = 0; r < MR; r++) t[r * NR + l] = v[r];
  }
}

AVX2 static void kern_thin_avx2(int64_t kc, const float *a, const float *b, float *t, int nr) {
  if (nr == 1) thin_cols(kc, a, b, t, 1);   /* a constant count, so each loop unrolls */
  else thin_cols(kc, a, b, t, 2);
}

/* ------------------------------------------------------------ AVX-512 */

/* Zen 5 and Intel's server cores run 16-float FMAs at the rate of 8-float
** ones: these tiles double the AVX2 tile's work per instruction. */
#define AVX512 __attribute__((target("avx512f,avx2,fma")))

/* store_tile for 6 rows of w zmm vectors (16 floats each). */
AVX512 static inline __attribute__((always_inline))
void store_zmm(float *c, int64_t ldc, int mr, __m512 acc[MR][3], const int w, const tile_ep *e,
               const int first, const int last, const int res, const int clamp) {
  const float *scale = e->scale, *bias = e->bias ? e->bias : zeros, *rs = e->res;
  const int64_t ldr = e->ldr;
  const __m512 lo = _mm512_set1_ps(e->lo), hi = _mm512_set1_ps(e->hi);
  for (int r = 0; r < MR && r < mr; r++) {
    float *o = c + r * ldc;
    const __m512 b = _mm512_set1_ps(bias[r]), s = _mm512_set1_ps(scale ? scale[r] : 1.0f);
    for (int h = 0; h < w; h++) {
      __m512 v = acc[r][h];
      if (!first) v = _mm512_add_ps(v, _mm512_loadu_ps(o + 16 * h));
      if (last) {
        if (scale) v = _mm512_mul_ps(v, s);
        v = _mm512_add_ps(v, b);
        if (res) v = _mm512_add_ps(v, _mm512_loadu_ps(rs + r * ldr + 16 * h));
        if (clamp) v = _mm512_min_ps(hi, _mm512_max_ps(lo, v));
      }
      _mm512_storeu_ps(o + 16 * h, v);
    }
  }
}

/* The epilogue's choices made once per tile, as tile16 does. */
AVX512 static inline __attribute__((always_inline))
void finish_zmm(float *c, int64_t ldc, int mr, __m512 acc[MR][3], const int w, const tile_ep *e) {
#define ZTILE(f, l, r, k) store_zmm(c, ldc, mr, acc, w, e, f, l, r, k)
  EPILOGUE(e, ZTILE);
#undef ZTILE
}

#define ZROW(r)                                        \
  x = _mm512_set1_ps(a[r]);                            \
  c##r##0 = _mm512_fmadd_ps(x, b0, c##r##0);           \
  c##r##1 = _mm512_fmadd_ps(x, b1, c##r##1);           \
  if (np > 2) c##r##2 = _mm512_fmadd_ps(x, b2, c##r##2)

/* A 6 x 16np tile over np (2 or 3) B panels, b, b + ps, b + 2ps (with src,
** packed from the plain matrix as it goes, as tile16 does): 12 or 18 zmm
** accumulators keep both FMA pipes busy through their latency. Three
** panels take an odd count's last three (49 = 3 x 16 + 1 at 7x7): the lone
** 6 x 16 tile loads 7 times for its 6 FMAs a k and ran 1.38x slower a
** column than two panels in a 256 x 48 x 832 product. */
AVX512 static inline __attribute__((always_inline))
void tile_wide(int64_t kc, const float *a, float *b, int64_t ps, float *c, int64_t ldc, int mr,
               const tile_ep *e, const float *src, int64_t lds, const int64_t *off, const int rows,
               const int np) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00,
         c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00, c40 = c00,
         c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
  const float *pf = e->pf;
  for (int64_t k = 0; k < kc; k++, a += MR, b += NR) {
    __m512 b0, b1, b2 = c00, x;
    if (src) {
      const float *r = off ? src + off[k] : src + k * lds;
      _mm_prefetch((const char *)(r + np * NR), _MM_HINT_T0);   /* the next tile's row */
      b0 = _mm512_loadu_ps(r);
      b1 = _mm512_loadu_ps(r + NR);
      _mm512_storeu_ps(b, b0);
      _mm512_storeu_ps(b + ps, b1);
      if (np > 2) {
        b2 = _mm512_loadu_ps(r + 2 * NR);
        _mm512_storeu_ps(b + 2 * ps, b2);
      }
    } else {
      b0 = _mm512_loadu_ps(b);
      b1 = _mm512_loadu_ps(b + ps);
      if (np > 2) b2 = _mm512_loadu_ps(b + 2 * ps);
    }
    if (pf) _mm_prefetch((const char *)(pf + k * MR), _MM_HINT_T0);
    ZROW(0); ZROW(1);
    if (rows > 2) { ZROW(2); ZROW(3); }
    if (rows > 4) { ZROW(4); ZROW(5); }
  }
  __m512 acc[MR][3] = { { c00, c01, c02 }, { c10, c11, c12 }, { c20, c21, c22 },
                        { c30, c31, c32 }, { c40, c41, c42 }, { c50, c51, c52 } };
  finish_zmm(c, ldc, mr, acc, np, e);
}
#undef ZROW

/* kern2_fn and pack_kern2_fn for np panels, rows (6, 4 or 2) for mr. */
#define KERN_NP(name, np)                                                                   \
  AVX512 static void name(int64_t kc, const float *a, const float *b, int64_t ps, float *c, \
                          int64_t ldc, int mr, const tile_ep *e) {                          \
    if (mr > 4) tile_wide(kc, a, (float *)b, ps, c, ldc, mr, e, NULL, 0, NULL, 6, np);      \
    else if (mr > 2) tile_wide(kc, a, (float *)b, ps, c, ldc, mr, e, NULL, 0, NULL, 4, np); \
    else tile_wide(kc, a, (float *)b, ps, c, ldc, mr, e, NULL, 0, NULL, 2, np);             \
  }
#define KERN_PACK_NP(name, np)                                                              \
  AVX512 static void name(int64_t kc, const float *a, const float *src, int64_t lds,        \
                          const int64_t *off, float *b, int64_t ps, float *c, int64_t ldc,  \
                          int mr, const tile_ep *e) {                                       \
    if (off) {                                                                              \
      if (mr > 4) tile_wide(kc, a, b, ps, c, ldc, mr, e, src, 0, off, 6, np);               \
      else tile_wide(kc, a, b, ps, c, ldc, mr, e, src, 0, off, 4, np);                      \
      return;                                                                               \
    }                                                                                       \
    if (mr > 4) tile_wide(kc, a, b, ps, c, ldc, mr, e, src, lds, NULL, 6, np);              \
    else if (mr > 2) tile_wide(kc, a, b, ps, c, ldc, mr, e, src, lds, NULL, 4, np);         \
    else tile_wide(kc, a, b, ps, c, ldc, mr, e, src, lds, NULL, 2, np);                     \
  }
KERN_NP(kern2_avx512, 2)
KERN_NP(kern3_avx512, 3)
KERN_PACK_NP(kern2_pack_avx512, 2)
KERN_PACK_NP(kern3_pack_avx512, 3)
#undef KERN_NP
#undef KERN_PACK_NP

/* One 6 x 16 panel (an odd one out): even and odd k in separate
** accumulators, as six alone would wait on the FMA latency. */
#define ZROW(r)                                                          \
  c##r##0 = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, c##r##0);          \
  c##r##1 = _mm512_fmadd_ps(_mm512_set1_ps(a[MR + r]), b1, c##r##1)
#define ZROW1(r) c##r##0 = _mm512_fmadd_ps(_mm512_set1_ps(a[r]), b0, c##r##0)

AVX512 static void kern_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc,
                               int mr, const tile_ep *e) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, b0, b1;
  int64_t k = 0;
  for (; k + 2 <= kc; k += 2, a += 2 * MR, b += 2 * NR) {
    b0 = _mm512_loadu_ps(b);
    b1 = _mm512_loadu_ps(b + NR);
    ZROW(0); ZROW(1); ZROW(2); ZROW(3); ZROW(4); ZROW(5);
  }
  if (k < kc) {
    b0 = _mm512_loadu_ps(b);
    ZROW1(0); ZROW1(1); ZROW1(2); ZROW1(3); ZROW1(4); ZROW1(5);
  }
  __m512 acc[MR][3] = { { _mm512_add_ps(c00, c01) }, { _mm512_add_ps(c10, c11) },
                        { _mm512_add_ps(c20, c21) }, { _mm512_add_ps(c30, c31) },
                        { _mm512_add_ps(c40, c41) }, { _mm512_add_ps(c50, c51) } };
  finish_zmm(c, ldc, mr, acc, 1, e);
}
#undef ZROW1
#undef ZROW

/* The last 1-4 columns with 16 lanes: eight k of the A panel are 48
** floats, three vectors, each multiplied by its lanes' B values (col: the
** columns' B contiguous, col[l * kc + k]) spread by a permute, so a column
** costs 3 FMAs per 8 k instead of 8 (thin_cols) or 6 (the 4-column tile).
** One and two columns take 16 k a step, for chains enough against the FMA
** latency. Raw product into t (row stride NR). */
AVX512 static inline __attribute__((always_inline))
void thin_zmm(int64_t kc, const float *a, const float *col, float *t, const int nr) {
  const __m512i i0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2),
                i1 = _mm512_setr_epi32(2, 2, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 5, 5),
                i2 = _mm512_setr_epi32(5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7);
  const int U = nr <= 2 ? 2 : 1;
  __m512 s[4][2][3];
  int64_t k = 0;
  for (int l = 0; l < nr; l++)
    for (int u = 0; u < U; u++) s[l][u][0] = s[l][u][1] = s[l][u][2] = _mm512_setzero_ps();
  for (; k + 8 * U <= kc; k += 8 * U)
    for (int u = 0; u < U; u++) {
      const float *p = a + (k + 8 * u) * MR;
      __m512 x0 = _mm512_loadu_ps(p), x1 = _mm512_loadu_ps(p + 16), x2 = _mm512_loadu_ps(p + 32);
      for (int l = 0; l < nr; l++) {
        __m512 v = _mm512_castps256_ps512(_mm256_loadu_ps(col + l * kc + k + 8 * u));
        s[l][u][0] = _mm512_fmadd_ps(x0, _mm512_permutexvar_ps(i0, v), s[l][u][0]);
        s[l][u][1] = _mm512_fmadd_ps(x1, _mm512_permutexvar_ps(i1, v), s[l][u][1]);
        s[l][u][2] = _mm512_fmadd_ps(x2, _mm512_permutexvar_ps(i2, v), s[l][u][2]);
      }
    }
  for (int l = 0; l < nr; l++) {
    float v[48], y[MR];
    for (int h = 0; h < 3; h++)
      _mm512_storeu_ps(v + 16 * h, U == 2 ? _mm512_add_ps(s[l][0][h], s[l][1][h]) : s[l][0][h]);
    for (int r = 0; r < MR; r++) {
      y[r] = 0.0f;
      for (int q = 0; q < 8; q++) y[r] += v[q * MR + r];
    }
    for (int64_t j = k; j < kc; j++)   /* the last kc % (8U) */
      for (int r = 0; r < MR; r++) y[r] += a[j * MR + r] * col[l * kc + j];
    for (int r = 0; r < MR; r++) t[r * NR + l] = y[r];
  }
}

AVX512 static void kern_thin_avx512(int64_t kc, const float *a, const float *col, float *t, int nr) {
  switch (nr) {   /* a constant count, so each loop unrolls */
  case 1: thin_zmm(kc, a, col, t, 1); break;
  case 2: thin_zmm(kc, a, col, t, 2); break;
  case 3: thin_zmm(kc, a, col, t, 3); break;
  default: thin_zmm(kc, a, col, t, 4); break;
  }
}
#endif


typedef void (*thin_fn)(int64_t kc, const float *a, const float *b, float *t, int nr);
typedef void (*quad_fn)(int64_t kc, const float *a, const float *b, float *t);

typedef void (*edge_fn)(const float *t, float *c, int64_t ldc, int mr, int nr, const tile_ep *e);

typedef void (*pack_kern_fn)(int64_t kc, const float *a, const float *src, int64_t lds,
                             const int64_t *off, float *b, float *c, int64_t ldc, int mr,
                             const tile_ep *e);

typedef void (*kern2_fn)(int64_t kc, const float *a, const float *b, int64_t ps, float *c,
                         int64_t ldc, int mr, const tile_ep *e);
typedef void (*pack_kern2_fn)(int64_t kc, const float *a, const float *src, int64_t lds,
                              const int64_t *off, float *b, int64_t ps, float *c, int64_t ldc,
                              int mr, const tile_ep *e);

typedef struct kernels {
  kern_fn full;     /* 6 x 16, epilogue applied */
  kern_fn narrow;   /* 6 x 8 bare product, for edge tiles up to 8 wide */
  thin_fn thin;     /* 6 x 1-2 bare product, or NULL */
  thin_fn thin_col; /* 6 x 1-4 bare product from the columns laid out contiguous, or NULL */
  quad_fn quad;     /* 6 x 3-4 bare product, or NULL */
  edge_fn edge;     /* an edge tile's bare product into C, epilogue applied */
  pack_kern_fn full_pack;   /* full, packing its B panel from a plain matrix, or NULL */
  kern2_fn full2;   /* 6 x 32 over two panels ps floats apart, or NULL */
  pack_kern2_fn full2_pack;   /* full2, packing both panels, or NULL */
  kern2_fn full3;   /* 6 x 48 over three panels, or NULL */
  pack_kern2_fn full3_pack;   /* full3, packing the three panels, or NULL */
  int avx2;         /* A packed with AVX2 */
} kernels;

static kernels pick_kernels(em_isa isa) {
  kernels k = { kern_c, kern_c, NULL, NULL, NULL, edge_c, NULL, NULL, NULL, NULL, NULL, 0 };
#if defined(__x86_64__) || defined(__i386__)
  if (isa >= EM_ISA_AVX2) {
    k.full = kern_avx2;
    k.narrow = kern8_avx2;
    k.thin = kern_thin_avx2;
    k.quad = kern4_avx2;
    k.edge = edge_avx2;
    k.full_pack = kern_pack_avx2;
    k.avx2 = 1;
  }
  if (isa >= EM_ISA_AVX512) {
    k.full = k.narrow = kern_avx512;   /* 16 lanes cost one vector, as 8 did */
    k.full2 = kern2_avx512;
    k.full2_pack = kern2_pack_avx512;
    k.full3 = kern3_avx512;
    k.full3_pack = kern3_pack_avx512;
    k.thin_col = kern_thin_avx512;
  }
#endif
  (void)isa;
  return k;
}

/* ------------------------------------------------------------ blocking */

/* A tile narrower than 16 at the matrix's right edge: the kernel writes the
** bare product into a local tile, the epilogue runs here on what fits. */
static void edge_tile(const kernels *kern, int64_t kc, const float *a, const float *b,
                      const float *col, float *c, int64_t ldc, int mr, int nr, const tile_ep *e) {
  float t[MR * NR];
  tile_ep raw = { NULL, NULL, NULL, 0, 1, 0, 0, 0.0f, 0.0f, NULL };
  if (col) kern->thin_col(kc, a, col, t, nr);
  else if (nr <= 2 && kern->thin) kern->thin(kc, a, b, t, nr);
  else if (nr <= 4 && kern->quad) kern->quad(kc, a, b, t);
  else if (nr > 8 && nr <= 10 && kern->thin && kern->narrow != kern->full) {   /* 169 = 10 x 16 + 9 at 13x13 */
    kern->narrow(kc, a, b, t, NR, MR, &raw);
    kern->thin(kc, a, b + 8, t + 8, nr - 8);
  } else (nr <= 8 ? kern->narrow : kern->full)(kc, a, b, t, NR, MR, &raw);
  kern->edge(t, c, ldc, mr, nr, e);
}

static int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

/* k is cut into equal blocks of at most KC rows, except where A comes packed
** ahead and B is narrow (Winograd's 16-tile products, 13x13 and 14x14
** outputs): there each panel of A is read by one or two tiles only, and
** cutting its k in two broke the stream the prefetches keep up (a 384 ->
** 256 layer at 13x13 with its weight from memory took 1.30 ms against 0.40
** for 256 -> 256, whose k fits one block). */
#ifndef WHOLE_K_BYTES
#define WHOLE_K_BYTES (256 << 10)
#endif
static int64_t k_block(const em_gemm *g) {
  int64_t nb = (g->k + KC - 1) / KC;
  if (g->ap && round_up(g->n, NR) * g->k * (int64_t)sizeof(float) <= WHOLE_K_BYTES) return g->k;
  return (g->k + nb - 1) / nb;
}

/* Rows [i0, i0 + 6p) of A (p panels; rows past m repeat the last),
** columns [k0, k0 + kc), as panels of kc x 6 at dst, dst + 6kc, ...
** Per call and k block, so it runs once for every 2 * n flops the tiles
** do with it: at n = 49 (7x7 outputs) a scalar transpose cost a quarter of
** the product, hence the AVX2 one. */
static void pack_a_c(const float *const row[MR], int64_t k, int64_t kc, float *dst) {
  for (; k < kc; k++)
    for (int r = 0; r < MR; r++) dst[k * MR + r] = row[r][k];
}

#if defined(__x86_64__) || defined(__i386__)
/* 8 columns at a time: rows 0-5 (and two of zeros) transposed 8x8, each
** column's 6 values stored with an 8-wide store whose last two lanes the
** next column's store overwrites; the panel's last 8 columns or fewer go
** through pack_a_c, so nothing is written past the panel. */
AVX2 static void pack_a_avx2(const float *const row[MR], int64_t kc, float *dst) {
  int64_t k = 0;
  for (; k + 8 < kc; k += 8) {
    __m256 z = _mm256_setzero_ps();
    __m256 r0 = _mm256_loadu_ps(row[0] + k), r1 = _mm256_loadu_ps(row[1] + k);
    __m256 r2 = _mm256_loadu_ps(row[2] + k), r3 = _mm256_loadu_ps(row[3] + k);
    __m256 r4 = _mm256_loadu_ps(row[4] + k), r5 = _mm256_loadu_ps(row[5] + k);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(z, z), t7 = t6;
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    float *d = dst + k * MR;
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + 6, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 12, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 18, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 24, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 30, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 36, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 42, _mm256_permute2f128_ps(u3, u7, 0x31));
  }
  pack_a_c(row, k, kc, dst);
}
#endif

static void pack_a(int avx2, const float *a, int64_t lda, int64_t m, int64_t i0, int64_t p,
                   int64_t k0, int64_t kc, float *dst) {
  for (int64_t q = 0; q < p; q++, dst += MR * kc) {
    const float *row[MR];
    for (int r = 0; r < MR; r++) {
      int64_t i = i0 + q * MR + r;
      row[r] = a + (i < m ? i : m - 1) * lda + k0;
    }
#if defined(__x86_64__) || defined(__i386__)
    if (avx2) {
      pack_a_avx2(row, kc, dst);
      continue;
    }
#endif
    (void)avx2;
    pack_a_c(row, 0, kc, dst);
  }
}

typedef struct pack_job { int avx2; const float *a; int64_t lda, m, k; float *dst; } pack_job;

static void pack_panels(void *arg, int64_t q0, int64_t q1, int t) {
  const pack_job *j = arg;
  (void)t;
  pack_a(j->avx2, j->a, j->lda, j->m, q0 * MR, q1 - q0, 0, j->k, j->dst + q0 * MR * j->k);
}

void em_gemm_pack_a(const em_ctx *ctx, const float *a, int64_t lda, int64_t m, int64_t k,
                    float *dst) {
  int64_t np = (m + MR - 1) / MR;
  pack_job j = { pick_kernels(ctx->isa).avx2, a, lda, m, k, dst };
  em_parallel(ctx, np * k >= 65536 ? ctx->nthreads : 1, np, pack_panels, &j);
}

/* A packed ahead comes from memory (a weight, read once a forward), its
** panels' k blocks 6k floats apart, too far for the hardware prefetcher to
** follow: the first tile of a panel fetches the block PREFETCH panels on
** (the next k block's panels after the last), and its 2048 -> 512 layer at
** 7x7, weights out of cache, ran 1.25x faster at 3 than without. */
#ifndef PREFETCH
#define PREFETCH 3
#endif
static const float *prefetch_panel(const em_gemm *g, int64_t i0, int64_t i1, int64_t i,
                                   int64_t pc, int64_t kc) {
  int64_t np = (i1 - i0 + MR - 1) / MR, q = (i - i0) / MR + PREFETCH;
  if (q < np) return g->ap + (i0 + q * MR) * g->k + pc * MR;
  if (pc + kc < g->k && q - np < np) return g->ap + (i0 + (q - np) * MR) * g->k + (pc + kc) * MR;
  return NULL;
}

#define THIN_COLS 4   /* edges this narrow go to thin_col */
#define COL_K 1024    /* most k of an edge laid out for thin_col (16 KB on the stack) */

/* Rows [i0, i1) and columns [j0, j1) of C, on one thread; i0 a multiple of 6.
** k blocks outermost: A's block is packed once and serves every column. */
static void run_block(const kernels *kern, const em_gemm *g, int64_t i0, int64_t i1, int64_t j0,
                      int64_t j1, float *buf) {
  int64_t kcb = k_block(g), np = (i1 - i0 + MR - 1) / MR;
  /* the columns in nb blocks of at most NC, their panels shared out evenly
  ** (784 = 4 x 192 + 16 at 28x28 left a lone 16-column block) */
  const int64_t P = (j1 - j0 + NR - 1) / NR, nb = (P + NC / NR - 1) / (NC / NR);
  float *abuf = buf, *bbuf = buf + (g->ap ? 0 : round_up(g->m, MR) * kcb);
  /* B a plain matrix: its full panels packed by the first row panel's tiles */
  const em_gemm_mat *mat = g->pack == em_pack_mat ? g->src : NULL;
  const int fused = !g->bp && mat && kern->full_pack;
  /* the residual is C itself: one k block reads it as it stores (the sums
  ** of a separate residual's), more add to it from the first (with a scale
  ** the caller keeps k to one block) */
  const int inres = g->res == g->c && !g->scale && kcb < g->k;
  float cols[THIN_COLS * COL_K];
  for (int64_t pc = 0; pc < g->k; pc += kcb) {
    int64_t kc = g->k - pc < kcb ? g->k - pc : kcb;
    tile_ep e = { NULL, NULL, NULL, g->ldc, pc == 0 && !inres, pc + kc == g->k, g->clamp, g->lo, g->hi,
                  NULL };
    if (!g->ap) pack_a(kern->avx2, g->a, g->lda, g->m, i0, np, pc, kc, abuf);
    for (int64_t q = 0; q < nb; q++) {
      int64_t jc = j0 + P * q / nb * NR, je = j0 + P * (q + 1) / nb * NR;
      int64_t nc = (je < j1 ? je : j1) - jc, full = nc / NR * NR;
      /* a last panel of 1-4 columns goes contiguous to thin_col: from the
      ** plain matrix, else from its packed panel */
      const int thin = kern->thin_col && nc - full && nc - full <= THIN_COLS && kc <= COL_K;
      const float *col = thin ? cols : NULL;
      if (fused && full < nc && thin) {   /* the tiles pack the full panels */
        for (int64_t r = 0; r < kc; r++) {
          const float *row = mat->b + (mat->rowoff ? mat->rowoff[pc + r] : (pc + r) * mat->ldb) + jc + full;
          for (int l = 0; l < nc - full; l++) cols[l * kc + r] = row[l];
        }
      } else if (fused && full < nc)
        em_pack_mat(g->src, pc, kc, jc + full, nc - full, bbuf + full * kc);
      else if (!g->bp && !fused)
        g->pack(g->src, pc, kc, jc, nc, bbuf);
      if (thin && !fused) {
        const float *b = g->bp ? g->bp + (jc + full) / NR * g->bps + pc * NR : bbuf + full * kc;
        for (int l = 0; l < nc - full; l++)
          for (int64_t r = 0; r < kc; r++) cols[l * kc + r] = b[r * NR + l];
      }
      /* a tile's A panel (6 x kc) stays in L1 while it runs along the block */
      for (int64_t i = i0; i < i1; i += MR) {
        int mr = i1 - i < MR ? (int)(i1 - i) : MR;
        const float *a = g->ap ? g->ap + i * g->k + pc * MR : abuf + (i - i0) * kc;
        e.bias = g->bias ? g->bias + i : NULL;
        e.scale = g->scale ? g->scale + i : NULL;
        const float *pf = g->ap ? prefetch_panel(g, i0, i1, i, pc, kc) : NULL;
        for (int64_t jr = 0; jr < nc; jr += NR) {
          int nr = nc - jr < NR ? (int)(nc - jr) : NR;
          float *c = g->c + i * g->ldc + jc + jr;
          const float *b = g->bp ? g->bp + (jc + jr) / NR * g->bps + pc * NR : bbuf + jr * kc;
          const int64_t ps = g->bp ? g->bps : NR * kc;   /* from one panel to the next */
          e.res = g->res && !inres ? g->res + i * g->ldc + jc + jr : NULL;
          e.pf = jr == 0 ? pf : NULL;
          const int64_t left = (nc - jr) / NR;   /* full panels from here */
          const float *raw = fused ? mat->b + (mat->rowoff ? 0 : pc * mat->ldb) + jc + jr : NULL;
          const int64_t *off = fused && mat->rowoff ? mat->rowoff + pc : NULL;
          if (nr < NR) edge_tile(kern, kc, a, b, col, c, g->ldc, mr, nr, &e);
          else if (kern->full3 && left >= 3 && left % 2) {   /* an odd count's three */
            if (fused && i == i0)
              kern->full3_pack(kc, a, raw, mat->ldb, off, bbuf + jr * kc, ps, c, g->ldc, mr, &e);
            else kern->full3(kc, a, b, ps, c, g->ldc, mr, &e);
            jr += 2 * NR;
          } else if (kern->full2 && left >= 2) {   /* two panels at once */
            if (fused && i == i0)
              kern->full2_pack(kc, a, raw, mat->ldb, off, bbuf + jr * kc, ps, c, g->ldc, mr, &e);
            else kern->full2(kc, a, b, ps, c, g->ldc, mr, &e);
            jr += NR;
          } else if (fused && i == i0)
            kern->full_pack(kc, a, raw, mat->ldb, off, bbuf + jr * kc, c, g->ldc, mr, &e);
          else kern->full(kc, a, b, c, g->ldc, mr, &e);
        }
      }
    }
  }
}

int64_t em_gemm_scratch(int nthreads, const em_gemm *g) {
  int64_t nc = round_up(g->n, NR) < NC ? round_up(g->n, NR) : NC;
  int64_t per = (g->ap ? 0 : round_up(g->m, MR)) + (g->bp ? 0 : nc);
  return (int64_t)(nthreads > 0 ? nthreads : 1) * k_block(g) * per;
}

/* What column panel p of n columns costs, in sixteenths of a full one
** (one thread, Zen 1, products of 192 + r columns against 192 and 208: an
** edge of 3-4 columns adds 0.6 of a panel, one of 5-8 0.9, one of 9 1.1;
** one of 1-2 a quarter of a panel's FMAs, though the rows it leaves out
** of line slow the other tiles down too). */
static int64_t col_cost(int64_t p, int64_t n) {
  int64_t nr = n - p * NR < NR ? n - p * NR : NR;
  return nr <= 2 ? 4 : nr <= 4 ? 10 : nr <= 8 ? 16 : nr <= 10 ? 20 : 16;
}

/* Where thread t of nth starts among the np column panels: the first panel
** at which the work before it reaches t / nth of the whole, so an edge
** panel counts for what it costs (196 = 12 x 16 + 4 columns: 6 + 6.6
** panels of work, not 7 + 5.6). */
static int64_t col_start(int64_t n, int64_t np, int t, int nth) {
  int64_t total = 0, done = 0, p = 0;
  if (t <= 0) return 0;
  if (t >= nth) return np;
  for (int64_t q = 0; q < np; q++) total += col_cost(q, n);
  for (; p < np && (2 * done + col_cost(p, n)) * nth <= 2 * total * t; p++) done += col_cost(p, n);
  return p;
}

typedef struct run_job {
  kernels kern;
  const em_gemm *g;
  float *scratch;
  int64_t per, np, parts;
  int split_rows;
} run_job;

/* Parts [q0, q1) of `parts`: row panels, or column slices split by cost. */
static void run_parts(void *arg, int64_t q0, int64_t q1, int t) {
  const run_job *j = arg;
  const em_gemm *g = j->g;
  float *buf = j->scratch ? j->scratch + t * j->per : NULL;
  int64_t p0, p1;
  if (j->split_rows)
    run_block(&j->kern, g, q0 * MR, q1 * MR < g->m ? q1 * MR : g->m, 0, g->n, buf);
  else if ((p0 = col_start(g->n, j->np, q0, j->parts)) < (p1 = col_start(g->n, j->np, q1, j->parts)))
    run_block(&j->kern, g, 0, g->m, p0 * NR, p1 * NR < g->n ? p1 * NR : g->n, buf);
}

/* Threads split C by rows when A (the weight) is the larger operand, so each
** reads its share of it, and by columns otherwise, so each packs its share
** of B (split by its cost, see col_start). */
void em_gemm_run(const em_ctx *ctx, const em_gemm *g, float *scratch) {
  run_job j = { pick_kernels(ctx->isa), g, scratch, em_gemm_scratch(1, g), 0, 0, 0 };
  int64_t mp = (g->m + MR - 1) / MR;
  int nt = 2.0 * g->m * g->n * g->k < PAR_FLOPS ? 1 : ctx->nthreads;
  j.np = (g->n + NR - 1) / NR;
  j.split_rows = g->m > g->n && mp >= ctx->nthreads;
  j.parts = j.split_rows ? mp : j.np < nt ? j.np : nt;
  em_parallel(ctx, nt, j.parts, run_parts, &j);
}

/* Row after row, so the reads run along B's rows (the writes, 16 floats to
** each panel, land in the block, which stays in cache). */
void em_pack_mat(const void *src, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
  const em_gemm_mat *s = src;
  int64_t full = nc / NR * NR;
  for (int64_t r = 0; r < kc; r++) {
    const float *b = s->b + (s->rowoff ? s->rowoff[k0 + r] : (k0 + r) * s->ldb) + j0;
    float *d = dst + r * NR;
    for (int64_t p = 0; p < full; p += NR) memcpy(d + p * kc, b + p, NR * sizeof *d);
    if (full < nc) {
      memcpy(d + full * kc, b + full, (size_t)(nc - full) * sizeof *d);
      memset(d + full * kc + (nc - full), 0, (size_t)(NR - (nc - full)) * sizeof *d);
    }
  }
}

em_status em_matmul(const em_ctx *ctx, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                    const float *b, int64_t ldb, const float *bias, float *c, int64_t ldc,
                    em_err *err) {
  if (ctx->isa < EM_ISA_AVX2) {
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)
      return em_fail(err, EM_ENOMEM, "matmul: %lld x %lld x %lld too large for OpenBLAS",
                     (long long)m, (long long)n, (long long)k);
    em_sgemm(0, 0, (int)m, (int)n, (int)k, 1.0f, a, (int)lda, b, (int)ldb, 0.0f, c, (int)ldc);
    for (int64_t i = 0; bias && i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] += bias[i];
    return EM_OK;
  }
  em_gemm_mat mat = { b, ldb, NULL };
  em_gemm g = { .m = m, .n = n, .k = k, .a = a, .lda = lda, .pack = em_pack_mat, .src = &mat,
                .c = c, .ldc = ldc, .bias = bias };
  float *scratch = malloc((size_t)em_gemm_scratch(ctx->nthreads, &g) * sizeof *scratch);
  if (!scratch)
    return em_fail(err, EM_ENOMEM, "matmul: out of memory for a %lld x %lld x %lld product's scratch",
                   (long long)m, (long long)n, (long long)k);
  em_gemm_run(ctx, &g, scratch);
  free(scratch);
  return EM_OK;
}
