/* conv.c -- 2-D convolution: im2col + sgemm per (image, group), a 1x1 path
** that multiplies the input directly (depthwise is in depthwise.c); epilogue fused. */

#include <limits.h>
#include <math.h>
#include <string.h>

#include "ember.h"
#include "convutil.h"
#include "sgemm.h"

/* As in activation.c: lets GCC turn the epilogue's clamp into min/max and
** vectorise it (nothing in ember reads the floating-point exception flags). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

static em_status check_params(const em_conv_params *p, em_err *err) {
  if (p->sh < 1 || p->sw < 1)
    return em_fail(err, EM_EARG, "stride must be positive, got %dx%d", p->sh, p->sw);
  if (p->dh < 1 || p->dw < 1)
    return em_fail(err, EM_EARG, "dilation must be positive, got %dx%d", p->dh, p->dw);
  if (p->pt < 0 || p->pl < 0 || p->pb < 0 || p->pr < 0)
    return em_fail(err, EM_EARG, "padding must not be negative, got %d,%d,%d,%d (top, left, bottom, right)",
                   p->pt, p->pl, p->pb, p->pr);
  if (p->groups < 1)
    return em_fail(err, EM_EARG, "groups must be positive, got %d", p->groups);
  return EM_OK;
}

/* The shape checks of em_conv2d_forward; sets the output size. */
static em_status check_conv(const em_tensor *input, const em_tensor *weight, const em_tensor *bias,
                            const em_conv_params *p, int64_t *ho, int64_t *wo, em_err *err) {
  char a[128];
  em_status st;
  int64_t cout, cin, ekh, ekw, ph, pw;
  if ((st = check_4d(input, "input", "N,C,H,W", err)) ||
      (st = check_params(p, err)) ||
      (st = check_4d(weight, "weight", "out, in/groups, kH, kW", err)))
    return st;
  if (p->kh != weight->size[2] || p->kw != weight->size[3])
    return em_fail(err, EM_ESHAPE, "kernel %dx%d does not match weight %s", p->kh, p->kw,
                   em_tensor_shape_str(weight, a, sizeof a));
  cout = weight->size[0];
  cin = weight->size[1] * p->groups;
  if (cout % p->groups)
    return em_fail(err, EM_ESHAPE, "%lld output planes do not divide into %d groups",
                   (long long)cout, p->groups);
  if (input->size[1] != cin)
    return em_fail(err, EM_ESHAPE, "expected %lld input planes, got %lld",
                   (long long)cin, (long long)input->size[1]);
  ekh = (int64_t)(p->kh - 1) * p->dh + 1;
  ekw = (int64_t)(p->kw - 1) * p->dw + 1;
  ph = input->size[2] + p->pt + p->pb;
  pw = input->size[3] + p->pl + p->pr;
  if (ekh > ph || ekw > pw)
    return em_fail(err, EM_ESHAPE, "kernel %lldx%lld (dilated) larger than padded input %lldx%lld",
                   (long long)ekh, (long long)ekw, (long long)ph, (long long)pw);
  if (bias && bias->storage && em_tensor_nelement(bias) != cout)
    return em_fail(err, EM_ESHAPE, "expected a bias of %lld elements, got %s",
                   (long long)cout, em_tensor_shape_str(bias, a, sizeof a));
  *ho = (ph - ekh) / p->sh + 1;
  *wo = (pw - ekw) / p->sw + 1;
  /* sgemm takes int sizes: the im2col matrix of one image must fit them */
  if (*ho * *wo > INT_MAX || weight->size[1] * p->kh * p->kw > INT_MAX ||
      input->size[2] * input->size[3] > INT_MAX || cout > INT_MAX)
    return em_fail(err, EM_ENOMEM, "convolution too large: input %s, output %lldx%lld",
                   em_tensor_shape_str(input, a, sizeof a), (long long)*ho, (long long)*wo);
  return EM_OK;
}

/* The epilogue: per-channel scale and bias, residual (contiguous, the
** output's shape, or NULL) and a clamp (RELU is lo 0, hi inf). */
typedef struct epi {
  const float *scale, *bias, *res;
  int clamp;
  float lo, hi;
} epi;

/* The epilogue as one pass over output channels [c0, c0 + c) of one image
** (res: the same block of the residual), for the paths whose kernels do not
** apply it as they store: OpenBLAS's product, and depthwise with a scale. */
static void finish_block(float *y, const float *res, const epi *e, int64_t c0, int64_t c,
                         int64_t plane) {
  if (!e->scale && !e->bias && !res && !e->clamp) return;
  for (int64_t ch = 0; ch < c; ch++) {
    float s = e->scale ? e->scale[c0 + ch] : 1.0f, b = e->bias ? e->bias[c0 + ch] : 0.0f;
    float lo = e->clamp ? e->lo : -INFINITY, hi = e->clamp ? e->hi : INFINITY, *o = y + ch * plane;
    const float *r = res ? res + ch * plane : NULL;
    for (int64_t j = 0; j < plane; j++) {
      float v = s * o[j] + b + (r ? r[j] : 0.0f);
      v = v < lo ? lo : v;     /* two selects, as activation.c: each is one min/max */
      o[j] = v > hi ? hi : v;
    }
  }
}

/* Rows (c, ky, kx) of the im2col matrix of one image: row r holds, for every
** output position, the input value that tap reads (0 in the padding).
** Rows split over ember's threads (parallel.c); below IM2COL_SERIAL floats
** handing them out costs more than the copy. */
#ifndef IM2COL_SERIAL
#define IM2COL_SERIAL 16384
#endif
static void im2col_rows(void *arg, int64_t r0, int64_t r1, int t) {
  const em_copy_job *j = arg;
  const em_conv_params *p = j->p;
  const float *in = j->x;
  float *col = j->dst;
  const int64_t h = j->h, w = j->w, ho = j->ho, wo = j->wo, taps = (int64_t)p->kh * p->kw;
  (void)t;
  for (int64_t r = r0; r < r1; r++) {
    int64_t ch = r / taps, ky = r % taps / p->kw, kx = r % p->kw;
    int64_t offx = kx * p->dw - p->pl, lo, hi;
    const float *src = in + ch * h * w;
    float *dst = col + r * ho * wo;
    valid_span(w, wo, p->sw, offx, &lo, &hi);
    for (int64_t oy = 0; oy < ho; oy++) {
      int64_t iy = oy * p->sh - p->pt + ky * p->dh;
      float *d = dst + oy * wo;
      const float *row;
      if (iy < 0 || iy >= h) {
        memset(d, 0, (size_t)wo * sizeof *d);
        continue;
      }
      row = src + iy * w;
      memset(d, 0, (size_t)lo * sizeof *d);
      memset(d + hi, 0, (size_t)(wo - hi) * sizeof *d);
      if (p->sw == 1) {
        memcpy(d + lo, row + lo + offx, (size_t)(hi - lo) * sizeof *d);
      } else {
        for (int64_t ox = lo; ox < hi; ox++) d[ox] = row[ox * p->sw + offx];
      }
    }
  }
}

static void im2col(em_ctx *ctx, const float *in, float *col, int64_t c, int64_t h, int64_t w,
                   int64_t ho, int64_t wo, const em_conv_params *p) {
  int64_t taps = (int64_t)p->kh * p->kw;
  em_copy_job j = { in, col, c, h, w, ho, wo, p };
  em_parallel(ctx, c * taps * ho * wo >= IM2COL_SERIAL ? ctx->nthreads : 1, c * taps, im2col_rows, &j);
}

/* Whether the input already is the im2col matrix: 1x1, stride 1, no padding. */
static int input_is_col(const em_conv_params *p) {
  return p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && !p->pt && !p->pl && !p->pb &&
         !p->pr;
}

/* The floats of conv_gemm's phase planes (convpack.c), 0 without: the im2col
** rows as phase planes where the pack would gather with strides or masks per
** row (strided layers, and stride-1 layers whose output is narrower than
** the input), up to 32 MB of them; the row offsets after. */
static int64_t phases_size(const em_ctx *ctx, const em_conv_params *p, int64_t cin_g, int64_t w,
                           int64_t ho, int64_t wo) {
  if (ctx->isa < EM_ISA_AVX2 || input_is_col(p) || p->dh != 1 || p->dw != 1 ||
      (p->sh == 1 && p->sw == 1 && w == wo))
    return 0;
  int64_t v = (em_conv_phases_size(cin_g, ho, wo, p) + 1) / 2 * 2;
  return v > ((int64_t)8 << 20) ? 0 : v;
}

/* The floats conv_gemm resizes its scratch to: with AVX2 the product's
** (*gs), then the phase planes (*vs floats) and their row offsets; without,
** im2col's matrix, unless the input is it. gs and vs may be NULL. */
static int64_t gemm_scratch_floats(const em_ctx *ctx, const em_conv_params *p, int64_t cin,
                                   int64_t cout, int64_t w, int64_t ho, int64_t wo, int64_t *gs,
                                   int64_t *vs) {
  static const float packed;   /* a weight packed ahead: no A blocks in the scratch */
  int g = p->groups;
  int64_t K = cin / g * p->kh * p->kw, howo = ho * wo, gsz = 0, v = 0, all;
  if (ctx->isa < EM_ISA_AVX2) {
    all = input_is_col(p) ? 0 : cin * p->kh * p->kw * howo;
  } else {
    em_gemm gm = { .m = cout / g, .n = howo, .k = K };
    if (p->packed_weight && (!p->pack_pixels || howo <= p->pack_pixels)) gm.ap = &packed;
    gsz = em_gemm_scratch(ctx->nthreads, &gm);
    v = phases_size(ctx, p, cin / g, w, ho, wo);
    all = gsz + v + (v ? 2 * K : 0);
  }
  if (gs) *gs = gsz;
  if (vs) *vs = v;
  return all;
}

/* Everything else: output_g (Cout/g x Ho*Wo) = weight_g (Cout/g x K) *
** col_g (K x Ho*Wo), K = Cin/g*kH*kW. For a 1x1 kernel with stride 1 and no
** padding the input already is that matrix. With AVX2 ember's own product
** (sgemm.c) reads col_g block by block straight from the input (convpack.c)
** and applies the epilogue as it stores; otherwise im2col, then OpenBLAS
** on the calling thread (gemm.c). */
static em_status conv_gemm(em_ctx *ctx, const float *in, float *out, const float *wt,
                           const epi *e, em_tensor *buf, int64_t n, int64_t cin, int64_t cout,
                           int64_t h, int64_t w, int64_t ho, int64_t wo,
                           const em_conv_params *p, int64_t ldc, em_err *err) {
  int g = p->groups, own = ctx->isa >= EM_ISA_AVX2;
  int64_t cin_g = cin / g, cout_g = cout / g, K = cin_g * p->kh * p->kw, hw = h * w, howo = ho * wo;
  int direct = input_is_col(p);
  /* ldc: output planes ldc floats apart (one image, its own product, no
  ** residual: em_conv2d_forward_ex's plane-strided outputs), else howo */
  em_gemm gm = { cout_g, howo, K, NULL, K, NULL, NULL, NULL, NULL, 0, NULL, ldc ? ldc : howo, NULL,
                 NULL, NULL, e->clamp, e->lo, e->hi };
  em_status st;
  const float *packed = NULL;
  if (own && p->packed_weight && (!p->pack_pixels || howo <= p->pack_pixels)) {
    /* each group's weight packed once, kept by the caller */
    int64_t each = em_gemm_packed_size(cout_g, K), sz[1] = { g * each };
    em_tensor *pw = p->packed_weight;
    if (!pw->storage || em_tensor_nelement(pw) != sz[0] || !em_tensor_is_contiguous(pw)) {
      if ((st = em_tensor_resize(pw, 1, sz, err))) return st;
      for (int gi = 0; gi < g; gi++)
        em_gemm_pack_a(ctx, wt + gi * cout_g * K, K, cout_g, K, em_tensor_data(pw) + gi * each);
    }
    packed = em_tensor_data(pw);
  }
  int64_t gscratch, vsize, sz[1] = { gemm_scratch_floats(ctx, p, cin, cout, w, ho, wo, &gscratch,
                                                         &vsize) };
  if (sz[0] && (st = em_tensor_resize(buf, 1, sz, err))) return st;
  for (int64_t img = 0; img < n; img++) {
    const float *x = in + img * cin * hw, *col = x;
    float *y = out + img * cout * howo;
    if (!own && !direct) {
      im2col(ctx, x, em_tensor_data(buf), cin, h, w, ho, wo, p);
      col = em_tensor_data(buf);
    }
    for (int gi = 0; gi < g; gi++) {
      float *yg = y + gi * cout_g * gm.ldc;
      if (own) {
        em_conv_src cs = { x + gi * cin_g * hw, h, w, ho, wo, p, cin_g };
        em_gemm_mat mat = { x + gi * cin_g * hw, hw, NULL };
        gm.a = wt + gi * cout_g * K;
        gm.ap = packed ? packed + gi * em_gemm_packed_size(cout_g, K) : NULL;
        gm.pack = direct || vsize ? em_pack_mat : em_pack_conv;
        gm.src = direct || vsize ? (const void *)&mat : (const void *)&cs;
        if (vsize) {   /* B's rows start in the phase planes, at rowoff */
          float *planes = em_tensor_data(buf) + gscratch;
          int64_t *rowoff = (int64_t *)(planes + vsize);
          em_conv_phases_fill(ctx, x + gi * cin_g * hw, cin_g, h, w, ho, wo, p, planes);
          em_conv_phases_rows(cin_g, ho, wo, p, rowoff);
          mat.b = planes;
          mat.rowoff = rowoff;
        }
        gm.c = yg;
        gm.scale = e->scale ? e->scale + gi * cout_g : NULL;
        gm.bias = e->bias ? e->bias + gi * cout_g : NULL;
        gm.res = e->res ? e->res + (yg - out) : NULL;
        em_gemm_run(ctx, &gm, em_tensor_data(buf));
        continue;
      }
      em_sgemm(0, 0, (int)cout_g, (int)howo, (int)K, 1.0f, wt + gi * cout_g * K, (int)K,
               col + gi * K * howo, (int)howo, 0.0f, yg, (int)howo);
      finish_block(yg, e->res ? e->res + (yg - out) : NULL, e, gi * cout_g, cout_g, howo);
    }
  }
  return EM_OK;
}

/* The residual's checks: the output's shape, no memory shared with it
** unless it is the output itself on a path that adds it in place. */
static em_status check_residual(const em_tensor *res, const int64_t osz[4], const em_tensor *output,
                                int in_place, em_err *err) {
  char a[128];
  if (!res->storage || res->ndim != 4 || res->size[0] != osz[0] || res->size[1] != osz[1] ||
      res->size[2] != osz[2] || res->size[3] != osz[3])
    return em_fail(err, EM_ESHAPE, "expected a residual of the output's shape %lldx%lldx%lldx%lld, got %s",
                   (long long)osz[0], (long long)osz[1], (long long)osz[2], (long long)osz[3],
                   em_tensor_shape_str(res, a, sizeof a));
  if (shares(output, res) &&
      !(in_place && em_tensor_same_view(output, res) && em_tensor_is_contiguous(output)))
    return em_fail(err, EM_EARG, "output must not share memory with the residual%s",
                   in_place ? " unless it is the residual tensor itself" : " on this convolution's path");
  return EM_OK;
}

/* Winograd where it fits and, left to AUTO, where it measured faster than
** im2col + the product (1.6-2.2x from 28x28 up, 2x at 14x14 since the
** few-tile phases, half the speed at 7x7): a layer needs 16 4x4 tiles (a
** 14x14 output) for its 36 products to amortise reading their 4x larger
** weight. Its float error is 2-5x im2col's, and it grows with the layers
** after it: Inception v3 with its 32-plane stem layers on Winograd is
** 7.2e-5 to 8.2e-5 x max |logit| from PyTorch (4.7e-5 with them on im2col;
** the limit is 1e-4). Layers with 16-31 input planes take it from 28x28
** outputs (WINO_FEW_PLANES_TILES): at 28x28 and 55x55 they ran 1.1-1.7x
** faster on it (Zen 1, 2 threads; 0.98-0.99x on Zen 4), at 14x14 and 7x7
** within 15% either way (1.2-2.1x slower on Zen 4); their nets' error did
** not grow (squeezenet1_1 2.4e-7, googlenet 1.8e-5). Fewer planes keep
** im2col.
** Smaller outputs with 16 2x2 blocks (7x7, 8x8) take F(2x2, 3x3): its 16
** products' weight is 16/9 of the layer's, and it measured 1.15-1.28x
** im2col's speed on GoogLeNet's and Inception's 7x7 and 8x8 layers and
** 1.03x on ResNet's 512 -> 512 (2 threads, alone); in the nets, ResNet-18
** and -50 1.02-1.03x, forward by forward. Not with AVX-512 (Zen 5): there
** the product runs twice as fast and reading the larger weight from memory
** costs more than the multiplications it saves (ResNet-18 1.24x and
** ResNet-50 1.07x faster by im2col, forward by forward; F(4x4) at 14x14
** still 1.07x faster than im2col on ResNet-50).
** 5x5 layers take F(2x2, 5x5), 36 products for 100 multiplications, from 32
** input planes and 16 2x2 blocks: alone (2 threads, Zen 1) AlexNet's
** 64 -> 192 at 27x27 ran 1.53x faster than im2col, Inception's 48 -> 64 at
** 35x35 1.28x, a 128 -> 128 at 14x14 1.74x; with 16 input planes it was
** 1.05x at 28x28 and 0.87x at 14x14. Inception v3's error stayed 8.1e-5 x
** max |logit|. */
#ifndef WINO5_TILES
#define WINO5_TILES 16
#endif
#ifndef WINO5_PLANES
#define WINO5_PLANES 32
#endif
#ifndef WINO_FEW_PLANES_TILES
#define WINO_FEW_PLANES_TILES 49   /* 4x4 tiles: a 28x28 output */
#endif
#ifndef WINO_TILES
#define WINO_TILES 16   /* 4x4 tiles: a 14x14 output */
#endif
#ifndef WINO2_TILES
#define WINO2_TILES 16   /* 2x2 blocks: a 7x7 or 8x8 output */
#endif
int em_conv2d_winograd(const em_ctx *ctx, const em_conv_params *p, int64_t cin, int64_t cout,
                       int64_t ho, int64_t wo) {
  if (p->algo != EM_CONV_AUTO)
    return p->algo == EM_CONV_WINOGRAD ? 4 : p->algo == EM_CONV_WINOGRAD2 ? 2 : 0;
  if (em_winograd7_fits(p)) return cin >= 16 && cout >= 16 && ctx->isa >= EM_ISA_AVX2 ? 2 : 0;
  if (!em_winograd_fits(p) || cin < 16 || cout < 16) return 0;
  int64_t tiles4 = ((ho + 3) / 4) * ((wo + 3) / 4), tiles2 = ((ho + 1) / 2) * ((wo + 1) / 2);
  if (p->kh == 5) return cin >= WINO5_PLANES && tiles2 >= WINO5_TILES ? 2 : 0;
  if (cin < 32) return tiles4 >= WINO_FEW_PLANES_TILES ? 4 : 0;
  if (tiles4 >= WINO_TILES) return 4;
  return tiles2 >= WINO2_TILES && ctx->isa < EM_ISA_AVX512 ? 2 : 0;
}

/* The direct convolution (convdirect.c) for the stems' few input planes,
** where it measured faster than im2col + the product (single thread,
** 3 planes: 1.15-1.5x on the seven stems of the bench nets, 224-299 wide,
** 1.45x at 3x3 stride 2 on 64x64; 3x3 stride 1 1.1x at 40-56 wide, 0.95x
** at 28, 0.65x at 7; with 8 planes 1.1x at 3x3 but 0.8x on 8 -> 256 at
** 28x28 and 0.86x at 1x1; 16 planes 0.9x): up to 4 planes, a kernel larger
** than 1x1, outputs 32 or more wide. */
static int use_direct(const em_ctx *ctx, const em_conv_params *p, int64_t cin, int64_t wo) {
  return p->algo == EM_CONV_AUTO && em_conv_direct_fits(ctx, p, cin) && cin <= 4 &&
         (int64_t)p->kh * p->kw > 1 && wo >= 32;
}

/* The paths that read each residual value just before they store the
** output value in its place, and never store a value twice: ember's own
** product (sgemm.c: with a scale, only when k is one block of it, as its
** first block would store over the residual the last one adds) and Winograd
** (its output tiles are disjoint; its first pass may defer to the product).
** Not the direct and depthwise kernels, whose row tails store some values
** again, nor OpenBLAS + finish_block. */
int em_conv2d_residual_in_place(const em_ctx *ctx, const em_conv_params *p, int64_t cin,
                                int64_t wo, int scaled) {
  int64_t k = cin / (p->groups > 0 ? p->groups : 1) * p->kh * p->kw;
  int depthwise = p->groups > 1 && cin / p->groups == 1;
  return ctx->isa >= EM_ISA_AVX2 && !depthwise && !use_direct(ctx, p, cin, wo) &&
         (!scaled || k <= EM_GEMM_KC);
}

/* The weight transformed into the caller's p->wino_weight when that is
** empty, into a local tensor when there is none. */
static em_status conv_winograd(em_ctx *ctx, const float *in, float *out, const em_tensor *wt,
                               const epi *e, em_tensor *buf, int64_t n, int64_t cin, int64_t cout,
                               int64_t h, int64_t w, int64_t ho, int64_t wo, int m,
                               const em_conv_params *p, int64_t ldc, em_err *err) {
  em_wino_args a = { in, e->bias, e->res, out, n, cin, cout, h, w, ho, wo, p->pt, p->pl,
                     e->clamp, e->lo, e->hi, e->scale, p->kh, ldc };
  int t = m + p->kh - 1, one_d = p->kh != p->kw;   /* 1x7, 7x1: F(2, 7), 8 products */
  em_tensor local, *u = p->wino_weight ? p->wino_weight : &local;
  em_status st = EM_OK;
  em_tensor_init(&local);
  if (!u->storage || u->size[0] != (one_d ? 8 : t * t)) st = em_winograd_prepare(ctx, wt, u, m, err);
  if (!st) st = one_d ? em_winograd7_forward(ctx, &a, u, buf, err) : em_winograd_forward(ctx, &a, u, buf, err);
  em_tensor_free(&local);
  return st;
}

/* An output of the right shape whose planes are contiguous but further
** apart than one plane (a channel-strided view), kept as it is. */
static int planes_apart(const em_tensor *t, const int64_t osz[4]) {
  if (!t->storage || t->ndim != 4) return 0;
  for (int d = 0; d < 4; d++)
    if (t->size[d] != osz[d]) return 0;
  return t->stride[3] == 1 && t->stride[2] == osz[3] && t->stride[1] > osz[2] * osz[3] &&
         (osz[0] == 1 || t->stride[0] >= t->stride[1] * osz[1]);
}

/* A dry pass grows buf to what the forward's path will resize it to (both
** paths of a Winograd layer, which may run by the product first: ember.plan
** defers the transform), so that the plan can map it before the first
** forward (ResNet-50's first strided layer took 1.3-5.9 ms more in a first
** forward than after, mapping the shared scratch). Nothing is written. */
static em_status dry_scratch(const em_ctx *ctx, em_tensor *buf, const em_conv_params *p, int tile,
                             int depthwise, int64_t n, int64_t cin, int64_t cout, int64_t h,
                             int64_t w, int64_t ho, int64_t wo, em_err *err) {
  int64_t need = 0;
  if (use_direct(ctx, p, cin, wo)) {
    em_direct_args d = { .n = n, .cin = cin, .cout = cout, .h = h, .w = w, .ho = ho, .wo = wo };
    need = em_conv_direct_scratch(ctx, &d, p);
  } else if (!depthwise) {
    need = gemm_scratch_floats(ctx, p, cin, cout, w, ho, wo, NULL, NULL);
    if (tile) {
      int64_t wn = p->kh != p->kw ? em_winograd7_scratch(ctx, n, cin, cout, h, w, ho, wo, p->kh > 1,
                                                         p->kh > 1 ? p->pt : p->pl)
                                  : em_winograd_scratch(ctx, n, cin, cout, ho, wo, tile, p->kh);
      need = wn > need ? wn : need;
    }
  }
  if (need <= em_tensor_nelement(buf)) return EM_OK;
  int64_t sz[1] = { need };
  return em_tensor_resize(buf, 1, sz, err);
}

em_status em_conv2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                            const em_tensor *weight, const em_tensor *bias,
                            em_tensor *buf, const em_conv_params *p, em_err *err) {
  return em_conv2d_forward_ex(ctx, input, output, weight, bias, buf, p, NULL, err);
}

em_status em_conv2d_forward_ex(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_tensor *weight, const em_tensor *bias,
                               em_tensor *buf, const em_conv_params *p,
                               const em_conv_epilogue *ep, em_err *err) {
  em_tensor x, wt, b, r, sc, scratch, tmp;
  int64_t ho = 0, wo = 0, n, cin, cout, h, w, osz[4];
  int has_bias = bias && bias->storage, act = ep ? ep->act : EM_ACT_NONE;
  int inline_act = act == EM_ACT_RELU || act == EM_ACT_CLAMP;
  const em_tensor *res = ep && ep->residual ? ep->residual : NULL;
  const em_tensor *scale = ep && ep->scale && ep->scale->storage ? ep->scale : NULL;
  char a[128];
  epi e;
  em_status st;
  if (!ctx || !input || !output || !weight || !p)
    return em_fail(err, EM_EARG, "conv2d: missing argument");
  if ((st = check_conv(input, weight, bias, p, &ho, &wo, err))) return st;
  if (act < EM_ACT_NONE || act > EM_ACT_SOFTPLUS)
    return em_fail(err, EM_EARG, "unknown activation %d in the convolution epilogue", act);
  if (p->algo < EM_CONV_AUTO || p->algo > EM_CONV_WINOGRAD2)
    return em_fail(err, EM_EARG, "unknown convolution algorithm %d", p->algo);
  if ((p->algo == EM_CONV_WINOGRAD || p->algo == EM_CONV_WINOGRAD2) &&
      !(em_winograd_fits(p) && (p->algo == EM_CONV_WINOGRAD2 || p->kh == 3)) &&
      !(p->algo == EM_CONV_WINOGRAD2 && em_winograd7_fits(p)))
    return em_fail(err, EM_EARG, "winograd needs a 3x3 kernel (winograd2 also 5x5, and 1x7 or "
                   "7x1 without padding across), stride 1, dilation 1 and groups 1, "
                   "got %dx%d, stride %dx%d, dilation %dx%d, groups %d",
                   p->kh, p->kw, p->sh, p->sw, p->dh, p->dw, p->groups);
  if (shares(output, input) || shares(output, weight) || shares(output, bias) ||
      shares(buf, input) || shares(buf, output) || shares(buf, weight) || shares(buf, res) ||
      shares(output, p->wino_weight) || shares(buf, p->wino_weight) ||
      shares(output, p->packed_weight) || shares(buf, p->packed_weight) ||
      shares(p->packed_weight, weight) || shares(p->packed_weight, input))
    return em_fail(err, EM_EARG, "output and scratch must not share memory with the inputs");
  n = input->size[0]; cin = input->size[1]; h = input->size[2]; w = input->size[3];
  cout = weight->size[0];
  osz[0] = n; osz[1] = cout; osz[2] = ho; osz[3] = wo;
  if (res && (st = check_residual(res, osz, output,
                                   em_conv2d_residual_in_place(ctx, p, cin, wo, scale != NULL), err)))
    return st;
  if (scale && em_tensor_nelement(scale) != cout)
    return em_fail(err, EM_ESHAPE, "expected a scale of %lld elements, got %s", (long long)cout,
                   em_tensor_shape_str(scale, a, sizeof a));
  if (shares(output, scale))
    return em_fail(err, EM_EARG, "output must not share memory with the scale");
  em_tensor_init(&x); em_tensor_init(&wt); em_tensor_init(&b); em_tensor_init(&r);
  em_tensor_init(&sc); em_tensor_init(&scratch); em_tensor_init(&tmp);
  int tile = em_conv2d_winograd(ctx, p, cin, cout, ho, wo);
  int wino = tile && !(p->defer_prepare && p->algo == EM_CONV_AUTO && p->wino_weight &&
                       !p->wino_weight->storage);
  int depthwise = cin / p->groups == 1 && p->groups > 1;
  /* an output of planes apart (a view into a channel shuffle's output,
  ** ember/plan.lua) is kept: the product writes its planes in place, any
  ** other path into a plain tensor copied there after */
  int64_t ldc = 0;
  em_tensor *dst = output;
  if (planes_apart(output, osz)) {
    if ((!wino || p->kh != p->kw) && !use_direct(ctx, p, cin, wo) && !depthwise && !res && n == 1 &&
        ctx->isa >= EM_ISA_AVX2)
      ldc = output->stride[1];
    else
      dst = &tmp;
  }
  if ((st = em_tensor_contiguous(&x, input, err)) ||
      (st = em_tensor_contiguous(&wt, weight, err)) ||
      (has_bias && (st = em_tensor_contiguous(&b, bias, err))) ||
      (res && (st = em_tensor_contiguous(&r, res, err))) ||
      (scale && (st = em_tensor_contiguous(&sc, scale, err))) ||
      (!ldc && (st = em_tensor_resize(dst, 4, osz, err))))
    goto done;
  if (EM_DRY(ctx)) {   /* the caller's scratch sized as the forward will want it */
    if (buf) st = dry_scratch(ctx, buf, p, tile, depthwise, n, cin, cout, h, w, ho, wo, err);
    goto done;
  }
  e.scale = scale ? em_tensor_data(&sc) : NULL;
  e.bias = has_bias ? em_tensor_data(&b) : NULL;
  e.res = res ? em_tensor_data(&r) : NULL;
  e.clamp = inline_act;
  e.lo = act == EM_ACT_RELU ? 0.0f : ep ? ep->a : 0.0f;
  e.hi = act == EM_ACT_RELU ? INFINITY : ep ? ep->b : 0.0f;
  if (wino) {
    st = conv_winograd(ctx, em_tensor_data(&x), em_tensor_data(dst), &wt, &e,
                       buf ? buf : &scratch, n, cin, cout, h, w, ho, wo, tile, p, ldc, err);
  } else if (use_direct(ctx, p, cin, wo)) {
    em_direct_args d = { em_tensor_data(&x), em_tensor_data(&wt), e.scale, e.bias, e.res,
                         em_tensor_data(dst), n, cin, cout, h, w, ho, wo, e.clamp, e.lo, e.hi };
    st = em_conv_direct_forward(ctx, &d, buf ? buf : &scratch, p, err);
  } else if (depthwise) {
    /* depthwise applies bias, residual and clamp itself; a scale goes first,
    ** so with one they all come after, in one pass */
    em_dw_args d = { em_tensor_data(&x), em_tensor_data(&wt), scale ? NULL : e.bias,
                     scale ? NULL : e.res, em_tensor_data(dst), n, cin, cout, h, w, ho, wo,
                     inline_act && !scale ? act : EM_ACT_NONE, ep ? ep->a : 0.0f, ep ? ep->b : 0.0f };
    em_depthwise_forward(ctx, &d, p);
    for (int64_t img = 0; scale && img < n; img++)
      finish_block(em_tensor_data(dst) + img * cout * ho * wo,
                   e.res ? e.res + img * cout * ho * wo : NULL, &e, 0, cout, ho * wo);
  } else {
    st = conv_gemm(ctx, em_tensor_data(&x), em_tensor_data(dst), em_tensor_data(&wt),
                   &e, buf ? buf : &scratch, n, cin, cout, h, w, ho, wo, p, ldc, err);
  }
  /* the activations with no inline form: one more pass, in place */
  if (!st && act != EM_ACT_NONE && !inline_act)
    st = em_act_forward(dst, dst, (em_act)act, ep->a, ep->b, err);
  if (!st && dst != output) st = em_tensor_copy(output, dst, err);
done:
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&r);
  em_tensor_free(&sc); em_tensor_free(&scratch); em_tensor_free(&tmp);
  return st;
}
