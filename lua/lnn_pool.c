/* lnn_pool.c -- Lua wrappers of pool.c, batchnorm.c and lrn.c:
** core.maxpool2d, avgpool2d, adaptive_*pool2d, batchnorm, batchnorm_fold, lrn. */

#include <limits.h>

#include "lember.h"

static int check_int(lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= INT_MIN && v <= INT_MAX, arg, "integer out of range");
  return (int)v;
}

static int opt_int(lua_State *L, int arg, int def) {
  return lua_isnoneornil(L, arg) ? def : check_int(L, arg);
}

/* A C,H,W input is run as a batch of one: *b borrows in's storage (it is
** never freed) with a leading dimension of size 1. Returns whether it did. */
static int as_batch(const em_tensor *in, em_tensor *b, int ndim) {
  if (in->ndim != ndim - 1 || !in->storage) { *b = *in; return 0; }
  *b = *in;
  b->ndim = ndim;
  for (int i = ndim - 1; i > 0; i--) {
    b->size[i] = in->size[i - 1];
    b->stride[i] = in->stride[i - 1];
  }
  b->size[0] = 1;
  b->stride[0] = in->ndim ? in->size[0] * in->stride[0] : 1;
  return 1;
}

/* Drops the leading size-1 dimension of a contiguous output. */
static void drop_batch(em_tensor *out) {
  for (int i = 0; i + 1 < out->ndim; i++) {
    out->size[i] = out->size[i + 1];
    out->stride[i] = out->stride[i + 1];
  }
  out->ndim--;
}

static void check_spatial(lua_State *L, const em_tensor *in) {
  char a[128];
  if (in->storage && in->ndim != 3 && in->ndim != 4)
    luaL_error(L, "expected a 3- or 4-dimensional input (C,H,W or N,C,H,W), got %d dimensions (%s)",
               in->ndim, em_tensor_shape_str(in, a, sizeof a));
}

/* Runs a pooling kernel on input (arg 1) into output (arg 2), returns output. */
typedef em_status (*pool_fn)(em_ctx *, const em_tensor *, em_tensor *, const em_pool_params *, em_err *);

static int run_pool(lua_State *L, pool_fn fn, const em_pool_params *p) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2), b;
  int batched;
  em_err err;
  check_spatial(L, in);
  batched = as_batch(in, &b, 4);
  if (fn(lt_ctx(L), &b, out, p, &err) != EM_OK) return lt_error(L, &err);
  if (batched) drop_batch(out);
  lua_settop(L, 2);
  return 1;
}

/* Arguments 3 to 9, the same for max and average pooling: kW, kH, dW, dH,
** padW, padH, ceil. */
static void window_args(lua_State *L, em_pool_params *p) {
  p->kw = check_int(L, 3);
  p->kh = check_int(L, 4);
  p->sw = check_int(L, 5);
  p->sh = check_int(L, 6);
  p->pl = opt_int(L, 7, 0);
  p->pt = opt_int(L, 8, 0);
  p->ceil_mode = lua_toboolean(L, 9);
}

/* core.maxpool2d(input, output, kW, kH, dW, dH, padW, padH, ceil, dilW, dilH,
** padRight, padBottom): padW/padH pad the left/top and, unless padRight /
** padBottom are given, the right/bottom too. */
static int nn_maxpool2d(lua_State *L) {
  em_pool_params p = {0};
  window_args(L, &p);
  p.dw = opt_int(L, 10, 1);
  p.dh = opt_int(L, 11, 1);
  p.pr = opt_int(L, 12, p.pl);
  p.pb = opt_int(L, 13, p.pt);
  return run_pool(L, em_maxpool2d_forward, &p);
}

/* core.avgpool2d(input, output, kW, kH, dW, dH, padW, padH, ceil,
** count_include_pad, padRight, padBottom) */
static int nn_avgpool2d(lua_State *L) {
  em_pool_params p = {0};
  window_args(L, &p);
  p.count_include_pad = lua_toboolean(L, 10);
  p.pr = opt_int(L, 11, p.pl);
  p.pb = opt_int(L, 12, p.pt);
  p.dw = p.dh = 1;
  return run_pool(L, em_avgpool2d_forward, &p);
}

typedef em_status (*adaptive_fn)(em_ctx *, const em_tensor *, em_tensor *, int, int, em_err *);

static int run_adaptive(lua_State *L, adaptive_fn fn) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2), b;
  int ow = check_int(L, 3), oh = check_int(L, 4), batched;
  em_err err;
  check_spatial(L, in);
  batched = as_batch(in, &b, 4);
  if (fn(lt_ctx(L), &b, out, oh, ow, &err) != EM_OK) return lt_error(L, &err);
  if (batched) drop_batch(out);
  lua_settop(L, 2);
  return 1;
}

/* core.adaptive_avgpool2d(input, output, oW, oH) (Torch7's order: width first) */
static int nn_adaptive_avgpool2d(lua_State *L) {
  return run_adaptive(L, em_adaptive_avgpool2d_forward);
}

static int nn_adaptive_maxpool2d(lua_State *L) {
  return run_adaptive(L, em_adaptive_maxpool2d_forward);
}

/* core.batchnorm(input, output, weight|nil, bias|nil, mean, var, eps, [nobatch]):
** output may be input (in place). With nobatch the input lacks the batch
** dimension (C,... with channels first). */
static int nn_batchnorm(lua_State *L) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2), b;
  em_tensor *w = lt_opt(L, 3), *bias = lt_opt(L, 4);
  em_tensor *mean = lt_check(L, 5), *var = lt_check(L, 6);
  float eps = (float)luaL_checknumber(L, 7);
  int nobatch = lua_toboolean(L, 8), inplace = in == out;
  em_err err;
  em_status st;
  luaL_argcheck(L, !nobatch || in->ndim + 1 <= EM_MAXDIM, 1, "too many dimensions");
  if (nobatch && in->storage) {
    as_batch(in, &b, in->ndim + 1);
    /* in place on a batch view: b is both input and output */
    st = em_batchnorm_forward(lt_ctx(L), &b, inplace ? &b : out, w, bias, mean, var, eps, &err);
    if (st != EM_OK) return lt_error(L, &err);
    if (!inplace) drop_batch(out);
  } else if (em_batchnorm_forward(lt_ctx(L), in, out, w, bias, mean, var, eps, &err) != EM_OK) {
    return lt_error(L, &err);
  }
  lua_settop(L, 2);
  return 1;
}

/* core.batchnorm_fold(convWeight, convBias|nil, weight|nil, bias|nil, mean,
** var, eps) -> convBias: scales convWeight (out,...) in place and returns the
** updated bias (the tensor given, filled if it was empty, or a new one). */
static int nn_batchnorm_fold(lua_State *L) {
  em_tensor *cw = lt_check(L, 1), *cb;
  em_tensor *w = lt_opt(L, 3), *bias = lt_opt(L, 4);
  em_tensor *mean = lt_check(L, 5), *var = lt_check(L, 6);
  float eps = (float)luaL_checknumber(L, 7);
  em_err err;
  lua_settop(L, 7);
  if (lua_isnil(L, 2)) {
    cb = lt_push(L);
    lua_replace(L, 2);
  } else {
    cb = lt_check(L, 2);
  }
  if (em_batchnorm_fold(cw, cb, w, bias, mean, var, eps, &err) != EM_OK) return lt_error(L, &err);
  lua_settop(L, 2);
  return 1;
}

/* core.lrn(input, output, size, alpha, beta, k, [nobatch]): input N,C,...
** (rank >= 3), or C,... with nobatch */
static int nn_lrn(lua_State *L) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2), b;
  int size = check_int(L, 3), batched = 0;
  float alpha = (float)luaL_checknumber(L, 4), beta = (float)luaL_checknumber(L, 5);
  float k = (float)luaL_checknumber(L, 6);
  em_err err;
  luaL_argcheck(L, in->ndim + 1 <= EM_MAXDIM, 1, "too many dimensions");
  if (lua_toboolean(L, 7)) batched = as_batch(in, &b, in->ndim + 1);
  else b = *in;
  if (em_lrn_forward(lt_ctx(L), &b, out, size, alpha, beta, k, &err) != EM_OK) return lt_error(L, &err);
  if (batched) drop_batch(out);
  lua_settop(L, 2);
  return 1;
}

const luaL_Reg em_l_nn_pool[] = {
  {"maxpool2d", nn_maxpool2d},
  {"avgpool2d", nn_avgpool2d},
  {"adaptive_avgpool2d", nn_adaptive_avgpool2d},
  {"adaptive_maxpool2d", nn_adaptive_maxpool2d},
  {"batchnorm", nn_batchnorm},
  {"batchnorm_fold", nn_batchnorm_fold},
  {"lrn", nn_lrn},
  {NULL, NULL}
};
