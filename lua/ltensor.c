/* ltensor.c -- the ember.Tensor userdata: construction, indexing, views,
** printing. Arithmetic lives in lmath.c, files in lio.c. */

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lember.h"

/* ------------------------------------------------------------- userdata */

/* The registry key of the tensor metatable (besides its name, LT_TENSOR):
** a light userdata, found without luaL_checkudata's string lookup. */
const char lt_tensor_key[] = LT_TENSOR;

em_tensor *lt_test(lua_State *L, int idx) {
  void *p = lua_touserdata(L, idx);
  int ok = 0;
  if (p && lua_getmetatable(L, idx)) {
    lua_rawgetp(L, LUA_REGISTRYINDEX, lt_tensor_key);
    ok = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  return ok ? p : NULL;
}

em_tensor *lt_check(lua_State *L, int idx) {
  em_tensor *t = lt_test(L, idx);
  if (!t) luaL_typeerror(L, idx, LT_TENSOR);
  return t;
}

em_tensor *lt_opt(lua_State *L, int idx) {
  return lua_isnoneornil(L, idx) ? NULL : lt_check(L, idx);
}

em_tensor *lt_push(lua_State *L) {
  em_tensor *t;
  lt_sandbox_check(L);   /* while a net file loads: heap cap (lsandbox.c) */
  t = lua_newuserdatauv(L, sizeof *t, 0);
  em_tensor_init(t);
  lua_rawgetp(L, LUA_REGISTRYINDEX, lt_tensor_key);
  lua_setmetatable(L, -2);
  return t;
}

int lt_checkdim(lua_State *L, int arg, int ndim) {
  lua_Integer d = luaL_checkinteger(L, arg);
  if (d < 0) d += ndim + 1;
  if (d < 1 || d > ndim) {
    lua_Integer given = luaL_checkinteger(L, arg);
    if (ndim == 0)
      return luaL_argerror(L, arg, lua_pushfstring(L,
          "dimension %I out of range for a 0-dimensional tensor (it has none)", given));
    return luaL_argerror(L, arg, lua_pushfstring(L,
        "dimension %I out of range for a %d-dimensional tensor (expected 1 to %d, "
        "or -%d to -1)", given, ndim, ndim, ndim));
  }
  return (int)d - 1;
}

static em_tensor *check_nonempty(lua_State *L, int idx) {
  em_tensor *t = lt_check(L, idx);
  if (!t->storage) luaL_argerror(L, idx, "tensor is empty");
  return t;
}

/* Reads sizes from the arguments from..top, or from a table / size list at from. */
static int read_sizes(lua_State *L, int from, int64_t *size) {
  int n = 0, top = lua_gettop(L);
  if (lua_istable(L, from)) {
    lua_Integer len = luaL_len(L, from);
    luaL_argcheck(L, len <= EM_MAXDIM, from, "too many dimensions");
    for (int i = 1; i <= len; i++) {
      lua_geti(L, from, i);
      if (!lua_isinteger(L, -1))
        luaL_argerror(L, from, "sizes must be integers");
      size[n++] = lua_tointeger(L, -1);
      lua_pop(L, 1);
    }
    return n;
  }
  luaL_argcheck(L, top - from + 1 <= EM_MAXDIM, from, "too many dimensions");
  for (int i = from; i <= top; i++) size[n++] = luaL_checkinteger(L, i);
  return n;
}

/* ----------------------------------------------------------- construction */

/* Shape of a nested table {{1,2},{3,4}}: fills size, returns ndim. */
static int nested_shape(lua_State *L, int idx, int64_t *size) {
  int ndim = 0;
  lua_pushvalue(L, idx);
  while (lua_istable(L, -1)) {
    if (ndim == EM_MAXDIM) luaL_error(L, "ember.Tensor: table nested deeper than %d", EM_MAXDIM);
    size[ndim++] = (int64_t)luaL_len(L, -1);
    if (size[ndim - 1] == 0) break;
    lua_geti(L, -1, 1);
    lua_remove(L, -2);
  }
  lua_pop(L, 1);
  return ndim;
}

static void fill_nested(lua_State *L, int idx, const int64_t *size, int ndim, int d,
                        float **p, char *path, size_t pathlen) {
  int64_t len = (int64_t)luaL_len(L, idx);
  if (len != size[d])
    luaL_error(L, "ember.Tensor: ragged table: %s has %d entries, expected %d",
               path[0] ? path : "the table", (int)len, (int)size[d]);
  for (int64_t i = 1; i <= len; i++) {
    size_t used = strlen(path);
    snprintf(path + used, pathlen - used, "[%lld]", (long long)i);
    lua_geti(L, idx, i);
    if (d == ndim - 1) {
      int isnum;
      lua_Number v = lua_tonumberx(L, -1, &isnum);
      if (!isnum) luaL_error(L, "ember.Tensor: %s is a %s, expected a number", path, luaL_typename(L, -1));
      *(*p)++ = (float)v;
    } else {
      if (!lua_istable(L, -1)) luaL_error(L, "ember.Tensor: %s is a %s, expected a table", path, luaL_typename(L, -1));
      fill_nested(L, lua_gettop(L), size, ndim, d + 1, p, path, pathlen);
    }
    lua_pop(L, 1);
    path[used] = '\0';
  }
}

/* core.tensor(d1, d2, ...): zeros of those sizes; core.tensor(table): the
** data of a (nested) table of numbers, e.g. {{1,2},{3,4}} */
static int tensor_new(lua_State *L) {
  int64_t size[EM_MAXDIM];
  em_tensor *t;
  em_err err;
  int ndim;
  if (lua_istable(L, 1)) {
    float *p;
    char path[256] = "";
    ndim = nested_shape(L, 1, size);
    lt_sandbox_tensor(L, ndim, size);   /* cap while a net file loads (lsandbox.c) */
    t = lt_push(L);
    LT_CHECK(L, em_tensor_new(t, ndim, size, &err), &err);
    p = em_tensor_data(t);
    if (em_tensor_nelement(t) > 0) fill_nested(L, 1, size, ndim, 0, &p, path, sizeof path);
    return 1;
  }
  ndim = read_sizes(L, 1, size);
  lt_sandbox_tensor(L, ndim, size);     /* cap while a net file loads (lsandbox.c) */
  t = lt_push(L);
  if (ndim > 0) {
    LT_CHECK(L, em_tensor_new(t, ndim, size, &err), &err);
    em_tensor_zero(t, NULL);
  }
  return 1;
}

static int tensor_gc(lua_State *L) {
  em_tensor_free(lt_check(L, 1));
  return 0;
}

/* ------------------------------------------------------------------ sizes */

static int tensor_size(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->size[lt_checkdim(L, 2, t->ndim)]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->size[i]);
    lua_seti(L, -2, i + 1);
  }
  return 1;
}

static int tensor_stride(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  if (!lua_isnoneornil(L, 2)) {
    lua_pushinteger(L, t->stride[lt_checkdim(L, 2, t->ndim)]);
    return 1;
  }
  lua_createtable(L, t->ndim, 0);
  for (int i = 0; i < t->ndim; i++) {
    lua_pushinteger(L, t->stride[i]);
    lua_seti(L, -2, i + 1);
  }
  return 1;
}

static int tensor_dim(lua_State *L) {
  lua_pushinteger(L, lt_check(L, 1)->ndim);
  return 1;
}

static int tensor_nElement(lua_State *L) {
  lua_pushinteger(L, em_tensor_nelement(lt_check(L, 1)));
  return 1;
}

static int tensor_isContiguous(lua_State *L) {
  lua_pushboolean(L, em_tensor_is_contiguous(lt_check(L, 1)));
  return 1;
}

static int tensor_isSameSizeAs(lua_State *L) {
  lua_pushboolean(L, em_tensor_same_size(lt_check(L, 1), lt_check(L, 2)));
  return 1;
}

/* t:isSameStorage(u): whether both view the same memory */
static int tensor_isSameStorage(lua_State *L) {
  lua_pushboolean(L, lt_check(L, 1)->storage == lt_check(L, 2)->storage &&
                     lt_check(L, 1)->storage != NULL);
  return 1;
}

/* t:isSetTo(u): whether t and u are the same view (Torch7's name): the same
** memory, offset, sizes and strides */
static int tensor_isSetTo(lua_State *L) {
  const em_tensor *a = lt_check(L, 1), *b = lt_check(L, 2);
  int same = a->storage && a->storage == b->storage && a->offset == b->offset &&
             a->ndim == b->ndim;
  for (int i = 0; same && i < a->ndim; i++)
    same = a->size[i] == b->size[i] && a->stride[i] == b->stride[i];
  lua_pushboolean(L, same);
  return 1;
}

/* t:storageId(): the identity of the memory t views, as a light userdata
** (a table key; equal for tensors where isSameStorage holds), nil if empty */
static int tensor_storageId(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  if (t->storage) lua_pushlightuserdata(L, t->storage);
  else lua_pushnil(L);
  return 1;
}

static int tensor_shape(lua_State *L) {
  char buf[128];
  lua_pushstring(L, em_tensor_shape_str(lt_check(L, 1), buf, sizeof buf));
  return 1;
}

/* ------------------------------------------------------------------ views */

static int tensor_view(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *v;
  int64_t size[EM_MAXDIM];
  int ndim = read_sizes(L, 2, size);
  em_err err;
  lua_settop(L, lua_istable(L, 2) ? 2 : lua_gettop(L));
  v = lt_push(L);
  if (em_tensor_view(v, t, ndim, size, &err)) return luaL_error(L, "view: %s", err.msg);
  return 1;
}

/* reshape: a view when contiguous, else a contiguous copy viewed */
static int tensor_reshape(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *v, tmp;
  int64_t size[EM_MAXDIM];
  int ndim = read_sizes(L, 2, size);
  em_err err;
  em_status st;
  em_tensor_init(&tmp);
  if ((st = em_tensor_contiguous(&tmp, t, &err))) return lt_error(L, &err);
  v = lt_push(L);
  st = em_tensor_view(v, &tmp, ndim, size, &err);
  em_tensor_free(&tmp);
  if (st) return luaL_error(L, "reshape: %s", err.msg);
  return 1;
}

static int tensor_narrow(lua_State *L) {
  em_tensor *t = check_nonempty(L, 1), *v;
  int d = lt_checkdim(L, 2, t->ndim);
  lua_Integer start = luaL_checkinteger(L, 3), len = luaL_checkinteger(L, 4);
  em_err err;
  v = lt_push(L);
  LT_CHECK(L, em_tensor_narrow(v, t, d, start - 1, len, &err), &err);
  return 1;
}

static int tensor_select(lua_State *L) {
  em_tensor *t = check_nonempty(L, 1), *v;
  int d = lt_checkdim(L, 2, t->ndim);
  lua_Integer i = luaL_checkinteger(L, 3);
  em_err err;
  if (i < 0) i += t->size[d] + 1;
  v = lt_push(L);
  LT_CHECK(L, em_tensor_select(v, t, d, i - 1, &err), &err);
  return 1;
}

static int tensor_transpose(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *v;
  int d1 = lua_isnoneornil(L, 2) ? 0 : lt_checkdim(L, 2, t->ndim);
  int d2 = lua_isnoneornil(L, 3) ? 1 : lt_checkdim(L, 3, t->ndim);
  em_err err;
  v = lt_push(L);
  LT_CHECK(L, em_tensor_transpose(v, t, d1, d2, &err), &err);
  return 1;
}

static int tensor_t(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  luaL_argcheck(L, t->ndim == 2, 1, "t() expects a 2-dimensional tensor");
  lua_settop(L, 1);
  return tensor_transpose(L);
}

static int tensor_permute(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *v;
  int perm[EM_MAXDIM];
  em_err err;
  if (lua_gettop(L) - 1 != t->ndim)
    return luaL_error(L, "permute: expected %d dimensions, got %d", t->ndim, lua_gettop(L) - 1);
  for (int i = 0; i < t->ndim; i++) perm[i] = lt_checkdim(L, i + 2, t->ndim);
  v = lt_push(L);
  LT_CHECK(L, em_tensor_permute(v, t, perm, &err), &err);
  return 1;
}

static int tensor_contiguous(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *v;
  em_err err;
  if (em_tensor_is_contiguous(t)) { lua_settop(L, 1); return 1; }
  v = lt_push(L);
  LT_CHECK(L, em_tensor_contiguous(v, t, &err), &err);
  return 1;
}

static int tensor_clone(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *v;
  em_err err;
  v = lt_push(L);
  if (!t->storage) return 1;
  lt_sandbox_tensor(L, t->ndim, t->size);   /* cap while a net file loads */
  LT_CHECK(L, em_tensor_new(v, t->ndim, t->size, &err), &err);
  LT_CHECK(L, em_tensor_copy(v, t, &err), &err);
  return 1;
}

/* t:resize(sizes...): contents unspecified afterwards (as Torch7). */
static int tensor_resize(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  int64_t size[EM_MAXDIM];
  int ndim = read_sizes(L, 2, size);
  em_err err;
  lt_sandbox_tensor(L, ndim, size);     /* cap while a net file loads */
  LT_CHECK(L, em_tensor_resize(t, ndim, size, &err), &err);
  lua_settop(L, 1);
  return 1;
}

static int tensor_resizeAs(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *like = lt_check(L, 2);
  em_err err;
  LT_CHECK(L, em_tensor_resize_as(t, like, &err), &err);
  lua_settop(L, 1);
  return 1;
}

/* t:set(u): t becomes a view of u */
static int tensor_set(lua_State *L) {
  em_tensor_set(lt_check(L, 1), lt_check(L, 2));
  lua_settop(L, 1);
  return 1;
}

/* ------------------------------------------------------------------- data */

static int tensor_copy(lua_State *L) {
  em_tensor *t = lt_check(L, 1), *s = lt_check(L, 2);
  em_err err;
  LT_CHECK(L, em_tensor_copy(t, s, &err), &err);
  lua_settop(L, 1);
  return 1;
}

static int tensor_fill(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  em_err err;
  LT_CHECK(L, em_tensor_fill(t, (float)luaL_checknumber(L, 2), &err), &err);
  lua_settop(L, 1);
  return 1;
}

static int tensor_zero(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  em_tensor_zero(t, NULL);
  lua_settop(L, 1);
  return 1;
}

/* Element at 0-based multi-index */
static float *element(const em_tensor *t, const int64_t *idx) {
  float *p = em_tensor_data(t);
  for (int i = 0; i < t->ndim; i++) p += idx[i] * t->stride[i];
  return p;
}

static void push_table(lua_State *L, const em_tensor *t, int d, int64_t *idx) {
  lua_createtable(L, (int)t->size[d], 0);
  for (int64_t i = 0; i < t->size[d]; i++) {
    idx[d] = i;
    if (d == t->ndim - 1) lt_pushvalue(L, *element(t, idx));
    else push_table(L, t, d + 1, idx);
    lua_seti(L, -2, i + 1);
  }
}

static int tensor_totable(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  int64_t idx[EM_MAXDIM] = {0};
  if (!t->storage) { lua_newtable(L); return 1; }
  if (t->ndim == 0) { lt_pushvalue(L, *em_tensor_data(t)); return 1; }
  luaL_checkstack(L, t->ndim + 4, "tensor too deep");
  push_table(L, t, 0, idx);
  return 1;
}

/* t:get(i, j, ...) / t:set1(i, j, ..., v) with 1-based indices */
static float *index_args(lua_State *L, em_tensor *t, int from) {
  int64_t idx[EM_MAXDIM];
  if (lua_gettop(L) - from + 1 < t->ndim)
    luaL_error(L, "expected %d indices, got %d", t->ndim, lua_gettop(L) - from + 1);
  for (int i = 0; i < t->ndim; i++) {
    lua_Integer k = luaL_checkinteger(L, from + i);
    if (k < 0) k += t->size[i] + 1;
    if (k < 1 || k > t->size[i])
      luaL_error(L, "index %d out of range: dimension %d has size %d",
                 (int)luaL_checkinteger(L, from + i), i + 1, (int)t->size[i]);
    idx[i] = k - 1;
  }
  return element(t, idx);
}

static int tensor_get(lua_State *L) {
  em_tensor *t = check_nonempty(L, 1);
  lt_pushvalue(L, *index_args(L, t, 2));
  return 1;
}

static int tensor_item(lua_State *L) {
  em_tensor *t = check_nonempty(L, 1);
  if (em_tensor_nelement(t) != 1)
    return luaL_error(L, "item: tensor has %d elements, expected 1", (int)em_tensor_nelement(t));
  lt_pushvalue(L, *em_tensor_data(t));
  return 1;
}

/* ------------------------------------------------------------- indexing */

/* __index(t, k): integers select along dim 1 (a number for 1-d), names look
** up the methods table (upvalue 1). */
static int tensor_index(lua_State *L) {
  int isint = 0;
  lua_Integer key = lua_type(L, 2) == LUA_TNUMBER ? lua_tointegerx(L, 2, &isint) : 0;
  if (isint) {   /* t[2.0] too, as tables treat float keys with integer values */
    em_tensor *t = check_nonempty(L, 1);
    lua_Integer i = key;
    em_err err;
    if (t->ndim == 0) return luaL_error(L, "cannot index a 0-dimensional tensor");
    if (i < 0) i += t->size[0] + 1;
    if (i < 1 || i > t->size[0])
      return luaL_error(L, "index %d out of range: dimension 1 has size %d",
                        (int)key, (int)t->size[0]);
    if (t->ndim == 1) {
      lt_pushvalue(L, em_tensor_data(t)[(i - 1) * t->stride[0]]);
    } else {
      em_tensor *v = lt_push(L);
      LT_CHECK(L, em_tensor_select(v, t, 0, i - 1, &err), &err);
    }
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_gettable(L, lua_upvalueindex(1));
  return 1;
}

/* t[i] = number (fills the slice) or tensor (copies into it) */
static int tensor_newindex(lua_State *L) {
  em_tensor *t = check_nonempty(L, 1), slice;
  lua_Integer i = luaL_checkinteger(L, 2);
  em_err err;
  em_status st;
  if (t->ndim == 0) return luaL_error(L, "cannot index a 0-dimensional tensor");
  if (i < 0) i += t->size[0] + 1;
  if (i < 1 || i > t->size[0])
    return luaL_error(L, "index %d out of range: dimension 1 has size %d",
                      (int)luaL_checkinteger(L, 2), (int)t->size[0]);
  if (t->ndim == 1 && lua_type(L, 3) == LUA_TNUMBER) {
    em_tensor_data(t)[(i - 1) * t->stride[0]] = (float)lua_tonumber(L, 3);
    return 0;
  }
  em_tensor_init(&slice);
  em_tensor_select(&slice, t, 0, i - 1, NULL);
  if (lua_type(L, 3) == LUA_TNUMBER) st = em_tensor_fill(&slice, (float)lua_tonumber(L, 3), &err);
  else st = em_tensor_copy(&slice, lt_check(L, 3), &err);
  em_tensor_free(&slice);
  if (st) return lt_error(L, &err);
  return 0;
}

static int tensor_len(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  lua_pushinteger(L, t->ndim ? t->size[0] : 0);
  return 1;
}

/* Equal sizes and elements. */
static int tensor_eq(lua_State *L) {
  em_tensor *a = lt_check(L, 1), *b = lt_check(L, 2);
  int64_t n = em_tensor_nelement(a), idx[EM_MAXDIM] = {0};
  if (!em_tensor_same_size(a, b) || (a->storage == NULL) != (b->storage == NULL)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  for (int64_t k = 0; k < n; k++) {
    int64_t r = k;
    for (int d = a->ndim - 1; d >= 0; d--) { idx[d] = r % a->size[d]; r /= a->size[d]; }
    if (*element(a, idx) != *element(b, idx)) { lua_pushboolean(L, 0); return 1; }
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* ---------------------------------------------------------------- printing */

#define PRINT_EDGE 3       /* rows/cols shown at each end when abbreviated */
#define PRINT_MAX 1000     /* tensors up to this many elements print in full */

typedef struct fmt { int width, decimals, exp; double scale; } fmt;

static fmt choose_format(const em_tensor *t) {
  fmt f = {1, 4, 0, 1.0};
  int64_t n = em_tensor_nelement(t), idx[EM_MAXDIM] = {0};
  double mx = 0, mn = INFINITY;
  int ints = 1;
  for (int64_t k = 0; k < n; k++) {
    int64_t r = k;
    double v;
    for (int d = t->ndim - 1; d >= 0; d--) { idx[d] = r % t->size[d]; r /= t->size[d]; }
    v = fabs(*element(t, idx));
    if (!isfinite(v)) continue;
    if (v > mx) mx = v;
    if (v != 0 && v < mn) mn = v;
    if (v != floor(v)) ints = 0;
  }
  if (ints && mx < 1e8) {
    f.decimals = 0;
    f.width = (int)(mx >= 1 ? floor(log10(mx)) + 1 : 1) + 1;
  } else if (mx >= 1e5 || (mn < 1e-4 && mx < 1e-1) || (mx / mn) > 1e6) {
    f.exp = 1;
    f.width = 11;
  } else {
    f.width = (int)(mx >= 1 ? floor(log10(mx)) + 1 : 1) + 6;
  }
  return f;
}

static void add_number(luaL_Buffer *b, const fmt *f, float v) {
  char s[64];
  if (isnan(v)) {   /* printf may say -nan */
    snprintf(s, sizeof s, " %*s", f->width, "nan");
    luaL_addstring(b, s);
    return;
  }
  if (f->exp) snprintf(s, sizeof s, " %*.4e", f->width, (double)v);
  else snprintf(s, sizeof s, " %*.*f", f->width, f->decimals, (double)v);
  luaL_addstring(b, s);
}

static int shown(int64_t i, int64_t n, int abbrev) {
  return !abbrev || n <= 2 * PRINT_EDGE || i < PRINT_EDGE || i >= n - PRINT_EDGE;
}

static void add_matrix(luaL_Buffer *b, const fmt *f, const em_tensor *t, int64_t *idx, int abbrev) {
  int rd = t->ndim - 2, cd = t->ndim - 1;
  int64_t rows = t->ndim >= 2 ? t->size[rd] : 1, cols = t->size[cd];
  for (int64_t r = 0; r < rows; r++) {
    if (!shown(r, rows, abbrev)) {
      if (r == PRINT_EDGE) luaL_addstring(b, " ...\n");
      continue;
    }
    if (t->ndim >= 2) idx[rd] = r;
    for (int64_t c = 0; c < cols; c++) {
      if (!shown(c, cols, abbrev)) {
        if (c == PRINT_EDGE) luaL_addstring(b, " ...");
        continue;
      }
      idx[cd] = c;
      add_number(b, f, *element(t, idx));
    }
    luaL_addchar(b, '\n');
  }
}

static int tensor_tostring(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  luaL_Buffer b;
  char shape[128];
  int64_t idx[EM_MAXDIM] = {0};
  int abbrev = em_tensor_nelement(t) > PRINT_MAX;
  fmt f;
  luaL_buffinit(L, &b);
  if (!t->storage) {
    luaL_addstring(&b, "[ember.Tensor with no dimension]");
    luaL_pushresult(&b);
    return 1;
  }
  if (em_tensor_nelement(t) == 0) {   /* a zero size: nothing to lay out */
    lua_pushfstring(L, "[ember.Tensor of size %s]", em_tensor_shape_str(t, shape, sizeof shape));
    return 1;
  }
  f = choose_format(t);
  if (t->ndim == 0) {
    add_number(&b, &f, *em_tensor_data(t));
    luaL_addchar(&b, '\n');
  } else if (t->ndim == 1) {
    for (int64_t i = 0; i < t->size[0]; i++) {
      if (!shown(i, t->size[0], abbrev)) {
        if (i == PRINT_EDGE) luaL_addstring(&b, " ...\n");
        continue;
      }
      idx[0] = i;
      add_number(&b, &f, *element(t, idx));
      luaL_addchar(&b, '\n');
    }
  } else {
    /* iterate over the leading dims, printing a matrix for each */
    int lead = t->ndim - 2;
    int64_t nslices = 1, printed = 0;
    for (int d = 0; d < lead; d++) nslices *= t->size[d];
    for (int64_t s = 0; s < nslices; s++) {
      int64_t r = s;
      int show = 1;
      for (int d = lead - 1; d >= 0; d--) { idx[d] = r % t->size[d]; r /= t->size[d]; }
      for (int d = 0; d < lead; d++) show &= shown(idx[d], t->size[d], abbrev);
      if (!show) continue;
      if (abbrev && printed >= 2 * PRINT_EDGE) {
        luaL_addstring(&b, "...\n");
        break;
      }
      if (lead > 0) {
        luaL_addchar(&b, '(');
        for (int d = 0; d < lead; d++) {
          lua_pushfstring(L, "%d,", (int)idx[d] + 1);
          luaL_addvalue(&b);
        }
        luaL_addstring(&b, ".,.) =\n");
      }
      add_matrix(&b, &f, t, idx, abbrev);
      if (lead > 0) luaL_addchar(&b, '\n');
      printed++;
    }
  }
  lua_pushfstring(L, "[ember.Tensor of size %s]", em_tensor_shape_str(t, shape, sizeof shape));
  luaL_addvalue(&b);
  luaL_pushresult(&b);
  return 1;
}

/* ------------------------------------------------------------------ tables */

const luaL_Reg em_l_tensor_methods[] = {
  {"size", tensor_size},
  {"stride", tensor_stride},
  {"dim", tensor_dim},
  {"nDimension", tensor_dim},
  {"nElement", tensor_nElement},
  {"numel", tensor_nElement},
  {"isContiguous", tensor_isContiguous},
  {"isSameSizeAs", tensor_isSameSizeAs},
  {"isSameStorage", tensor_isSameStorage},
  {"isSetTo", tensor_isSetTo},
  {"storageId", tensor_storageId},
  {"shape", tensor_shape},
  {"view", tensor_view},
  {"reshape", tensor_reshape},
  {"narrow", tensor_narrow},
  {"select", tensor_select},
  {"transpose", tensor_transpose},
  {"t", tensor_t},
  {"permute", tensor_permute},
  {"contiguous", tensor_contiguous},
  {"clone", tensor_clone},
  {"resize", tensor_resize},
  {"resizeAs", tensor_resizeAs},
  {"set", tensor_set},
  {"copy", tensor_copy},
  {"fill", tensor_fill},
  {"zero", tensor_zero},
  {"totable", tensor_totable},
  {"get", tensor_get},
  {"item", tensor_item},
  {NULL, NULL}
};

const luaL_Reg em_l_tensor_meta[] = {   /* each gets the methods table as upvalue */
  {"__index", tensor_index},
  {"__newindex", tensor_newindex},
  {"__gc", tensor_gc},
  {"__close", tensor_gc},
  {"__len", tensor_len},
  {"__eq", tensor_eq},
  {"__tostring", tensor_tostring},
  {NULL, NULL}
};

const luaL_Reg em_l_tensor_funcs[] = {
  {"tensor", tensor_new},
  {NULL, NULL}
};
