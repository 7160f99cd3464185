/* lio.c -- tensors to and from files: NumPy .npy; a monotonic clock.
** ember.load_npy(path), t:save_npy(path), ember.now() for timers. */

#include <time.h>

#include "lember.h"

/* ember.load_npy(path) -> a new float32 tensor */
static int io_load_npy(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  em_tensor *t = lt_push(L);
  em_err err;
  LT_CHECK(L, em_npy_load(t, path, &err), &err);
  return 1;
}

/* t:save_npy(path) -> t (as '<f4', C order, in logical order for views) */
static int io_save_npy(lua_State *L) {
  em_tensor *t = lt_check(L, 1);
  const char *path = luaL_checkstring(L, 2);
  em_err err;
  LT_CHECK(L, em_npy_save(t, path, &err), &err);
  lua_settop(L, 1);
  return 1;
}

/* ember.now() -> seconds from an arbitrary origin, never going backwards */
static int io_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

const luaL_Reg em_l_io_methods[] = {
  {"save_npy", io_save_npy},
  {NULL, NULL}
};

const luaL_Reg em_l_io_funcs[] = {
  {"load_npy", io_load_npy},
  {"now", io_now},
  {NULL, NULL}
};
