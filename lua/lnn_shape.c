/* lnn_shape.c -- Lua wrappers of the shape kernels: concat, channel shuffle,
** permute, padding, upsampling, table sums/products and views into a kept tensor. */

#include <limits.h>

#include "lember.h"

/* luaL_checkinteger that also fits a C int (the kernels take ints). */
static int check_int(lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= INT_MIN && v <= INT_MAX, arg, "integer out of range");
  return (int)v;
}

/* The tensors of the Lua table at arg, into ptrs (n of them). Tables longer
** than `fixed` get their pointer array from a userdata left on the stack. */
#define FIXED_INPUTS 64
static const em_tensor **table_tensors(lua_State *L, int arg, const em_tensor **fixed, int *n) {
  const em_tensor **ptrs = fixed;
  lua_Integer len;
  luaL_checktype(L, arg, LUA_TTABLE);
  len = luaL_len(L, arg);
  luaL_argcheck(L, len <= 1 << 20, arg, "too many tensors");
  if (len > FIXED_INPUTS) ptrs = lua_newuserdatauv(L, sizeof *ptrs * (size_t)len, 0);
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, arg, i);
    ptrs[i - 1] = lt_test(L, -1);
    if (!ptrs[i - 1])
      luaL_error(L, "element %d of the table is a %s, expected " LT_TENSOR, (int)i,
                 luaL_typename(L, -1));
    lua_pop(L, 1);   /* the table keeps it alive */
  }
  *n = (int)len;
  return ptrs;
}

/* core.concat({t1, t2, ...}, output, dim): dim is 1-based, negative counts
** from the end (of the first tensor's dims). */
static int nn_concat(lua_State *L) {
  const em_tensor *fixed[FIXED_INPUTS], **ptrs;
  em_tensor *out = lt_check(L, 2);
  lua_Integer dim = luaL_checkinteger(L, 3);
  int n;
  em_err err;
  ptrs = table_tensors(L, 1, fixed, &n);
  if (n > 0 && dim < 0) dim += ptrs[0]->ndim + 1;
  luaL_argcheck(L, dim >= 1 && dim <= EM_MAXDIM, 3, "dimension out of range");
  LT_CHECK(L, em_concat_forward(lt_ctx(L), ptrs, n, out, (int)dim - 1, &err), &err);
  lua_pushvalue(L, 2);
  return 1;
}

/* core.channel_shuffle(input, output, groups): input a tensor, or a table of
** tensors whose channel concatenation is shuffled (never formed). */
static int nn_channel_shuffle(lua_State *L) {
  const em_tensor *fixed[FIXED_INPUTS], **ptrs = fixed;
  em_tensor *out = lt_check(L, 2);
  int groups = check_int(L, 3), n = 1;
  em_err err;
  if (lua_istable(L, 1)) ptrs = table_tensors(L, 1, fixed, &n);
  else fixed[0] = lt_check(L, 1);
  LT_CHECK(L, em_channel_shuffle_join_forward(lt_ctx(L), ptrs, n, out, groups, &err), &err);
  lua_pushvalue(L, 2);
  return 1;
}

/* core.permute(input, output, perm): output = contiguous copy of input with
** dims permuted, perm a list of the input's dims (1-based), as Tensor:permute. */
static int nn_permute(lua_State *L) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2);
  int perm[EM_MAXDIM];
  em_err err;
  luaL_checktype(L, 3, LUA_TTABLE);
  luaL_argcheck(L, luaL_len(L, 3) == in->ndim, 3, "one entry per input dimension expected");
  for (int i = 0; i < in->ndim; i++) {
    lua_geti(L, 3, i + 1);
    if (!lua_isinteger(L, -1)) luaL_argerror(L, 3, "dims must be integers");
    lua_Integer d = lua_tointeger(L, -1);
    lua_pop(L, 1);
    luaL_argcheck(L, d >= 1 && d <= in->ndim, 3, "dim out of range");
    perm[i] = (int)d - 1;
  }
  LT_CHECK(L, em_permute_forward(lt_ctx(L), in, out, perm, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.pad2d(input, output, left, right, top, bottom, mode, [value]);
** mode is "zero", "reflect" or "replicate"; negative pads crop. */
static int nn_pad2d(lua_State *L) {
  static const char *const modes[] = {"zero", "reflect", "replicate", NULL};
  static const em_padmode codes[] = {EM_PAD_ZERO, EM_PAD_REFLECT, EM_PAD_REPLICATE};
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2);
  int l = check_int(L, 3), r = check_int(L, 4), t = check_int(L, 5), b = check_int(L, 6);
  int mode = luaL_checkoption(L, 7, "zero", modes);
  float value = (float)luaL_optnumber(L, 8, 0);
  em_err err;
  LT_CHECK(L, em_pad2d_forward(in, out, l, r, t, b, codes[mode], value, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.upsample_nearest(input, output, oheight, owidth) */
static int nn_upsample_nearest(lua_State *L) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2);
  int oh = check_int(L, 3), ow = check_int(L, 4);
  em_err err;
  LT_CHECK(L, em_upsample_nearest_forward(in, out, oh, ow, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.upsample_bilinear(input, output, oheight, owidth, align_corners) */
static int nn_upsample_bilinear(lua_State *L) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2);
  int oh = check_int(L, 3), ow = check_int(L, 4);
  int align;
  em_err err;
  luaL_checktype(L, 5, LUA_TBOOLEAN);
  align = lua_toboolean(L, 5);
  LT_CHECK(L, em_upsample_bilinear_forward(in, out, oh, ow, align, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* output = t1 op t2 op ... with broadcasting; output may be t1's own tensor
** (in-place) since em_tensor_binop allows dst to alias an operand. */
static int table_op(lua_State *L, em_binop op) {
  const em_tensor *fixed[FIXED_INPUTS], **ptrs;
  em_tensor *out = lt_check(L, 2);
  int n;
  em_err err;
  ptrs = table_tensors(L, 1, fixed, &n);
  if (n < 1) return luaL_error(L, "expected a table of at least one tensor, got an empty one");
  if (n == 1) {
    em_tensor *dst = out;
    if (dst != ptrs[0]) {
      LT_CHECK(L, em_tensor_resize_as(dst, ptrs[0], &err), &err);
      LT_CHECK(L, em_tensor_copy(dst, ptrs[0], &err), &err);
    }
  }
  for (int i = 1; i < n; i++) {
    if (em_tensor_binop(out, i == 1 ? ptrs[0] : out, ptrs[i], op, &err) != EM_OK) {
      char a[128], b[128];
      return luaL_error(L, "input %d (%s) does not broadcast with %s: %s", i + 1,
                        em_tensor_shape_str(ptrs[i], a, sizeof a),
                        em_tensor_shape_str(i == 1 ? ptrs[0] : out, b, sizeof b), err.msg);
    }
  }
  lua_pushvalue(L, 2);
  return 1;
}

/* core.cadd_table({t1, t2, ...}, output) / core.cmul_table(...) */
static int nn_cadd_table(lua_State *L) { return table_op(L, EM_ADD); }
static int nn_cmul_table(lua_State *L) { return table_op(L, EM_MUL); }

/* core.view_into(input, output, {sizes}): output becomes a view of input
** (one size may be -1), so a View layer keeps its one output tensor. */
static int nn_view_into(lua_State *L) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2);
  int64_t size[EM_MAXDIM];
  lua_Integer len;
  em_err err;
  luaL_checktype(L, 3, LUA_TTABLE);
  len = luaL_len(L, 3);
  luaL_argcheck(L, len <= EM_MAXDIM, 3, "too many dimensions");
  for (lua_Integer i = 1; i <= len; i++) {
    lua_geti(L, 3, i);
    if (!lua_isinteger(L, -1)) luaL_argerror(L, 3, "sizes must be integers");
    size[i - 1] = lua_tointeger(L, -1);
    lua_pop(L, 1);
  }
  LT_CHECK(L, em_tensor_view(out, in, (int)len, size, &err), &err);
  lua_settop(L, 2);
  return 1;
}

/* core.narrow_view(input, output, dim, first, count) -> whether output now is
** that part of input (1-based dim and first): made only when the part is
** contiguous, else output stays as it was (nn.Slice then copies). No
** tensor is made, as input:narrow would, on every forward. */
static int nn_narrow_view(lua_State *L) {
  em_tensor *in = lt_check(L, 1), *out = lt_check(L, 2), v;
  int d = lt_checkdim(L, 3, in->ndim);
  lua_Integer first = luaL_checkinteger(L, 4), len = luaL_checkinteger(L, 5);
  luaL_argcheck(L, first >= 1 && first <= in->size[d], 4, "start out of range");
  luaL_argcheck(L, len >= 0 && first - 1 + len <= in->size[d], 5, "length out of range");
  v = *in;   /* a borrowed copy: em_tensor_set takes out's own reference */
  v.offset += (size_t)((first - 1) * in->stride[d]);
  v.size[d] = len;
  lua_pushboolean(L, em_tensor_is_contiguous(&v));
  if (lua_toboolean(L, -1)) em_tensor_set(out, &v);
  return 1;
}

const luaL_Reg em_l_nn_shape[] = {
  {"concat", nn_concat},
  {"channel_shuffle", nn_channel_shuffle},
  {"permute", nn_permute},
  {"pad2d", nn_pad2d},
  {"upsample_nearest", nn_upsample_nearest},
  {"upsample_bilinear", nn_upsample_bilinear},
  {"cadd_table", nn_cadd_table},
  {"cmul_table", nn_cmul_table},
  {"view_into", nn_view_into},
  {"narrow_view", nn_narrow_view},
  {NULL, NULL}
};
