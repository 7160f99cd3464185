/* lmath.c -- arithmetic, reductions and random numbers on ember.Tensor.
** Torch7's names and in-place conventions; operators make new tensors. */

#include <math.h>
#include <string.h>

#include "lember.h"

/* Raises after the caller has freed its locals (lt_error never returns). */
#define RAISE_IF(L, st, err) do { if ((st) != EM_OK) lt_error((L), &(err)); } while (0)

/* In-place ops keep self's shape: other must broadcast to it. Says both
** shapes either way, like the kernel's own message. */
static void check_in_place(lua_State *L, const em_tensor *self, const em_tensor *other) {
  char a[128], b[128];
  int fits = other->ndim <= self->ndim, compatible = 1;
  int n = self->ndim > other->ndim ? self->ndim : other->ndim;
  if (!self->storage || !other->storage) return;   /* the kernel says "empty" */
  for (int i = 0; i < n; i++) {
    int is = i - (n - self->ndim), io = i - (n - other->ndim);
    int64_t ss = is >= 0 ? self->size[is] : 1, so = io >= 0 ? other->size[io] : 1;
    if (ss != so && ss != 1 && so != 1) compatible = 0;
    if (ss != so && so != 1) fits = 0;
  }
  em_tensor_shape_str(self, a, sizeof a);
  em_tensor_shape_str(other, b, sizeof b);
  if (!compatible) luaL_error(L, "cannot broadcast %s with %s", a, b);
  if (!fits) luaL_error(L, "cannot broadcast %s with %s in place (the result would not be %s)",
                        a, b, a);
}

/* ------------------------------------------------------ in-place arithmetic */

/* t:add(value) | t:add(tensor) | t:add(value, tensor), same for sub:
** t = t op value * tensor, in place, returns t (Torch7). */
static int add_sub(lua_State *L, em_binop op) {
  em_tensor *t = lt_check(L, 1), *u;
  em_err err;
  em_status st;
  if (lua_type(L, 2) == LUA_TNUMBER && lua_isnoneornil(L, 3)) {
    LT_CHECK(L, em_tensor_scalar(t, t, (float)lua_tonumber(L, 2), op, &err), &err);
  } else if (lua_type(L, 2) == LUA_TNUMBER) {
    em_tensor scaled;
    float v = (float)lua_tonumber(L, 2);
    u = lt_check(L, 3);
    check_in_place(L, t, u);
    em_tensor_init(&scaled);
    st = em_tensor_scalar(&scaled, u, v, EM_MUL, &err);
    if (!st) st = em_tensor_binop(t, t, &scaled, op, &err);
    em_tensor_free(&scaled);
    RAISE_IF(L, st, err);
  } else {
    if (!lt_test(L, 2)) luaL_typeerror(L, 2, "number or ember.Tensor");
    u = lt_check(L, 2);
    check_in_place(L, t, u);
    LT_CHECK(L, em_tensor_binop(t, t, u, op, &err), &err);
  }
  lua_settop(L, 1);
  return 1;
}

static int tensor_add(lua_State *L) { return add_sub(L, EM_ADD); }
static int tensor_sub(lua_State *L) { return add_sub(L, EM_SUB); }

static int scalar_in_place(lua_State *L, em_binop op) {
  em_tensor *t = lt_check(L, 1);
  float v = (float)luaL_checknumber(L, 2);
  em_err err;
  LT_CHECK(L, em_tensor_scalar(t, t, v, op, &err), &err);
  lua_settop(L, 1);
  return 1;
}

static int tensor_mul(lua_State *L) { return scalar_in_place(L, EM_MUL); }
static int tensor_div(lua_State *L) { return scalar_in_place(L, EM_DIV); }

static int tensor_in_place(lua_State *L, em_binop op) {
  em_tensor *t = lt_check(L, 1), *u = lt_check(L, 2);
  em_err err;
  check_in_place(L, t, u);
  LT_CHECK(L, em_tensor_binop(t, t, u, op, &err), &err);
  lua_settop(L, 1);
  return 1;
}

static int tensor_cmul(lua_State *L) { return tensor_in_place(L, EM_MUL); }
static int tensor_cdiv(lua_State *L) { return tensor_in_place(L, EM_DIV); }

static int unop_in_place(lua_State *L, em_unop op) {
  em_tensor *t = lt_check(L, 1);
  em_err err;
  LT_CHECK(L, em_tensor_unop(t, t, op, &err), &err);
  lua_settop(L, 1);
  return 1;
}

static int tensor_abs(lua_State *L) { return unop_in_place(L, EM_ABS); }
static int tensor_exp(lua_State *L) { return unop_in_place(L, EM_EXP); }
static int tensor_log(lua_State *L) { return unop_in_place(L, EM_LOG); }
static int tensor_sqrt(lua_State *L) { return unop_in_place(L, EM_SQRT); }
static int tensor_neg(lua_State *L) { return unop_in_place(L, EM_NEG); }

/* ------------------------------------------------------------- reductions */

/* Kernel indices are 0-based; Lua's are 1-based. */
static void one_based(lua_State *L, em_tensor *ix) {
  em_err err;
  LT_CHECK(L, em_tensor_scalar(ix, ix, 1.0f, EM_ADD, &err), &err);
}

/* t:sum() -> number; t:sum(dim) -> tensor with size 1 at dim (Torch7).
** t:max(dim) / t:min(dim) -> values, indices (1-based, float). */
static int reduce(lua_State *L, em_reduce op) {
  em_tensor *t = lt_check(L, 1), *v, *ix = NULL;
  em_err err;
  double r;
  int dim, best = op == EM_MAX || op == EM_MIN;
  if (lua_isnoneornil(L, 2)) {
    LT_CHECK(L, em_tensor_reduce(NULL, NULL, t, -1, op, &r, &err), &err);
    lt_pushvalue(L, r);
    return 1;
  }
  dim = lt_checkdim(L, 2, t->ndim);
  v = lt_push(L);
  if (best) ix = lt_push(L);
  LT_CHECK(L, em_tensor_reduce(v, ix, t, dim, op, NULL, &err), &err);
  if (!best) return 1;
  one_based(L, ix);
  return 2;
}

static int tensor_sum(lua_State *L) { return reduce(L, EM_SUM); }
static int tensor_mean(lua_State *L) { return reduce(L, EM_MEAN); }
static int tensor_max(lua_State *L) { return reduce(L, EM_MAX); }
static int tensor_min(lua_State *L) { return reduce(L, EM_MIN); }

/* t:argmax() -> the 1-based position in row-major order of the (first)
** maximum; t:argmax(dim) -> the indices tensor of t:max(dim). */
static int arg_best(lua_State *L, em_reduce op) {
  em_tensor *t = lt_check(L, 1), *ix, flat, v;
  int64_t n = em_tensor_nelement(t);
  em_err err;
  em_status st;
  if (!lua_isnoneornil(L, 2)) {
    int dim = lt_checkdim(L, 2, t->ndim);
    em_tensor_init(&v);
    ix = lt_push(L);
    st = em_tensor_reduce(&v, ix, t, dim, op, NULL, &err);
    em_tensor_free(&v);
    RAISE_IF(L, st, err);
    one_based(L, ix);
    return 1;
  }
  if (n == 0)
    return luaL_error(L, "%s of a tensor with no elements", op == EM_MAX ? "argmax" : "argmin");
  em_tensor_init(&flat);
  em_tensor_init(&v);
  ix = lt_push(L);
  if (!(st = em_tensor_contiguous(&flat, t, &err)) &&
      !(st = em_tensor_view(&flat, &flat, 1, &n, &err)))
    st = em_tensor_reduce(&v, ix, &flat, 0, op, NULL, &err);
  em_tensor_free(&flat);
  em_tensor_free(&v);
  RAISE_IF(L, st, err);
  lua_pushinteger(L, (lua_Integer)em_tensor_data(ix)[0] + 1);
  return 1;
}

static int tensor_argmax(lua_State *L) { return arg_best(L, EM_MAX); }
static int tensor_argmin(lua_State *L) { return arg_best(L, EM_MIN); }

/* t:topk(k, [dim], [dir], [sorted]) -> values, indices (1-based). As Torch7:
** dim defaults to the last, dir false gives the k smallest, true the k
** largest. Results always come sorted, best first, so `sorted` is accepted
** and ignored. */
static int tensor_topk(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *v, *ix;
  lua_Integer k = luaL_checkinteger(L, 2);
  int dim = lua_isnoneornil(L, 3) ? t->ndim - 1 : lt_checkdim(L, 3, t->ndim);
  int largest = lua_toboolean(L, 4);
  em_err err;
  if (!lua_isnoneornil(L, 4)) luaL_checktype(L, 4, LUA_TBOOLEAN);
  if (!lua_isnoneornil(L, 5)) luaL_checktype(L, 5, LUA_TBOOLEAN);
  if (t->ndim == 0) return luaL_error(L, "topk: expected a tensor with at least 1 dimension");
  v = lt_push(L);
  ix = lt_push(L);
  LT_CHECK(L, em_tensor_topk(v, ix, t, (int64_t)k, dim, largest, &err), &err);
  one_based(L, ix);
  return 2;
}

/* t:softmax([dim]) / t:logsoftmax([dim]) -> new tensor. The default dim is
** Torch7's nn.SoftMax choice: 1 for 1-d and 3-d (C,H,W) tensors, else 2
** (a batch: N,C or N,C,H,W). */
static int softmax(lua_State *L, int log) {
  em_tensor *t = lt_check(L, 1), *r;
  int dim = lua_isnoneornil(L, 2) ? (t->ndim == 1 || t->ndim == 3 ? 0 : 1)
                                  : lt_checkdim(L, 2, t->ndim);
  em_err err;
  if (t->ndim == 0) return luaL_error(L, "%s: expected a tensor with at least 1 dimension",
                                      log ? "logsoftmax" : "softmax");
  r = lt_push(L);
  LT_CHECK(L, em_softmax_forward(r, t, dim, log, &err), &err);
  return 1;
}

static int tensor_softmax(lua_State *L) { return softmax(L, 0); }
static int tensor_logsoftmax(lua_State *L) { return softmax(L, 1); }

/* t:norm([p]) -> (sum |x|^p)^(1/p) over all elements, p = 2 by default;
** p = math.huge gives max |x|. */
static int tensor_norm(lua_State *L) {
  em_tensor *t = lt_check(L, 1), c;
  double p = luaL_optnumber(L, 2, 2.0), acc = 0;
  int64_t n = em_tensor_nelement(t);
  em_err err;
  em_status st;
  luaL_argcheck(L, p > 0, 2, "expected p > 0");
  em_tensor_init(&c);
  if ((st = em_tensor_contiguous(&c, t, &err))) { em_tensor_free(&c); return lt_error(L, &err); }
  for (int64_t i = 0; i < n; i++) {
    double x = fabs((double)em_tensor_data(&c)[i]);
    if (isinf(p)) acc = x > acc || x != x ? x : acc;
    else if (p == 2) acc += x * x;
    else if (p == 1) acc += x;
    else acc += pow(x, p);
  }
  em_tensor_free(&c);
  lua_pushnumber(L, isinf(p) ? acc : p == 1 ? acc : p == 2 ? sqrt(acc) : pow(acc, 1.0 / p));
  return 1;
}

/* ----------------------------------------------------------------- random */

/* t:uniform([a, b]) fills with U[a, b) (default [0, 1)); t:normal([mean,
** std]) with N(mean, std^2) (default 0, 1). Both in place; both draw from the
** state's generator (core.manualSeed). */
static int tensor_uniform(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  float a = (float)luaL_optnumber(L, 2, 0.0), b = (float)luaL_optnumber(L, 3, 1.0);
  em_err err;
  LT_CHECK(L, em_rng_uniform(lt_rng(L), t, a, b, &err), &err);
  lua_settop(L, 1);
  return 1;
}

static int tensor_normal(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  float m = (float)luaL_optnumber(L, 2, 0.0), s = (float)luaL_optnumber(L, 3, 1.0);
  em_err err;
  LT_CHECK(L, em_rng_normal(lt_rng(L), t, m, s, &err), &err);
  lua_settop(L, 1);
  return 1;
}

/* core.manualSeed(n): the same n gives the same rand/randn/uniform/normal. */
static int core_manualSeed(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  em_rng_seed(lt_rng(L), (uint64_t)n);
  return 0;
}

/* core.rand(d1, d2, ...) or core.rand{d1, d2, ...}: U[0, 1); randn: N(0, 1). */
static int random_tensor(lua_State *L, int normal) {
  int64_t size[EM_MAXDIM];
  int n = 0, top = lua_gettop(L);
  em_tensor *t;
  em_err err;
  if (lua_istable(L, 1)) {
    lua_Integer len = luaL_len(L, 1);
    luaL_argcheck(L, len <= EM_MAXDIM, 1, "too many dimensions");
    for (int i = 1; i <= len; i++) {
      lua_geti(L, 1, i);
      if (!lua_isinteger(L, -1)) luaL_argerror(L, 1, "sizes must be integers");
      size[n++] = lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
  } else {
    luaL_argcheck(L, top <= EM_MAXDIM, EM_MAXDIM + 1, "too many dimensions");
    for (int i = 1; i <= top; i++) size[n++] = luaL_checkinteger(L, i);
  }
  t = lt_push(L);
  if (n == 0) return 1;   /* no sizes: an empty tensor, as core.tensor() */
  LT_CHECK(L, em_tensor_new(t, n, size, &err), &err);
  if (normal) LT_CHECK(L, em_rng_normal(lt_rng(L), t, 0.0f, 1.0f, &err), &err);
  else LT_CHECK(L, em_rng_uniform(lt_rng(L), t, 0.0f, 1.0f, &err), &err);
  return 1;
}

static int core_rand(lua_State *L) { return random_tensor(L, 0); }
static int core_randn(lua_State *L) { return random_tensor(L, 1); }

/* ------------------------------------------------------------ operators */

/* a op b -> new tensor, for tensor op tensor (broadcast), tensor op number
** and number op tensor. a * b of two tensors is elementwise (Torch7's matrix
** product is not provided). */
static int arith(lua_State *L, em_binop op) {
  em_tensor *a = lt_test(L, 1), *b = lt_test(L, 2), *r;
  em_err err;
  em_status st;
  if (a && b) {
    r = lt_push(L);
    LT_CHECK(L, em_tensor_binop(r, a, b, op, &err), &err);
  } else if (a) {
    float s = (float)luaL_checknumber(L, 2);
    r = lt_push(L);
    LT_CHECK(L, em_tensor_scalar(r, a, s, op, &err), &err);
  } else {
    float s = (float)luaL_checknumber(L, 1);
    em_tensor num;
    b = lt_check(L, 2);
    r = lt_push(L);
    if (op == EM_ADD || op == EM_MUL) {
      LT_CHECK(L, em_tensor_scalar(r, b, s, op, &err), &err);
      return 1;
    }
    /* s - b and s / b: s as a 0-d tensor, broadcast */
    em_tensor_init(&num);
    st = em_tensor_new(&num, 0, NULL, &err);
    if (!st) {
      *em_tensor_data(&num) = s;
      st = em_tensor_binop(r, &num, b, op, &err);
    }
    em_tensor_free(&num);
    RAISE_IF(L, st, err);
  }
  return 1;
}

static int tensor__add(lua_State *L) { return arith(L, EM_ADD); }
static int tensor__sub(lua_State *L) { return arith(L, EM_SUB); }
static int tensor__mul(lua_State *L) { return arith(L, EM_MUL); }
static int tensor__div(lua_State *L) { return arith(L, EM_DIV); }

static int tensor__unm(lua_State *L) {
  em_tensor *a = lt_check(L, 1), *r = lt_push(L);
  em_err err;
  LT_CHECK(L, em_tensor_unop(r, a, EM_NEG, &err), &err);
  return 1;
}

/* ----------------------------------------------------------------- tables */

const luaL_Reg em_l_math_methods[] = {
  {"add", tensor_add},
  {"sub", tensor_sub},
  {"mul", tensor_mul},
  {"div", tensor_div},
  {"cmul", tensor_cmul},
  {"cdiv", tensor_cdiv},
  {"abs", tensor_abs},
  {"exp", tensor_exp},
  {"log", tensor_log},
  {"sqrt", tensor_sqrt},
  {"neg", tensor_neg},
  {"sum", tensor_sum},
  {"mean", tensor_mean},
  {"max", tensor_max},
  {"min", tensor_min},
  {"argmax", tensor_argmax},
  {"argmin", tensor_argmin},
  {"topk", tensor_topk},
  {"softmax", tensor_softmax},
  {"logsoftmax", tensor_logsoftmax},
  {"norm", tensor_norm},
  {"uniform", tensor_uniform},
  {"normal", tensor_normal},
  {NULL, NULL}
};

const luaL_Reg em_l_math_meta[] = {
  {"__add", tensor__add},
  {"__sub", tensor__sub},
  {"__mul", tensor__mul},
  {"__div", tensor__div},
  {"__unm", tensor__unm},
  {NULL, NULL}
};

const luaL_Reg em_l_math_funcs[] = {
  {"manualSeed", core_manualSeed},
  {"rand", core_rand},
  {"randn", core_randn},
  {NULL, NULL}
};
