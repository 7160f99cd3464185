/* lnn_conv.c -- Lua wrappers of the convolution and linear kernels, and a
** bare sgemm so benchmarks can compare a layer with its matrix product. */

#include <limits.h>

#include "lember.h"

/* An optional int argument; range-checked here, sign-checked by the kernel. */
static int opt_int(lua_State *L, int arg, int def) {
  lua_Integer v = luaL_optinteger(L, arg, def);
  luaL_argcheck(L, v >= INT_MIN && v <= INT_MAX, arg, "integer out of range");
  return (int)v;
}

/* Kernel size from the weight when it is 4-D; otherwise the kernel's own
** check reports the weight's rank. */
static void kernel_from(const em_tensor *w, em_conv_params *p) {
  int ok = w->ndim == 4 && w->size[2] <= INT_MAX && w->size[3] <= INT_MAX;
  p->kh = ok ? (int)w->size[2] : 0;
  p->kw = ok ? (int)w->size[3] : 0;
}

/* Activation names of the fused epilogue, in em_act's order (as core.act's). */
static const char *const act_names[] = {
  "none", "relu", "clamp", "leakyrelu", "elu", "sigmoid", "tanh",
  "hardsigmoid", "hardswish", "silu", "gelu", "softplus", NULL
};

/* em_conv_algo's names, in its order */
static const char *const algo_names[] = { "auto", "im2col", "winograd", "winograd2", NULL };

/* core.conv2d(input, output, weight, bias|nil, buf|nil, dW, dH, padL, padR,
**             padT, padB, dilationW, dilationH, groups,
**             [act|nil, a, b, residual|nil, wino|nil, algo|nil, scale|nil,
**              packed|nil, defer, packPixels]) -> output
** weight out,in/groups,kH,kW; buf is im2col scratch kept by the caller.
** The optional tail is the fused epilogue: output = act(conv + bias +
** residual), act a core.act kind with parameters a, b; residual has the
** output's shape. wino: core.winograd_prepare(weight) kept by the caller;
** algo "auto" (default), "im2col", "winograd" (F(4x4, 3x3)) or "winograd2"
** (F(2x2, 3x3); F(2x2, 5x5) on a 5x5 kernel), to force one in tests and
** benchmarks;
** scale: Cout values the product is multiplied by before the bias (a batch
** norm kept out of the weight); defer: true to multiply by im2col rather
** than fill an empty wino (em_conv_params.defer_prepare); packPixels: packed
** is used only for outputs of at most this many pixels (nil or 0: any). */
static int nn_conv2d(lua_State *L) {
  em_tensor *input = lt_check(L, 1), *output = lt_check(L, 2), *weight = lt_check(L, 3);
  em_tensor *bias = lt_opt(L, 4), *buf = lt_opt(L, 5);
  em_conv_params p = { 0 };   /* algo AUTO, no prepared Winograd weight */
  em_conv_epilogue ep;
  em_err err;
  kernel_from(weight, &p);
  p.sw = opt_int(L, 6, 1); p.sh = opt_int(L, 7, 1);
  p.pl = opt_int(L, 8, 0); p.pr = opt_int(L, 9, 0);
  p.pt = opt_int(L, 10, 0); p.pb = opt_int(L, 11, 0);
  p.dw = opt_int(L, 12, 1); p.dh = opt_int(L, 13, 1);
  p.groups = opt_int(L, 14, 1);
  ep.act = luaL_checkoption(L, 15, "none", act_names);   /* index == em_act */
  ep.a = (float)luaL_optnumber(L, 16, 0);
  ep.b = (float)luaL_optnumber(L, 17, 0);
  ep.residual = lt_opt(L, 18);
  p.wino_weight = lt_opt(L, 19);
  p.algo = luaL_checkoption(L, 20, "auto", algo_names);   /* index == em_conv_algo */
  ep.scale = lt_opt(L, 21);
  p.packed_weight = lt_opt(L, 22);   /* the weight packed for the product, kept by the caller */
  p.defer_prepare = lua_toboolean(L, 23);
  p.pack_pixels = luaL_optinteger(L, 24, 0);   /* packed_weight only up to this many output pixels */
  luaL_argcheck(L, p.pack_pixels >= 0, 24, "a pixel count, at least 0");
  LT_CHECK(L, em_conv2d_forward_ex(lt_ctx(L), input, output, weight, bias, buf, &p, &ep, &err),
           &err);
  lua_settop(L, 2);
  return 1;
}

/* The layer's kH, kW, dW, dH, dilationW, dilationH, groups[, algo] from
** argument `at` on, for the queries below. */
static em_conv_params layer_args(lua_State *L, int at) {
  em_conv_params p = { 0 };
  p.kh = opt_int(L, at, 1); p.kw = opt_int(L, at + 1, 1);
  p.sw = opt_int(L, at + 2, 1); p.sh = opt_int(L, at + 3, 1);
  p.dw = opt_int(L, at + 4, 1); p.dh = opt_int(L, at + 5, 1);
  p.groups = opt_int(L, at + 6, 1);
  p.algo = luaL_checkoption(L, at + 7, "auto", algo_names);
  luaL_argcheck(L, p.groups >= 1, at + 6, "at least 1");
  return p;
}

/* core.conv2d_winograd(cin, cout, ho, wo, kH, kW, dW, dH, dilationW,
**                     dilationH, groups[, algo]) -> the side of the output
** blocks core.conv2d takes such a layer by Winograd with (4 or 2, for
** core.winograd_prepare), or false (em_conv2d_winograd) */
static int nn_conv2d_winograd(lua_State *L) {
  int64_t cin = luaL_checkinteger(L, 1), cout = luaL_checkinteger(L, 2);
  int64_t ho = luaL_checkinteger(L, 3), wo = luaL_checkinteger(L, 4);
  em_conv_params p = layer_args(L, 5);
  int tile = em_conv2d_winograd(lt_ctx(L), &p, cin, cout, ho, wo);
  if (tile) lua_pushinteger(L, tile);
  else lua_pushboolean(L, 0);
  return 1;
}

/* core.conv2d_residual_in_place(cin, wo, kH, kW, dW, dH, dilationW,
**                                dilationH, groups, algo, scaled) -> whether
** core.conv2d may be given its residual as its output for such a layer
** (em_conv2d_residual_in_place; scaled: with a scale) */
static int nn_conv2d_residual_in_place(lua_State *L) {
  int64_t cin = luaL_checkinteger(L, 1), wo = luaL_checkinteger(L, 2);
  em_conv_params p = layer_args(L, 3);
  lua_pushboolean(L, em_conv2d_residual_in_place(lt_ctx(L), &p, cin, wo, lua_toboolean(L, 11)));
  return 1;
}

/* core.conv_transpose2d(input, output, weight, bias|nil, buf|nil, dW, dH,
**   padL, padR, padT, padB, adjW, adjH, dilationW, dilationH, groups) -> output
** weight in,out/groups,kH,kW; adj is PyTorch's output_padding. */
static int nn_conv_transpose2d(lua_State *L) {
  em_tensor *input = lt_check(L, 1), *output = lt_check(L, 2), *weight = lt_check(L, 3);
  em_tensor *bias = lt_opt(L, 4), *buf = lt_opt(L, 5);
  em_conv_params p = { 0 };
  em_err err;
  int adjw, adjh;
  kernel_from(weight, &p);
  p.sw = opt_int(L, 6, 1); p.sh = opt_int(L, 7, 1);
  p.pl = opt_int(L, 8, 0); p.pr = opt_int(L, 9, 0);
  p.pt = opt_int(L, 10, 0); p.pb = opt_int(L, 11, 0);
  adjw = opt_int(L, 12, 0); adjh = opt_int(L, 13, 0);
  p.dw = opt_int(L, 14, 1); p.dh = opt_int(L, 15, 1);
  p.groups = opt_int(L, 16, 1);
  LT_CHECK(L, em_conv_transpose2d_forward(lt_ctx(L), input, output, weight, bias, buf, &p,
                                          adjh, adjw, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.winograd_prepare(weight, out[, m = 4]) -> out: a 3x3 convolution's
** weight (out,in,3,3) transformed for Winograd F(m x m, 3x3), m 4 or 2, or
** a 5x5 one's for F(2x2, 5x5) (m 2). */
static int nn_winograd_prepare(lua_State *L) {
  em_tensor *weight = lt_check(L, 1), *out = lt_check(L, 2);
  em_err err;
  LT_CHECK(L, em_winograd_prepare(lt_ctx(L), weight, out, (int)luaL_optinteger(L, 3, 4), &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.linear(input, output, weight, bias|nil) -> output; input (N, in) or (in) */
static int nn_linear(lua_State *L) {
  em_tensor *input = lt_check(L, 1), *output = lt_check(L, 2), *weight = lt_check(L, 3);
  em_tensor *bias = lt_opt(L, 4);
  em_err err;
  LT_CHECK(L, em_linear_forward(lt_ctx(L), input, output, weight, bias, &err), &err);
  lua_settop(L, 2);
  return 1;
}

static const em_tensor *check_matrix(lua_State *L, int arg) {
  const em_tensor *t = lt_check(L, arg);
  luaL_argexpected(L, t->storage && t->ndim == 2 && em_tensor_is_contiguous(t) &&
                   t->size[0] >= 1 && t->size[1] >= 1 &&
                   t->size[0] <= INT_MAX && t->size[1] <= INT_MAX, arg,
                   "non-empty contiguous 2-D ember.Tensor");
  return t;
}

/* C (resized to M x N) = A (M x K) * B (K x N): through ember's product on its
** threads (core.matmul, nn.MatMul), or straight to OpenBLAS on one thread
** (core.sgemm, for comparing a layer with the bare matrix product). */
static int product(lua_State *L, const char *name, int blas) {
  const em_tensor *a = check_matrix(L, 1), *b = check_matrix(L, 2);
  em_tensor *c = lt_check(L, 3);
  int64_t sz[2];
  em_err err;
  if (a->size[1] != b->size[0])
    return luaL_error(L, "%s: A is %dx%d but B is %dx%d", name, (int)a->size[0], (int)a->size[1],
                      (int)b->size[0], (int)b->size[1]);
  if (c == a || c == b || (c->storage && (c->storage == a->storage || c->storage == b->storage)))
    return luaL_argerror(L, 3, "C must not share memory with A or B");
  sz[0] = a->size[0]; sz[1] = b->size[1];
  LT_CHECK(L, em_tensor_resize(c, 2, sz, &err), &err);
  if (blas)
    em_sgemm(0, 0, (int)sz[0], (int)sz[1], (int)a->size[1], 1.0f, em_tensor_data(a), (int)a->size[1],
             em_tensor_data(b), (int)sz[1], 0.0f, em_tensor_data(c), (int)sz[1]);
  else
    LT_CHECK(L, em_matmul(lt_ctx(L), sz[0], sz[1], a->size[1], em_tensor_data(a), a->size[1],
                          em_tensor_data(b), sz[1], NULL, em_tensor_data(c), sz[1], &err), &err);
  lua_settop(L, 3);
  return 1;
}

static int nn_sgemm(lua_State *L) { return product(L, "sgemm", 1); }
static int nn_matmul(lua_State *L) { return product(L, "matmul", 0); }

const luaL_Reg em_l_nn_conv[] = {
  {"conv2d", nn_conv2d},
  {"conv2d_winograd", nn_conv2d_winograd},
  {"conv2d_residual_in_place", nn_conv2d_residual_in_place},
  {"conv_transpose2d", nn_conv_transpose2d},
  {"winograd_prepare", nn_winograd_prepare},
  {"linear", nn_linear},
  {"sgemm", nn_sgemm},
  {"matmul", nn_matmul},
  {NULL, NULL}
};
