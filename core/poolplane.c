/* poolplane.c -- "same" poolings (k x k, k odd, stride 1, padding k / 2 on
** every side: GoogLeNet's 3x3 max pools, Inception v3's 3x3 average pools)
** a whole plane at a time with AVX2, for pool.c.
**
** Why a plane: their planes are small (7x7 to 35x35), and by rows every
** output row paid k vector passes over a few vectors and a masked edge. Here
** the plane is one flat array: the k rows of each window are combined by
** shifting the whole plane by multiples of W, then the k columns by shifting
** by 1 .. k / 2 both ways; the first and last k / 2 columns of each row, where
** a flat shift wraps into the next row, are redone from the column results.
** GoogLeNet's 3x3 max pools and Inception's 3x3 average pools took 2-3.5x
** ONNX Runtime's time by rows (bench/layercmp.py, 2026-11-28). 3x3 windows
** on planes up to 256 wide go by rows of whole vectors instead (plane3).
**
** 3x3 max pools of stride 2 (SqueezeNet, AlexNet, ResNet, GoogLeNet,
** Inception) go a plane at a time too (s2_plane): each output row's three
** input rows maxed down once, then across in 128-bit halves. */

#include <math.h>

#include "poolrow.h"
#include "simd.h"

#define PLANE_MAX EM_POOL_PLANE_MAX   /* floats of a plane's column results, on the stack */
#define MAX_R 3                       /* k up to 7 */

#if defined(__x86_64__) && defined(__GNUC__)
/* 3x3 max pools of stride 2 (s2_plane below), padding 0 or 1 at top and
** left, any at bottom and right (ceil mode too), planes at least 8 wide. */
static int s2_ok(const em_pool_params *p, int64_t W, int max) {
  return max && p->kh == 3 && p->kw == 3 && p->sh == 2 && p->sw == 2 && p->dh == 1 && p->dw == 1 &&
         p->pt <= 1 && p->pl <= 1 && W >= 8 && W < (1 << 28);
}
#endif

int em_pool_plane_ok(const em_ctx *ctx, const em_pool_params *p, int64_t H, int64_t W,
                     int64_t oh, int64_t ow, int max) {
#if defined(__x86_64__) && defined(__GNUC__)
  int r = p->kh / 2;
  if (ctx && ctx->isa >= EM_ISA_AVX2 && s2_ok(p, W, max)) return 1;
  return ctx && ctx->isa >= EM_ISA_AVX2 && p->kh == p->kw && p->kh % 2 == 1 &&
         p->kh <= 2 * MAX_R + 1 && p->sh == 1 && p->sw == 1 && p->dh <= 1 && p->dw <= 1 &&
         p->pt == r && p->pb == r && p->pl == r && p->pr == r && oh == H && ow == W &&
         H >= p->kh && W >= p->kw && H * W <= PLANE_MAX;
#else
  (void)ctx; (void)p; (void)H; (void)W; (void)oh; (void)ow; (void)max;
  return 0;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))

AVX2 static inline __m256 op8(int sum, __m256 a, __m256 b) {
  return sum ? _mm256_add_ps(a, b) : _mm256_max_ps(a, b);
}

static inline float op1(int sum, float a, float b) {
  return sum ? a + b : (b > a ? b : a);
}

/* d[i] = the sum or max of s[i + off[j]], j < m, for i < n: one pass. */
AVX2 static void gather(float *d, const float *s, const int64_t *off, int m, int64_t n, int sum) {
  int64_t i = 0;
  if (m == 3) {   /* 3x3 windows: the offsets in registers, no inner loop */
    const float *s0 = s + off[0], *s1 = s + off[1], *s2 = s + off[2];
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(d + i, op8(sum, op8(sum, _mm256_loadu_ps(s0 + i), _mm256_loadu_ps(s1 + i)),
                                  _mm256_loadu_ps(s2 + i)));
  }
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(s + i + off[0]);
    for (int j = 1; j < m; j++) v = op8(sum, v, _mm256_loadu_ps(s + i + off[j]));
    _mm256_storeu_ps(d + i, v);
  }
  for (; i < n; i++) {
    float v = s[i + off[0]];
    for (int j = 1; j < m; j++) v = op1(sum, v, s[i + off[j]]);
    d[i] = v;
  }
}

/* Whether the plane holds a NaN (max pooling must then propagate it). */
AVX2 static int has_nan(const float *x, int64_t n) {
  __m256 u = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    u = _mm256_or_ps(u, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  for (; i < n; i++)
    if (isnan(x[i])) return 1;
  return _mm256_movemask_ps(u) != 0;
}

/* 1 / PyTorch's divisor: k * k with count_include_pad (the padding is
** exactly r, so no window overhangs it), else the cells inside the plane.
** A product with the reciprocal is within an ulp or two of the quotient and
** several times faster than a vector division. */
void em_pool_plane_counts(const em_pool_params *p, int64_t H, int64_t W, float *count) {
  const int r = p->kh / 2;
  for (int64_t oy = 0; oy < H; oy++) {
    int64_t rows = (oy + r >= H ? H - 1 : oy + r) - (oy - r < 0 ? 0 : oy - r) + 1;
    for (int64_t ox = 0; ox < W; ox++) {
      int64_t cols = (ox + r >= W ? W - 1 : ox + r) - (ox - r < 0 ? 0 : ox - r) + 1;
      count[oy * W + ox] = 1.0f / (float)(p->count_include_pad ? p->kh * p->kw : rows * cols);
    }
  }
}

/* 3x3 windows on planes up to 256 wide, row by row: each input row's
** three columns are combined first (loads one column either side of each
** 8-column vector; at the row's ends the vector shifted in registers, the
** padding (0 or -inf) in the lane outside), kept as whole vectors for the
** three output rows that use it, which then sum or max them. A row's last
** vector overlaps the one before it. Whole-vector stores and loads only: a
** bordered row buffer read back at offsets 1 and 2 stalled on store
** forwarding, the flat passes below spent most of an 8x8 plane on its edges. */
#define P3_VECS 32

AVX2 static inline __attribute__((always_inline))
void row3(const float *r, int64_t W, int sum, __m256 *h, __m256 *u) {
  const __m256 pad = _mm256_set1_ps(sum ? 0.0f : -INFINITY);
  const __m256i left = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6), right = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 7);
  if (W < 8) {   /* one vector, the lanes past the row the padding */
    __m256i in = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)W), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 m = _mm256_blendv_ps(pad, em_load_part(r, (int)W), _mm256_castsi256_ps(in));
    if (!sum) *u = _mm256_or_ps(*u, _mm256_cmp_ps(m, m, _CMP_UNORD_Q));
    h[0] = op8(sum, op8(sum, _mm256_blend_ps(_mm256_permutevar8x32_ps(m, left), pad, 0x01), m),
               _mm256_permutevar8x32_ps(m, right));
    return;
  }
  for (int64_t c = 0, j = 0; c < W; c += 8, j++) {
    int64_t at = c + 8 <= W ? c : W - 8;
    __m256 m = _mm256_loadu_ps(r + at), a, b;
    if (!sum) *u = _mm256_or_ps(*u, _mm256_cmp_ps(m, m, _CMP_UNORD_Q));
    a = at > 0 ? _mm256_loadu_ps(r + at - 1) : _mm256_blend_ps(_mm256_permutevar8x32_ps(m, left), pad, 0x01);
    b = at + 8 < W ? _mm256_loadu_ps(r + at + 1) : _mm256_blend_ps(_mm256_permutevar8x32_ps(m, right), pad, 0x80);
    h[j] = op8(sum, op8(sum, a, m), b);
  }
}

AVX2 static inline __attribute__((always_inline))
int plane3(const float *count, const float *x, float *y, int64_t H, int64_t W, int sum) {
  __m256 h[3][P3_VECS], u = _mm256_setzero_ps();
  row3(x, W, sum, h[0], &u);
  for (int64_t oy = 0; oy < H; oy++) {
    const __m256 *a = h[(oy + 2) % 3], *b = h[oy % 3], *c = h[(oy + 1) % 3];
    if (oy + 1 < H) row3(x + (oy + 1) * W, W, sum, h[(oy + 1) % 3], &u);
    float *o = y + oy * W;
    for (int64_t x0 = 0, j = 0; x0 < W; x0 += 8, j++) {
      int64_t at = x0 + 8 <= W ? x0 : W < 8 ? 0 : W - 8;
      __m256 m = b[j];
      if (oy > 0) m = op8(sum, m, a[j]);
      if (oy + 1 < H) m = op8(sum, m, c[j]);
      if (W < 8) {
        if (sum) m = _mm256_mul_ps(m, em_load_part(count + oy * W, (int)W));
        em_store_part(o, m, (int)W);
        break;
      }
      if (sum) m = _mm256_mul_ps(m, _mm256_loadu_ps(count + oy * W + at));
      _mm256_storeu_ps(o + at, m);
    }
  }
  return _mm256_movemask_ps(u) == 0;
}

/* ------------------------------------------ 3x3 max pools of stride 2 */

/* Columns 8i .. 8i+7 of the n rows r, maxed down the rows, -inf from
** column W on. A block reaching past the row is the row's last 8 columns,
** moved into place (nothing past the row is read). *u gains the lanes where
** a row holds a NaN: the last two rows of each window (each row is the last
** or the middle one of some window), the first too in the plane's first
** window (first). */
AVX2 static inline __attribute__((always_inline))
__m256 down8(const float *const *r, int n, int first, int64_t i, int64_t W, __m256 *u) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  int64_t c = 8 * i, at = c + 8 <= W ? c : W - 8;
  if (c >= W) return ninf;
  __m256 a = _mm256_loadu_ps(r[0] + at), m = a;
  if (n == 1) *u = _mm256_or_ps(*u, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
  if (n >= 2) {
    __m256 b = _mm256_loadu_ps(r[1] + at);
    m = _mm256_max_ps(a, b);
    if (n == 2) *u = _mm256_or_ps(*u, _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
    if (n == 3) {
      __m256 d = _mm256_loadu_ps(r[2] + at);
      m = _mm256_max_ps(m, d);
      *u = _mm256_or_ps(*u, _mm256_cmp_ps(b, d, _CMP_UNORD_Q));
      if (first) *u = _mm256_or_ps(*u, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    }
  }
  if (at == c) return m;
  __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  m = _mm256_permutevar8x32_ps(m, _mm256_add_epi32(lane, _mm256_set1_epi32((int)(c - at))));
  return _mm256_blendv_ps(ninf, m, _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32((int)(W - c)), lane)));
}

/* Four outputs from the 8 columns in lo, hi (their window starts): the
** maxima of the evens, the odds and the third tap, the evens one further
** (pl 0: next's first column closes the last window) or the odds one back
** (pl 1: *prev, the odds before, left of the first window). In 128-bit
** halves: their shuffles and shifts stay inside one lane, which 256-bit
** ones cross at two to four times the cost on Zen 1. */
AVX2 static inline __m128 across(__m128 lo, __m128 hi, __m128 next, __m128 *prev, int pl) {
  __m128 e = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)), o = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  __m128i t = pl == 0 ? _mm_alignr_epi8(_mm_castps_si128(next), _mm_castps_si128(e), 4)
                      : _mm_alignr_epi8(_mm_castps_si128(o), _mm_castps_si128(*prev), 12);
  *prev = o;
  return _mm_max_ps(_mm_max_ps(e, o), _mm_castsi128_ps(t));
}

/* Output row o (ow outputs, the plane ending at end) from the n input
** rows r of its windows, pl (0 or 1) columns of left padding: vector j
** takes input columns 16j - pl .. 16j - pl + 16, each column maxed down
** once (8 at a time), then across by halves. A vector reaching past the
** row is stored whole when its extra lanes fall on the plane's next row,
** written after it. */
AVX2 static inline __attribute__((always_inline))
void s2_row(const float *const *r, int n, int first, int pl, float *o, const float *end, int64_t W,
            int64_t ow, __m256 *u) {
  __m128 prev = _mm_set1_ps(-INFINITY);
  __m256 a = down8(r, n, first, 0, W, u);
  for (int64_t j = 0; 8 * j < ow; j++) {
    int more = 8 * (j + 1) < ow;
    __m256 b = down8(r, n, first, 2 * j + 1, W, u);
    __m256 c = more || pl == 0 ? down8(r, n, first, 2 * j + 2, W, u) : a;
    __m128 lo = across(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1), _mm256_castps256_ps128(b), &prev, pl);
    __m128 hi = across(_mm256_castps256_ps128(b), _mm256_extractf128_ps(b, 1), _mm256_castps256_ps128(c), &prev, pl);
    __m256 v = _mm256_set_m128(hi, lo);
    if (8 * j + 8 <= ow || o + 8 * j + 8 <= end) _mm256_storeu_ps(o + 8 * j, v);
    else em_store_part(o + 8 * j, v, (int)(ow - 8 * j));
    a = c;
  }
}

/* A 3x3 max pool of stride 2 a plane at a time: each output row's three
** input rows maxed down once, then across. One thread, 0.56 -> 0.32 us a
** 27x27 plane (SqueezeNet) against em_pool_row, whose setup and edge
** blocks outweighed its 13 rows of work; 0.32 -> 0.11 at 13x13, 7.2 -> 3.9
** at 112x112 (ResNet). Returns 0 when a NaN was seen: the caller redoes the
** plane by rows, whose scalar code places it. */
AVX2 static int s2_plane(const em_pool_params *p, const float *x, float *y, int64_t H, int64_t W,
                         int64_t oh, int64_t ow) {
  __m256 u = _mm256_setzero_ps();
  const float *end = y + oh * ow;
  for (int64_t oy = 0; oy < oh; oy++) {
    const float *r[3];
    int n = 0, first = oy == 0;
    for (int ky = 0; ky < 3; ky++) {
      int64_t iy = 2 * oy - p->pt + ky;
      if (iy >= 0 && iy < H) r[n++] = x + iy * W;
    }
    float *o = y + oy * ow;
    if (n == 3 && p->pl == 0) s2_row(r, 3, first, 0, o, end, W, ow, &u);
    else if (n == 3) s2_row(r, 3, first, 1, o, end, W, ow, &u);
    else if (p->pl == 0) s2_row(r, n, first, 0, o, end, W, ow, &u);
    else s2_row(r, n, first, 1, o, end, W, ow, &u);
  }
  return _mm256_movemask_ps(u) == 0;
}

AVX2 int em_pool_plane(const em_pool_params *p, const float *count, const float *x, float *y,
                       int64_t H, int64_t W, int64_t oh, int64_t ow) {
  const int r = p->kh / 2, sum = count != NULL, max = !sum;
  if (s2_ok(p, W, max)) return s2_plane(p, x, y, H, W, oh, ow);
  if (r == 1 && W <= 8 * P3_VECS) return sum ? plane3(count, x, y, H, W, 1) : plane3(NULL, x, y, H, W, 0);
  const int64_t n = H * W;
  float t[PLANE_MAX];
  if (max && has_nan(x, n)) return 0;
  int64_t off[2 * MAX_R + 1] = { 0 };
  int m;
  /* t: each cell combined with the r rows above and below it that exist;
  ** the rows r .. H - r - 1 have them all, as one flat run */
  for (int64_t oy = 0; oy < H; oy++) {
    int64_t rows = oy >= r && oy < H - r ? H - r - oy : 1;
    m = 0;
    for (int d = -r; d <= r; d++)
      if (oy + d >= 0 && oy + d < H) off[m++] = d * W;
    gather(t + oy * W, x + oy * W, off, m, rows * W, sum);
    oy += rows - 1;
  }
  /* y: t combined along the flat array; the first and last r columns of
  ** each row, where that wraps into the next row, are redone below */
  m = 0;
  for (int d = -r; d <= r; d++) off[m++] = d;
  /* every row of t was written above (H >= k), which GCC cannot see */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
  gather(y + r, t + r, off, m, n - 2 * r, sum);
#pragma GCC diagnostic pop
  for (int64_t oy = 0; oy < H; oy++) {
    const float *tr = t + oy * W;
    float *yr = y + oy * W;
    for (int64_t j = 0; j < 2 * r; j++) {   /* the first r columns and the last r */
      int64_t ox = j < r ? j : W - 2 * r + j;
      int64_t x0 = ox - r < 0 ? 0 : ox - r, x1 = ox + r >= W ? W - 1 : ox + r;
      float v = tr[x0];
      for (int64_t c = x0 + 1; c <= x1; c++) v = op1(sum, v, tr[c]);
      yr[ox] = v;
    }
  }
  if (max) return 1;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_loadu_ps(count + i)));
  for (; i < n; i++) y[i] *= count[i];
  return 1;
}
#else
void em_pool_plane_counts(const em_pool_params *p, int64_t H, int64_t W, float *count) {
  (void)p; (void)H; (void)W; (void)count;
}

int em_pool_plane(const em_pool_params *p, const float *count, const float *x, float *y,
                  int64_t H, int64_t W, int64_t oh, int64_t ow) {
  (void)p; (void)count; (void)x; (void)y; (void)H; (void)W; (void)oh; (void)ow;
  return 0;
}
#endif
