/* sgemm.h -- ember's own float matrix product for the convolutions:
** C (m x n) = A (m x k) * B (k x n) with the epilogue of conv.c applied as
** the result is stored. A is read in place (row-major, the weight as it is);
** B never exists as a matrix: a pack function writes the block the kernel
** needs next, so a convolution's im2col happens block by block in cache.
** Internal: not installed with ember.h. */
#ifndef EMBER_SGEMM_H
#define EMBER_SGEMM_H

#include "ember.h"

#define EM_GEMM_MR 6    /* rows of A per packed panel */
#define EM_GEMM_NR 16   /* columns of B per packed panel */
#ifndef EM_GEMM_KC
#define EM_GEMM_KC 256  /* most rows of B a pack call is asked for */
#endif
#ifndef EM_GEMM_NC
#define EM_GEMM_NC 192  /* most columns of B a pack call is asked for */
#endif

/* Writes rows [k0, k0 + kc) and columns [j0, j0 + nc) of B into dst as
** ceil(nc / 16) panels of kc x 16 floats, panel after panel, row after row
** (dst[p*kc*16 + r*16 + l] = B[k0 + r][j0 + 16p + l]); columns past nc are 0. */
typedef void (*em_pack_fn)(const void *src, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                           float *dst);

typedef struct em_gemm {
  int64_t m, n, k;
  const float *a;            /* m x k, row stride lda */
  int64_t lda;
  const float *ap;           /* or A already packed by em_gemm_pack_a (then a is unused) */
  em_pack_fn pack;           /* B, k x n, through pack(src, ...) */
  const void *src;
  const float *bp;           /* or B already packed (then pack is unused): panel */
  int64_t bps;               /* p (16 columns, k rows of 16) at bp + p * bps */
  float *c;                  /* m x n, row stride ldc */
  int64_t ldc;
  /* the epilogue: c = clamp(scale[row] * A*B + bias[row] + res[row][col], lo, hi) */
  const float *scale;        /* m values, or NULL (1) */
  const float *bias;         /* m values, or NULL */
  const float *res;          /* m x n, row stride ldc, or NULL; or c itself (added in place:
                                without a scale from the first k block on, with one
                                k must fit one block, EM_GEMM_KC) */
  int clamp;
  float lo, hi;
} em_gemm;

/* Floats of scratch em_gemm_run needs for g with nthreads threads (none
** when A and B both come packed). */
int64_t em_gemm_scratch(int nthreads, const em_gemm *g);
/* Runs the product on up to ctx->nthreads threads (one when called from
** inside an em_parallel job), with the kernel for ctx->isa; scratch holds
** em_gemm_scratch(ctx->nthreads, g) floats. */
void em_gemm_run(const em_ctx *ctx, const em_gemm *g, float *scratch);

/* A (m x k, row stride lda) packed for em_gemm.ap: ceil(m / 6) panels of
** k x 6 floats (panel p, column j, row r at dst[(p * k + j) * 6 + r]; rows
** past m repeat the last). */
#define em_gemm_packed_size(m, k) (((m) + EM_GEMM_MR - 1) / EM_GEMM_MR * EM_GEMM_MR * (k))
void em_gemm_pack_a(const em_ctx *ctx, const float *a, int64_t lda, int64_t m, int64_t k,
                    float *dst);   /* on ctx's threads, with its ISA's transpose */

/* B as rows of floats: src points to this. Row k starts at b + k * ldb, or
** at b + rowoff[k] when rowoff is set (a strided convolution's phase planes,
** em_conv_phases_rows). */
typedef struct em_gemm_mat {
  const float *b;
  int64_t ldb;
  const int64_t *rowoff;
} em_gemm_mat;
void em_pack_mat(const void *src, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst);

/* B as the im2col matrix of one image's (group's) input planes x, c x h x w,
** for the convolution p (convpack.c): row (ch, ky, kx), column (oy, ox).
** Needs AVX2 (conv.c uses it only then). */
typedef struct em_conv_src {
  const float *x;
  int64_t h, w, ho, wo;
  const em_conv_params *p;
  int64_t c;                 /* planes at x: the pack may read any float of them */
} em_conv_src;
void em_pack_conv(const void *src, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst);

/* A strided convolution's input (stride sh x sw > 1, no dilation) as phase
** planes (convpack.c), so that its im2col rows are runs of consecutive
** floats: for each input plane c, row phase py < sh and tap column kx < kw,
** a plane of hq = ho + (kh - 1) / sh rows of wo floats, zero in the
** padding, at v + ((c * sh + py) * kw + kx) * hq * wo:
**   plane[i][ox] = x[c][i * sh + py - pt][ox * sw + kx - pl].
** Tap (ky, kx) of output j = oy * wo + ox then reads element
** (ky / sh) * wo + j of plane (c, ky % sh, kx): em_conv_phases_rows writes
** where each im2col row (c, ky, kx) starts, for em_gemm_mat.rowoff. */
int64_t em_conv_phases_size(int64_t c, int64_t ho, int64_t wo, const em_conv_params *p);
void em_conv_phases_fill(const em_ctx *ctx, const float *x, int64_t c, int64_t h, int64_t w,
                         int64_t ho, int64_t wo, const em_conv_params *p, float *v);
void em_conv_phases_rows(int64_t c, int64_t ho, int64_t wo, const em_conv_params *p,
                         int64_t *rowoff);

#endif
