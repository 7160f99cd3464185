/* lnn_act.c -- Lua wrappers of the activation kernels (activation.c) and of
** softmax (softmax.c): core.act, core.prelu, core.softmax. */

#include "lember.h"

/* Kind names for core.act and the em_act each stands for. */
static const char *const act_names[] = {
  "none", "relu", "clamp", "leakyrelu", "elu", "sigmoid", "tanh",
  "hardsigmoid", "hardswish", "silu", "gelu", "softplus", NULL
};
static const em_act act_values[] = {
  EM_ACT_NONE, EM_ACT_RELU, EM_ACT_CLAMP, EM_ACT_LEAKYRELU, EM_ACT_ELU, EM_ACT_SIGMOID,
  EM_ACT_TANH, EM_ACT_HARDSIGMOID, EM_ACT_HARDSWISH, EM_ACT_SILU, EM_ACT_GELU, EM_ACT_SOFTPLUS
};

/* core.act(input, output, kind, [a], [b]) -> output. kind is one of the
** names above; a, b are its parameters as in ember.h (default 0). output
** may be input, or a tensor set to it, for in-place work. */
static int nn_act(lua_State *L) {
  em_tensor *input = lt_check(L, 1), *output = lt_check(L, 2);
  em_act act = act_values[luaL_checkoption(L, 3, NULL, act_names)];
  float a = (float)luaL_optnumber(L, 4, 0), b = (float)luaL_optnumber(L, 5, 0);
  em_err err;
  LT_CHECK(L, em_act_forward_ctx(lt_ctx(L), input, output, act, a, b, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.prelu(input, output, weight) -> output; weight has 1 or C elements. */
static int nn_prelu(lua_State *L) {
  em_tensor *input = lt_check(L, 1), *output = lt_check(L, 2), *weight = lt_check(L, 3);
  em_err err;
  LT_CHECK(L, em_prelu_forward(input, output, weight, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.softmax(input, output, dim, [log]) -> output, over Lua's 1-based dim
** (negative counts from the end); log gives log-softmax. */
static int nn_softmax(lua_State *L) {
  em_tensor *input = lt_check(L, 1), *output = lt_check(L, 2);
  lua_Integer given = luaL_checkinteger(L, 3), dim = given;
  int log = lua_toboolean(L, 4);
  em_err err;
  if (dim < 0) dim += input->ndim + 1;
  if (dim < 1 || dim > input->ndim)
  {
    /* as lt_error: the message alone, no "file:line:" of the calling Lua code */
    lua_pushfstring(L, "%s: dimension %d out of range for a %d-dimensional tensor",
                    log ? "logsoftmax" : "softmax", (int)given, input->ndim);
    return lua_error(L);
  }
  LT_CHECK(L, em_softmax_forward(output, input, (int)dim - 1, log, &err), &err);
  lua_settop(L, 2);
  return 1;
}

const luaL_Reg em_l_nn_act[] = {
  {"act", nn_act},
  {"prelu", nn_prelu},
  {"softmax", nn_softmax},
  {NULL, NULL}
};
