/* batchnorm.c -- batch normalisation at inference, and its folding into
** the convolution before it (so a conv+bn pair costs one conv). */

#include <math.h>

#include "ember.h"

/* The per-channel statistics and affine terms, as contiguous views. */
typedef struct bn_terms {
  em_tensor w, b, mean, var;
  const float *pw, *pb, *pmean, *pvar;   /* pw, pb NULL when absent */
} bn_terms;

static void terms_free(bn_terms *t) {
  em_tensor_free(&t->w);
  em_tensor_free(&t->b);
  em_tensor_free(&t->mean);
  em_tensor_free(&t->var);
}

static int present(const em_tensor *t) {
  return t && t->storage && em_tensor_nelement(t) > 0;
}

/* Checks that t holds C values; makes *view a contiguous view of it. */
static em_status channel_values(em_tensor *view, const em_tensor *t, int64_t C,
                                const char *name, int required, const float **data, em_err *err) {
  em_status st;
  *data = NULL;
  if (!present(t)) {
    if (!required) return EM_OK;
    return em_fail(err, EM_EARG, "%s is missing (expected %lld values)", name, (long long)C);
  }
  if (em_tensor_nelement(t) != C)
    return em_fail(err, EM_ESHAPE, "expected %lld values in %s, got %lld",
                   (long long)C, name, (long long)em_tensor_nelement(t));
  if ((st = em_tensor_contiguous(view, t, err))) return st;
  *data = em_tensor_data(view);
  return EM_OK;
}

static em_status terms_get(bn_terms *t, int64_t C, const em_tensor *weight, const em_tensor *bias,
                           const em_tensor *mean, const em_tensor *var, float eps, em_err *err) {
  em_status st;
  em_tensor_init(&t->w);
  em_tensor_init(&t->b);
  em_tensor_init(&t->mean);
  em_tensor_init(&t->var);
  if (!(eps >= 0) || isinf(eps))
    return em_fail(err, EM_EARG, "eps must be a non-negative number, got %g", (double)eps);
  if ((st = channel_values(&t->mean, mean, C, "running_mean", 1, &t->pmean, err)) ||
      (st = channel_values(&t->var, var, C, "running_var", 1, &t->pvar, err)) ||
      (st = channel_values(&t->w, weight, C, "weight", 0, &t->pw, err)) ||
      (st = channel_values(&t->b, bias, C, "bias", 0, &t->pb, err))) {
    terms_free(t);
    return st;
  }
  return EM_OK;
}

/* y = x * scale + shift with scale = w / sqrt(var + eps), shift = b - mean * scale */
static void scale_shift(const bn_terms *t, int64_t c, float eps, float *scale, float *shift) {
  double s = 1.0 / sqrt((double)t->pvar[c] + eps);
  if (t->pw) s *= t->pw[c];
  *scale = (float)s;
  *shift = (float)((t->pb ? t->pb[c] : 0.0) - t->pmean[c] * s);
}

typedef struct bn_job { const bn_terms *t; const float *x; float *y; int64_t C, inner; float eps; } bn_job;

static void bn_planes(void *arg, int64_t p0, int64_t p1, int thread) {
  const bn_job *j = arg;
  (void)thread;
  for (int64_t pl = p0; pl < p1; pl++) {
    float s, b;
    const float *xp = j->x + pl * j->inner;
    float *yp = j->y + pl * j->inner;
    scale_shift(j->t, pl % j->C, j->eps, &s, &b);
    for (int64_t i = 0; i < j->inner; i++) yp[i] = xp[i] * s + b;
  }
}

em_status em_batchnorm_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_tensor *weight, const em_tensor *bias,
                               const em_tensor *mean, const em_tensor *var, float eps, em_err *err) {
  char a[128];
  int64_t N, C, inner = 1;
  int inplace = output == input, nt = ctx && ctx->nthreads > 0 ? ctx->nthreads : 1;
  bn_terms t;
  em_tensor in, res;
  em_status st;
  const float *x;
  float *y;
  if (!input->storage)
    return em_fail(err, EM_ESHAPE, "expected an input of 2 or more dimensions (N,C,...), got an empty tensor");
  if (input->ndim < 2)
    return em_fail(err, EM_ESHAPE, "expected an input of 2 or more dimensions (N,C,...), got %d (%s)",
                   input->ndim, em_tensor_shape_str(input, a, sizeof a));
  if (em_tensor_nelement(input) == 0)
    return em_fail(err, EM_ESHAPE, "input %s has a zero size", em_tensor_shape_str(input, a, sizeof a));
  if (!inplace && output->storage && output->storage == input->storage)
    return em_fail(err, EM_EARG, "the output must be the input itself or not share its storage");
  N = input->size[0];
  C = input->size[1];
  for (int i = 2; i < input->ndim; i++) inner *= input->size[i];
  if ((st = terms_get(&t, C, weight, bias, mean, var, eps, err))) return st;
  em_tensor_init(&in);
  em_tensor_init(&res);
  if ((st = em_tensor_contiguous(&in, input, err))) goto done;
  if (inplace) {
    /* a contiguous input is updated where it lies; a strided one was
    ** copied into `in`, which takes the result and is copied back */
    em_tensor_set(&res, &in);
  } else {
    if ((st = em_tensor_resize(output, input->ndim, input->size, err))) goto done;
    em_tensor_set(&res, output);
  }
  if (EM_DRY(ctx)) goto done;
  x = em_tensor_data(&in);
  y = em_tensor_data(&res);
  bn_job j = { &t, x, y, C, inner, eps };
  em_parallel(ctx, nt, N * C, bn_planes, &j);
  if (inplace && res.storage != input->storage) st = em_tensor_copy(output, &res, err);
done:
  em_tensor_free(&in);
  em_tensor_free(&res);
  terms_free(&t);
  return st;
}

em_status em_batchnorm_fold(em_tensor *conv_weight, em_tensor *conv_bias,
                            const em_tensor *weight, const em_tensor *bias,
                            const em_tensor *mean, const em_tensor *var, float eps, em_err *err) {
  char a[128];
  int64_t out, inner;
  bn_terms t;
  em_tensor w, b;
  em_status st;
  int new_bias;
  float *pw, *pb;
  if (!present(conv_weight) || conv_weight->ndim < 1)
    return em_fail(err, EM_ESHAPE, "the convolution weight is empty");
  out = conv_weight->size[0];
  inner = em_tensor_nelement(conv_weight) / out;
  new_bias = !present(conv_bias);
  if (!new_bias && em_tensor_nelement(conv_bias) != out)
    return em_fail(err, EM_ESHAPE, "expected %lld values in the convolution bias, got %lld (%s)",
                   (long long)out, (long long)em_tensor_nelement(conv_bias),
                   em_tensor_shape_str(conv_bias, a, sizeof a));
  if (conv_bias == conv_weight || (!new_bias && conv_bias->storage == conv_weight->storage))
    return em_fail(err, EM_EARG, "the convolution weight and bias must not share storage");
  if (present(mean) && em_tensor_nelement(mean) != out)
    return em_fail(err, EM_ESHAPE, "the convolution has %lld output channels, the batch normalisation %lld",
                   (long long)out, (long long)em_tensor_nelement(mean));
  if ((st = terms_get(&t, out, weight, bias, mean, var, eps, err))) return st;
  em_tensor_init(&w);
  em_tensor_init(&b);
  /* work on contiguous views (or copies, written back below) */
  if ((st = em_tensor_contiguous(&w, conv_weight, err))) goto done;
  if (new_bias) {
    int64_t sz = out;
    if ((st = em_tensor_new(conv_bias, 1, &sz, err))) goto done;
    em_tensor_zero(conv_bias, NULL);
  }
  if ((st = em_tensor_contiguous(&b, conv_bias, err))) goto done;
  pw = em_tensor_data(&w);
  pb = em_tensor_data(&b);
  for (int64_t o = 0; o < out; o++) {
    float s, sh;
    scale_shift(&t, o, eps, &s, &sh);
    for (int64_t i = 0; i < inner; i++) pw[o * inner + i] *= s;
    pb[o] = pb[o] * s + sh;
  }
  if (w.storage != conv_weight->storage && (st = em_tensor_copy(conv_weight, &w, err))) goto done;
  if (b.storage != conv_bias->storage) st = em_tensor_copy(conv_bias, &b, err);
done:
  em_tensor_free(&w);
  em_tensor_free(&b);
  terms_free(&t);
  return st;
}
