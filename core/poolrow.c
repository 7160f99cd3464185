/* poolrow.c -- max and average pooling rows with AVX2 (pool.c runs them when
** the context's isa allows): 8 outputs a vector, edges through masked loads. */

#include <math.h>

#include "poolrow.h"

/* Rows of one window these rows take (kh; more go to pool.c's scalar rows). */
#define MAX_KH 16

int em_pool_row_ok(const em_ctx *ctx, const em_pool_params *p, int64_t W, int max) {
#if defined(__x86_64__) && defined(__GNUC__)
  /* column indices are int lanes; average pooling has no dilation (dw 0 or 1) */
  return ctx && ctx->isa >= EM_ISA_AVX2 && (p->dw == 1 || !max) && (p->sw == 1 || p->sw == 2) &&
         p->kh <= MAX_KH && W + p->pl + p->pr + 32 < (1 << 30);
#else
  (void)ctx; (void)p; (void)W; (void)max;
  return 0;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
#define INLINE inline __attribute__((always_inline))

/* The reduction: sums (average) or maxima; sum is a constant once inlined. */
AVX2 static INLINE __m256 op(int sum, __m256 a, __m256 b) {
  return sum ? _mm256_add_ps(a, b) : _mm256_max_ps(a, b);
}

/* Lanes c..c+7 that fall inside a row of W columns. */
AVX2 static INLINE __m256i cols_inside(int64_t c, int64_t W) {
  __m256i i = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)c));
  return _mm256_and_si256(_mm256_cmpgt_epi32(i, _mm256_set1_epi32(-1)),
                          _mm256_cmpgt_epi32(_mm256_set1_epi32((int)W), i));
}

/* Columns c..c+7 of row r; at an edge the columns outside the row are -inf
** for max (padding never wins) and 0 for sums, and are never read: the 8
** loaded lie inside the row (or, in a row narrower than 8, a masked load
** leaves the others untouched). */
AVX2 static INLINE __m256 load8(const float *r, int64_t c, int64_t W, int edge, int sum) {
  if (!edge) return _mm256_loadu_ps(r + c);
  __m256i in = cols_inside(c, W);
  if (W >= 8) {
    /* the 8 columns at the row's near end, moved into place by a permute:
    ** masked loads cost several plain ones on Zen 1 (a third of a 112x112
    ** max pool's time went to its two edge blocks per row) */
    int64_t base = c < 0 ? 0 : c + 8 > W ? W - 8 : c;
    __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                                   _mm256_set1_epi32((int)(c - base)));
    __m256 v = _mm256_permutevar8x32_ps(_mm256_loadu_ps(r + base), idx);
    return _mm256_blendv_ps(_mm256_set1_ps(sum ? 0.0f : -INFINITY), v, _mm256_castsi256_ps(in));
  }
  __m256 v = _mm256_maskload_ps(r + c, in);   /* 0 in the masked-off lanes */
  return sum ? v : _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), v, _mm256_castsi256_ps(in));
}

/* Columns c..c+7 reduced over the window's n rows. With check (max only),
** *u gains the lanes where any of them is NaN: max_ps drops a NaN in its
** first operand, so the rows with a NaN are redone by pool.c's exact code. */
AVX2 static INLINE __m256 rows_reduce(const float *const *rows, int n, int64_t c, int64_t W, int edge,
                                      int sum, int check, __m256 *u) {
  __m256 m = load8(rows[0], c, W, edge, sum);
  check = check && !sum;
  if (check && n == 1) *u = _mm256_or_ps(*u, _mm256_cmp_ps(m, m, _CMP_UNORD_Q));
  for (int i = 1; i < n; i++) {
    __m256 v = load8(rows[i], c, W, edge, sum);
    if (check) *u = _mm256_or_ps(*u, _mm256_cmp_ps(m, v, _CMP_UNORD_Q));
    m = op(sum, m, v);
  }
  return m;
}

AVX2 static INLINE __m256 in_order(__m256 v) {
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v), _MM_SHUFFLE(3, 1, 2, 0)));
}
AVX2 static INLINE __m256 evens(__m256 lo, __m256 hi) { return _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)); }
AVX2 static INLINE __m256 odds(__m256 lo, __m256 hi) { return _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1)); }

/* Eight outputs from input column c, stride s (1 or 2, a constant once
** inlined), kw taps. For stride 2 the taps 2m and 2m+1 are the evens and
** odds of the 16 columns from c + 2m; an odd kw's last tap is the odds from
** one column before it, so no load reaches past the last column used. The
** in-lane shuffles leave the columns in the order 0 2 8 10 4 6 12 14 for
** every tap, so one permute at the end puts them right. full: check every
** load for NaN; else only those at c (and c + 8), which tile the row. */
AVX2 static INLINE __m256 block(const float *const *rows, int n, int64_t c, int64_t W, int s, int kw,
                                int edge, int sum, int full, __m256 *u) {
  __m256 acc = rows_reduce(rows, n, c, W, edge, sum, 1, u);
  if (s == 1) {
    for (int kx = 1; kx < kw; kx++) acc = op(sum, acc, rows_reduce(rows, n, c + kx, W, edge, sum, full, u));
    return acc;
  }
  for (int kx = 0; kx < kw; kx += 2) {
    int pair = kx + 1 < kw || kx == 0;   /* taps kx, kx + 1 from c + kx, else the last odd tap */
    int64_t at = pair ? c + kx : c + kx - 1;
    int check = kx == 0 || full;
    __m256 lo = kx == 0 ? acc : rows_reduce(rows, n, at, W, edge, sum, check, u);
    __m256 hi = rows_reduce(rows, n, at + 8, W, edge, sum, check, u);
    __m256 t = pair ? evens(lo, hi) : odds(lo, hi);
    if (pair && kx + 1 < kw) t = op(sum, t, odds(lo, hi));
    acc = kx == 0 ? t : op(sum, acc, t);
  }
  return in_order(acc);
}

/* Lanes 1..8 (k = 1) or 2..9 (k = 2) of the 16 in a, b: AVX2 shifts only
** within 128 bits, so the middle halves are swapped in first. */
AVX2 static INLINE __m256 shift_in(__m256 a, __m256 b, int k) {
  __m256i t = _mm256_castps_si256(_mm256_permute2f128_ps(a, b, 0x21)), ai = _mm256_castps_si256(a);
  return _mm256_castsi256_ps(k == 1 ? _mm256_alignr_epi8(t, ai, 4) : _mm256_alignr_epi8(t, ai, 8));
}

/* The row's divisors for outputs ox..ox+7 (average), or NULL (max). */
typedef struct divisor {
  const float *col;
  __m256 row;
} divisor;

AVX2 static INLINE void put(float *y, int64_t ox, __m256 v, int sum, const divisor *d) {
  if (sum) v = _mm256_div_ps(v, _mm256_mul_ps(d->row, _mm256_loadu_ps(d->col + ox)));
  _mm256_storeu_ps(y + ox, v);
}

/* 3-wide windows along the row from output ox (input column c >= 0) while
** the next block's columns lie inside the row: each input column's rows are
** reduced once, the other taps are that vector shifted in from the next
** block's (stride 1), or the evens shifted likewise (stride 2, whose first
** two taps are the evens and odds). Returns the first output not done. */
AVX2 static INLINE int64_t run3(const float *const *rows, int n, float *y, int64_t ox, int64_t c,
                                int64_t W, int64_t ow, int s, int sum, const divisor *d, __m256 *u) {
  if (s == 1) {
    if (ox + 8 > ow || c + 15 >= W) return ox;
    __m256 a = rows_reduce(rows, n, c, W, 0, sum, 1, u);
    for (; ox + 8 <= ow && c + 15 < W; ox += 8, c += 8) {
      __m256 b = rows_reduce(rows, n, c + 8, W, 0, sum, 1, u);
      put(y, ox, op(sum, op(sum, a, shift_in(a, b, 1)), shift_in(a, b, 2)), sum, d);
      a = b;
    }
    return ox;
  }
  if (ox + 8 > ow || c + 31 >= W) return ox;
  __m256 lo = rows_reduce(rows, n, c, W, 0, sum, 1, u), hi = rows_reduce(rows, n, c + 8, W, 0, sum, 1, u);
  __m256 e = in_order(evens(lo, hi)), o = in_order(odds(lo, hi));
  for (; ox + 8 <= ow && c + 31 < W; ox += 8, c += 16) {
    lo = rows_reduce(rows, n, c + 16, W, 0, sum, 1, u);
    hi = rows_reduce(rows, n, c + 24, W, 0, sum, 1, u);
    __m256 en = in_order(evens(lo, hi)), on = in_order(odds(lo, hi));
    put(y, ox, op(sum, op(sum, e, o), shift_in(e, en, 1)), sum, d);
    e = en;
    o = on;
  }
  return ox;
}

/* The row in blocks of 8 (the last one overlapping the one before it; a row
** narrower than 8 stored through a mask). Blocks whose loads all lie inside
** the row load plainly, the others through masks. */
AVX2 static INLINE void row(const em_pool_rows *r, const float *const *rows, int n, float *y, int s,
                            int kw, int sum, const divisor *d, __m256 *u) {
  const em_pool_params *p = r->p;
  const int64_t W = r->W, ow = r->ow;
  /* last column loaded after c: stride 2 loads 16 from c + kw - 2 (from c if kw == 1) */
  int64_t reach = s == 1 ? 7 + kw - 1 : 15 + (kw > 1 ? kw - 2 : 0);
  if (ow < 8) {
    __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)ow), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    /* a NaN in a column no output uses is only a false alarm */
    __m256 v = block(rows, n, -p->pl, W, s, kw, 1, sum, 1, u);
    if (sum) v = _mm256_div_ps(v, _mm256_mul_ps(d->row, _mm256_maskload_ps(d->col, keep)));
    /* a masked store is microcoded on AMD's Zen: the lanes through a buffer */
    float t[8];
    _mm256_storeu_ps(t, v);
    for (int64_t i = 0; i < ow; i++) y[i] = t[i];
    return;
  }
  for (int64_t x0 = 0; x0 < ow; x0 += 8) {
    int64_t ox = x0 + 8 <= ow ? x0 : ow - 8, c = ox * s - p->pl;
    if (kw == 3 && c >= 0) {
      int64_t next = run3(rows, n, y, ox, c, W, ow, s, sum, d, u);
      if (next > ox) {
        x0 = next - 8;
        continue;
      }
    }
    int edge = c < 0 || c + reach >= W, last = ox + 8 == ow;
    put(y, ox, edge ? block(rows, n, c, W, s, kw, 1, sum, 1, u) : block(rows, n, c, W, s, kw, 0, sum, last, u),
        sum, d);
  }
}

/* One body per common case (3x3 and 2x2 windows whole, strides 1 and 2),
** where n, s and kw are constants. */
AVX2 static INLINE void rows_of(const em_pool_rows *r, const float *const *rows, int n, float *y, int sum,
                         const divisor *d, __m256 *u) {
  int s = r->p->sw, k = r->p->kw;
  if (n == 3 && k == 3 && s == 2) row(r, rows, 3, y, 2, 3, sum, d, u);
  else if (n == 3 && k == 3 && s == 1) row(r, rows, 3, y, 1, 3, sum, d, u);
  else if (n == 2 && k == 2 && s == 2) row(r, rows, 2, y, 2, 2, sum, d, u);
  else if (s == 2) row(r, rows, n, y, 2, k, sum, d, u);
  else row(r, rows, n, y, 1, k, sum, d, u);
}

AVX2 static void max_rows(const em_pool_rows *r, const float *const *rows, int n, float *y,
                          const divisor *d, __m256 *u) {
  rows_of(r, rows, n, y, 0, d, u);
}
AVX2 static void sum_rows(const em_pool_rows *r, const float *const *rows, int n, float *y,
                          const divisor *d, __m256 *u) {
  rows_of(r, rows, n, y, 1, d, u);
}

AVX2 int em_pool_row(const em_pool_rows *r, const float *x, float *y, int64_t oy) {
  const em_pool_params *p = r->p;
  const float *rows[MAX_KH];
  int64_t ys = oy * p->sh - p->pt;
  int n = 0, dh = r->colcount ? 1 : p->dh;
  __m256 u = _mm256_setzero_ps();
  divisor d = { r->colcount, _mm256_setzero_ps() };
  for (int ky = 0; ky < p->kh; ky++) {
    int64_t iy = ys + (int64_t)ky * dh;
    if (iy >= 0 && iy < r->H) rows[n++] = x + iy * r->W;
  }
  if (n == 0) return 0;   /* dilated rows all in padding: the scalar row's -inf */
  if (!d.col) {
    max_rows(r, rows, n, y, &d, &u);
    return _mm256_movemask_ps(u) == 0;
  }
  /* PyTorch's rows counted: with count_include_pad those of the padded
  ** input (not the ceil-mode overhang), else those inside */
  int64_t y1 = ys + p->kh;
  if (p->count_include_pad) d.row = _mm256_set1_ps((float)((y1 > r->H + p->pb ? r->H + p->pb : y1) - ys));
  else d.row = _mm256_set1_ps((float)n);
  sum_rows(r, rows, n, y, &d, &u);
  return 1;
}
#else
int em_pool_row(const em_pool_rows *r, const float *x, float *y, int64_t oy) {
  (void)r; (void)x; (void)y; (void)oy;
  return 0;
}
#endif
