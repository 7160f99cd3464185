/* main.c -- ./ember: Lua 5.4 with ember loaded, running scripts or a REPL.
** Options as lua(1); the REPL prints values, keeps history, and Ctrl-C stops a computation. */

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <lua.h>
#include <lauxlib.h>
#include <lualib.h>
#include <readline/readline.h>
#include <readline/history.h>

#include "lember.h"

#ifndef EMBER_LUADIR
#define EMBER_LUADIR "/usr/local/share/lua/5.4"
#endif

static const char *progname = "ember";
static lua_State *running;                  /* the state a Ctrl-C interrupts */
static volatile sig_atomic_t got_sigint;

static const char USAGE[] =
  "usage: %s [options] [script [args]]\n"
  "  -e stat   execute string 'stat'\n"
  "  -i        enter interactive mode after the script\n"
  "  -l mod    require 'mod' into global 'mod'\n"
  "  -v        show version information\n"
  "  -h        show this help\n"
  "  --        stop handling options\n"
  "  -         execute stdin and stop handling options\n"
  "Without arguments: the REPL on a terminal, else stdin as a script.\n";

/* ------------------------------------------------------------ running code */

/* Count hook installed by the SIGINT handler: raises at the next Lua step. */
static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

/* lua_sethook is the one Lua call that is safe in a signal handler. A second
** Ctrl-C (say, in a long C kernel) takes the default action and ends the process. */
static void on_sigint(int sig) {
  signal(sig, SIG_DFL);
  got_sigint = 1;
  if (running) lua_sethook(running, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void catch_sigint(struct sigaction *old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;       /* no SA_RESTART: select() must see EINTR */
  sigemptyset(&sa.sa_mask);
  got_sigint = 0;
  sigaction(SIGINT, &sa, old);
}

/* Error message plus traceback; non-string errors through __tostring. */
static int msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) msg = lua_tostring(L, -1);
    else msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

static int docall(lua_State *L, int narg, int nres) {
  int status, base = lua_gettop(L) - narg;
  struct sigaction old;
  lua_pushcfunction(L, msghandler);
  lua_insert(L, base);
  running = L;
  catch_sigint(&old);
  status = lua_pcall(L, narg, nres, base);
  sigaction(SIGINT, &old, NULL);
  running = NULL;
  lua_remove(L, base);
  return status;
}

/* Prints the error on top (if status says so) and pops it. */
static int report(lua_State *L, int status) {
  if (status != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    if (progname) fprintf(stderr, "%s: ", progname);
    fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
    fflush(stderr);
    lua_pop(L, 1);
  }
  return status;
}

static int dochunk(lua_State *L, int status) {
  return report(L, status == LUA_OK ? docall(L, 0, 0) : status);
}

/* ------------------------------------------------------------- REPL helpers */

/* Value printing and tab completion, in Lua: returns { repr = f, complete = f }. */
static const char HELPERS[] =
  "local ember = ...\n"
  "local fmt, concat, sort = string.format, table.concat, table.sort\n"
  "local MAXDEPTH, MAXITEMS, WIDTH = 6, 100, 72\n"
  "local function key_lt(a, b)\n"
  "  local ta, tb = type(a), type(b)\n"
  "  if ta ~= tb then return ta < tb elseif ta == 'number' or ta == 'string' then return a < b end\n"
  "  return tostring(a) < tostring(b)\n"
  "end\n"
  "local function render(v, indent, depth, seen)\n"
  "  if type(v) == 'string' then return (fmt('%q', v):gsub('\\\\\\n', '\\\\n')) end\n"
  "  local mt = getmetatable(v)\n"
  "  if type(v) ~= 'table' or (type(mt) == 'table' and mt.__tostring) then\n"
  "    local ok, s = pcall(tostring, v)\n"
  "    return ok and s or '<' .. type(v) .. ': __tostring failed>'\n"
  "  end\n"
  "  if seen[v] then return '<cycle>' elseif depth > MAXDEPTH then return '{...}' end\n"
  "  seen[v] = true\n"
  "  local n, keys, items, inner = rawlen(v), {}, {}, indent .. '  '\n"
  "  for k in next, v do\n"
  "    if not (math.type(k) == 'integer' and k >= 1 and k <= n) then keys[#keys + 1] = k end\n"
  "  end\n"
  "  sort(keys, key_lt)\n"
  "  for i = 1, math.min(n, MAXITEMS) do items[i] = render(rawget(v, i), inner, depth + 1, seen) end\n"
  "  for i = 1, math.min(#keys, MAXITEMS - #items) do\n"
  "    local k = keys[i]\n"
  "    local ks = type(k) == 'string' and k:match('^[%a_][%w_]*$') or '[' .. render(k, inner, depth + 1, seen) .. ']'\n"
  "    items[#items + 1] = ks .. ' = ' .. render(rawget(v, k), inner, depth + 1, seen)\n"
  "  end\n"
  "  if n + #keys > #items then items[#items + 1] = fmt('... (%d more)', n + #keys - #items) end\n"
  "  seen[v] = nil\n"
  "  if #items == 0 then return '{}' end\n"
  "  local one = '{ ' .. concat(items, ', ') .. ' }'\n"
  "  if #one + #indent <= WIDTH and not one:find('\\n') then return one end\n"
  "  local lines, cur = {}, nil\n"   /* array items share lines up to WIDTH */
  "  for i, s in ipairs(items) do\n"
  "    local pack = i <= math.min(n, MAXITEMS) and not s:find('\\n')\n"
  "    if pack and cur and #inner + #cur + #s + 3 <= WIDTH then cur = cur .. ', ' .. s\n"
  "    else lines[#lines + 1] = cur; cur = s end\n"
  "    if not pack then lines[#lines + 1] = cur; cur = nil end\n"
  "  end\n"
  "  lines[#lines + 1] = cur\n"
  "  return '{\\n' .. inner .. concat(lines, ',\\n' .. inner) .. ',\\n' .. indent .. '}'\n"
  "end\n"
  "local function repr(...)\n"
  "  local out = {}\n"
  "  for i = 1, select('#', ...) do out[i] = render((select(i, ...)), '', 1, {}) end\n"
  "  return concat(out, '\\t')\n"
  "end\n"
  /* "ember.nn.Sp" -> names under ember.nn starting with Sp, through __index
  ** tables; ember.nn also lists its lazily loaded classes */
  "local function complete(text)\n"
  "  local prefix, sep, word = text:match('^(.-)([.:]?)([%w_]*)$')\n"
  "  local obj, names, seen = _G, {}, {}\n"
  "  for name in (prefix or ''):gmatch('[^.:]+') do\n"
  "    local ok, v = pcall(function() return obj[name] end)\n"
  "    if not ok or v == nil then return names end\n"
  "    obj = v\n"
  "  end\n"
  "  local function add(k)\n"
  "    if type(k) == 'string' and k:find('^[%a_][%w_]*$') and k:sub(1, #word) == word and not seen[k] then\n"
  "      seen[k] = true; names[#names + 1] = prefix .. sep .. k\n"
  "    end\n"
  "  end\n"
  "  if ember.isTensor(obj) then obj = ember.Tensor.methods end\n"
  "  for _ = 1, 8 do\n"
  "    if type(obj) == 'table' then\n"
  "      for k in next, obj do add(k) end\n"
  "      if type(rawget(obj, 'classes')) == 'table' then for _, k in ipairs(obj.classes) do add(k) end end\n"
  "    end\n"
  "    local mt = getmetatable(obj)\n"
  "    obj = type(mt) == 'table' and mt.__index\n"
  "    if type(obj) ~= 'table' then break end\n"
  "  end\n"
  "  sort(names)\n"
  "  return names\n"
  "end\n"
  "return { repr = repr, complete = complete }\n";

static lua_State *replL;           /* for readline's completion callbacks */
static int helpers_ref = LUA_NOREF;
static char *rl_line;
static int rl_got_line;
static int interactive;

static void push_helper(lua_State *L, const char *name) {
  lua_rawgeti(L, LUA_REGISTRYINDEX, helpers_ref);
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

/* Generator for rl_completion_matches: walks the table left on replL's top. */
static char *complete_next(const char *text, int state) {
  static lua_Integer i;
  char *s = NULL;
  (void)text;
  if (!state) i = 0;
  if (lua_rawgeti(replL, -1, ++i) == LUA_TSTRING) s = strdup(lua_tostring(replL, -1));
  lua_pop(replL, 1);
  return s;
}

/* Lua names; file names (inside a string, say) when no name matches. */
static char **complete(const char *text, int start, int end) {
  char **m = NULL;
  (void)start; (void)end;
  rl_completion_append_character = '\0';
  push_helper(replL, "complete");
  lua_pushstring(replL, text);
  if (lua_pcall(replL, 1, 1, 0) == LUA_OK && lua_istable(replL, -1))
    m = rl_completion_matches(text, complete_next);
  lua_pop(replL, 1);
  return m;
}

static void line_done(char *line) { rl_line = line; rl_got_line = 1; rl_callback_handler_remove(); }

/* Pushes one line read with prompt; returns 1, 0 at end of input, -1 on Ctrl-C.
** readline's callback interface lets select() see the EINTR of a Ctrl-C. */
static int read_line(lua_State *L, const char *prompt) {
  struct sigaction old;
  int fd = fileno(rl_instream ? rl_instream : stdin);
  if (!interactive) {   /* -i on a pipe: prompts, but no line editing */
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    fputs(prompt, stdout);
    fflush(stdout);
    if ((n = getline(&line, &cap, stdin)) > 0 && line[n - 1] == '\n') line[--n] = '\0';
    if (n >= 0) lua_pushlstring(L, line, (size_t)n);
    else fputc('\n', stdout);
    free(line);
    return n >= 0;
  }
  catch_sigint(&old);
  rl_got_line = 0;
  rl_callback_handler_install(prompt, line_done);
  while (!rl_got_line) {
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(fd, &fds);
    if (select(fd + 1, &fds, NULL, NULL, NULL) >= 0) rl_callback_read_char();
    else if (errno != EINTR) line_done(NULL);
    else if (got_sigint) {   /* Ctrl-C at the prompt: drop the line, new prompt */
      rl_free_line_state();
      rl_callback_sigcleanup();
      rl_callback_handler_remove();
      fputc('\n', stdout);
      sigaction(SIGINT, &old, NULL);
      return -1;
    }
  }
  sigaction(SIGINT, &old, NULL);
  if (!rl_line) { fputc('\n', stdout); return 0; }
  lua_pushstring(L, rl_line);
  free(rl_line);
  return 1;
}

#define CHUNK_EOF (-1)
#define CHUNK_INT (-2)

/* Reads and compiles one chunk, "return <line>" first so expressions show
** their values, asking for more lines (">> ") while the error is at <eof>.
** Leaves the function or error message on top; returns a load status. */
static int load_chunk(lua_State *L) {
  int r = read_line(L, "> "), status;
  size_t len;
  const char *src;
  if (r <= 0) return r == 0 ? CHUNK_EOF : CHUNK_INT;
  src = lua_pushfstring(L, "return %s;", lua_tostring(L, -1));
  if (luaL_loadbuffer(L, src, strlen(src), "=stdin") == LUA_OK) {
    lua_remove(L, -2);                   /* [line, fn] */
    status = LUA_OK;
  } else {
    lua_pop(L, 2);                       /* [line] */
    for (;;) {
      src = lua_tolstring(L, -1, &len);
      status = luaL_loadbuffer(L, src, len, "=stdin");   /* [chunk, fn/err] */
      if (status != LUA_ERRSYNTAX) break;
      src = lua_tolstring(L, -1, &len);
      if (len < 5 || strcmp(src + len - 5, "<eof>") != 0) break;
      if ((r = read_line(L, ">> ")) == 0) break;         /* incomplete at the end */
      if (r < 0) { lua_pop(L, 2); return CHUNK_INT; }
      lua_remove(L, -2);                                 /* [chunk, more] */
      lua_pushliteral(L, "\n");
      lua_insert(L, -2);
      lua_concat(L, 3);
    }
  }
  if (interactive && *lua_tostring(L, -2)) {
    const char *home = getenv("HOME");
    add_history(lua_tostring(L, -2));
    if (home && *home) {   /* persistent history: append as we go, ignore failures */
      const char *path = lua_pushfstring(L, "%s/.ember_history", home);
      if (append_history(1, path) == ENOENT) write_history(path);
      lua_pop(L, 1);
    }
  }
  lua_remove(L, -2);
  return status;
}

static void print_version(lua_State *L) {
  lua_getglobal(L, "ember");
  lua_getfield(L, -1, "_VERSION");
  printf("%s on %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : "ember", LUA_RELEASE);
  fflush(stdout);
  lua_pop(L, 2);
}

static void repl(lua_State *L) {
  const char *saved = progname;
  int status, base = lua_gettop(L);
  progname = NULL;
  interactive = isatty(STDIN_FILENO);
  if (interactive) {
    const char *home = getenv("HOME");
    print_version(L);
    replL = L;
    rl_readline_name = "ember";
    rl_catch_signals = 0;
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"\\'`@$><=;|&{(,+-*/%^~#[]";
    using_history();
    stifle_history(2000);
    if (home && *home) {
      lua_pushfstring(L, "%s/.ember_history", home);
      read_history(lua_tostring(L, -1));
      history_truncate_file(lua_tostring(L, -1), 2000);
      lua_pop(L, 1);
    }
  }
  while ((status = load_chunk(L)) != CHUNK_EOF) {
    if (status == LUA_OK) status = docall(L, 0, LUA_MULTRET);
    if (status == LUA_OK && lua_gettop(L) > base) {
      int n = lua_gettop(L) - base;
      push_helper(L, "repr");
      lua_insert(L, base + 1);
      if (lua_pcall(L, n, 1, 0) == LUA_OK) {
        fputs(lua_tostring(L, -1), stdout);
        fputc('\n', stdout);
        fflush(stdout);
      } else {
        report(L, status = LUA_ERRRUN);
      }
    } else if (status != CHUNK_INT) {
      if (got_sigint && interactive) fputc('\n', stderr);   /* after the echoed ^C */
      report(L, status);
    }
    lua_settop(L, base);
  }
  progname = saved;
}

/* ------------------------------------------------------------------- start */

/* package.path: the source tree next to the executable (or the installed tree
** around it), the install dir it was built for, the default. */
static void set_path(lua_State *L) {
  char exe[PATH_MAX], probe[PATH_MAX + 32];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  int parts = 0;
  char *slash;
  lua_getglobal(L, "package");
  if (n > 0) {
    exe[n] = '\0';
    if ((slash = strrchr(exe, '/')) != NULL) *slash = '\0';
    snprintf(probe, sizeof probe, "%s/lua/ember/init.lua", exe);
    if (slash && access(probe, R_OK) == 0) {
      lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?/init.lua;", exe, exe);
      parts++;
    } else {
      /* an installed tree: PREFIX/bin/ember beside PREFIX/share/lua/5.4 */
      snprintf(probe, sizeof probe, "%s/../share/lua/5.4/ember/init.lua", exe);
      if (slash && access(probe, R_OK) == 0) {
        lua_pushfstring(L, "%s/../share/lua/5.4/?.lua;%s/../share/lua/5.4/?/init.lua;", exe, exe);
        parts++;
      }
    }
  }
  lua_pushliteral(L, EMBER_LUADIR "/?.lua;" EMBER_LUADIR "/?/init.lua;");
  lua_getfield(L, -2 - parts, "path");
  lua_concat(L, parts + 2);
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
}

/* Checks the options; returns the index of the script (argc if none) or -i
** for a bad option at i, and sets *has_e, *has_i, *has_v, *has_h. */
static int scan_args(char **argv, int argc, int *has_e, int *has_i, int *has_v, int *has_h) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-' || strcmp(a, "-") == 0) return i;
    if (strcmp(a, "--") == 0) return i + 1;
    switch (a[1]) {
    case 'i': *has_i = 1; break;
    case 'v': *has_v = 1; break;
    case 'h': *has_h = 1; break;
    case 'e': *has_e = 1; /* fall through */
    case 'l':
      if (a[2] == '\0' && (i + 1 >= argc || argv[i + 1][0] == '-')) return -i;
      i += a[2] == '\0';
      continue;
    default: return -i;
    }
    if (a[2] != '\0') return -i;
  }
  return argc;
}

static int run_options(lua_State *L, char **argv, int script) {
  for (int i = 1; i < script; i++) {
    char opt = argv[i][1];
    const char *val;
    int status;
    if (opt != 'e' && opt != 'l') continue;
    val = argv[i][2] ? argv[i] + 2 : argv[++i];
    if (opt == 'e') {
      status = dochunk(L, luaL_loadbuffer(L, val, strlen(val), "=(command line)"));
    } else {
      lua_getglobal(L, "require");
      lua_pushstring(L, val);
      status = docall(L, 1, 1);
      if (status == LUA_OK) lua_setglobal(L, val);
      report(L, status);
    }
    if (status != LUA_OK) return 0;
  }
  return 1;
}

static int run_script(lua_State *L, char **argv, int argc, int script) {
  const char *fname = argv[script];
  int status, n = argc - script - 1;
  if (strcmp(fname, "-") == 0 && strcmp(argv[script - 1], "--") != 0) fname = NULL;
  status = luaL_loadfile(L, fname);
  if (status == LUA_OK) {
    luaL_checkstack(L, n, "too many arguments to script");
    for (int i = script + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    status = docall(L, n, 0);
  }
  return report(L, status) == LUA_OK;
}

static int pmain(lua_State *L) {
  int argc = (int)lua_tointeger(L, 1);
  char **argv = lua_touserdata(L, 2);
  int has_e = 0, has_i = 0, has_v = 0, has_h = 0;
  int script = scan_args(argv, argc, &has_e, &has_i, &has_v, &has_h);

  if (argv[0] && argv[0][0]) progname = argv[0];
  if (script < 0 || has_h) {
    if (script < 0)
      fprintf(stderr, strchr("el", argv[-script][1]) && argv[-script][1] ? "%s: '%s' needs an argument\n"
              : "%s: unrecognized option '%s'\n", progname, argv[-script]);
    fprintf(script < 0 ? stderr : stdout, USAGE, progname);
    lua_pushboolean(L, script >= 0);
    return 1;
  }
  luaL_checkversion(L);
  luaL_openlibs(L);
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_ember_core);
  lua_setfield(L, -2, "ember.core");
  lua_pop(L, 1);
  set_path(L);

  /* arg: the script at 0, options before it negative, its arguments after */
  lua_createtable(L, argc - script - 1 > 0 ? argc - script - 1 : 0, script + 1);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - (script < argc ? script : 0));
  }
  lua_setglobal(L, "arg");

  lua_getglobal(L, "require");
  lua_pushliteral(L, "ember");
  if (report(L, docall(L, 1, 1)) != LUA_OK) { lua_pushboolean(L, 0); return 1; }
  lua_pushvalue(L, -1);
  lua_setglobal(L, "ember");
  if (luaL_loadbuffer(L, HELPERS, sizeof HELPERS - 1, "=ember.repl") != LUA_OK) return lua_error(L);
  lua_insert(L, -2);
  lua_call(L, 1, 1);
  helpers_ref = luaL_ref(L, LUA_REGISTRYINDEX);

  if (has_v) print_version(L);
  if (!run_options(L, argv, script)) { lua_pushboolean(L, 0); return 1; }
  if (script < argc && !run_script(L, argv, argc, script)) { lua_pushboolean(L, 0); return 1; }
  if (has_i) repl(L);
  else if (script == argc && !has_e && !has_v) {
    if (isatty(STDIN_FILENO)) repl(L);
    else if (dochunk(L, luaL_loadfile(L, NULL)) != LUA_OK) { lua_pushboolean(L, 0); return 1; }
  }
  lua_pushboolean(L, 1);
  return 1;
}

int main(int argc, char **argv) {
  lua_State *L;
  int status, ok;
#ifdef __GLIBC__
  /* A fixed threshold: tensors of 1 MB and more are mapped and go back to
  ** the system when freed. glibc's default raises the threshold to the
  ** largest block freed, after which large activations and scratch come
  ** from the heap and its holes keep the process growing (ember/plan.lua). */
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
  L = luaL_newstate();
  if (!L) {
    fprintf(stderr, "%s: cannot create state: not enough memory\n", argv[0]);
    return EXIT_FAILURE;
  }
  lua_pushcfunction(L, pmain);
  lua_pushinteger(L, argc);
  lua_pushlightuserdata(L, argv);
  status = lua_pcall(L, 2, 1, 0);
  ok = lua_toboolean(L, -1);
  report(L, status);
  lua_close(L);
  return status == LUA_OK && ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
