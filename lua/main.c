/* main.c -- ./ember: Lua 5.4 with ember preloaded (placeholder). */
#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include "lember.h"
int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_ember_core);
  lua_setfield(L, -2, "ember.core");
  lua_pop(L, 1);
  luaL_dostring(L, "package.path = 'lua/?.lua;lua/?/init.lua;' .. package.path");
  lua_createtable(L, argc, 0);
  for (int i = 0; i < argc; i++) { lua_pushstring(L, argv[i]); lua_seti(L, -2, i - 1); }
  lua_setglobal(L, "arg");
  if (argc > 1 && luaL_dofile(L, argv[1])) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); return 1; }
  lua_close(L);
  return 0;
}
