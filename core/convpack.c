/* convpack.c -- the B blocks of a convolution's matrix product (sgemm.h),
** read straight from the input planes: im2col one kc x nc block at a time,
** already in the panel layout the kernel reads, so the whole im2col matrix
** is never written to memory.
**
** A panel is 16 consecutive output positions; they lie in one or a few
** output rows (segments). For each row r of the block (an input plane and a
** tap) and each segment, the lanes whose input falls inside the image are
** one masked load (stride 1), four and a shuffle (stride 2) or a short loop; masked lanes read as 0,
** which is the padding. */

#include <limits.h>
#include <string.h>

#include "sgemm.h"
#include "convutil.h"
#include "simd.h"

#define NR EM_GEMM_NR
#define NC EM_GEMM_NC

/* Lanes [la, lb) of a panel: output row oy, columns ox, ox + 1, ... */
typedef struct seg {
  int la, lb;
  int64_t oy, ox;
} seg;

static int panel_segs(int64_t j, int64_t n, int64_t wo, seg *s) {
  int ns = 0;
  int64_t oy = j / wo, ox = j % wo;
  for (int64_t l = 0; l < n; ns++) {
    int64_t cnt = wo - ox < n - l ? wo - ox : n - l;
    s[ns].la = (int)l;
    s[ns].lb = (int)(l + cnt);
    s[ns].oy = oy;
    s[ns].ox = ox;
    l += cnt;
    ox = 0;
    oy++;
  }
  return ns;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

/* Row by row of the block (an input plane and a tap), so that the reads run
** along each plane (panel by panel, each row visiting all planes, ran at a
** third of the speed: every panel touched kc scattered lines). */
/* Stride 1 with the output as wide as the input ("same" padding across:
** 3x3 pad 1, 1x7 pad 3, 7x1, 5x5 pad 2...): output j = (oy, ox) reads input
** j + dy * w + dx for every tap, so a panel is one masked load of 16
** consecutive floats, whatever rows it spans; the mask keeps the lanes whose
** (oy + dy, ox + dx) lies inside the image. */
__attribute__((target("avx2,fma")))
static void pack_flat(const em_conv_src *s, int64_t k0, int64_t kc, int64_t j0, int64_t nc,
                      float *dst) {
  const em_conv_params *p = s->p;
  const int64_t taps = (int64_t)p->kh * p->kw, np = (nc + NR - 1) / NR;
  const float *end = s->x + s->c * s->h * s->w;
  int32_t oy[NC / NR][NR], ox[NC / NR][NR];
  for (int64_t q = 0; q < np; q++)
    for (int l = 0; l < NR; l++) {
      int64_t j = j0 + q * NR + l;
      int in = q * NR + l < nc;
      oy[q][l] = in ? (int32_t)(j / s->wo) : INT32_MIN / 2;   /* past nc: never inside */
      ox[q][l] = in ? (int32_t)(j % s->wo) : INT32_MIN / 2;
    }
  for (int64_t r = 0; r < kc; r++) {
    int64_t k = k0 + r, t = k % taps;
    int64_t dy = t / p->kw * p->dh - p->pt, dx = t % p->kw * p->dw - p->pl;
    const float *base = s->x + k / taps * s->h * s->w + j0 + dy * s->w + dx;
    const __m256i ylo = _mm256_set1_epi32((int)(-dy - 1)), yhi = _mm256_set1_epi32((int)(s->h - dy));
    const __m256i xlo = _mm256_set1_epi32((int)(-dx - 1)), xhi = _mm256_set1_epi32((int)(s->w - dx));
    for (int64_t q = 0; q < np; q++) {
      float *d = dst + (q * kc + r) * NR;
      for (int h = 0; h < 2; h++) {
        __m256i y = _mm256_loadu_si256((const __m256i *)(oy[q] + 8 * h));
        __m256i x = _mm256_loadu_si256((const __m256i *)(ox[q] + 8 * h));
        __m256i m = _mm256_and_si256(
            _mm256_and_si256(_mm256_cmpgt_epi32(y, ylo), _mm256_cmpgt_epi32(yhi, y)),
            _mm256_and_si256(_mm256_cmpgt_epi32(x, xlo), _mm256_cmpgt_epi32(xhi, x)));
        /* masked loads are slow on Zen 1: where the 8 floats lie in the
        ** planes, a plain load and the mask (1x7 layers at 17x17 1.02x) */
        int in = _mm256_movemask_ps(_mm256_castsi256_ps(m));
        const float *from = base + q * NR + 8 * h;
        __m256 v = _mm256_setzero_ps();
        if (in == 0xff) v = _mm256_loadu_ps(from);
        else if (in && from >= s->x && from + 8 <= end)
          v = _mm256_and_ps(_mm256_loadu_ps(from), _mm256_castsi256_ps(m));
        else if (in) v = _mm256_maskload_ps(from, m);
        _mm256_storeu_ps(d + 8 * h, v);
      }
    }
  }
}

__attribute__((target("avx2,fma")))
void em_pack_conv(const void *src, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
  const em_conv_src *s = src;
  if (s->p->sh == 1 && s->p->sw == 1 && s->w == s->wo) {
    pack_flat(s, k0, kc, j0, nc, dst);
    return;
  }
  const em_conv_params *p = s->p;
  const int64_t taps = (int64_t)p->kh * p->kw, sw = p->sw, np = (nc + NR - 1) / NR;
  seg sg[NC / NR][NR];
  int ns[NC / NR];
  const __m256i i0 = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i i1 = _mm256_add_epi32(i0, _mm256_set1_epi32(8));
  for (int64_t q = 0; q < np; q++)
    ns[q] = panel_segs(j0 + q * NR, nc - q * NR < NR ? nc - q * NR : NR, s->wo, sg[q]);
  for (int64_t r = 0; r < kc; r++) {
    int64_t k = k0 + r, t = k % taps, lo, hi;
    int64_t dy = t / p->kw * p->dh - p->pt, dx = t % p->kw * p->dw - p->pl;
    const float *plane = s->x + k / taps * s->h * s->w;
    valid_span(s->w, s->wo, p->sw, dx, &lo, &hi);
    for (int64_t q = 0; q < np; q++) {
      __m256 v0 = _mm256_setzero_ps(), v1 = v0;
      float *d = dst + (q * kc + r) * NR;
      for (int i = 0; i < ns[q]; i++) {
        const seg *g = &sg[q][i];
        int64_t iy = g->oy * p->sh + dy, u, v;
        const float *base;
        __m256i m0, m1, lu, lv;
        if (iy < 0 || iy >= s->h) continue;
        u = g->la + (lo > g->ox ? lo - g->ox : 0);
        v = g->la + (hi - g->ox < g->lb - g->la ? hi - g->ox : g->lb - g->la);
        if (u >= v) continue;
        /* lane l reads base[l * sw]; only lanes [u, v) are read */
        base = plane + (iy * s->w + (g->ox - g->la) * sw + dx);
        if (u == 0 && v == NR) {   /* the whole panel inside one row: no masks */
          if (sw == 1) {
            v0 = _mm256_loadu_ps(base);
            v1 = _mm256_loadu_ps(base + 8);
            continue;
          }
          if (sw == 2 && (g->ox + NR - 1) * 2 + dx + 1 < s->w) {   /* 32 floats all inside */
            v0 = em_evens8(_mm256_loadu_ps(base), _mm256_loadu_ps(base + 8));
            v1 = em_evens8(_mm256_loadu_ps(base + 16), _mm256_loadu_ps(base + 24));
            continue;
          }
        }
        lu = _mm256_set1_epi32((int)u - 1);
        lv = _mm256_set1_epi32((int)v);
        m0 = _mm256_and_si256(_mm256_cmpgt_epi32(i0, lu), _mm256_cmpgt_epi32(lv, i0));
        m1 = _mm256_and_si256(_mm256_cmpgt_epi32(i1, lu), _mm256_cmpgt_epi32(lv, i1));
        if (sw == 1) {
          v0 = _mm256_or_ps(v0, _mm256_maskload_ps(base, m0));
          v1 = _mm256_or_ps(v1, _mm256_maskload_ps(base + 8, m1));
        } else if (sw == 2) {   /* 32 floats from [2u, 2v - 1), then the even ones */
          __m256i fu = _mm256_set1_epi32(2 * (int)u - 1), fv = _mm256_set1_epi32(2 * (int)v - 1);
          __m256 a[4];
          for (int h = 0; h < 4; h++) {
            __m256i ix = _mm256_add_epi32(i0, _mm256_set1_epi32(8 * h));
            __m256i mk = _mm256_and_si256(_mm256_cmpgt_epi32(ix, fu), _mm256_cmpgt_epi32(fv, ix));
            a[h] = _mm256_maskload_ps(base + 8 * h, mk);
          }
          v0 = _mm256_or_ps(v0, em_evens8(a[0], a[1]));
          v1 = _mm256_or_ps(v1, em_evens8(a[2], a[3]));
        } else {   /* one by one: Zen 4's vgatherdps took 3x as long */
          float t[NR] = { 0 };
          for (int64_t l = u; l < v; l++) t[l] = base[l * sw];
          v0 = _mm256_or_ps(v0, _mm256_loadu_ps(t));
          v1 = _mm256_or_ps(v1, _mm256_loadu_ps(t + 8));
        }
      }
      _mm256_storeu_ps(d, v0);
      _mm256_storeu_ps(d + 8, v1);
    }
  }
}

#else

/* Without AVX2 conv.c keeps im2col + OpenBLAS; this is the same block, lane by lane. */
void em_pack_conv(const void *src, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
  const em_conv_src *s = src;
  const em_conv_params *p = s->p;
  const int64_t taps = (int64_t)p->kh * p->kw, hw = s->h * s->w;
  for (int64_t q = 0; q < nc; q += NR, dst += NR * kc)
    for (int64_t r = 0; r < kc; r++)
      for (int64_t l = 0; l < NR; l++) {
        int64_t k = k0 + r, t = k % taps, j = j0 + q + l;
        int64_t iy = j / s->wo * p->sh + t / p->kw * p->dh - p->pt;
        int64_t ix = j % s->wo * p->sw + t % p->kw * p->dw - p->pl;
        int in = q + l < nc && iy >= 0 && iy < s->h && ix >= 0 && ix < s->w;
        dst[r * NR + l] = in ? s->x[k / taps * hw + iy * s->w + ix] : 0.0f;
      }
}

#endif

/* ------------------------------------------------------------ phase planes */

/* Why: at stride 2 a panel of 16 outputs spans one to three output rows and
** each row's inputs are every other float, so the pack above gathered them
** with masks and shuffles, a quarter of ResNet-50's strided 3x3 layers on
** one thread (perf). Phase planes cost one pass over the input (about 1.5x
** its size at 3x3 stride 2) and make every panel a copy of 16 consecutive
** floats. */
/* d[i] = s[i * stride], i < n: a copy at stride 1, evens by shuffles at 2. */
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma")))
static void strided_copy(float *d, const float *s, int64_t n, int stride) {
  int64_t i = 0;
  if (stride == 1) {
    memcpy(d, s, (size_t)n * sizeof *d);
    return;
  }
  if (stride == 2)   /* 16 floats read for 8 written: up to s[2i + 15], before s[2n - 2] */
    for (; i + 8 < n; i += 8)
      _mm256_storeu_ps(d + i, em_evens8(_mm256_loadu_ps(s + 2 * i), _mm256_loadu_ps(s + 2 * i + 8)));
  for (; i < n; i++) d[i] = s[i * stride];
}
#else
static void strided_copy(float *d, const float *s, int64_t n, int stride) {
  for (int64_t i = 0; i < n; i++) d[i] = s[i * stride];
}
#endif

/* Row phases a kernel reads: sh of them, or kh when fewer (a 1x1 layer of
** stride 2 reads only even rows: no planes for the odd ones). */
static int64_t row_phases(const em_conv_params *p) { return p->sh < p->kh ? p->sh : p->kh; }

int64_t em_conv_phases_size(int64_t c, int64_t ho, int64_t wo, const em_conv_params *p) {
  return c * row_phases(p) * p->kw * (ho + (p->kh - 1) / p->sh) * wo;
}

static void fill_planes(void *arg, int64_t q0, int64_t q1, int t) {
  const em_copy_job *j = arg;
  const em_conv_params *p = j->p;
  const float *x = j->x;
  float *v = j->dst;
  const int64_t h = j->h, w = j->w, wo = j->wo, hq = j->ho + (p->kh - 1) / p->sh;
  (void)t;
  for (int64_t q = q0; q < q1; q++) {
    int64_t ch = q / (row_phases(p) * p->kw), py = q / p->kw % row_phases(p), kx = q % p->kw;
    const float *src = x + ch * h * w;
    float *d = v + q * hq * wo;
    int64_t lo, hi;   /* columns ox inside the image */
    valid_span(w, wo, p->sw, kx - p->pl, &lo, &hi);
    for (int64_t i = 0; i < hq; i++, d += wo) {
      int64_t iy = i * p->sh + py - p->pt;
      if (iy < 0 || iy >= h || lo >= hi) {
        memset(d, 0, (size_t)wo * sizeof *d);
        continue;
      }
      const float *row = src + iy * w + kx - p->pl;
      for (int64_t ox = 0; ox < lo; ox++) d[ox] = 0.0f;
      strided_copy(d + lo, row + lo * p->sw, hi - lo, p->sw);
      for (int64_t ox = hi; ox < wo; ox++) d[ox] = 0.0f;
    }
  }
}

/* Stride 2 along x, up to S2_MAX columns: each input row is split once into
** its even and odd columns, E and O (zero past the row's ends), and each tap
** column kx's plane row is then a plain copy from one of them: column
** kx - pl + 2ox is E[(kx - pl) / 2 + ox] or O[(kx - pl - 1) / 2 + ox]. The
** planes one at a time split every row once per tap (3x3: three times). */
#define S2_MAX 2048
#define S2_PAD 16   /* zeros before E and O: taps reach pl / 2 + 1 left of them */

/* e[i] = row[2i], o[i] = row[2i + 1] (0 past the row), i < (w + 1) / 2. */
#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma")))
#endif
static void split_row(const float *row, int64_t w, float *e, float *o) {
  int64_t i = 0;
#if defined(__x86_64__) || defined(__i386__)
  for (; 2 * i + 16 <= w; i += 8) {
    __m256 a = _mm256_loadu_ps(row + 2 * i), b = _mm256_loadu_ps(row + 2 * i + 8);
    _mm256_storeu_ps(e + i, em_evens8(a, b));
    _mm256_storeu_ps(o + i, em_odds8(a, b));
  }
#endif
  for (; 2 * i < w; i++) {
    e[i] = row[2 * i];
    o[i] = 2 * i + 1 < w ? row[2 * i + 1] : 0.0f;
  }
}

static void fill_planes_s2(void *arg, int64_t q0, int64_t q1, int t) {
  const em_copy_job *j = arg;
  const em_conv_params *p = j->p;
  const int64_t h = j->h, w = j->w, wo = j->wo, hq = j->ho + (p->kh - 1) / p->sh;
  const int64_t plane = hq * wo;
  float eo[2][S2_PAD + S2_MAX / 2 + S2_PAD + 8];
  float *e = eo[0] + S2_PAD, *o = eo[1] + S2_PAD;
  (void)t;
  /* the borders stay zero: every row writes only E and O's first (w + 1) / 2 */
  memset(eo, 0, sizeof eo);
  for (int64_t q = q0; q < q1; q++) {   /* q: input plane and row phase */
    int64_t ch = q / row_phases(p), py = q % row_phases(p);
    float *d = j->dst + q * p->kw * plane;
    for (int64_t i = 0; i < hq; i++) {
      int64_t iy = i * p->sh + py - p->pt;
      if (iy < 0 || iy >= h) {
        for (int kx = 0; kx < p->kw; kx++) memset(d + kx * plane + i * wo, 0, (size_t)wo * sizeof *d);
        continue;
      }
      split_row(j->x + (ch * h + iy) * w, w, e, o);
      for (int kx = 0; kx < p->kw; kx++) {
        int64_t off = kx - p->pl;
        const float *src = off % 2 == 0 ? e + off / 2 : o + (off - 1) / 2;
        memcpy(d + kx * plane + i * wo, src, (size_t)wo * sizeof *d);
      }
    }
  }
}

void em_conv_phases_fill(const em_ctx *ctx, const float *x, int64_t c, int64_t h, int64_t w,
                         int64_t ho, int64_t wo, const em_conv_params *p, float *v) {
  const int64_t hq = ho + (p->kh - 1) / p->sh, planes = c * row_phases(p) * p->kw;
  em_copy_job j = { x, v, c, h, w, ho, wo, p };
  int nt = planes * hq * wo >= 65536 ? ctx->nthreads : 1;
  /* E and O are read from -(pl + 1) / 2 to (kw - 1 - pl) / 2 + wo - 1 */
  if (p->sw == 2 && p->kw > 1 && w <= S2_MAX && (p->pl + 1) / 2 <= S2_PAD &&
      (p->kw - 1 - p->pl) / 2 + wo <= S2_MAX / 2 + S2_PAD) {
    em_parallel(ctx, nt, c * row_phases(p), fill_planes_s2, &j);
    return;
  }
  em_parallel(ctx, nt, planes, fill_planes, &j);
}

void em_conv_phases_rows(int64_t c, int64_t ho, int64_t wo, const em_conv_params *p,
                         int64_t *rowoff) {
  const int64_t plane = (ho + (p->kh - 1) / p->sh) * wo;
  for (int64_t ch = 0, k = 0; ch < c; ch++)
    for (int ky = 0; ky < p->kh; ky++)
      for (int kx = 0; kx < p->kw; kx++, k++)
        rowoff[k] = ((ch * row_phases(p) + ky % p->sh) * p->kw + kx) * plane + ky / p->sh * wo;
}
