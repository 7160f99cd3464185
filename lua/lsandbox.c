/* lsandbox.c -- limits for untrusted Lua (net files): a counting allocator for
** the state's memory, an instruction-count hook, a cap on new tensor storage. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__SANITIZE_ADDRESS__)
/* ASan replaces malloc (mallinfo2 sees nothing): ask its runtime instead
** (declared in sanitizer/allocator_interface.h, not always installed) */
size_t __sanitizer_get_current_allocated_bytes(void);
#elif defined(__GLIBC__)
#include <malloc.h>
#endif

#include "lember.h"

#define SB_KEY "ember.sandbox"   /* registry: the userdata whose __gc uninstalls */

enum { HIT_INSTR = 1, HIT_MEM = 2, HIT_TENSOR = 4 };

/* One per Lua state, reached through the allocator's ud (lua_getallocf), so
** the tensor constructors find it without a registry lookup. Sizes are signed
** so that frees of memory counted before installation cannot wrap around. */
typedef struct sandbox {
  lua_Alloc f;                  /* the allocator we wrap */
  void *ud;
  long long used;               /* bytes the state holds now */
  int active;
  long long mem_cap, mem_limit, mem_peak;    /* cap = used at enter + limit */
  long long instr_limit, instr_used;
  int instr_chunk;
  long long tensor_limit, tensor_used;
  long long heap_base;          /* process heap at enter; -1 if unknown */
  int hit, first;               /* limits hit (bits), and the first one */
  lua_Hook old_hook;            /* whatever hook was there (a debugger, luacov) */
  int old_mask, old_count;
} sandbox;

/* Refusing an allocation makes Lua collect garbage and retry, then raise a
** memory error: a runaway script stops, the host keeps its memory. Shrinks
** and frees always go through. */
static void *counting_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  sandbox *sb = ud;
  long long old = ptr ? (long long)osize : 0;
  void *p;
  if (sb->active && (long long)nsize > old && sb->used + ((long long)nsize - old) > sb->mem_cap) {
    sb->hit |= HIT_MEM;
    if (!sb->first) sb->first = HIT_MEM;
    return NULL;
  }
  p = sb->f(sb->ud, ptr, osize, nsize);
  if (p == NULL && nsize > 0) return NULL;
  sb->used += (long long)nsize - old;
  if (sb->used > sb->mem_peak) sb->mem_peak = sb->used;
  return p;
}

static sandbox *get_sandbox(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == counting_alloc ? ud : NULL;
}

/* Runs at lua_close (finalizers run before objects are freed): hands the
** state back to its own allocator, which frees everything it gave. */
static int sandbox_gc(lua_State *L) {
  sandbox **p = lua_touserdata(L, 1);
  if (p && *p && get_sandbox(L) == *p) {
    lua_setallocf(L, (*p)->f, (*p)->ud);
    free(*p);
    *p = NULL;
  }
  return 0;
}

static sandbox *install(lua_State *L) {
  sandbox *sb = get_sandbox(L), **p;
  if (sb) return sb;
  sb = calloc(1, sizeof *sb);
  if (!sb) luaL_error(L, "sandbox: out of memory");
  sb->f = lua_getallocf(L, &sb->ud);
  sb->used = (long long)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + lua_gc(L, LUA_GCCOUNTB, 0);
  lua_setallocf(L, counting_alloc, sb);
  p = lua_newuserdatauv(L, sizeof *p, 0);
  *p = sb;
  lua_newtable(L);
  lua_pushcfunction(L, sandbox_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_setfield(L, LUA_REGISTRYINDEX, SB_KEY);
  return sb;
}

/* Bytes the process heap holds (tensor storage is malloc'd by core/, outside
** Lua's allocator); -1 where unknown. */
static long long heap_now(void) {
#if defined(__SANITIZE_ADDRESS__)
  return (long long)__sanitizer_get_current_allocated_bytes();
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
  struct mallinfo2 mi = mallinfo2();
  return (long long)(mi.uordblks + mi.hblkhd);
#else
  return -1;
#endif
}

static void set_hit(sandbox *sb, int what) {
  sb->hit |= what;
  if (!sb->first) sb->first = what;
}

static double mb(long long bytes) { return (double)bytes / (1024.0 * 1024.0); }

/* The process heap may not grow past both caps: this catches tensor storage
** made by kernels and arithmetic (t + 1 in a loop), which the constructors'
** check below does not see. */
static void check_heap(lua_State *L, sandbox *sb) {
  long long grown;
  if (sb->heap_base < 0) return;
  grown = heap_now() - sb->heap_base;
  if (grown > sb->tensor_limit + sb->mem_limit) {
    set_hit(sb, HIT_TENSOR);
    luaL_error(L, "tensor memory limit (%d MB) exceeded: the heap grew by %d MB",
               (int)mb(sb->tensor_limit), (int)mb(grown));
  }
}

/* See lember.h: lt_push calls it for every new tensor userdata. */
void lt_sandbox_check(lua_State *L) {
  sandbox *sb = get_sandbox(L);
  if (sb && sb->active) check_heap(L, sb);
}

/* Every instr_chunk VM instructions (small, so that counts are close); the
** heap is looked at every HEAP_EVERY. */
#define CHUNK 1000
#define HEAP_EVERY 100000
static void count_hook(lua_State *L, lua_Debug *ar) {
  sandbox *sb = get_sandbox(L);
  (void)ar;
  if (!sb || !sb->active) return;
  sb->instr_used += sb->instr_chunk;
  if (sb->instr_used >= sb->instr_limit) {
    set_hit(sb, HIT_INSTR);
    luaL_error(L, "instruction limit (%I) exceeded", (lua_Integer)sb->instr_limit);
  }
  if (sb->instr_used % HEAP_EVERY < sb->instr_chunk) check_heap(L, sb);
}

/* See lember.h. Counts every storage a constructor asks for while a sandbox
** runs (frees are not subtracted: a cap on what a load may allocate). */
void lt_sandbox_tensor(lua_State *L, int ndim, const int64_t *size) {
  sandbox *sb = get_sandbox(L);
  double bytes = 4.0;
  char shape[160];
  size_t used = 0;
  if (!sb || !sb->active) return;
  shape[0] = '\0';
  for (int i = 0; i < ndim; i++) {
    if (size[i] <= 0) return;   /* em_tensor_new reports bad sizes itself */
    bytes *= (double)size[i];
    if (used < sizeof shape)
      used += (size_t)snprintf(shape + used, sizeof shape - used, i ? "x%lld" : "%lld", (long long)size[i]);
  }
  if ((double)sb->tensor_used + bytes > (double)sb->tensor_limit) {
    set_hit(sb, HIT_TENSOR);
    char msg[320];
    snprintf(msg, sizeof msg, "tensor memory limit (%.0f MB) exceeded: a %s tensor needs %.0f MB, "
             "%.0f MB already allocated", mb(sb->tensor_limit), shape, bytes / (1024.0 * 1024.0),
             mb(sb->tensor_used));
    luaL_error(L, "%s", msg);
  }
  sb->tensor_used += (long long)bytes;
}

static long long limit_arg(lua_State *L, int arg) {
  lua_Number v = luaL_checknumber(L, arg);
  luaL_argcheck(L, v >= 1, arg, "a limit must be at least 1");
  if (v > 4.0e18) v = 4.0e18;   /* "unlimited" without overflow */
  return (long long)v;
}

static const char *hit_name(int h) {
  return h == HIT_INSTR ? "instructions" : h == HIT_MEM ? "memory" : h == HIT_TENSOR ? "tensors" : NULL;
}

/* The first limit hit by the running session ("instructions", "memory",
** "tensors"), or nil. */
static int sb_status(lua_State *L) {
  sandbox *sb = get_sandbox(L);
  const char *h = sb && sb->active ? hit_name(sb->first) : NULL;
  if (h) lua_pushstring(L, h); else lua_pushnil(L);
  return 1;
}

/* core.sandbox_call(instructions, memory_bytes, tensor_bytes, fn, ...) ->
**   true, stats, fn's results   or   false, stats, error
** Runs fn(...) as one session on the calling thread: the hook and the caps
** are on from just before the call to just after it, with no Lua code in
** between (a hook firing there, or an allocation failing, could not leave
** the session half open). stats = {hit = nil|"instructions"|"memory"|
** "tensors", instructions = n, memory = peak bytes added, tensors = bytes}.
** One session at a time. */
static int sb_call(lua_State *L) {
  long long instr = limit_arg(L, 1), mem = limit_arg(L, 2), tens = limit_arg(L, 3);
  int nargs = lua_gettop(L) - 4, status, nres;
  const char *h;
  sandbox *sb;
  luaL_checktype(L, 4, LUA_TFUNCTION);
  sb = install(L);
  if (sb->active) return luaL_error(L, "sandbox: a session is already running");
  lua_gc(L, LUA_GCCOLLECT, 0);   /* the cap is on what the script adds, not on old garbage */
  sb->mem_limit = mem;
  sb->mem_cap = sb->used + mem;
  sb->mem_peak = sb->used;
  sb->instr_limit = instr;
  sb->instr_used = 0;
  sb->instr_chunk = instr < CHUNK ? (int)instr : CHUNK;
  sb->tensor_limit = tens;
  sb->tensor_used = 0;
  sb->heap_base = heap_now();
  sb->hit = sb->first = 0;
  sb->old_hook = lua_gethook(L);
  sb->old_mask = lua_gethookmask(L);
  sb->old_count = lua_gethookcount(L);
  lua_sethook(L, count_hook, LUA_MASKCOUNT, sb->instr_chunk);
  sb->active = 1;

  status = lua_pcall(L, nargs, LUA_MULTRET, 0);

  sb->active = 0;   /* first: what follows may allocate freely */
  lua_sethook(L, sb->old_hook, sb->old_mask, sb->old_count);
  nres = lua_gettop(L) - 3;           /* results (or the error) above the limits */
  luaL_checkstack(L, 4, "sandbox results");
  lua_pushboolean(L, status == LUA_OK);
  lua_createtable(L, 0, 4);
  h = hit_name(sb->first);
  if (h) { lua_pushstring(L, h); lua_setfield(L, -2, "hit"); }
  lua_pushinteger(L, (lua_Integer)sb->instr_used);
  lua_setfield(L, -2, "instructions");
  lua_pushinteger(L, (lua_Integer)(sb->mem_peak - (sb->mem_cap - sb->mem_limit)));
  lua_setfield(L, -2, "memory");
  lua_pushinteger(L, (lua_Integer)sb->tensor_used);
  lua_setfield(L, -2, "tensors");
  lua_rotate(L, 4, 2);                /* ok, stats before the results */
  return nres + 2;
}

/* core.sandbox_active() -> boolean */
static int sb_active(lua_State *L) {
  sandbox *sb = get_sandbox(L);
  lua_pushboolean(L, sb && sb->active);
  return 1;
}

/* core.sandbox_memory() -> bytes the Lua state holds (counted by the
** allocator; from Lua's own count before the first session). */
static int sb_memory(lua_State *L) {
  sandbox *sb = get_sandbox(L);
  if (sb) lua_pushinteger(L, (lua_Integer)sb->used);
  else lua_pushinteger(L, (lua_Integer)lua_gc(L, LUA_GCCOUNT, 0) * 1024 + lua_gc(L, LUA_GCCOUNTB, 0));
  return 1;
}

/* core.file_stat(path) -> mtime (ns), size (bytes), inode; or nil, message.
** For ember.models' watch mode: a changed, rewritten or replaced file. */
static int sb_file_stat(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  if (stat(path, &st) != 0) {
    luaL_pushfail(L);
    lua_pushfstring(L, "%s: cannot stat", path);
    return 2;
  }
  lua_pushinteger(L, (lua_Integer)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
  lua_pushinteger(L, (lua_Integer)st.st_size);
  lua_pushinteger(L, (lua_Integer)st.st_ino);
  return 3;
}

const luaL_Reg em_l_sandbox_funcs[] = {
  {"sandbox_call", sb_call},
  {"sandbox_status", sb_status},
  {"sandbox_active", sb_active},
  {"sandbox_memory", sb_memory},
  {"file_stat", sb_file_stat},
  {NULL, NULL}
};
