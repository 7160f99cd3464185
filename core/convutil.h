/* convutil.h -- index arithmetic and checks shared by the convolution files
** (conv.c, deconv.c, depthwise.c, winograd.c, winograd7.c). Internal: not
** installed with ember.h. */
#ifndef EMBER_CONVUTIL_H
#define EMBER_CONVUTIL_H

#include "ember.h"

/* ceil(a / b) for b > 0 and any sign of a (C division truncates). */
static inline int64_t ceil_div(int64_t a, int64_t b) {
  return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Positions i in [0, count) whose index i*s + off falls in [0, limit):
** [*lo, *hi). Outside it a tap reads (or, transposed, writes into) padding,
** so the inner loops only run over the valid span with no bounds test. */
static inline void valid_span(int64_t limit, int64_t count, int s, int64_t off,
                              int64_t *lo, int64_t *hi) {
  *lo = clamp64(ceil_div(-off, s), 0, count);
  *hi = clamp64(ceil_div(limit - off, s), *lo, count);
}

/* Sizes of a 4-D tensor, all >= 1, or a message naming what was expected. */
static inline em_status check_4d(const em_tensor *t, const char *what, const char *layout,
                                 em_err *err) {
  char a[128];
  if (!t->storage || t->ndim != 4)
    return em_fail(err, EM_ESHAPE, "expected a 4-D %s (%s), got %s", what, layout,
                   em_tensor_shape_str(t, a, sizeof a));
  for (int i = 0; i < 4; i++)
    if (t->size[i] < 1)
      return em_fail(err, EM_ESHAPE, "%s %s has an empty dimension", what,
                     em_tensor_shape_str(t, a, sizeof a));
  return EM_OK;
}

/* The input planes copied into rows for a product (conv.c's im2col,
** convpack.c's phase planes), in parallel: input x (c,h,w) into dst. */
typedef struct em_copy_job {
  const float *x;
  float *dst;
  int64_t c, h, w, ho, wo;
  const em_conv_params *p;
} em_copy_job;

/* Whether two tensors view the same storage (an output may not). */
static inline int shares(const em_tensor *a, const em_tensor *b) {
  return a && b && (a == b || (a->storage && a->storage == b->storage));
}

/* convdirect.c: the direct convolution for few input planes (the stems).
** in N,Cin,H,W; weight Cout,Cin,kH,kW; out (and res) N,Cout,Ho,Wo, all
** contiguous; the epilogue as em_gemm's: clamp(scale * conv + bias + res). */
typedef struct em_direct_args {
  const float *in, *weight, *scale, *bias, *res;   /* scale, bias, res may be NULL */
  float *out;
  int64_t n, cin, cout, h, w, ho, wo;
  int clamp;
  float lo, hi;
} em_direct_args;
/* Whether the direct path can run p with cin input planes (AVX2, groups 1,
** at most 2048 taps); conv.c takes it where it is faster (few planes). */
int em_conv_direct_fits(const em_ctx *ctx, const em_conv_params *p, int64_t cin);
/* the floats of buf em_conv_direct_forward resizes to */
int64_t em_conv_direct_scratch(const em_ctx *ctx, const em_direct_args *a, const em_conv_params *p);
/* buf: scratch, resized (the phase planes, and the packed weight when
** p->packed_weight does not keep it). */
em_status em_conv_direct_forward(em_ctx *ctx, const em_direct_args *a, em_tensor *buf,
                                 const em_conv_params *p, em_err *err);

/* An em_task's body compiled three times: NAME_base as built (x86-64-v2),
** NAME_avx2 and NAME_avx512 (16-float vectors preferred), each calling
** BODY(arg, a, b, t), an always-inline function the compiler vectorises for
** that ISA; EM_ISA_TASK(NAME, ctx) is the one for ctx's ISA. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define EM_ISA_TASKS(NAME, BODY)                                                          \
  static void NAME##_base(void *arg, int64_t a, int64_t b, int t) { BODY(arg, a, b, t); } \
  __attribute__((target("avx2,fma")))                                                    \
  static void NAME##_avx2(void *arg, int64_t a, int64_t b, int t) { BODY(arg, a, b, t); } \
  __attribute__((target("avx512f,avx2,fma,prefer-vector-width=512")))                    \
  static void NAME##_avx512(void *arg, int64_t a, int64_t b, int t) { BODY(arg, a, b, t); }
#define EM_ISA_TASK(NAME, ctx)                                                            \
  ((ctx)->isa >= EM_ISA_AVX512 ? NAME##_avx512 : (ctx)->isa >= EM_ISA_AVX2 ? NAME##_avx2 : NAME##_base)
#else
#define EM_ISA_TASKS(NAME, BODY)                                                          \
  static void NAME##_base(void *arg, int64_t a, int64_t b, int t) { BODY(arg, a, b, t); }
#define EM_ISA_TASK(NAME, ctx) ((void)(ctx), NAME##_base)
#endif

#endif
