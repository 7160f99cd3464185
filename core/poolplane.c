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
** on planes up to 256 wide go by rows of whole vectors instead (plane3). */

#include <math.h>

#include "poolrow.h"
#include "simd.h"

#define PLANE_MAX EM_POOL_PLANE_MAX   /* floats of a plane's column results, on the stack */
#define MAX_R 3                       /* k up to 7 */

int em_pool_plane_ok(const em_ctx *ctx, const em_pool_params *p, int64_t H, int64_t W,
                     int64_t oh, int64_t ow) {
#if defined(__x86_64__) && defined(__GNUC__)
  int r = p->kh / 2;
  return ctx && ctx->isa >= EM_ISA_AVX2 && p->kh == p->kw && p->kh % 2 == 1 &&
         p->kh <= 2 * MAX_R + 1 && p->sh == 1 && p->sw == 1 && p->dh <= 1 && p->dw <= 1 &&
         p->pt == r && p->pb == r && p->pl == r && p->pr == r && oh == H && ow == W &&
         H >= p->kh && W >= p->kw && H * W <= PLANE_MAX;
#else
  (void)ctx; (void)p; (void)H; (void)W; (void)oh; (void)ow;
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

AVX2 int em_pool_plane(const em_pool_params *p, const float *count, const float *x, float *y,
                       int64_t H, int64_t W) {
  const int r = p->kh / 2, sum = count != NULL, max = !sum;
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
                  int64_t H, int64_t W) {
  (void)p; (void)count; (void)x; (void)y; (void)H; (void)W;
  return 0;
}
#endif
