/* lcore.c -- opens ember.core: merges the binding files' function tables,
** creates the ember.Tensor metatable and the per-state context. */

#include "lember.h"

static const char CTX_KEY[] = "ember.ctx";
static const char RNG_KEY[] = "ember.rng";

/* Registry entries under these arrays' addresses (light userdata keys): a
** string key costs a lookup with strcmp in Lua's string cache on every
** call, and every kernel call asks for the context. */
static void *registry_udata(lua_State *L, const char *key) {
  void *p;
  lua_rawgetp(L, LUA_REGISTRYINDEX, key);
  p = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return p;
}

em_ctx *lt_ctx(lua_State *L) { return registry_udata(L, CTX_KEY); }
em_rng *lt_rng(lua_State *L) { return registry_udata(L, RNG_KEY); }

int lt_error(lua_State *L, const em_err *err) {
  return luaL_error(L, "%s", err->msg);
}

static int core_setNumThreads(lua_State *L) {
  lua_Integer n = luaL_checkinteger(L, 1);
  luaL_argcheck(L, n >= 1 && n <= 1024, 1, "expected a thread count from 1 to 1024");
  em_ctx_set_threads(lt_ctx(L), (int)n);
  return 0;
}

/* The context's worker threads stop with the state. */
static int ctx_gc(lua_State *L) {
  em_ctx_free(lua_touserdata(L, 1));
  return 0;
}

static int core_getNumThreads(lua_State *L) {
  lua_pushinteger(L, lt_ctx(L)->nthreads);
  return 1;
}

/* The instruction set the kernels use: "c", "avx2" or "avx512"; lowering it
** forces the portable paths (tests, benchmarks); raising it past what the
** CPU runs is refused. */
static const char *const ISA_NAMES[] = { "c", "avx2", "avx512", NULL };

static int core_setISA(lua_State *L) {
  int isa = luaL_checkoption(L, 1, NULL, ISA_NAMES);
  if (isa > (int)em_cpu_isa())
    return luaL_error(L, "setISA: this CPU does not run %s (best: %s)", ISA_NAMES[isa],
                      ISA_NAMES[em_cpu_isa()]);
  lt_ctx(L)->isa = (em_isa)isa;
  return 0;
}

static int core_getISA(lua_State *L) {
  lua_pushstring(L, ISA_NAMES[lt_ctx(L)->isa]);
  return 1;
}

/* core.setDry(flag): the forwards that take the context only check their
** arguments and size their outputs (ember/plan.lua traces a net so, without
** computing or touching the activations). Returns the previous flag. */
static int core_setDry(lua_State *L) {
  em_ctx *ctx = lt_ctx(L);
  int was = ctx->dry;
  ctx->dry = lua_toboolean(L, 1);
  lua_pushboolean(L, was);
  return 1;
}

static const luaL_Reg core_funcs[] = {
  {"setDry", core_setDry},
  {"setNumThreads", core_setNumThreads},
  {"getNumThreads", core_getNumThreads},
  {"setISA", core_setISA},
  {"getISA", core_getISA},
  {NULL, NULL}
};

int luaopen_ember_core(lua_State *L) {
  em_ctx *ctx;
  em_rng *rng;

  ctx = lua_newuserdatauv(L, sizeof *ctx, 0);
  ctx->pool = NULL;   /* safe to collect before em_ctx_init */
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, ctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  em_ctx_init(ctx);
  lua_rawsetp(L, LUA_REGISTRYINDEX, CTX_KEY);
  rng = lua_newuserdatauv(L, sizeof *rng, 0);
  em_rng_seed(rng, 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, RNG_KEY);

  /* methods table, reached through __index (a function, for t[i]) */
  lua_newtable(L);
  luaL_setfuncs(L, em_l_tensor_methods, 0);
  luaL_setfuncs(L, em_l_math_methods, 0);
  luaL_setfuncs(L, em_l_io_methods, 0);

  luaL_newmetatable(L, LT_TENSOR);
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, em_l_tensor_meta, 1);   /* __index etc. get the methods as upvalue */
  luaL_setfuncs(L, em_l_math_meta, 0);
  lua_rawsetp(L, LUA_REGISTRYINDEX, lt_tensor_key);   /* also under its address (lt_check) */

  lua_newtable(L);
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "methods");          /* Lua code may add methods here */
  luaL_setfuncs(L, core_funcs, 0);
  luaL_setfuncs(L, em_l_tensor_funcs, 0);
  luaL_setfuncs(L, em_l_math_funcs, 0);
  luaL_setfuncs(L, em_l_io_funcs, 0);
  luaL_setfuncs(L, em_l_nn_conv, 0);
  luaL_setfuncs(L, em_l_nn_pool, 0);
  luaL_setfuncs(L, em_l_nn_act, 0);
  luaL_setfuncs(L, em_l_nn_shape, 0);
  luaL_setfuncs(L, em_l_safetensors_funcs, 0);
  luaL_setfuncs(L, em_l_onnx_funcs, 0);
  luaL_setfuncs(L, em_l_sandbox_funcs, 0);
  lua_newtable(L);                         /* core.image: image.c */
  luaL_setfuncs(L, em_l_image_funcs, 0);
  lua_setfield(L, -2, "image");
  return 1;
}
