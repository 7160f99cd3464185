/* activation.c -- elementwise activations (ReLU, sigmoid, GELU...) and PReLU.
** Every op runs over one contiguous buffer; strided inputs are copied once. */

#include <math.h>
#include <stdint.h>

#include "ember.h"

/* Nothing in ember reads the floating-point exception flags, so GCC may
** evaluate both arms of a select (x < 0 ? a*x : x) without trapping-math:
** that is what lets the loops below vectorise. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* Names for messages, indexed by em_act. */
static const char *const act_names[] = {
  "none", "relu", "clamp", "leakyrelu", "elu", "sigmoid", "tanh",
  "hardsigmoid", "hardswish", "silu", "gelu", "softplus"
};
#define NACTS ((int)(sizeof act_names / sizeof act_names[0]))

/* ------------------------------------------------------------ elementwise */

/* exp in plain arithmetic, so that loops calling it vectorise (libm's expf
** is one call per element). For x in [-104, 0]: x = n ln2 + r with
** |r| <= ln2/2; returns e^r - 1 by Cephes' expf polynomial (r + r^2/2 + ...,
** so no cancellation at small r) and sets *n. NaN gives NaN. */
static inline float expm1_reduced(float x, int32_t *n) {
  float xc = x < -104.0f ? -104.0f : x > 0 ? 0.0f : x;   /* e^-104: below any subnormal */
  float nf = floorf(xc * 1.44269504088896341f + 0.5f);
  float r = xc - nf * 0.693359375f + nf * 2.12194440e-4f, p;
  *n = (int32_t)(nf == nf ? nf : 0);   /* keeps the conversion defined */
  p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * r * r + r;
}

static inline float pow2i(int32_t n) {   /* n in [-126, 127] */
  union { uint32_t u; float f; } v;
  v.u = (uint32_t)(n + 127) << 23;
  return v.f;
}

/* e^x for x <= 0, within 2 ulp; 2^n goes in as two normal factors so that
** subnormal results come out right. */
static inline float exp_neg(float x) {
  int32_t n, n1;
  float p = expm1_reduced(x, &n) + 1.0f;
  n1 = n / 2;                             /* n in [-150, 0]: halves >= -75 */
  return p * pow2i(n1) * pow2i(n - n1);
}

/* e^x - 1 for x <= 0 as 2^n (e^r - 1) + (2^n - 1): for n < 0 the result is
** at least 1 - e^(-ln2/2) in size, so the sum does not cancel. */
static inline float expm1_neg(float x) {
  int32_t n;
  float m = expm1_reduced(x, &n), s;
  s = pow2i(n < -126 ? -126 : n);         /* there e^x - 1 is -1 in float */
  return s * m + (s - 1.0f);
}

/* Cephes' odd polynomial below |x| = 0.625; (1 - e)/(1 + e) with
** e = e^(-2|x|) <= 0.29 above, where nothing cancels. */
static inline float tanh1(float x) {
  float z = x * x, ax = fabsf(x), e = exp_neg(-2.0f * ax), small, big;
  small = ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z
           + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z * x + x;
  big = (1.0f - e) / (1.0f + e);
  big = x < 0 ? -big : big;
  return ax < 0.625f ? small : big;
}

/* exp(-|x|) never overflows, so both halves stay exact at large |x|:
** 1/(1+e) for x >= 0 and e/(1+e) = 1 - 1/(1+e) below, without cancellation. */
static inline float sigmoid1(float x) {
  float e = exp_neg(-fabsf(x)), r = 1.0f / (1.0f + e);
  return x >= 0 ? r : e * r;
}

/* Phi(x) = erfc(-x/sqrt 2)/2 keeps relative accuracy far into the negative
** tail, where 1 + erf(x/sqrt 2) would cancel to zero. */
static inline float gelu1(float x) {
  return 0.5f * x * erfcf(-x * (float)M_SQRT1_2);
}

/* PyTorch's approximate='tanh', using (1 + tanh u)/2 = sigmoid(2u): the same
** function, without the cancellation of 1 + tanh u for negative x. */
static inline float gelu_tanh1(float x) {
  const float k2 = 1.5957691216057308f;   /* 2 sqrt(2/pi) */
  return x * sigmoid1(k2 * (x + 0.044715f * x * x * x));
}

/* The loops keep NaN (comparisons with NaN are false, so x passes through).
** All but exact GELU (erfcf) and SoftPlus (log1pf) are free of libm calls,
** so the compiler vectorises them. dst may equal src. */
static void run(em_act act, const float *src, float *dst, int64_t n, float a, float b) {
  int64_t i;
  switch (act) {
  case EM_ACT_NONE:
    if (dst != src) for (i = 0; i < n; i++) dst[i] = src[i];
    break;
  case EM_ACT_RELU:
    for (i = 0; i < n; i++) { float x = src[i]; dst[i] = x < 0 ? 0.0f : x; }
    break;
  case EM_ACT_CLAMP:
    for (i = 0; i < n; i++) {
      float x = src[i];
      x = x < a ? a : x;
      dst[i] = x > b ? b : x;
    }
    break;
  case EM_ACT_LEAKYRELU:
    for (i = 0; i < n; i++) { float x = src[i]; dst[i] = x < 0 ? a * x : x; }
    break;
  case EM_ACT_ELU:
    for (i = 0; i < n; i++) { float x = src[i]; dst[i] = x > 0 ? x : a * expm1_neg(x); }
    break;
  case EM_ACT_SIGMOID:
    for (i = 0; i < n; i++) dst[i] = sigmoid1(src[i]);
    break;
  case EM_ACT_TANH:
    for (i = 0; i < n; i++) dst[i] = tanh1(src[i]);
    break;
  case EM_ACT_HARDSIGMOID:
    for (i = 0; i < n; i++) {
      float y = a * src[i] + b;
      y = y < 0 ? 0.0f : y;
      dst[i] = y > 1 ? 1.0f : y;
    }
    break;
  case EM_ACT_HARDSWISH:
    for (i = 0; i < n; i++) {
      float x = src[i], r = x + 3.0f;
      r = r < 0 ? 0.0f : r;
      r = r > 6 ? 6.0f : r;
      dst[i] = x * (r / 6.0f);   /* r/6 first: x*6 would overflow near FLT_MAX */
    }
    break;
  case EM_ACT_SILU:
    for (i = 0; i < n; i++) { float x = src[i]; dst[i] = x * sigmoid1(x); }
    break;
  case EM_ACT_GELU:
    if (a != 0) for (i = 0; i < n; i++) dst[i] = gelu_tanh1(src[i]);
    else for (i = 0; i < n; i++) dst[i] = gelu1(src[i]);
    break;
  case EM_ACT_SOFTPLUS:
    /* as PyTorch: x above the threshold; below, log(1 + e^y) written as
    ** max(y, 0) + log1p(e^-|y|), which no threshold can make overflow */
    for (i = 0; i < n; i++) {
      float x = src[i], y = a * x;
      dst[i] = y > b ? x : ((y > 0 ? y : 0.0f) + log1pf(exp_neg(-fabsf(y)))) / a;
    }
    break;
  }
}

/* Rejects parameters that would make every output NaN or divide by zero. */
static em_status check_params(em_act act, float a, float b, em_err *err) {
  if ((int)act < 0 || (int)act >= NACTS)
    return em_fail(err, EM_EARG, "unknown activation %d (expected 0 to %d)", (int)act, NACTS - 1);
  switch (act) {
  case EM_ACT_CLAMP:
    if (isnan(a) || isnan(b))
      return em_fail(err, EM_EARG, "clamp bounds must be numbers, got min %g, max %g", a, b);
    break;
  case EM_ACT_LEAKYRELU: case EM_ACT_ELU:
    if (!isfinite(a))
      return em_fail(err, EM_EARG, "%s parameter must be finite, got %g", act_names[act], a);
    break;
  case EM_ACT_HARDSIGMOID:
    if (!isfinite(a) || !isfinite(b))
      return em_fail(err, EM_EARG, "hardsigmoid alpha and beta must be finite, got %g, %g", a, b);
    break;
  case EM_ACT_SOFTPLUS:
    if (!isfinite(a) || a == 0 || isnan(b))
      return em_fail(err, EM_EARG, "softplus beta must be finite and nonzero, threshold a number; "
                     "got beta %g, threshold %g", a, b);
    break;
  default:
    break;
  }
  return EM_OK;
}

/* ----------------------------------------------------------- in and out */

/* Where an op reads and writes: n contiguous elements at src and dst
** (dst may equal src). In place on a strided view the work happens in tmp
** and is copied back. */
typedef struct plan {
  const float *src;
  float *dst;
  int64_t n;
  em_tensor tmp;
  int writeback;
} plan;

static em_status plan_begin(plan *p, const em_tensor *input, em_tensor *output, em_err *err) {
  em_status st;
  em_tensor_init(&p->tmp);
  p->writeback = 0;
  p->n = em_tensor_nelement(input);
  if (em_tensor_same_view(input, output)) {
    if (em_tensor_is_contiguous(input)) {
      p->src = p->dst = em_tensor_data(input);
      return EM_OK;
    }
    if ((st = em_tensor_contiguous(&p->tmp, input, err))) return st;
    p->src = p->dst = em_tensor_data(&p->tmp);
    p->writeback = 1;
    return EM_OK;
  }
  /* an output overlapping the input some other way gets memory of its own,
  ** or writing it would clobber input not yet read */
  if (output->storage && output->storage == input->storage) em_tensor_free(output);
  if ((st = em_tensor_resize_as(output, input, err))) return st;
  p->dst = em_tensor_data(output);
  if (em_tensor_is_contiguous(input)) {
    p->src = em_tensor_data(input);
  } else {
    if ((st = em_tensor_copy(output, input, err))) return st;
    p->src = p->dst;
  }
  return EM_OK;
}

static em_status plan_end(plan *p, em_tensor *output, em_err *err) {
  em_status st = EM_OK;
  if (p->writeback) st = em_tensor_copy(output, &p->tmp, err);
  em_tensor_free(&p->tmp);
  return st;
}

/* ------------------------------------------------------------------ API */

/* Below this many elements one thread runs the op: handing it out costs
** about as much as a cheap op on them. */
#define ACT_PARALLEL_MIN (1 << 16)

typedef struct act_job { em_act act; const float *src; float *dst; int64_t n; float a, b; } act_job;

/* Lines [l0, l1) of 16 floats (whole cache lines) */
static void act_lines(void *arg, int64_t l0, int64_t l1, int t) {
  const act_job *j = arg;
  int64_t i0 = l0 * 16, i1 = l1 * 16 < j->n ? l1 * 16 : j->n;
  (void)t;
  run(j->act, j->src + i0, j->dst + i0, i1 - i0, j->a, j->b);
}

em_status em_act_forward(const em_tensor *input, em_tensor *output, em_act act,
                         float a, float b, em_err *err) {
  return em_act_forward_ctx(NULL, input, output, act, a, b, err);
}

em_status em_act_forward_ctx(em_ctx *ctx, const em_tensor *input, em_tensor *output, em_act act,
                             float a, float b, em_err *err) {
  plan p;
  em_status st;
  int nt;
  if (!input || !output) return em_fail(err, EM_EARG, "input and output must not be NULL");
  if ((st = check_params(act, a, b, err))) return st;
  if (!input->storage) return em_fail(err, EM_EARG, "input is empty (no storage)");
  if ((st = plan_begin(&p, input, output, err))) {
    em_tensor_free(&p.tmp);
    return st;
  }
  nt = ctx && ctx->nthreads > 1 && p.n >= ACT_PARALLEL_MIN ? ctx->nthreads : 1;
  if (EM_DRY(ctx)) {
  } else if (nt == 1) {
    run(act, p.src, p.dst, p.n, a, b);
  } else {
    act_job j = { act, p.src, p.dst, p.n, a, b };
    em_parallel(ctx, nt, (p.n + 15) / 16, act_lines, &j);
  }
  return plan_end(&p, output, err);
}

/* Channels are dim 1, or dim 0 of a 1-d input (Torch7's PReLU); the
** leading dim is the batch and the rest are one plane per channel. */
em_status em_prelu_forward(const em_tensor *input, em_tensor *output,
                           const em_tensor *weight, em_err *err) {
  int64_t C, nw, outer = 1, inner = 1;
  em_tensor w;
  const float *wd;
  char shape[128];
  plan p;
  em_status st;
  if (!input || !output || !weight) return em_fail(err, EM_EARG, "input, output and weight must not be NULL");
  if (!input->storage) return em_fail(err, EM_EARG, "input is empty (no storage)");
  if (!weight->storage) return em_fail(err, EM_EARG, "weight is empty (no storage)");
  C = input->ndim == 0 ? 1 : input->size[input->ndim > 1];
  nw = em_tensor_nelement(weight);
  if (nw != 1 && nw != C)
    return em_fail(err, EM_ESHAPE, "%lld weights but input (%s) has %lld channels (expected 1 or %lld)",
                   (long long)nw, em_tensor_shape_str(input, shape, sizeof shape),
                   (long long)C, (long long)C);
  if (input->ndim > 1) outer = input->size[0];
  for (int d = 2; d < input->ndim; d++) inner *= input->size[d];

  em_tensor_init(&w);
  if ((st = em_tensor_contiguous(&w, weight, err))) {
    em_tensor_free(&w);
    return st;
  }
  wd = em_tensor_data(&w);
  if ((st = plan_begin(&p, input, output, err))) {
    em_tensor_free(&p.tmp);
    em_tensor_free(&w);
    return st;
  }
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t c = 0; c < C; c++) {
      int64_t off = (o * C + c) * inner;
      run(EM_ACT_LEAKYRELU, p.src + off, p.dst + off, inner, wd[nw == 1 ? 0 : c], 0);
    }
  }
  em_tensor_free(&w);
  return plan_end(&p, output, err);
}
