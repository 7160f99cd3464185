/* winograd.c -- 3x3 stride-1 convolutions by Winograd's F(4x4, 3x3): 36
** multiplications per 4x4 output block and channel pair instead of 144;
** and F(2x2, 3x3) for small planes: 16 instead of 36 per 2x2 block. */

#include <limits.h>
#include <math.h>
#include <string.h>

#include "convutil.h"
#include "sgemm.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* Lavin & Gray's F(4x4, 3x3): Y = A^T [(G g G^T) . (B^T d B)] A with a 6x6
** input tile d, a 3x3 kernel g and a 4x4 output block Y, built on the points
** 0, 1, -1, 1/2, -2 and infinity rather than the usual 0, +-1, +-2: half the
** float error (Barabasz et al., 2020), which Inception v3 needs to stay within
** 1e-4 of PyTorch's logits (its error was 1.04e-4 with +-2). The input tiles
** overlap by 2 (a tile per 4 outputs); the elementwise product over the 36
** positions, summed over input channels, is 36 independent matrix products
** U[k] (Cout x Cin) * V[k] (Cin x tiles). Tiles run over all images (tile t:
** image t / (th*tw), then row, column) and are cut into chunks of ct tiles;
** a thread takes a chunk from input to output with its own scratch,
**   V: [36][Cin][ct]   the chunk's transformed input tiles
**   M: [36][Cout][ct]  their products with U,
** small enough to stay in its core's cache: with whole-layer V and M the
** transforms spent most of their time waiting for memory.
**
** F(2x2, 3x3) is the same with 4x4 input tiles overlapping by 2, on the
** points 0, 1, -1 and infinity: 16 products; its weight is 16/9 of the
** layer's, not 4x. It is for the 7x7 and 8x8 planes, whose 4 tiles of 4x4
** are too few to amortise the 36 products' weights (see conv.c).
**
** F(2x2, 5x5) reuses F(4x4, 3x3)'s points and so its input transform: 6x6
** tiles overlapping by 4, 36 products per 2x2 block instead of 100; G and
** A^T follow from the same points (G's rows p^k / N_p, A^T's p^i). */
#define T 6                 /* the largest input tile side */
#define R 5                 /* the largest kernel side */
#define PB 48               /* packed entries per block of the weight transform */
#define KK (T * T)          /* the most products */
#define TB 16               /* tiles per transform block: the vectorised width */
/* Floats between consecutive V[k] (and M[k]) beyond their own: with
** strides a multiple of 4 KB, the 36 rows a block writes to V and reads
** back from M fell into one set of the L1 cache. */
#ifndef KPAD
#define KPAD 16
#endif
#ifndef CHUNK_BYTES
#define CHUNK_BYTES (1 << 19)   /* V and M of one chunk: in L2 (1 MB: 16 -> 64 at 55x55 0.74 ms, 512 KB 0.64) */
#endif
#ifndef MIN_CHUNK
#define MIN_CHUNK 32            /* tiles: the products' N, whatever the bytes */
#endif

typedef struct prep_job {
  const double (*G)[R];
  const float *g;
  float *u;
  int64_t cout, cin, ksize;
  int r, t;
} prep_job;

/* Blocks [b0, b1) of PB entries of each U[k] in its packed order (panel,
** column i, row o % 6), so every line vectorises and each of the t*t rows
** of U is written in whole runs; rows past Cout repeat plane Cout-1, as
** em_gemm_pack_a pads. */
static void prep_blocks(void *arg, int64_t b0, int64_t b1, int thread) {
  const prep_job *jb = arg;
  const double (*G)[R] = jb->G;
  const float *g = jb->g;
  float *u = jb->u;
  const int64_t cout = jb->cout, cin = jb->cin, ksize = jb->ksize;
  const int r = jb->r, t = jb->t;
  (void)thread;
  for (int64_t q0 = b0 * PB; q0 < b1 * PB && q0 < ksize; q0 += PB) {
    int64_t nb = ksize - q0 < PB ? ksize - q0 : PB;
    double k[R * R][PB], tmp[T][R][PB];   /* the kernels, then G g */
    for (int64_t j = 0; j < nb; j++) {
      int64_t q = q0 + j, col = q / EM_GEMM_MR, i = col % cin;
      int64_t o = col / cin * EM_GEMM_MR + q % EM_GEMM_MR;
      const float *src = g + ((o < cout ? o : cout - 1) * cin + i) * r * r;
      for (int e = 0; e < r * r; e++) k[e][j] = src[e];
    }
    for (int y = 0; y < t; y++)
      for (int c = 0; c < r; c++)
        for (int64_t j = 0; j < nb; j++) {
          double v = 0;
          for (int e = 0; e < r; e++) v += G[y][e] * k[e * r + c][j];
          tmp[y][c][j] = v;
        }
    for (int y = 0; y < t; y++)
      for (int c = 0; c < t; c++) {
        float *o = u + (int64_t)(y * t + c) * ksize + q0;
        for (int64_t j = 0; j < nb; j++) {
          double v = 0;
          for (int e = 0; e < r; e++) v += tmp[y][e][j] * G[c][e];
          o[j] = (float)v;
        }
      }
  }
}

/* The weight transform: U[k][o][i] = (G g_oi G^T)[k], in double so the
** prepared weights carry no more rounding than one float store; each U[k]
** stored as the product's packed A (sgemm.h: panels of 6 output planes,
** em_gemm_pack_a's layout), so out is t*t x ceil(Cout/6) x Cin x 6, with t
** the input tile's side: 6 for F(4x4, 3x3), 4 for F(2x2, 3x3). */
em_status em_winograd_prepare(const em_ctx *ctx, const em_tensor *weight, em_tensor *out, int m,
                              em_err *err) {
  /* rows: the points 0, 1, -1, 1/2, -2 and infinity */
  static const double G4[T][R] = {
    { 1, 0, 0 }, { 1.0 / 3, 1.0 / 3, 1.0 / 3 }, { -1.0 / 3, 1.0 / 3, -1.0 / 3 },
    { -16.0 / 15, -8.0 / 15, -4.0 / 15 }, { 1.0 / 15, -2.0 / 15, 4.0 / 15 }, { 0, 0, 1 } };
  static const double G2[T][R] = { { 1, 0, 0 }, { 0.5, 0.5, 0.5 }, { 0.5, -0.5, 0.5 }, { 0, 0, 1 } };
  static const double G25[T][R] = {
    { 1, 0, 0, 0, 0 }, { 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3, 1.0 / 3 },
    { -1.0 / 3, 1.0 / 3, -1.0 / 3, 1.0 / 3, -1.0 / 3 },
    { -16.0 / 15, -8.0 / 15, -4.0 / 15, -2.0 / 15, -1.0 / 15 },
    { 1.0 / 15, -2.0 / 15, 4.0 / 15, -8.0 / 15, 16.0 / 15 }, { 0, 0, 0, 0, 1 } };
  char a[128];
  em_tensor wt;
  em_status st;
  int64_t cout, cin, sz[4];
  if (!weight || !out) return em_fail(err, EM_EARG, "winograd_prepare: missing argument");
  if (weight->storage && weight->ndim == 4 && weight->size[2] != weight->size[3]) {   /* 1x7, 7x1 */
    if (m != 2)
      return em_fail(err, EM_EARG, "winograd_prepare: output tile %d for a %lldx%lld kernel, expected 2",
                     m, (long long)weight->size[2], (long long)weight->size[3]);
    return em_winograd7_prepare(ctx, weight, out, err);
  }
  int r = weight->storage && weight->ndim == 4 ? (int)weight->size[2] : 0;
  if (!weight->storage || weight->ndim != 4 || (r != 3 && r != 5) || weight->size[3] != r ||
      weight->size[0] < 1 || weight->size[1] < 1)
    return em_fail(err, EM_ESHAPE, "expected a weight out,in,3,3 or out,in,5,5, got %s",
                   em_tensor_shape_str(weight, a, sizeof a));
  if (r == 3 ? m != 2 && m != 4 : m != 2)
    return em_fail(err, EM_EARG, "winograd_prepare: output tile %d for a %dx%d kernel, expected %s",
                   m, r, r, r == 3 ? "2 or 4" : "2");
  const double (*G)[R] = r == 5 ? G25 : m == 2 ? G2 : G4;
  int t = m + r - 1, kk = t * t;
  if (out == weight || (out->storage && out->storage == weight->storage))
    return em_fail(err, EM_EARG, "the transformed weight must not share memory with the weight");
  cout = weight->size[0]; cin = weight->size[1];
  sz[0] = kk; sz[1] = (cout + EM_GEMM_MR - 1) / EM_GEMM_MR; sz[2] = cin; sz[3] = EM_GEMM_MR;
  em_tensor_init(&wt);
  if ((st = em_tensor_contiguous(&wt, weight, err)) || (st = em_tensor_resize(out, 4, sz, err)))
    goto done;
  const float *g = em_tensor_data(&wt);
  float *u = em_tensor_data(out);
  int64_t ksize = sz[1] * cin * EM_GEMM_MR;
  prep_job j = { G, g, u, cout, cin, ksize, r, t };
  em_parallel(ctx, ctx && ksize >= 4096 ? ctx->nthreads : 1, (ksize + PB - 1) / PB, prep_blocks, &j);
done:
  em_tensor_free(&wt);
  return st;
}

/* Shapes of one call, shared by the three phases. */
typedef struct wino {
  const float *in, *bias, *res, *u, *scale;
  float *out;
  int64_t n, cin, cout, h, w, ho, wo, th, tw, tiles, ct;
  int64_t vk, mk;   /* floats from V[k] to V[k + 1], M[k] to M[k + 1] */
  int t, o, kk;   /* input tile side, output block side, products */
  int pt, pl, clamp, avx2;
  float lo, hi;
} wino;

/* Where the TB tiles of a block start: the input offset of each t x t patch
** (channel 0), whether it lies wholly inside the image, and the output
** offset of its o x o block with the rows and columns that fit. Computed once
** per block, shared by every channel. */
typedef struct block {
  int64_t src[TB], dst[TB];
  int inside[TB], rows[TB], cols[TB], n;
  int r0[TB], r1[TB], c0[TB], c1[TB];   /* a patch's rows and columns inside the image */
} block;

static void locate(const wino *s, int64_t t0, block *b) {
  int64_t per = s->th * s->tw;
  b->n = s->tiles - t0 < TB ? (int)(s->tiles - t0) : TB;
  for (int j = 0; j < b->n; j++) {
    int64_t t = t0 + j, img = t / per, ty = t % per / s->tw, tx = t % s->tw;
    int64_t y0 = ty * s->o - s->pt, x0 = tx * s->o - s->pl;
    b->r0[j] = y0 < 0 ? (int)-y0 : 0;
    b->c0[j] = x0 < 0 ? (int)-x0 : 0;
    b->r1[j] = s->h - y0 < s->t ? (int)(s->h - y0) : s->t;
    b->c1[j] = s->w - x0 < s->t ? (int)(s->w - x0) : s->t;
    b->src[j] = img * s->cin * s->h * s->w + y0 * s->w + x0;
    b->inside[j] = !b->r0[j] && !b->c0[j] && b->r1[j] == s->t && b->c1[j] == s->t;
    b->dst[j] = img * s->cout * s->ho * s->wo + ty * s->o * s->wo + tx * s->o;
    b->rows[j] = s->ho - ty * s->o < s->o ? (int)(s->ho - ty * s->o) : s->o;
    b->cols[j] = s->wo - tx * s->o < s->o ? (int)(s->wo - tx * s->o) : s->o;
  }
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define WINO_AVX2 1

/* Rows 0-3 of a 4x4 transpose in each 128-bit lane: w[k] holds (x0..x3 of
** tile k | of tile k + 4); out[x] holds x of tiles 0..7, in order. */
__attribute__((target("avx2"))) static inline void transpose8x4(const __m256 w[4], __m256 out[4]) {
  __m256 t0 = _mm256_unpacklo_ps(w[0], w[1]), t1 = _mm256_unpackhi_ps(w[0], w[1]);
  __m256 t2 = _mm256_unpacklo_ps(w[2], w[3]), t3 = _mm256_unpackhi_ps(w[2], w[3]);
  out[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  out[1] = _mm256_shuffle_ps(t0, t2, 0xEE);
  out[2] = _mm256_shuffle_ps(t1, t3, 0x44);
  out[3] = _mm256_shuffle_ps(t1, t3, 0xEE);
}

/* The gather of 8 tiles whose patch rows start at ptr[j] (row stride ld[j]):
** per row, two 4-float loads per tile (x 0-3 and 2-5) and two transposes
** instead of 48 scalar moves. */
__attribute__((target("avx2"))) static void gather8_avx2(const float *const ptr[8],
                                                         const int64_t ld[8], float g[KK][TB], int j0) {
  for (int r = 0; r < T; r++) {
    __m256 lo[4], hi[4], x[4], y[4];
    for (int k = 0; k < 4; k++) {
      const float *a = ptr[k] + r * ld[k], *b = ptr[k + 4] + r * ld[k + 4];
      lo[k] = _mm256_loadu2_m128(b, a);
      hi[k] = _mm256_loadu2_m128(b + 2, a + 2);
    }
    transpose8x4(lo, x);
    transpose8x4(hi, y);
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(g[r * T + k] + j0, x[k]);
    _mm256_storeu_ps(g[r * T + 4] + j0, y[2]);
    _mm256_storeu_ps(g[r * T + 5] + j0, y[3]);
  }
}

/* The same for 4x4 patches: one 4-float load per row and tile. */
__attribute__((target("avx2"))) static void gather8x4_avx2(const float *const ptr[8],
                                                           const int64_t ld[8], float g[KK][TB], int j0) {
  for (int r = 0; r < 4; r++) {
    __m256 v[4], x[4];
    for (int k = 0; k < 4; k++) v[k] = _mm256_loadu2_m128(ptr[k + 4] + r * ld[k + 4], ptr[k] + r * ld[k]);
    transpose8x4(v, x);
    for (int k = 0; k < 4; k++) _mm256_storeu_ps(g[r * 4 + k] + j0, x[k]);
  }
}

/* Row r of an output tile (4 floats at d, cols of them inside the output,
** none when r is past its rows): the residual read and the values written.
** A partial tile goes column by column: a masked store costs tens of cycles
** on Zen 3. */
static const int32_t first_of[8] = { -1, -1, -1, -1, 0, 0, 0, 0 };

__attribute__((target("avx2"))) static inline __m128 tile_row_load(const float *d, int in, int cols) {
  if (!in) return _mm_setzero_ps();
  if (cols == 4) return _mm_loadu_ps(d);
  return _mm_maskload_ps(d, _mm_loadu_si128((const __m128i *)(first_of + 4 - cols)));
}

__attribute__((target("avx2"))) static inline void tile_row_store(float *d, __m128 v, int in, int cols) {
  float part[4];
  if (!in) return;
  if (cols == 4) {
    _mm_storeu_ps(d, v);
    return;
  }
  _mm_storeu_ps(part, v);
  for (int c = 0; c < cols; c++) d[c] = part[c];
}

/* The output of 8 tiles (y[16][TB] from column j0) for plane o: per row,
** one transpose and a 4-float store per tile, with the epilogue applied on
** 8 lanes (scale, bias, residual, clamp); partial tiles at the edges store
** their first cols[j] floats of the first rows[j] rows. */
__attribute__((target("avx2"))) static void scatter8_avx2(const wino *s, const block *b, int j0,
                                                          float y[16][TB], int64_t o, float sc,
                                                          float bias) {
  int64_t plane = s->ho * s->wo;
  const __m256 vs = _mm256_set1_ps(sc), vb = _mm256_set1_ps(bias);
  const __m256 lo = _mm256_set1_ps(s->clamp ? s->lo : -INFINITY);
  const __m256 hi = _mm256_set1_ps(s->clamp ? s->hi : INFINITY);
  for (int r = 0; r < 4; r++) {
    __m256 in[4], w[4];
    for (int k = 0; k < 4; k++) in[k] = _mm256_loadu_ps(y[r * 4 + k] + j0);
    transpose8x4(in, w);   /* w[k]: (tile k | tile k + 4), 4 columns each */
    for (int k = 0; k < 4; k++) {
      int ja = j0 + k, jb = j0 + k + 4, ina = r < b->rows[ja], inb = r < b->rows[jb];
      int64_t oa = b->dst[ja] + o * plane + r * s->wo, ob = b->dst[jb] + o * plane + r * s->wo;
      __m256 v = _mm256_add_ps(_mm256_mul_ps(w[k], vs), vb);
      if (s->res)
        v = _mm256_add_ps(v, _mm256_setr_m128(tile_row_load(s->res + oa, ina, b->cols[ja]),
                                              tile_row_load(s->res + ob, inb, b->cols[jb])));
      v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));   /* NaN stays NaN, as em_act */
      tile_row_store(s->out + oa, _mm256_castps256_ps128(v), ina, b->cols[ja]);
      tile_row_store(s->out + ob, _mm256_extractf128_ps(v, 1), inb, b->cols[jb]);
    }
  }
}
#endif

/* Tile j's patch of a plane, zero outside the image, into pad (t x t):
** zeros first, then the rows and columns that lie inside (per channel the
** border tiles had cost a bounds test per float, 7-10% of a 16 -> 64 layer
** at 55x55 and of the 13x13 layers, where 12 of the 16 tiles touch the
** border). */
static inline void border(const wino *s, const block *b, int j, const float *plane, float *pad) {
  int t = s->t, c0 = b->c0[j], n = b->c1[j] - c0;
  memset(pad, 0, sizeof(float) * (size_t)(t * t));
  if (n <= 0) return;
  for (int r = b->r0[j]; r < b->r1[j]; r++) {
    const float *p = plane + (b->src[j] + r * s->w + c0);   /* inside the plane */
    float *d = pad + r * t + c0;
    for (int x = 0; x < n; x++) d[x] = p[x];
  }
}

/* The t x t patches of a block in channel c into g[t * t][TB] (column j:
** tile j); zeros outside the image (padding) and past the last tile. With
** AVX2 the patches at the image's border are first copied, zero-padded, into
** pad, and every patch then goes through gather8_avx2 (gather8x4_avx2). */
static void gather(const wino *s, const block *b, int64_t c, float g[KK][TB]) {
  int t = s->t;
#ifdef WINO_AVX2
  if (s->avx2) {
    static const float zero[KK] = { 0 };
    float pad[TB][KK];
    const float *ptr[TB];
    int64_t ld[TB];
    const float *plane = s->in + c * s->h * s->w;
    for (int j = 0; j < TB; j++) {
      if (j >= b->n) {
        ptr[j] = zero;
        ld[j] = 0;
      } else if (b->inside[j]) {
        ptr[j] = plane + b->src[j];
        ld[j] = s->w;
      } else {
        border(s, b, j, plane, pad[j]);
        ptr[j] = pad[j];
        ld[j] = t;
      }
    }
    void (*gather8)(const float *const *, const int64_t *, float (*)[TB], int) =
      t == T ? gather8_avx2 : gather8x4_avx2;
    gather8(ptr, ld, g, 0);
    gather8(ptr + 8, ld + 8, g, 8);
    return;
  }
#endif
  const float *plane = s->in + c * s->h * s->w;
  for (int j = 0; j < TB; j++) {
    if (j >= b->n) {
      for (int k = 0; k < s->kk; k++) g[k][j] = 0.0f;
    } else if (b->inside[j]) {
      const float *p = plane + b->src[j];
      for (int r = 0; r < t; r++)
        for (int x = 0; x < t; x++) g[r * t + x][j] = p[r * s->w + x];
    } else {
      float pad[KK];
      border(s, b, j, plane, pad);
      for (int k = 0; k < s->kk; k++) g[k][j] = pad[k];
    }
  }
}

/* B^T d B on TB tiles at once: every line is a loop over the tiles of
** local arrays, which the compiler vectorises; rows then columns. */
static inline __attribute__((always_inline)) void input_tf6(float g[KK][TB], float o[KK][TB]) {
  float q[KK][TB];
  for (int x = 0; x < T; x++) {
    const float *d0 = g[x], *d1 = g[T + x], *d2 = g[2 * T + x], *d3 = g[3 * T + x],
                *d4 = g[4 * T + x], *d5 = g[5 * T + x];
    for (int j = 0; j < TB; j++) {
      q[x][j] = d0[j] - 1.5f * (d1[j] - d3[j]) - 2 * d2[j] + d4[j];
      q[T + x][j] = -d1[j] + 0.5f * d2[j] + 2.5f * d3[j] + d4[j];
      q[2 * T + x][j] = d1[j] - 2.5f * d2[j] + 0.5f * d3[j] + d4[j];
      q[3 * T + x][j] = 2 * (d3[j] - d1[j]) - d2[j] + d4[j];
      q[4 * T + x][j] = 0.5f * (d1[j] - d3[j]) - d2[j] + d4[j];
      q[5 * T + x][j] = d1[j] - 1.5f * (d2[j] - d4[j]) - 2 * d3[j] + d5[j];
    }
  }
  for (int r = 0; r < T; r++) {
    const float *e0 = q[r * T], *e1 = q[r * T + 1], *e2 = q[r * T + 2], *e3 = q[r * T + 3],
                *e4 = q[r * T + 4], *e5 = q[r * T + 5];
    float *v = o[r * T];
    for (int j = 0; j < TB; j++) {
      v[j] = e0[j] - 1.5f * (e1[j] - e3[j]) - 2 * e2[j] + e4[j];
      v[TB + j] = -e1[j] + 0.5f * e2[j] + 2.5f * e3[j] + e4[j];
      v[2 * TB + j] = e1[j] - 2.5f * e2[j] + 0.5f * e3[j] + e4[j];
      v[3 * TB + j] = 2 * (e3[j] - e1[j]) - e2[j] + e4[j];
      v[4 * TB + j] = 0.5f * (e1[j] - e3[j]) - e2[j] + e4[j];
      v[5 * TB + j] = e1[j] - 1.5f * (e2[j] - e4[j]) - 2 * e3[j] + e5[j];
    }
  }
}

/* F(2x2, 3x3)'s B^T d B: rows d0 - d2, d1 + d2, d2 - d1, d1 - d3. */
static inline __attribute__((always_inline)) void input_tf4(float g[KK][TB], float o[KK][TB]) {
  float q[16][TB];
  for (int x = 0; x < 4; x++)
    for (int j = 0; j < TB; j++) {
      float d0 = g[x][j], d1 = g[4 + x][j], d2 = g[8 + x][j], d3 = g[12 + x][j];
      q[x][j] = d0 - d2;
      q[4 + x][j] = d1 + d2;
      q[8 + x][j] = d2 - d1;
      q[12 + x][j] = d1 - d3;
    }
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < TB; j++) {
      float e0 = q[r * 4][j], e1 = q[r * 4 + 1][j], e2 = q[r * 4 + 2][j], e3 = q[r * 4 + 3][j];
      o[r * 4][j] = e0 - e2;
      o[r * 4 + 1][j] = e1 + e2;
      o[r * 4 + 2][j] = e2 - e1;
      o[r * 4 + 3][j] = e1 - e3;
    }
}

/* A^T m A on TB tiles: 36 values per tile to its 4x4 block y[16][TB]. */
static inline __attribute__((always_inline)) void output_tf6(float m[KK][TB], float y[16][TB]) {
  float q[4 * T][TB];
  for (int x = 0; x < T; x++) {
    const float *m0 = m[x], *m1 = m[T + x], *m2 = m[2 * T + x], *m3 = m[3 * T + x],
                *m4 = m[4 * T + x], *m5 = m[5 * T + x];
    for (int j = 0; j < TB; j++) {
      float a = m1[j] + m2[j], b = m1[j] - m2[j];
      q[x][j] = m0[j] + a + m3[j] + m4[j];
      q[T + x][j] = b + 0.5f * m3[j] - 2 * m4[j];
      q[2 * T + x][j] = a + 0.25f * m3[j] + 4 * m4[j];
      q[3 * T + x][j] = b + 0.125f * m3[j] - 8 * m4[j] + m5[j];
    }
  }
  for (int r = 0; r < 4; r++) {
    const float *e0 = q[r * T], *e1 = q[r * T + 1], *e2 = q[r * T + 2], *e3 = q[r * T + 3],
                *e4 = q[r * T + 4], *e5 = q[r * T + 5];
    float *o = y[r * 4];
    for (int j = 0; j < TB; j++) {
      float a = e1[j] + e2[j], b = e1[j] - e2[j];
      o[j] = e0[j] + a + e3[j] + e4[j];
      o[TB + j] = b + 0.5f * e3[j] - 2 * e4[j];
      o[2 * TB + j] = a + 0.25f * e3[j] + 4 * e4[j];
      o[3 * TB + j] = b + 0.125f * e3[j] - 8 * e4[j] + e5[j];
    }
  }
}

/* F(2x2, 5x5)'s A^T m A: 36 values per tile to its 2x2 block y[4][TB], by
** rows m0 + m1 + m2 + m3 + m4 and m1 - m2 + m3 / 2 - 2 m4 + m5. */
static inline __attribute__((always_inline)) void output_tf62(float m[KK][TB], float y[16][TB]) {
  float q[2 * T][TB];
  for (int x = 0; x < T; x++)
    for (int j = 0; j < TB; j++) {
      float m1 = m[T + x][j], m2 = m[2 * T + x][j], m3 = m[3 * T + x][j], m4 = m[4 * T + x][j];
      q[x][j] = m[x][j] + m1 + m2 + m3 + m4;
      q[T + x][j] = m1 - m2 + 0.5f * m3 - 2 * m4 + m[5 * T + x][j];
    }
  for (int r = 0; r < 2; r++)
    for (int j = 0; j < TB; j++) {
      float e1 = q[r * T + 1][j], e2 = q[r * T + 2][j], e3 = q[r * T + 3][j], e4 = q[r * T + 4][j];
      y[r * 2][j] = q[r * T][j] + e1 + e2 + e3 + e4;
      y[r * 2 + 1][j] = e1 - e2 + 0.5f * e3 - 2 * e4 + q[r * T + 5][j];
    }
}

/* F(2x2, 3x3)'s A^T m A: 16 values per tile to its 2x2 block y[4][TB], by
** rows m0 + m1 + m2 and m1 - m2 - m3. */
static inline __attribute__((always_inline)) void output_tf4(float m[KK][TB], float y[16][TB]) {
  float q[8][TB];
  for (int x = 0; x < 4; x++)
    for (int j = 0; j < TB; j++) {
      float m1 = m[4 + x][j], m2 = m[8 + x][j];
      q[x][j] = m[x][j] + m1 + m2;
      q[4 + x][j] = m1 - m2 - m[12 + x][j];
    }
  for (int r = 0; r < 2; r++)
    for (int j = 0; j < TB; j++) {
      float e1 = q[r * 4 + 1][j], e2 = q[r * 4 + 2][j];
      y[r * 2][j] = q[r * 4][j] + e1 + e2;
      y[r * 2 + 1][j] = e1 - e2 - q[r * 4 + 3][j];
    }
}

/* Block i of tiles, every input channel: gather, transform, then each of
** the t*t rows of TB values to its place in V[k], which holds the chunk's
** tiles in panels of TB = 16 (the product's packed layout, sgemm.h):
** [k][tile / 16][c][tile % 16]; vc is the block's panel in V[0]. */
static inline __attribute__((always_inline)) void input_block(const wino *s, float *vc, int64_t t0,
                                                              int64_t c0, int64_t c1) {
  float g[KK][TB], o[KK][TB];
  block b;
  int64_t kstride = s->vk;
  locate(s, t0, &b);
  for (int64_t c = c0; c < c1; c++) {
    gather(s, &b, c, g);
    if (s->t == T) input_tf6(g, o);
    else input_tf4(g, o);
    float *v = vc + c * TB;
    for (int k = 0; k < s->kk; k++) memcpy(v + k * kstride, o[k], sizeof o[k]);
  }
}

/* Block i of tiles, every output channel: the t*t rows of M back, the
** transform, then bias, residual and clamp on the way out; the part of an
** o x o block past the output's edge is dropped. */
static inline __attribute__((always_inline)) void output_block(const wino *s, const float *mc, int64_t t0,
                                                               int64_t o0, int64_t o1) {
  float m[KK][TB], y[16][TB];
  block b;
  int64_t kstride = s->mk, plane = s->ho * s->wo;
  float lo = s->clamp ? s->lo : -INFINITY, hi = s->clamp ? s->hi : INFINITY;
  locate(s, t0, &b);
  for (int64_t o = o0; o < o1; o++) {
    const float *src = mc + o * s->ct;
    for (int k = 0; k < s->kk; k++) memcpy(m[k], src + k * kstride, sizeof m[k]);
    if (s->t != T) output_tf4(m, y);
    else if (s->o == 4) output_tf6(m, y);
    else output_tf62(m, y);
    float bias = s->bias ? s->bias[o] : 0.0f, sc = s->scale ? s->scale[o] : 1.0f;
    int j = 0;
#ifdef WINO_AVX2
    if (s->avx2 && s->o == 4)
      for (; j + 8 <= b.n; j += 8) scatter8_avx2(s, &b, j, y, o, sc, bias);
#endif
    for (; j < b.n; j++) {
      int64_t off = b.dst[j] + o * plane;
      for (int r = 0; r < b.rows[j]; r++) {
        float *dst = s->out + off + r * s->wo;
        const float *res = s->res ? s->res + off + r * s->wo : NULL;
        for (int c = 0; c < b.cols[j]; c++) {
          float v = sc * y[r * s->o + c][j] + bias + (res ? res[c] : 0.0f);
          dst[c] = v < lo ? lo : v > hi ? hi : v;
        }
      }
    }
  }
}

/* Tiles [t0, t0 + ct) from input to output on the calling thread: the
** input blocks into V, the t*t products into M (ember's own product, sgemm.c:
** it reads U[k] where it lies and V[k] already packed, where OpenBLAS packed
** both again for each chunk), the output blocks. */
static inline __attribute__((always_inline)) void product(const em_ctx *ctx, const wino *s,
                                                          const float *v, float *m, int64_t n, int k,
                                                          int64_t o0, int64_t o1) {
  em_gemm g = { o1 - o0, n, s->cin, NULL, s->cin,
                s->u + k * em_gemm_packed_size(s->cout, s->cin) + o0 * s->cin,
                NULL, NULL, v + k * s->vk, s->cin * TB, m + k * s->mk + o0 * s->ct, s->ct,
                NULL, NULL, NULL, 0, 0.0f, 0.0f };
  em_gemm_run(ctx, &g, NULL);
}

static inline __attribute__((always_inline)) void chunk(const em_ctx *ctx, const wino *s, float *v,
                                                        float *m, int64_t t0) {
  int64_t n = s->tiles - t0 < s->ct ? s->tiles - t0 : s->ct;
  for (int64_t j = 0; j < n; j += TB) input_block(s, v + j * s->cin, t0 + j, 0, s->cin);
  for (int k = 0; k < s->kk; k++) product(ctx, s, v, m, n, k, 0, s->cout);
  for (int64_t j = 0; j < n; j += TB) output_block(s, m + j, t0 + j, 0, s->cout);
}

/* Fewer tiles than a chunk per thread (a 14x14 output has 16): all of them
** in one chunk, each phase split over the threads: the input planes, then
** the output planes by panels of the weight, each thread running the t*t
** products' rows for its planes and their output transform, so it reads
** back only the products it wrote (splitting each product instead cost t*t
** handovers; splitting the t*t products among the threads left half of
** each thread's output transform reading the other core's products). */
enum { INPUT, OUTPUT, CHUNKS };

typedef struct wino_job { const em_ctx *ctx; const wino *s; float *v, *m; int64_t each; int phase; } wino_job;

static inline __attribute__((always_inline)) void phase(const wino_job *j, int64_t a, int64_t b, int t) {
  const wino *s = j->s;
  switch (j->phase) {
  case INPUT:
    for (int64_t q = 0; q < s->tiles; q += TB) input_block(s, j->v + q * s->cin, q, a, b);
    break;
  case OUTPUT: {   /* output planes [o0, o1): panels [a, b) of the weight */
    int64_t o0 = a * EM_GEMM_MR, o1 = b * EM_GEMM_MR < s->cout ? b * EM_GEMM_MR : s->cout;
    for (int k = 0; k < s->kk; k++) product(j->ctx, s, j->v, j->m, s->tiles, k, o0, o1);
    for (int64_t q = 0; q < s->tiles; q += TB) output_block(s, j->m + q, q, o0, o1);
    break;
  }
  default: {   /* chunks [a, b), in thread t's V and M */
    float *v = j->v + t * j->each, *m = v + s->kk * s->vk;
    for (int64_t i = a; i < b; i++) chunk(j->ctx, s, v, m, i * s->ct);
  }
  }
}

/* The same code for each ISA (convutil.h): the transforms' loops over TB
** tiles in 4, 8 or 16 lanes; the product picks its kernel by ctx->isa too. */
EM_ISA_TASKS(phase, phase)

int em_winograd_fits(const em_conv_params *p) {
  return (p->kh == 3 || p->kh == 5) && p->kw == p->kh && p->sh == 1 && p->sw == 1 && p->dh == 1 &&
         p->dw == 1 && p->groups == 1;
}

/* Whether nt threads, each taking its share of nchunks chunks of ct tiles,
** would take more than UNEVEN/16 of an even share of the tiles: 49 tiles
** (a 28x28 output) went 32 + 17, the first thread's share setting the
** time; split by output planes instead, 128 -> 128 at 28x28 ran 1.1-1.2x
** faster (2 threads, two sets of runs). */
#ifndef UNEVEN
#define UNEVEN 18
#endif
static int uneven(int64_t tiles, int64_t ct, int64_t nchunks, int64_t nt) {
  for (int64_t t = 0; t < nt; t++) {
    int64_t a = nchunks * t / nt * ct, b = nchunks * (t + 1) / nt * ct;
    if (b > tiles) b = tiles;
    if (a < b && 16 * (b - a) * nt > UNEVEN * tiles) return 1;
  }
  return 0;
}

/* How nt threads share s's tiles: a chunk per thread at least, each one's V
** and M within CHUNK_BYTES but never under MIN_CHUNK tiles (thinner products
** spend their time packing U); sets s->ct, vk, mk and *nchunks, and returns
** whether one chunk's phases are split over the threads instead. */
static int chunking(int64_t nt, wino *s, int64_t *nchunks) {
  int64_t per = (s->tiles + nt - 1) / nt;
  int64_t cap = CHUNK_BYTES / ((int64_t)sizeof(float) * s->kk * (s->cin + s->cout)) / TB * TB;
  s->ct = (per + TB - 1) / TB * TB;
  if (s->ct > cap) s->ct = cap > MIN_CHUNK ? cap : MIN_CHUNK;
  *nchunks = (s->tiles + s->ct - 1) / s->ct;
  int split = nt > 1 && (*nchunks < nt || uneven(s->tiles, s->ct, *nchunks, nt));
  if (split) s->ct = (s->tiles + TB - 1) / TB * TB;   /* one chunk, its phases split */
  s->vk = s->cin * s->ct + KPAD;
  s->mk = s->cout * s->ct + KPAD;
  return split;
}

int64_t em_winograd_scratch(const em_ctx *ctx, int64_t n, int64_t cin, int64_t cout, int64_t ho,
                            int64_t wo, int m, int k) {
  wino s;
  int64_t nt = ctx->nthreads, nchunks;
  s.n = n; s.cin = cin; s.cout = cout; s.t = m + k - 1; s.kk = s.t * s.t; s.o = m;
  s.tiles = n * ((ho + m - 1) / m) * ((wo + m - 1) / m);
  int split = chunking(nt, &s, &nchunks);
  return (split ? 1 : nt) * s.kk * (s.vk + s.mk);
}

em_status em_winograd_forward(em_ctx *ctx, const em_wino_args *a, const em_tensor *u,
                              em_tensor *buf, em_err *err) {
  char b[128];
  wino s;
  em_status st;
  int64_t sz[1];
  if (!ctx || !a || !u || !buf) return em_fail(err, EM_EARG, "winograd: missing argument");
  if (a->k != 3 && a->k != 5)
    return em_fail(err, EM_EARG, "winograd: a %dx%d kernel, expected 3x3 or 5x5", a->k, a->k);
  if (!u->storage || u->ndim != 4 || (u->size[0] != 36 && (u->size[0] != 16 || a->k != 3)) ||
      u->size[1] != (a->cout + EM_GEMM_MR - 1) / EM_GEMM_MR || u->size[2] != a->cin ||
      u->size[3] != EM_GEMM_MR || !em_tensor_is_contiguous(u))
    return em_fail(err, EM_ESHAPE, "expected a contiguous transformed weight 36x%lldx%lldx%d "
                   "(or 16x... for F(2x2, 3x3)), got %s",
                   (long long)(a->cout + EM_GEMM_MR - 1) / EM_GEMM_MR, (long long)a->cin,
                   EM_GEMM_MR, em_tensor_shape_str(u, b, sizeof b));
  s.in = a->in; s.bias = a->bias; s.res = a->res; s.out = a->out; s.scale = a->scale;
  s.n = a->n; s.cin = a->cin; s.cout = a->cout; s.h = a->h; s.w = a->w;
  s.ho = a->ho; s.wo = a->wo; s.pt = a->pt; s.pl = a->pl;
  s.clamp = a->clamp; s.lo = a->lo; s.hi = a->hi;
  s.avx2 = ctx->isa >= EM_ISA_AVX2;
  s.kk = (int)u->size[0]; s.t = s.kk == 36 ? 6 : 4; s.o = s.t - a->k + 1;
  s.th = (s.ho + s.o - 1) / s.o; s.tw = (s.wo + s.o - 1) / s.o;
  s.tiles = s.n * s.th * s.tw;
  s.u = em_tensor_data(u);
  if (s.tiles > INT_MAX || s.cin > INT_MAX || s.cout > INT_MAX)
    return em_fail(err, EM_ENOMEM, "winograd: %lld tiles too many", (long long)s.tiles);
  int64_t nt = ctx->nthreads, nchunks;
  int split = chunking(nt, &s, &nchunks);
  int64_t each = s.kk * (s.vk + s.mk);
  sz[0] = (split ? 1 : nt) * each;
  if ((st = em_tensor_resize(buf, 1, sz, err))) return st;
  float *scratch = em_tensor_data(buf);
  em_task fn = EM_ISA_TASK(phase, ctx);
  wino_job j = { ctx, &s, scratch, scratch + s.kk * s.vk, each, CHUNKS };
  if (!split) {
    em_parallel(ctx, (int)nt, nchunks, fn, &j);
    return EM_OK;
  }
  j.phase = INPUT;
  em_parallel(ctx, (int)nt, s.cin, fn, &j);
  j.phase = OUTPUT;
  em_parallel(ctx, (int)nt, (s.cout + EM_GEMM_MR - 1) / EM_GEMM_MR, fn, &j);
  return EM_OK;
}
