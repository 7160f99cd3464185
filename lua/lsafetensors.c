/* lsafetensors.c -- the C half of ember.safetensors: maps a file, turns its
** (already parsed) header into tensors, writes files. The JSON is Lua's job. */

#include <limits.h>
#include <string.h>

#include "lember.h"

#define LT_STMAP "ember.SafetensorsMap"

/* The mapping lives in a full userdata so a raised error never leaks it;
** tensors viewing it hold their own references. */
static em_st_mapping **check_map(lua_State *L, int idx) {
  em_st_mapping **m = luaL_checkudata(L, idx, LT_STMAP);
  luaL_argcheck(L, *m != NULL, idx, "mapping is closed");
  return m;
}

static int map_gc(lua_State *L) {
  em_st_mapping **m = luaL_checkudata(L, 1, LT_STMAP);
  em_st_release(*m);
  *m = NULL;
  return 0;
}

/* core.safetensors_open(path) -> mapping, header JSON text, data bytes */
static int st_open(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  em_st_mapping **m;
  em_err err;
  m = lua_newuserdatauv(L, sizeof *m, 0);
  *m = NULL;
  if (luaL_newmetatable(L, LT_STMAP)) {
    lua_pushcfunction(L, map_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, map_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_setmetatable(L, -2);
  LT_CHECK(L, em_st_map(path, m, &err), &err);
  lua_pushlstring(L, (*m)->header, (*m)->header_len);
  lua_pushinteger(L, (lua_Integer)(*m)->data_len);
  return 3;
}

/* An integer field of a header entry, or an error naming the tensor. */
static int64_t int_at(lua_State *L, int tbl, lua_Integer i, const char *name, const char *field) {
  int ok;
  lua_Integer v;
  lua_geti(L, tbl, i);
  v = lua_tointegerx(L, -1, &ok);
  if (!ok || v < 0)
    luaL_error(L, "tensor '%s': %s[%d] is not a non-negative integer", name, field, (int)i);
  lua_pop(L, 1);
  return (int64_t)v;
}

/* Fills e from header[name] = {dtype = "F32", shape = {...}, data_offsets = {b, e}}. */
static void read_entry(lua_State *L, int header, const char *name, em_st_entry *e) {
  int top = lua_gettop(L), t;
  lua_Integer ndim;
  memset(e, 0, sizeof *e);
  e->name = name;
  if (lua_getfield(L, header, name) != LUA_TTABLE)
    luaL_error(L, "tensor '%s': entry is not an object", name);
  t = lua_gettop(L);
  if (lua_getfield(L, t, "dtype") != LUA_TSTRING)
    luaL_error(L, "tensor '%s': dtype is not a string", name);
  e->dtype = em_st_dtype_parse(lua_tostring(L, -1));
  if (e->dtype == EM_ST_UNKNOWN)
    luaL_error(L, "tensor '%s': unknown dtype '%s'", name, lua_tostring(L, -1));
  if (lua_getfield(L, t, "shape") != LUA_TTABLE)
    luaL_error(L, "tensor '%s': shape is not a list", name);
  ndim = luaL_len(L, -1);
  if (ndim > EM_MAXDIM)
    luaL_error(L, "tensor '%s': shape has %d dimensions, at most %d", name, (int)ndim, EM_MAXDIM);
  e->ndim = (int)ndim;
  for (int i = 0; i < e->ndim; i++) e->shape[i] = int_at(L, lua_gettop(L), i + 1, name, "shape");
  if (lua_getfield(L, t, "data_offsets") != LUA_TTABLE || luaL_len(L, -1) != 2)
    luaL_error(L, "tensor '%s': data_offsets is not a list of two offsets", name);
  e->begin = (uint64_t)int_at(L, lua_gettop(L), 1, name, "data_offsets");
  e->end = (uint64_t)int_at(L, lua_gettop(L), 2, name, "data_offsets");
  lua_settop(L, top);
}

/* core.safetensors_tensors(mapping, names, header) -> {name = tensor}, {warning...}
** names: the tensors to make, in order; header: the decoded JSON object.
** Every entry is checked (em_st_check) before any tensor is made. */
static int st_tensors(lua_State *L) {
  em_st_mapping *m = *check_map(L, 1);
  lua_Integer n;
  em_st_entry *e;
  em_err err;
  int nwarn = 0;
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  n = luaL_len(L, 2);
  luaL_argcheck(L, n >= 0 && (size_t)n < INT_MAX / sizeof *e, 2, "too many tensors");
  lua_settop(L, 3);
  e = lua_newuserdatauv(L, (size_t)n * sizeof *e + 1, 0);   /* scratch, freed by the GC */
  for (lua_Integer i = 0; i < n; i++) {
    if (lua_geti(L, 2, i + 1) != LUA_TSTRING)
      return luaL_argerror(L, 2, "tensor names must be strings");
    read_entry(L, 3, lua_tostring(L, -1), &e[i]);
    lua_pop(L, 1);   /* the name stays alive in names */
  }
  LT_CHECK(L, em_st_check(e, (int)n, m->data_len, &err), &err);
  lua_createtable(L, 0, (int)n);   /* 5: tensors */
  lua_newtable(L);                 /* 6: warnings */
  for (lua_Integer i = 0; i < n; i++) {
    int64_t bad;
    em_tensor *t = lt_push(L);
    LT_CHECK(L, em_st_tensor(t, m, &e[i], &bad, &err), &err);
    lua_setfield(L, 5, e[i].name);
    if (bad > 0) {
      lua_pushfstring(L, "tensor '%s' has %I NaN or Inf values (of %I)", e[i].name,
                      (lua_Integer)bad, (lua_Integer)em_tensor_nelement(t));
      lua_seti(L, 6, ++nwarn);
    }
  }
  return 2;
}

/* core.safetensors_save(path, header, {tensor...}): header already lists the
** tensors in this order with their offsets (ember.safetensors builds it). */
static int st_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t hlen;
  const char *header = luaL_checklstring(L, 2, &hlen);
  const em_tensor **list;
  lua_Integer n;
  em_err err;
  luaL_checktype(L, 3, LUA_TTABLE);
  n = luaL_len(L, 3);
  luaL_argcheck(L, n >= 0 && (size_t)n < INT_MAX / sizeof *list, 3, "too many tensors");
  lua_settop(L, 3);
  list = lua_newuserdatauv(L, (size_t)n * sizeof *list + 1, 0);
  for (lua_Integer i = 0; i < n; i++) {
    lua_geti(L, 3, i + 1);
    list[i] = lt_test(L, -1);
    if (!list[i]) return luaL_error(L, "entry %d of the tensor list is not an ember.Tensor", (int)i + 1);
    lua_pop(L, 1);   /* the list table keeps it alive */
  }
  LT_CHECK(L, em_st_save(path, header, hlen, list, (int)n, &err), &err);
  return 0;
}

const luaL_Reg em_l_safetensors_funcs[] = {
  {"safetensors_open", st_open},
  {"safetensors_tensors", st_tensors},
  {"safetensors_save", st_save},
  {NULL, NULL}
};
