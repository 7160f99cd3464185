/* convdirect.c -- direct convolution for layers with few input planes (the
** network stems: 3 planes, 3x3 to 11x11, stride 2-4), AVX2 + FMA, and
** AVX-512 where the CPU has it (tiles twice as wide).
**
** Why not im2col + sgemm here: with 3 input planes K is only 27-363, so the
** product does few flops per packed float, and the pack (strided gathers
** for stride 2) and the store of every 6x16 tile dominate. Here the input is
** copied into zero-padded "phase planes": for stride sy x sx, plane
** (c, py, px) holds padded rows py, py + sy, ... and columns px, px + sx, ...
** of input plane c. Output pixels (oy, ox .. ox + 15) of any tap (ky, kx)
** then read 16 consecutive floats of one phase plane: row oy + ky / sy,
** columns ox + kx / sx on, of plane (c, ky % sy, kx % sx) (ky, kx times the
** dilation). A register tile of 6 output channels x 16 pixels (12
** accumulators; 3 x 32 for a last panel of 1-3 channels, 6 x 8 for a row's
** last 1-8 pixels) runs over the Cin x kH x kW taps with the weight packed
** as sgemm's A (each tap's 6 channel weights contiguous: em_gemm_pack_a, so
** the caller's packed_weight serves both paths), then applies the epilogue
** and stores straight into the NCHW output rows. */

#include <math.h>
#include <string.h>

#include "convutil.h"
#include "sgemm.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#define MR EM_GEMM_MR   /* output channels per tile (the packed weight's panels) */
#define MAX_TAPS 2048   /* the tap offset table lives on the stack */
#ifndef BAND
#define BAND 16         /* output rows per band of phase planes (8 and 32 measured no better) */
#endif
#ifndef PAR_FLOPS
#define PAR_FLOPS (1 << 20)   /* below this a second thread costs more than it brings */
#endif

int em_conv_direct_fits(const em_ctx *ctx, const em_conv_params *p, int64_t cin) {
#if defined(__x86_64__) || defined(__i386__)
  return ctx->isa >= EM_ISA_AVX2 && p->groups == 1 && cin * p->kh * p->kw <= MAX_TAPS;
#else
  (void)ctx; (void)p; (void)cin;
  return 0;
#endif
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2,fma")))

/* The phase planes of one band of output rows [y0, y1): phase rows y0 ..
** y1 - 1 + reach (the rows its taps read), hb rows of wq floats, plane after
** plane, (c, py, px) at ((c * sy + py) * sx + px) * hb * wq. A band at a
** time keeps them in L2 (the whole image's were over 1 MB at 299x299, read
** back from L3); each thread fills its own. */
typedef struct phases {
  int64_t reach, hb, wq, plane, count;
} phases;

static phases phase_geometry(const em_direct_args *a, const em_conv_params *p) {
  phases g;
  int64_t wp = a->w + p->pl + p->pr;
  int64_t reach = ((int64_t)p->kw - 1) * p->dw / p->sw;   /* columns right of ox a tap reads */
  g.reach = ((int64_t)p->kh - 1) * p->dh / p->sh;         /* rows below oy */
  g.hb = BAND + g.reach;
  /* the last tile of a row computes all its lanes (up to 64): columns up to
  ** the row's width rounded up to 64 plus the kernel's reach exist (zeros),
  ** so no tap reads past the planes' end */
  g.wq = (wp + p->sw - 1) / p->sw;
  if (g.wq < (a->wo + 63) / 64 * 64 + reach) g.wq = (a->wo + 63) / 64 * 64 + reach;
  g.wq = (g.wq + 7) / 8 * 8;   /* whole vectors for fill_pair */
  g.plane = g.hb * g.wq;
  g.count = a->cin * p->sh * p->sw;
  return g;
}

/* Both column phases of an input row at stride 2 (most stems): 16
** consecutive floats hold 8 columns of each, split by two shuffles; at the
** row's ends a masked load reads the lanes inside it (the rest are 0, the
** padding). wq is a multiple of 8. */
AVX2 static void fill_pair(const float *row, float *d0, float *d1, int64_t w, int64_t wq,
                           int64_t pl) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t q = 0; q < wq; q += 8) {
    int64_t i = 2 * q - pl;   /* the input column of d0[q] */
    __m256 u, v, e, o;
    if (i >= 0 && i + 16 <= w) {
      u = _mm256_loadu_ps(row + i);
      v = _mm256_loadu_ps(row + i + 8);
    } else {   /* lanes l in [lo, hi): 0 <= i + l < w */
      __m256i lo = _mm256_set1_epi32((int)clamp64(-i, 0, 16) - 1);
      __m256i hi = _mm256_set1_epi32((int)clamp64(w - i, 0, 16));
      __m256i lv = _mm256_add_epi32(lane, _mm256_set1_epi32(8));
      __m256i mu = _mm256_and_si256(_mm256_cmpgt_epi32(lane, lo), _mm256_cmpgt_epi32(hi, lane));
      __m256i mv = _mm256_and_si256(_mm256_cmpgt_epi32(lv, lo), _mm256_cmpgt_epi32(hi, lv));
      u = _mm256_maskload_ps(row + i, mu);
      v = _mm256_maskload_ps(row + i + 8, mv);
    }
    e = _mm256_shuffle_ps(u, v, _MM_SHUFFLE(2, 0, 2, 0));   /* u0 u2 v0 v2 | u4 u6 v4 v6 */
    o = _mm256_shuffle_ps(u, v, _MM_SHUFFLE(3, 1, 3, 1));
    _mm256_storeu_ps(d0 + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
    _mm256_storeu_ps(d1 + q, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
  }
}

/* Phase row r of planes (c, py, px) for every px, from input plane c, into
** the band's row r - r0. */
static void fill_row(const float *x, float *ph, const em_direct_args *a, const em_conv_params *p,
                     const phases *g, int64_t c, int64_t py, int64_t r, int64_t r0) {
  int64_t iy = r * p->sh + py - p->pt;
  float *d = ph + (c * p->sh + py) * p->sw * g->plane + (r - r0) * g->wq;   /* px = 0 */
  const float *row = x + (c * a->h + iy) * a->w;
  if (iy < 0 || iy >= a->h) {
    for (int64_t px = 0; px < p->sw; px++) memset(d + px * g->plane, 0, (size_t)g->wq * sizeof *d);
    return;
  }
  if (p->sw == 2) {
    fill_pair(row, d, d + g->plane, a->w, g->wq, p->pl);
    return;
  }
  for (int64_t px = 0; px < p->sw; px++, d += g->plane) {
    int64_t lo, hi;
    valid_span(a->w, g->wq, p->sw, px - p->pl, &lo, &hi);
    memset(d, 0, (size_t)lo * sizeof *d);
    memset(d + hi, 0, (size_t)(g->wq - hi) * sizeof *d);
    for (int64_t q = lo; q < hi; q++) d[q] = row[q * p->sw + px - p->pl];
  }
}

/* Where the tile of a band's first row reads for tap t = (c, ky, kx),
** relative to the band's phase planes: the tile at (oy, ox) adds
** (oy - y0) * wq + ox. */
static void tap_offsets(const em_conv_params *p, const phases *g, int64_t cin, int64_t *off) {
  int64_t t = 0;
  for (int64_t c = 0; c < cin; c++)
    for (int64_t ky = 0; ky < p->kh; ky++)
      for (int64_t kx = 0; kx < p->kw; kx++, t++) {
        int64_t dy = ky * p->dh, dx = kx * p->dw;
        off[t] = ((c * p->sh + dy % p->sh) * p->sw + dx % p->sw) * g->plane +
                 dy / p->sh * g->wq + dx / p->sw;
      }
}

/* The epilogue of a panel's rows as one multiply-add and a clamp, so the
** tiles store with no test per row: scale (1 without one) and bias (0),
** clamp bounds (infinite without a clamp). */
typedef struct tile_epi {
  float scale[MR], bias[MR];
  float lo, hi;
} tile_epi;

/* One tile of R channels x 8V pixels: x the phase planes moved to (oy, ox),
** w the 6-channel panel (k taps x 6 floats; rows 0..R-1 used), o and res the
** tile's first channel at (oy, ox). Rows r < mr and pixels l < nv are
** stored (masked stores in a row's tail). R and V are constants at every
** call, so the accumulator array unrolls into registers. */
AVX2 static inline __attribute__((always_inline))
void tile_rv(const float *x, const int64_t *off, int64_t k, const float *w, float *o,
             const float *res, int64_t ostride, int mr, int nv, const tile_epi *ep,
             const int R, const int V) {
  const tile_epi e = *ep;   /* a local copy: the stores below cannot change it */
  __m256 acc[MR][4];
  #pragma GCC unroll 6
  for (int r = 0; r < R; r++)
    #pragma GCC unroll 4
    for (int v = 0; v < V; v++) acc[r][v] = _mm256_setzero_ps();
  for (int64_t t = 0; t < k; t++, w += MR) {
    const float *xt = x + off[t];
    __m256 xv[4];
    #pragma GCC unroll 4
    for (int v = 0; v < V; v++) xv[v] = _mm256_loadu_ps(xt + 8 * v);
    #pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
      __m256 wv = _mm256_broadcast_ss(w + r);
      #pragma GCC unroll 4
      for (int v = 0; v < V; v++) acc[r][v] = _mm256_fmadd_ps(wv, xv[v], acc[r][v]);
    }
  }
  __m256i mask[4];
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256 lo = _mm256_set1_ps(e.lo), hi = _mm256_set1_ps(e.hi);
  #pragma GCC unroll 4
  for (int v = 0; v < V; v++) mask[v] = _mm256_cmpgt_epi32(_mm256_set1_epi32(nv - 8 * v), lane);
  #pragma GCC unroll 6
  for (int r = 0; r < R; r++) {
    if (r >= mr) break;
    float *orow = o + r * ostride;
    const float *rrow = res ? res + r * ostride : NULL;
    __m256 s = _mm256_set1_ps(e.scale[r]), b = _mm256_set1_ps(e.bias[r]);
    #pragma GCC unroll 4
    for (int v = 0; v < V; v++) {
      int full = nv >= 8 * v + 8;
      __m256 y = _mm256_fmadd_ps(acc[r][v], s, b);
      if (rrow)    /* masked in the tail: the residual ends with its row */
        y = _mm256_add_ps(y, full ? _mm256_loadu_ps(rrow + 8 * v)
                                  : _mm256_maskload_ps(rrow + 8 * v, mask[v]));
      /* y second: max and min return it when it is NaN */
      y = _mm256_min_ps(hi, _mm256_max_ps(lo, y));
      if (full) _mm256_storeu_ps(orow + 8 * v, y);
      else _mm256_maskstore_ps(orow + 8 * v, mask[v], y);
    }
  }
}

/* The tiles each width runs, one function apiece (R and V constants). */
#define TILE_FN(name, attr, body, R, V)                                                      \
  attr static void name(const float *x, const int64_t *off, int64_t k, const float *w, float *o, \
                        const float *res, int64_t os, int mr, int nv, const tile_epi *e) {      \
    body(x, off, k, w, o, res, os, mr, nv, e, R, V);                                           \
  }
TILE_FN(tile_6x16, AVX2, tile_rv, 6, 2)
TILE_FN(tile_6x8, AVX2, tile_rv, 6, 1)
TILE_FN(tile_3x32, AVX2, tile_rv, 3, 4)
TILE_FN(tile_3x16, AVX2, tile_rv, 3, 2)

/* One output row of one panel: 16-pixel tiles (32 when the panel has at most
** 3 channels, so that its tiles keep 12 accumulators busy). The row's last
** pixels go in a tile of the next width up that holds them, moved left to
** end with the row where the row is that wide: it stores again some pixels
** the tile before it stored, the same values, but with plain stores (masked
** ones are microcoded on AMD's Zen, tens of cycles each). */
AVX2 static void panel_row(const float *x, const int64_t *off, int64_t k, const float *w,
                           float *o, const float *res, int64_t os, int mr, int64_t wo,
                           const tile_epi *e) {
  int64_t ox = 0;
#define AT(ox) x + (ox), off, k, w, o + (ox), res ? res + (ox) : NULL, os, mr
  if (mr > 3) {
    for (; ox + 16 <= wo; ox += 16) tile_6x16(AT(ox), 16, e);
    if (ox == wo) return;
    if (wo - ox > 8) {
      if (wo >= 16) tile_6x16(AT(wo - 16), 16, e);
      else tile_6x16(AT(ox), (int)(wo - ox), e);
    } else {
      if (wo >= 8) tile_6x8(AT(wo - 8), 8, e);
      else tile_6x8(AT(ox), (int)(wo - ox), e);
    }
    return;
  }
  for (; ox + 32 <= wo; ox += 32) tile_3x32(AT(ox), 32, e);
  if (ox == wo) return;
  if (wo - ox > 16) {
    if (wo >= 32) tile_3x32(AT(wo - 32), 32, e);
    else tile_3x32(AT(ox), (int)(wo - ox), e);
  } else {
    if (wo >= 16) tile_3x16(AT(wo - 16), 16, e);
    else tile_3x16(AT(ox), (int)(wo - ox), e);
  }
#undef AT
}

/* The same in AVX-512: tiles of R channels x 16V pixels, the tail's lanes
** stored under a mask (cheap here, unlike AVX2's microcoded ones). */
#define AVX512 __attribute__((target("avx512f,avx2,fma")))

AVX512 static inline __attribute__((always_inline))
void tile_z(const float *x, const int64_t *off, int64_t k, const float *w, float *o,
            const float *res, int64_t ostride, int mr, int nv, const tile_epi *ep,
            const int R, const int V) {
  const tile_epi e = *ep;
  __m512 acc[MR][4];
  #pragma GCC unroll 6
  for (int r = 0; r < R; r++)
    #pragma GCC unroll 4
    for (int v = 0; v < V; v++) acc[r][v] = _mm512_setzero_ps();
  for (int64_t t = 0; t < k; t++, w += MR) {
    const float *xt = x + off[t];
    __m512 xv[4];
    #pragma GCC unroll 4
    for (int v = 0; v < V; v++) xv[v] = _mm512_loadu_ps(xt + 16 * v);
    #pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
      __m512 wv = _mm512_set1_ps(w[r]);
      #pragma GCC unroll 4
      for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(wv, xv[v], acc[r][v]);
    }
  }
  __mmask16 mask[4];
  const __m512 lo = _mm512_set1_ps(e.lo), hi = _mm512_set1_ps(e.hi);
  #pragma GCC unroll 4
  for (int v = 0; v < V; v++) {
    int n = nv - 16 * v;
    mask[v] = n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
  }
  #pragma GCC unroll 6
  for (int r = 0; r < R; r++) {
    if (r >= mr) break;
    float *orow = o + r * ostride;
    const float *rrow = res ? res + r * ostride : NULL;
    __m512 sc = _mm512_set1_ps(e.scale[r]), b = _mm512_set1_ps(e.bias[r]);
    #pragma GCC unroll 4
    for (int v = 0; v < V; v++) {
      __m512 y = _mm512_fmadd_ps(acc[r][v], sc, b);
      if (rrow) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(mask[v], rrow + 16 * v));
      y = _mm512_min_ps(hi, _mm512_max_ps(lo, y));   /* y second: NaN stays */
      _mm512_mask_storeu_ps(orow + 16 * v, mask[v], y);
    }
  }
}

TILE_FN(tile_6x48z, AVX512, tile_z, 6, 3)
TILE_FN(tile_6x32z, AVX512, tile_z, 6, 2)
TILE_FN(tile_6x16z, AVX512, tile_z, 6, 1)
TILE_FN(tile_3x64z, AVX512, tile_z, 3, 4)
TILE_FN(tile_3x32z, AVX512, tile_z, 3, 2)

/* panel_row with tiles twice as wide: 32 pixels (64 for 1-3 channels), the
** last pixels in a tile of the width that holds them, masked; a last 1-16
** with the 32 before them in one of 48 (the 6 x 16 tile loads 7 times for
** its 6 FMAs a tap: a 112-wide row's last 16 took 17% of ResNet's stem). */
AVX512 static void panel_row_avx512(const float *x, const int64_t *off, int64_t k, const float *w,
                                    float *o, const float *res, int64_t os, int mr, int64_t wo,
                                    const tile_epi *e) {
  int64_t ox = 0;
#define AT(ox) x + (ox), off, k, w, o + (ox), res ? res + (ox) : NULL, os, mr
  if (mr > 3) {
    const int64_t end = wo > 32 && wo % 32 && wo % 32 <= 16 ? wo - 32 - wo % 32 : wo;
    for (; ox + 32 <= end; ox += 32) tile_6x32z(AT(ox), 32, e);
    if (ox == wo) return;
    if (end < wo) tile_6x48z(AT(ox), (int)(wo - ox), e);
    else if (wo - ox > 16) tile_6x32z(AT(ox), (int)(wo - ox), e);
    else tile_6x16z(AT(ox), (int)(wo - ox), e);
    return;
  }
  for (; ox + 64 <= wo; ox += 64) tile_3x64z(AT(ox), 64, e);
  if (ox == wo) return;
  if (wo - ox > 32) tile_3x64z(AT(ox), (int)(wo - ox), e);
  else tile_3x32z(AT(ox), (int)(wo - ox), e);
#undef AT
}

typedef void (*row_fn)(const float *x, const int64_t *off, int64_t k, const float *w, float *o,
                       const float *res, int64_t os, int mr, int64_t wo, const tile_epi *e);

typedef struct band_job {
  const em_direct_args *a;
  const em_conv_params *p;
  const phases *g;
  const float *x, *wp, *res;
  float *phases_all, *y;
  const int64_t *off;
  int64_t rows;   /* output rows of a band */
  row_fn row;     /* panel_row for the context's ISA */
} band_job;

/* Bands [b0, b1) of one image: a thread fills a band's phase planes (in its
** own ph), then runs every channel panel over its rows. */
static void run_bands(void *arg, int64_t b0, int64_t b1, int t) {
  const band_job *j = arg;
  const em_direct_args *a = j->a;
  const em_conv_params *p = j->p;
  const phases *g = j->g;
  int64_t k = a->cin * p->kh * p->kw, howo = a->ho * a->wo;
  float *ph = j->phases_all + t * g->count * g->plane;
  tile_epi e;
  e.lo = a->clamp ? a->lo : -INFINITY;
  e.hi = a->clamp ? a->hi : INFINITY;
  for (int64_t bi = b0; bi < b1; bi++) {
    int64_t r0 = bi * j->rows, r1 = r0 + j->rows < a->ho ? r0 + j->rows : a->ho;
    for (int64_t c = 0; c < a->cin; c++)
      for (int64_t py = 0; py < p->sh; py++)
        for (int64_t r = r0; r < r1 + g->reach; r++) fill_row(j->x, ph, a, p, g, c, py, r, r0);
    for (int64_t c0 = 0; c0 < a->cout; c0 += MR) {
      int mr = a->cout - c0 < MR ? (int)(a->cout - c0) : MR;
      for (int r = 0; r < MR; r++) {
        e.scale[r] = a->scale && r < mr ? a->scale[c0 + r] : 1.0f;
        e.bias[r] = a->bias && r < mr ? a->bias[c0 + r] : 0.0f;
      }
      for (int64_t oy = r0; oy < r1; oy++) {
        int64_t at = c0 * howo + oy * a->wo;
        /* panel c0 / 6 of the weight: k x 6 floats */
        j->row(ph + (oy - r0) * g->wq, j->off, k, j->wp + c0 * k, j->y + at,
                  j->res ? j->res + at : NULL, howo, mr, a->wo, &e);
      }
    }
  }
}

/* One image in bands of at most BAND output rows, a multiple of nt of them
** (on a shared machine a thread that lost its core leaves its bands to the
** other, parallel.c). */
static void run_image(const em_ctx *ctx, band_job *j, int nt) {
  int64_t ho = j->a->ho, nb = nt * ((ho + nt * BAND - 1) / (nt * BAND));
  j->rows = (ho + nb - 1) / nb;
  em_parallel(ctx, nt, nb, run_bands, j);
}

static int64_t scratch_size(int nt, const em_direct_args *a, const em_conv_params *p) {
  phases g = phase_geometry(a, p);
  int64_t k = a->cin * p->kh * p->kw;
  return nt * g.count * g.plane + (p->packed_weight ? 0 : em_gemm_packed_size(a->cout, k));
}

/* Threads a layer takes: one below PAR_FLOPS. */
static int threads(const em_ctx *ctx, const em_direct_args *a, const em_conv_params *p) {
  double flops = 2.0 * (double)(a->cout * a->ho * a->wo) * (double)(a->cin * p->kh * p->kw);
  return flops < PAR_FLOPS ? 1 : ctx->nthreads;
}

int64_t em_conv_direct_scratch(const em_ctx *ctx, const em_direct_args *a, const em_conv_params *p) {
  return scratch_size(threads(ctx, a, p), a, p);
}

em_status em_conv_direct_forward(em_ctx *ctx, const em_direct_args *a, em_tensor *buf,
                                 const em_conv_params *p, em_err *err) {
  phases g = phase_geometry(a, p);
  int64_t k = a->cin * p->kh * p->kw, off[MAX_TAPS], csz = a->cout * a->ho * a->wo;
  int nt = threads(ctx, a, p);
  int64_t sz[1] = { scratch_size(nt, a, p) };
  const float *wp;
  em_status st;
  if (k > MAX_TAPS)
    return em_fail(err, EM_EARG, "direct convolution: %lld taps, at most %d",
                   (long long)k, MAX_TAPS);
  if ((st = em_tensor_resize(buf, 1, sz, err))) return st;
  if (p->packed_weight) {   /* packed once, kept by the caller (conv_gemm's layout) */
    int64_t psz[1] = { em_gemm_packed_size(a->cout, k) };
    em_tensor *pw = p->packed_weight;
    if (!pw->storage || em_tensor_nelement(pw) != psz[0] || !em_tensor_is_contiguous(pw)) {
      if ((st = em_tensor_resize(pw, 1, psz, err))) return st;
      em_gemm_pack_a(ctx, a->weight, k, a->cout, k, em_tensor_data(pw));
    }
    wp = em_tensor_data(pw);
  } else {
    float *dst = em_tensor_data(buf) + nt * g.count * g.plane;
    em_gemm_pack_a(ctx, a->weight, k, a->cout, k, dst);
    wp = dst;
  }
  tap_offsets(p, &g, a->cin, off);
  for (int64_t img = 0; img < a->n; img++) {
    band_job j = { a, p, &g, a->in + img * a->cin * a->h * a->w, wp,
                   a->res ? a->res + img * csz : NULL, em_tensor_data(buf), a->out + img * csz,
                   off, 0, ctx->isa >= EM_ISA_AVX512 ? panel_row_avx512 : panel_row };
    run_image(ctx, &j, nt);
  }
  return EM_OK;
}

#else

int64_t em_conv_direct_scratch(const em_ctx *ctx, const em_direct_args *a, const em_conv_params *p) {
  (void)ctx; (void)a; (void)p;
  return 0;
}

em_status em_conv_direct_forward(em_ctx *ctx, const em_direct_args *a, em_tensor *buf,
                                 const em_conv_params *p, em_err *err) {
  (void)ctx; (void)a; (void)buf; (void)p;
  return em_fail(err, EM_EARG, "direct convolution needs x86 AVX2");
}

#endif
