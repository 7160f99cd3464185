/* linear.c -- fully connected layer: y = x W^T + b, weight (out, in).
** One sample goes through sgemv, a batch through one sgemm. */

#include <limits.h>

#include "ember.h"

static int shares(const em_tensor *a, const em_tensor *b) {
  return a && b && (a == b || (a->storage && a->storage == b->storage));
}

static em_status check_linear(const em_tensor *input, const em_tensor *weight,
                              const em_tensor *bias, em_err *err) {
  char a[128];
  int64_t in;
  if (!input->storage || input->ndim < 1 || input->ndim > 2)
    return em_fail(err, EM_ESHAPE, "expected a 1-D or 2-D input (N, in), got %s",
                   em_tensor_shape_str(input, a, sizeof a));
  if (!weight->storage || weight->ndim != 2)
    return em_fail(err, EM_ESHAPE, "expected a 2-D weight (out, in), got %s",
                   em_tensor_shape_str(weight, a, sizeof a));
  if (weight->size[0] < 1 || weight->size[1] < 1)
    return em_fail(err, EM_ESHAPE, "weight %s has an empty dimension",
                   em_tensor_shape_str(weight, a, sizeof a));
  in = input->size[input->ndim - 1];
  if (in != weight->size[1])
    return em_fail(err, EM_ESHAPE, "expected %lld input features, got %lld",
                   (long long)weight->size[1], (long long)in);
  if (input->ndim == 2 && input->size[0] < 1)
    return em_fail(err, EM_ESHAPE, "input %s has an empty dimension",
                   em_tensor_shape_str(input, a, sizeof a));
  if (bias && bias->storage && em_tensor_nelement(bias) != weight->size[0])
    return em_fail(err, EM_ESHAPE, "expected a bias of %lld elements, got %s",
                   (long long)weight->size[0], em_tensor_shape_str(bias, a, sizeof a));
  if (weight->size[0] > INT_MAX || weight->size[1] > INT_MAX ||
      (input->ndim == 2 && input->size[0] > INT_MAX))
    return em_fail(err, EM_ENOMEM, "linear layer too large: weight %s",
                   em_tensor_shape_str(weight, a, sizeof a));
  return EM_OK;
}

em_status em_linear_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                            const em_tensor *weight, const em_tensor *bias, em_err *err) {
  em_tensor x, w, b;
  int64_t n, in, out, osz[2];
  int has_bias = bias && bias->storage;
  float *y, beta = has_bias ? 1.0f : 0.0f;
  em_status st;
  (void)ctx;   /* OpenBLAS brings its own threads */
  if (!input || !output || !weight)
    return em_fail(err, EM_EARG, "linear: missing argument");
  if ((st = check_linear(input, weight, bias, err))) return st;
  if (shares(output, input) || shares(output, weight) || shares(output, bias))
    return em_fail(err, EM_EARG, "output must not share memory with the inputs");
  n = input->ndim == 2 ? input->size[0] : 1;
  out = weight->size[0];
  in = weight->size[1];
  osz[0] = n; osz[1] = out;
  em_tensor_init(&x); em_tensor_init(&w); em_tensor_init(&b);
  if ((st = em_tensor_contiguous(&x, input, err)) ||
      (st = em_tensor_contiguous(&w, weight, err)) ||
      (has_bias && (st = em_tensor_contiguous(&b, bias, err))) ||
      (st = input->ndim == 2 ? em_tensor_resize(output, 2, osz, err)
                             : em_tensor_resize(output, 1, osz + 1, err)) || EM_DRY(ctx))
    goto done;
  y = em_tensor_data(output);
  /* rows start as the bias so the product is added onto it (beta = 1) */
  if (has_bias)
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < out; j++) y[i * out + j] = em_tensor_data(&b)[j];
  if (n == 1)
    em_sgemv(0, (int)out, (int)in, 1.0f, em_tensor_data(&w), (int)in, em_tensor_data(&x), beta, y);
  else
    em_sgemm(0, 1, (int)n, (int)out, (int)in, 1.0f, em_tensor_data(&x), (int)in,
             em_tensor_data(&w), (int)in, beta, y, (int)out);
done:
  em_tensor_free(&x); em_tensor_free(&w); em_tensor_free(&b);
  return st;
}
