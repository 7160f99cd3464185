/* winograd7.c -- 1x7 and 7x1 stride-1 convolutions (Inception v3's 17x17
** blocks) by Winograd's F(2, 7) along the kernel's axis: 8 multiplications
** per 2 outputs and channel pair instead of 14.
**
** Y = A^T [(G g) . (B^T d)] for 8 inputs d along the axis, a 7-tap kernel
** g and 2 outputs Y, on the points 0, 1, -1, 1/2, -1/2, 2, -2 and infinity
** (those of F(6, 3); in float its error measured 7.6x a direct sum's, where
** F(4x4, 3x3)'s, which passes Inception v3's 1e-4, measured 11x). A tile
** is 2 outputs along the axis at one place across it; tiles run (j along,
** i across), i fastest, C across. The input is first split per plane into
** its even and odd lines along the axis (E: lines 2r - pad, O: 2r - pad + 1,
** zero outside the plane), each line the C values across it, so that tap k
** of tiles t .. t + 15 is 16 consecutive floats: (k odd ? O : E)[k / 2 * C
** + t]. A chunk of ct tiles then goes as in winograd.c: the 8 transformed
** rows into V [8][Cin][ct] (the product's packed B), the 8 products with U
** into M [8][Cout][ct], and the output transform with the epilogue. */

#include <limits.h>
#include <math.h>
#include <string.h>

#include "convutil.h"
#include "sgemm.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#define A 8     /* input tile: products per 2 outputs */
#define K 7     /* taps */
#define TB 16   /* tiles per transform block: the vectorised width */
#ifndef CHUNK7_BYTES
#define CHUNK7_BYTES (1 << 20)   /* V and M of one chunk, in L2 */
#endif

int em_winograd7_fits(const em_conv_params *p) {
  int vertical = p->kh == K && p->kw == 1, across0 = vertical ? p->pl == 0 && p->pr == 0
                                                              : p->pt == 0 && p->pb == 0;
  return (vertical || (p->kh == 1 && p->kw == K)) && across0 && p->sh == 1 && p->sw == 1 &&
         p->dh == 1 && p->dw == 1 && p->groups == 1;
}

/* U[k][o][i] = (G g_oi)[k] in double, stored as the product's packed A
** (panels of 6 output planes; rows past cout repeat the last). */
em_status em_winograd7_prepare(const em_ctx *ctx, const em_tensor *weight, em_tensor *out,
                               em_err *err) {
  static const double G[A][K] = {
    { -1, 0, 0, 0, 0, 0, 0 },
    { -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9 },
    { -2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9 },
    { 32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45, 1.0 / 45, 1.0 / 90 },
    { 32.0 / 45, -16.0 / 45, 8.0 / 45, -4.0 / 45, 2.0 / 45, -1.0 / 45, 1.0 / 90 },
    { 1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45, 16.0 / 45, 32.0 / 45 },
    { 1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45, -16.0 / 45, 32.0 / 45 },
    { 0, 0, 0, 0, 0, 0, 1 } };
  char a[128];
  em_tensor wt;
  em_status st;
  (void)ctx;
  if (!weight || !out) return em_fail(err, EM_EARG, "winograd7_prepare: missing argument");
  if (!weight->storage || weight->ndim != 4 || weight->size[0] < 1 || weight->size[1] < 1 ||
      !((weight->size[2] == 1 && weight->size[3] == K) || (weight->size[2] == K && weight->size[3] == 1)))
    return em_fail(err, EM_ESHAPE, "expected a weight out,in,1,7 or out,in,7,1, got %s",
                   em_tensor_shape_str(weight, a, sizeof a));
  if (out == weight || (out->storage && out->storage == weight->storage))
    return em_fail(err, EM_EARG, "the transformed weight must not share memory with the weight");
  int64_t cout = weight->size[0], cin = weight->size[1], panels = (cout + EM_GEMM_MR - 1) / EM_GEMM_MR;
  int64_t sz[4] = { A, panels, cin, EM_GEMM_MR };
  em_tensor_init(&wt);
  if (!(st = em_tensor_contiguous(&wt, weight, err)) && !(st = em_tensor_resize(out, 4, sz, err))) {
    const float *g = em_tensor_data(&wt);
    float *u = em_tensor_data(out);
    int64_t ksize = panels * cin * EM_GEMM_MR;
    for (int64_t q = 0; q < ksize; q++) {   /* panel, input plane, row in the panel */
      int64_t p = q / (cin * EM_GEMM_MR), i = q / EM_GEMM_MR % cin, o = p * EM_GEMM_MR + q % EM_GEMM_MR;
      const float *src = g + ((o < cout ? o : cout - 1) * cin + i) * K;
      for (int k = 0; k < A; k++) {
        double v = 0;
        for (int e = 0; e < K; e++) v += G[k][e] * src[e];
        u[k * ksize + q] = (float)v;
      }
    }
  }
  em_tensor_free(&wt);
  return st;
}

/* One call's shapes: the axis the kernel runs along ("along", L inputs and
** Lo outputs, padding pad before) and the one across it (C, unpadded). */
typedef struct w7 {
  const em_ctx *ctx;
  const float *in, *bias, *res, *scale, *u;
  float *out, *eo;
  int64_t n, cin, cout, L, Lo, C, pad, jt, tpi;   /* tpi: tiles an image */
  int64_t in_a, in_c, out_a, out_c;   /* strides along and across, input and output planes */
  int64_t lines, ct, vk, mk;          /* lines of E (and O) a plane */
  int64_t ldo;                        /* from one output plane to the next */
  int clamp;
  float lo, hi;
} w7;

/* Plane p (image, channel) into its E and O lines, zero outside, and TB
** zeros after them (the last block's reads past the tiles). */
static void split_planes(void *arg, int64_t p0, int64_t p1, int t) {
  const w7 *s = arg;
  (void)t;
  for (int64_t p = p0; p < p1; p++) {
    const float *x = s->in + p * s->L * s->C;
    float *e = s->eo + p * (2 * s->lines * s->C + TB);
    for (int64_t r = 0; r < 2 * s->lines; r++) {   /* line r: E's r / 2 or O's */
      int64_t at = 2 * (r % s->lines) - s->pad + r / s->lines;
      float *d = e + r * s->C;
      if (at < 0 || at >= s->L) memset(d, 0, sizeof(float) * (size_t)s->C);
      else if (s->in_c == 1) memcpy(d, x + at * s->in_a, sizeof(float) * (size_t)s->C);
      else
        for (int64_t i = 0; i < s->C; i++) d[i] = x[at * s->in_a + i * s->in_c];
    }
    memset(e + 2 * s->lines * s->C, 0, sizeof(float) * TB);
  }
}

/* B^T d on TB tiles: v[k][j] from d[k][j]. */
static inline __attribute__((always_inline)) void input_tf(float d[A][TB], float v[A][TB]) {
  for (int j = 0; j < TB; j++) {
    float d0 = d[0][j], d1 = d[1][j], d2 = d[2][j], d3 = d[3][j], d4 = d[4][j], d5 = d[5][j],
          d6 = d[6][j], d7 = d[7][j];
    float e1 = d2 - 4.25f * d4 + d6, o1 = d1 - 4.25f * d3 + d5;
    float e2 = 4 * d2 - 5 * d4 + d6, o2 = 2 * d1 - 2.5f * d3 + 0.5f * d5;
    float e3 = 0.25f * d2 - 1.25f * d4 + d6, o3 = 0.5f * d1 - 2.5f * d3 + 2 * d5;
    v[0][j] = 5.25f * (d2 - d4) + d6 - d0;
    v[1][j] = e1 + o1;
    v[2][j] = e1 - o1;
    v[3][j] = e2 + o2;
    v[4][j] = e2 - o2;
    v[5][j] = e3 + o3;
    v[6][j] = e3 - o3;
    v[7][j] = 5.25f * (d3 - d5) + d7 - d1;
  }
}

/* A^T m on TB tiles: the two outputs y[0], y[1]. */
static inline __attribute__((always_inline)) void output_tf(float m[A][TB], float y[2][TB]) {
  for (int j = 0; j < TB; j++) {
    float a1 = m[1][j] + m[2][j], b1 = m[1][j] - m[2][j], a2 = m[3][j] + m[4][j],
          b2 = m[3][j] - m[4][j], a3 = m[5][j] + m[6][j], b3 = m[5][j] - m[6][j];
    y[0][j] = m[0][j] + a1 + a2 + a3;
    y[1][j] = b1 + 0.5f * b2 + 2 * b3 + m[7][j];
  }
}

/* Tiles [t0, t0 + nt) of image img (t0 a multiple of TB) from input to
** output, in v and m (the thread's V and M). */
static inline __attribute__((always_inline)) void chunk(const w7 *s, int64_t img, int64_t t0,
                                                        int64_t nt, float *v, float *m) {
  const int64_t C = s->C, ps = 2 * s->lines * C + TB;
  for (int64_t b = 0; b < nt; b += TB)   /* the input transform into V's panels */
    for (int64_t c = 0; c < s->cin; c++) {
      const float *e = s->eo + (img * s->cin + c) * ps + t0 + b, *o = e + s->lines * C;
      float d[A][TB], w[A][TB];
      for (int k = 0; k < A; k++) memcpy(d[k], (k & 1 ? o : e) + k / 2 * C, sizeof d[k]);
      input_tf(d, w);
      for (int k = 0; k < A; k++) memcpy(v + k * s->vk + b * s->cin + c * TB, w[k], sizeof w[k]);
    }
  for (int k = 0; k < A; k++) {   /* the products, as winograd.c's */
    em_gemm g = { s->cout, nt, s->cin, NULL, s->cin,
                  s->u + k * em_gemm_packed_size(s->cout, s->cin), NULL, NULL,
                  v + k * s->vk, s->cin * TB, m + k * s->mk, s->ct,
                  NULL, NULL, NULL, 0, 0.0f, 0.0f };
    em_gemm_run(s->ctx, &g, NULL);
  }
  const float lo = s->clamp ? s->lo : -INFINITY, hi = s->clamp ? s->hi : INFINITY;
  const int64_t oplane = s->Lo * C;
  for (int64_t b = 0; b < nt; b += TB) {   /* the output transform, the epilogue */
    /* the block's runs of tiles in one line pair: run r starts at lane
    ** first[r], output at[r] (its first tile's first output in a plane) */
    int64_t at[TB + 1];
    int first[TB + 1], two[TB], runs = 0, nb = nt - b < TB ? (int)(nt - b) : TB;
    for (int l = 0; l < nb; l++) {
      int64_t t = t0 + b + l, j = t / C, i = t % C;
      if (l == 0 || i == 0) {
        first[runs] = l;
        at[runs] = 2 * j * s->out_a + i * s->out_c;
        two[runs++] = 2 * j + 1 < s->Lo;
      }
    }
    first[runs] = nb;
    for (int64_t o = 0; o < s->cout; o++) {
      float mm[A][TB], y[2][TB];
      for (int k = 0; k < A; k++) memcpy(mm[k], m + k * s->mk + o * s->ct + b, sizeof mm[k]);
      output_tf(mm, y);
      const float sc = s->scale ? s->scale[o] : 1.0f, bias = s->bias ? s->bias[o] : 0.0f;
      float *dst = s->out + (img * s->cout + o) * s->ldo;
      const float *res = s->res ? s->res + (img * s->cout + o) * oplane : NULL;
      for (int r = 0; r < 2; r++)
        for (int l = 0; l < TB; l++) y[r][l] = sc * y[r][l] + bias;
      for (int q = 0; res && q < runs; q++)
        for (int r = 0; r < 1 + two[q]; r++)
          for (int l = first[q]; l < first[q + 1]; l++)
            y[r][l] += res[at[q] + r * s->out_a + (l - first[q]) * s->out_c];
      for (int r = 0; r < 2; r++)
        for (int l = 0; l < TB; l++) y[r][l] = y[r][l] < lo ? lo : y[r][l] > hi ? hi : y[r][l];
      for (int q = 0; q < runs; q++)
        for (int r = 0; r < 1 + two[q]; r++) {
          float *d = dst + at[q] + r * s->out_a;
          const float *v = y[r] + first[q];
          const int len = first[q + 1] - first[q];
          if (s->out_c == 1)   /* 7x1: a run of the output row */
            for (int l = 0; l < len; l++) d[l] = v[l];
          else
            for (int l = 0; l < len; l++) d[l * s->out_c] = v[l];
        }
    }
  }
}

typedef struct job7 { const w7 *s; float *scratch; int64_t each, per_img; } job7;

/* Chunks [a, b): chunk q is image q / per_img's tiles from (q % per_img) * ct. */
static inline __attribute__((always_inline)) void chunks(const job7 *j, int64_t a, int64_t b, int t) {
  const w7 *s = j->s;
  float *v = j->scratch + t * j->each, *m = v + A * s->vk;
  for (int64_t q = a; q < b; q++) {
    int64_t img = q / j->per_img, t0 = q % j->per_img * s->ct;
    chunk(s, img, t0, s->tpi - t0 < s->ct ? s->tpi - t0 : s->ct, v, m);
  }
}

EM_ISA_TASKS(chunks, chunks)

/* The shapes, and a chunk size: tiles shared evenly among nchunks, a
** multiple of nt chunks an image, each chunk's V and M within CHUNK7_BYTES. */
static void shape(w7 *s, int64_t nt, int vertical, int64_t n, int64_t cin, int64_t cout, int64_t h,
                  int64_t w, int64_t ho, int64_t wo, int pad, int64_t *per_img) {
  s->n = n; s->cin = cin; s->cout = cout;
  s->L = vertical ? h : w;
  s->Lo = vertical ? ho : wo;
  s->C = vertical ? w : h;
  s->in_a = vertical ? w : 1;
  s->in_c = vertical ? 1 : w;
  s->out_a = vertical ? wo : 1;
  s->out_c = vertical ? 1 : wo;
  s->pad = pad;
  s->jt = (s->Lo + 1) / 2;
  s->tpi = s->jt * s->C;
  s->lines = s->jt + 3;
  int64_t cap = CHUNK7_BYTES / ((int64_t)sizeof(float) * A * (cin + cout)) / TB * TB;
  if (cap < 2 * TB) cap = 2 * TB;
  int64_t k = nt;
  while ((s->tpi + k - 1) / k > cap) k += nt;
  s->ct = ((s->tpi + k - 1) / k + TB - 1) / TB * TB;
  *per_img = (s->tpi + s->ct - 1) / s->ct;
  s->vk = cin * s->ct + 16;   /* + 16: strides off a multiple of 4 KB, as winograd.c's KPAD */
  s->mk = cout * s->ct + 16;
}

static int64_t scratch_of(const w7 *s, int64_t nt) {
  return s->n * s->cin * (2 * s->lines * s->C + TB) + nt * A * (s->vk + s->mk);
}

int64_t em_winograd7_scratch(const em_ctx *ctx, int64_t n, int64_t cin, int64_t cout, int64_t h,
                             int64_t w, int64_t ho, int64_t wo, int vertical, int pad) {
  w7 s;
  int64_t per_img;
  shape(&s, ctx->nthreads, vertical, n, cin, cout, h, w, ho, wo, pad, &per_img);
  return scratch_of(&s, ctx->nthreads);
}

em_status em_winograd7_forward(em_ctx *ctx, const em_wino_args *a, const em_tensor *u,
                               em_tensor *buf, em_err *err) {
  char b[128];
  w7 s;
  int64_t per_img, nt = ctx->nthreads;
  int vertical = a->k == K;
  em_status st;
  if (!u->storage || u->ndim != 4 || u->size[0] != A ||
      u->size[1] != (a->cout + EM_GEMM_MR - 1) / EM_GEMM_MR || u->size[2] != a->cin ||
      u->size[3] != EM_GEMM_MR || !em_tensor_is_contiguous(u))
    return em_fail(err, EM_ESHAPE, "expected a contiguous transformed weight 8x%lldx%lldx%d, got %s",
                   (long long)(a->cout + EM_GEMM_MR - 1) / EM_GEMM_MR, (long long)a->cin,
                   EM_GEMM_MR, em_tensor_shape_str(u, b, sizeof b));
  shape(&s, nt, vertical, a->n, a->cin, a->cout, a->h, a->w, a->ho, a->wo,
        vertical ? a->pt : a->pl, &per_img);
  if (s.tpi > INT_MAX || s.cin > INT_MAX || s.cout > INT_MAX)
    return em_fail(err, EM_ENOMEM, "winograd7: %lld tiles too many", (long long)s.tpi);
  int64_t sz[1] = { scratch_of(&s, nt) };
  if ((st = em_tensor_resize(buf, 1, sz, err))) return st;
  s.ctx = ctx;
  s.ldo = a->ldo ? a->ldo : s.Lo * s.C;
  s.in = a->in; s.bias = a->bias; s.res = a->res; s.scale = a->scale; s.out = a->out;
  s.u = em_tensor_data(u);
  s.clamp = a->clamp; s.lo = a->lo; s.hi = a->hi;
  s.eo = em_tensor_data(buf);
  em_parallel(ctx, (int)nt, s.n * s.cin, split_planes, &s);
  job7 j = { &s, s.eo + s.n * s.cin * (2 * s.lines * s.C + TB), A * (s.vk + s.mk), per_img };
  em_task fn = EM_ISA_TASK(chunks, ctx);
  em_parallel(ctx, (int)nt, s.n * per_img, fn, &j);
  return EM_OK;
}
