/* lember.h -- what the binding files of ember.core share.
** The Tensor userdata, the per-state context and error raising. */
#ifndef LEMBER_H
#define LEMBER_H

#include <lua.h>
#include <lauxlib.h>

#include "ember.h"

#define LT_TENSOR "ember.Tensor"
extern const char lt_tensor_key[];   /* the registry key of its metatable (ltensor.c) */

/* The tensor at idx (raises a type error naming ember.Tensor otherwise). */
em_tensor *lt_check(lua_State *L, int idx);
/* The tensor at idx, or NULL if it is not one. */
em_tensor *lt_test(lua_State *L, int idx);
/* Pushes a new, empty tensor (created empty, then given its metatable,
** so __gc is always safe) and returns it. */
em_tensor *lt_push(lua_State *L);
/* The optional tensor at idx: NULL when none/nil, else checked. */
em_tensor *lt_opt(lua_State *L, int idx);

/* The state's execution context (threads). */
em_ctx *lt_ctx(lua_State *L);
/* The state's random generator. */
em_rng *lt_rng(lua_State *L);

/* Raises err->msg as a Lua error (never as a format string). */
int lt_error(lua_State *L, const em_err *err);
/* Raises on a failed status; returns otherwise. */
#define LT_CHECK(L, call, errp) do { if ((call) != EM_OK) lt_error((L), (errp)); } while (0)

/* Pushes a value read from a tensor: whole numbers (|v| < 2^53) as Lua
** integers, so that sums, indices and counts print as 10, not 10.0. */
static inline void lt_pushvalue(lua_State *L, double v) {
  if (v == (double)(lua_Integer)v && v > -9007199254740992.0 && v < 9007199254740992.0)
    lua_pushinteger(L, (lua_Integer)v);
  else
    lua_pushnumber(L, v);
}

/* Lua's 1-based dimension (negative counts from the end) to C's 0-based;
** raises if out of range for a tensor of ndim dimensions. */
int lt_checkdim(lua_State *L, int arg, int ndim);

/* Function tables of the binding files; luaopen_ember_core merges them. */
extern const luaL_Reg em_l_tensor_methods[];     /* ltensor.c: t:method() */
extern const luaL_Reg em_l_tensor_meta[];        /* ltensor.c: metamethods */
extern const luaL_Reg em_l_tensor_funcs[];       /* ltensor.c: core.f() */
extern const luaL_Reg em_l_math_methods[];       /* lmath.c: arithmetic, reductions */
extern const luaL_Reg em_l_math_funcs[];         /* lmath.c: rand, randn, manualSeed */
extern const luaL_Reg em_l_io_methods[];         /* lio.c: save_npy */
extern const luaL_Reg em_l_io_funcs[];           /* lio.c: load_npy, now */
extern const luaL_Reg em_l_math_meta[];          /* lmath.c: __add, __sub... */
extern const luaL_Reg em_l_nn_conv[];            /* lnn_conv.c: conv, linear */
extern const luaL_Reg em_l_nn_pool[];            /* lnn_pool.c: pooling, batchnorm, lrn */
extern const luaL_Reg em_l_nn_act[];             /* lnn_act.c: activations, softmax */
extern const luaL_Reg em_l_nn_shape[];           /* lnn_shape.c: concat, pad, upsample... */
extern const luaL_Reg em_l_safetensors_funcs[];  /* lsafetensors.c: map, check, save */
extern const luaL_Reg em_l_onnx_funcs[];         /* lonnx.c: onnx_load, onnx_load_tensor */
extern const luaL_Reg em_l_sandbox_funcs[];      /* lsandbox.c: sandbox_enter/leave, file_stat */

/* lsandbox.c: while a sandbox session runs (a net file loading), raises if a
** new tensor of these sizes would take the session past its tensor cap;
** otherwise counts it. Called by constructors before they allocate. */
void lt_sandbox_tensor(lua_State *L, int ndim, const int64_t *size);
/* lsandbox.c: while a sandbox session runs, raises if the process heap grew
** past the session's caps (tensors made by arithmetic); lt_push calls it. */
void lt_sandbox_check(lua_State *L);
extern const luaL_Reg em_l_image_funcs[];        /* limage.c: the table core.image */

int luaopen_ember_core(lua_State *L);

#endif
