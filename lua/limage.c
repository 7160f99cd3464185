/* limage.c -- Lua wrappers of image.c as the table ember.core.image:
** decoding to float C,H,W tensors, saving, and the preprocessing steps. */

#include <limits.h>

#include "lember.h"

static int check_int(lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= INT_MIN && v <= INT_MAX, arg, "integer out of range");
  return (int)v;
}

static int check_size(lua_State *L, int arg) {
  lua_Integer v = luaL_checkinteger(L, arg);
  luaL_argcheck(L, v >= 1 && v <= INT_MAX, arg, "expected a positive size");
  return (int)v;
}

static float check_range(lua_State *L, int arg) {
  lua_Number r = luaL_optnumber(L, arg, 1);
  luaL_argcheck(L, r > 0 && r < 1e30, arg, "range must be positive");
  return (float)r;
}

static int check_channels(lua_State *L, int arg) {
  lua_Integer c = luaL_optinteger(L, arg, 3);
  luaL_argcheck(L, c >= 0 && c <= 4, arg, "channels must be 1, 3 or 4 (0: as in the file)");
  return (int)c;
}

static void check_limits(lua_State *L, int arg, em_image_limits *lim) {
  lua_Integer side = luaL_optinteger(L, arg, EM_IMAGE_MAX_SIDE);
  lua_Number bytes = luaL_optnumber(L, arg + 1, (lua_Number)EM_IMAGE_MAX_BYTES);
  luaL_argcheck(L, side >= 1, arg, "maximum side must be positive");
  luaL_argcheck(L, bytes >= 1 && bytes < 9e18, arg + 1, "maximum bytes must be positive");
  lim->max_side = side;
  lim->max_bytes = (int64_t)bytes;
}

/* Runs em_image_to_tensor into a new tensor, frees im, raises on failure. */
static int push_image(lua_State *L, em_image *im, em_status st, em_err *err, float range) {
  em_tensor *t = lt_push(L);
  if (st == EM_OK) st = em_image_to_tensor(im, t, range, err);
  em_image_free(im);
  if (st != EM_OK) return lt_error(L, err);
  return 1;
}

/* core.image.load(path, [channels 3], [range 1], [max_side], [max_bytes]) -> C,H,W */
static int image_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int channels = check_channels(L, 2);
  float range = check_range(L, 3);
  em_image_limits lim;
  em_image im;
  em_err err;
  check_limits(L, 4, &lim);
  em_image_init(&im);
  return push_image(L, &im, em_image_load(&im, path, channels, &lim, &err), &err, range);
}

/* core.image.decode(bytes, [channels], [range], [max_side], [max_bytes], [name]) */
static int image_decode(lua_State *L) {
  size_t len;
  const char *buf = luaL_checklstring(L, 1, &len);
  int channels = check_channels(L, 2);
  float range = check_range(L, 3);
  const char *name = luaL_optstring(L, 6, "image data");
  em_image_limits lim;
  em_image im;
  em_err err;
  check_limits(L, 4, &lim);
  em_image_init(&im);
  return push_image(L, &im, em_image_decode(&im, buf, len, channels, &lim, name, &err), &err, range);
}

/* core.image.save(path, tensor, [range 1], [quality 90]) */
static int image_save(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  em_tensor *t = lt_check(L, 2);
  float range = check_range(L, 3);
  lua_Integer q = luaL_optinteger(L, 4, 90);
  em_image im;
  em_err err;
  luaL_argcheck(L, q >= 1 && q <= 100, 4, "JPEG quality must be 1 to 100");
  em_image_init(&im);
  em_status st = em_image_from_tensor(&im, t, range, &err);
  if (st == EM_OK) st = em_image_save(&im, path, (int)q, &err);
  em_image_free(&im);
  if (st != EM_OK) return lt_error(L, &err);
  return 0;
}

static const char *const modes[] = {"bilinear", "antialias", "aligned", "pil", NULL};
static const em_resize mode_codes[] = {EM_RESIZE_BILINEAR, EM_RESIZE_ANTIALIAS, EM_RESIZE_ALIGNED,
                                       EM_RESIZE_ANTIALIAS};

/* An 8-bit operation on a float image, as PIL would do it on the image
** saved to 8 bits: tensor -> uint8 (rounded) -> op -> tensor. */
static int via_u8(lua_State *L, em_tensor *src, float range, int w, int h) {
  em_image a, b;
  em_err err;
  em_tensor *out = lt_push(L);
  em_image_init(&a);
  em_image_init(&b);
  em_status st = em_image_from_tensor(&a, src, range, &err);
  if (st == EM_OK)
    st = w > 0 ? em_image_resize_u8(&a, &b, w, h, EM_RESIZE_ANTIALIAS, &err)
               : em_image_grayscale_u8(&a, &b, &err);
  if (st == EM_OK) st = em_image_to_tensor(&b, out, range, &err);
  em_image_free(&a);
  em_image_free(&b);
  if (st != EM_OK) return lt_error(L, &err);
  if (src->ndim == 2) {   /* H,W in, H,W out */
    int64_t sz[2] = {out->size[1], out->size[2]};
    LT_CHECK(L, em_tensor_view(out, out, 2, sz, &err), &err);
  }
  return 1;
}

/* core.image.resize(src, w, h, [mode "bilinear"], [range 1]) -> new tensor.
** "pil" resamples 8-bit values as PIL does (values rounded to range/255). */
static int image_resize(lua_State *L) {
  em_tensor *src = lt_check(L, 1);
  int w = check_size(L, 2), h = check_size(L, 3);
  int mode = luaL_checkoption(L, 4, "bilinear", modes);
  float range = check_range(L, 5);
  em_err err;
  if (mode == 3) return via_u8(L, src, range, w, h);
  em_tensor *out = lt_push(L);
  LT_CHECK(L, em_image_resize(src, out, w, h, mode_codes[mode], &err), &err);
  return 1;
}

/* core.image.crop(src, x, y, w, h): 0-based top-left (x, y) */
static int image_crop(lua_State *L) {
  em_tensor *src = lt_check(L, 1);
  int x = check_int(L, 2), y = check_int(L, 3), w = check_int(L, 4), h = check_int(L, 5);
  em_err err;
  em_tensor *out = lt_push(L);
  LT_CHECK(L, em_image_crop(src, out, x, y, w, h, &err), &err);
  return 1;
}

/* core.image.center_box(w, h, tw, th) -> x, y (0-based) */
static int image_center_box(lua_State *L) {
  int w = check_int(L, 1), h = check_int(L, 2), tw = check_int(L, 3), th = check_int(L, 4);
  int x, y;
  em_image_center_box(w, h, tw, th, &x, &y);
  lua_pushinteger(L, x);
  lua_pushinteger(L, y);
  return 2;
}

/* core.image.short_side(w, h, n) -> ow, oh */
static int image_short_side(lua_State *L) {
  int w = check_size(L, 1), h = check_size(L, 2), n = check_size(L, 3);
  int ow, oh;
  em_image_short_side(w, h, n, &ow, &oh);
  lua_pushinteger(L, ow);
  lua_pushinteger(L, oh);
  return 2;
}

/* core.image.letterbox(src, w, h, [fill 0.5], [mode "aligned"]) */
static int image_letterbox(lua_State *L) {
  em_tensor *src = lt_check(L, 1);
  int w = check_size(L, 2), h = check_size(L, 3);
  float fill = (float)luaL_optnumber(L, 4, 0.5);
  int mode = luaL_checkoption(L, 5, "aligned", modes);
  em_err err;
  luaL_argcheck(L, mode != 3, 5, "letterbox resizes floats: bilinear, antialias or aligned");
  em_tensor *out = lt_push(L);
  LT_CHECK(L, em_image_letterbox(src, out, w, h, fill, mode_codes[mode], &err), &err);
  return 1;
}

/* core.image.grayscale(src, [pil false], [range 1]): pil rounds as PIL's
** convert("L") on 8-bit values */
static int image_grayscale(lua_State *L) {
  em_tensor *src = lt_check(L, 1);
  int pil = lua_toboolean(L, 2);
  float range = check_range(L, 3);
  em_err err;
  if (pil) return via_u8(L, src, range, 0, 0);
  em_tensor *out = lt_push(L);
  LT_CHECK(L, em_image_grayscale(src, out, &err), &err);
  return 1;
}

/* Floats of the table at arg (1 to 4 of them) into v; returns the count. */
static int float_list(lua_State *L, int arg, float *v) {
  if (lua_isnumber(L, arg)) { v[0] = (float)lua_tonumber(L, arg); return 1; }
  luaL_checktype(L, arg, LUA_TTABLE);
  lua_Integer n = luaL_len(L, arg);
  luaL_argcheck(L, n >= 1 && n <= 4, arg, "expected 1 to 4 values");
  for (lua_Integer i = 1; i <= n; i++) {
    lua_geti(L, arg, i);
    if (!lua_isnumber(L, -1)) luaL_argerror(L, arg, "expected a list of numbers");
    v[i - 1] = (float)lua_tonumber(L, -1);
    lua_pop(L, 1);
  }
  return (int)n;
}

/* core.image.normalize(src, mean, std, [inplace]): mean/std numbers or lists */
static int image_normalize(lua_State *L) {
  em_tensor *src = lt_check(L, 1);
  float mean[4], std[4];
  int nm = float_list(L, 2, mean), ns = float_list(L, 3, std);
  int inplace = lua_toboolean(L, 4);
  em_err err;
  if (nm != ns) {   /* one of them given once: broadcast */
    if (nm == 1) { for (int i = 1; i < ns; i++) mean[i] = mean[0]; nm = ns; }
    else if (ns == 1) { for (int i = 1; i < nm; i++) std[i] = std[0]; ns = nm; }
    else return luaL_error(L, "mean has %d values, std %d", nm, ns);
  }
  em_tensor *out = inplace ? src : lt_push(L);
  if (inplace) lua_settop(L, 1);
  LT_CHECK(L, em_image_normalize(src, out, mean, std, nm, &err), &err);
  return 1;
}

/* core.image.invert(src, [range 1]) */
static int image_invert(lua_State *L) {
  em_tensor *src = lt_check(L, 1);
  float range = check_range(L, 2);
  em_err err;
  em_tensor *out = lt_push(L);
  LT_CHECK(L, em_image_invert(src, out, range, &err), &err);
  return 1;
}

/* core.image.swap_rb(src) */
static int image_swap_rb(lua_State *L) {
  em_tensor *src = lt_check(L, 1);
  em_err err;
  em_tensor *out = lt_push(L);
  LT_CHECK(L, em_image_swap_rb(src, out, &err), &err);
  return 1;
}

const luaL_Reg em_l_image_funcs[] = {
  {"load", image_load},
  {"decode", image_decode},
  {"save", image_save},
  {"resize", image_resize},
  {"crop", image_crop},
  {"center_box", image_center_box},
  {"short_side", image_short_side},
  {"letterbox", image_letterbox},
  {"grayscale", image_grayscale},
  {"normalize", image_normalize},
  {"invert", image_invert},
  {"swap_rb", image_swap_rb},
  {NULL, NULL}
};
