/* lonnx.c -- the C half of ember.onnx: decodes an ONNX ModelProto (protobuf-c,
** code generated from Debian's onnx.proto) into Lua tables; every size checked. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lember.h"
#include "lonnx_wire.h"
#include "onnx.pb-c.h"

#define LT_ONNXBOX "ember.OnnxMessage"
#define MAX_MESSAGE ((uint64_t)1 << 31)   /* protobuf-c lengths are 32-bit */

/* luaL_error's format knows no %zu or %lld: format here, raise the text. */
#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int raise(lua_State *L, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  lua_pushstring(L, msg);
  return lua_error(L);
}

static int little_endian(void) {
  const uint16_t one = 1;
  return *(const uint8_t *)&one == 1;
}

/* ------------------------------------------------------------ safe boxes */
/* The unpacked message, the model's structure bytes and the open file live
** in a full userdata, so an error raised half-way through leaks nothing. */

typedef struct box {
  ProtobufCMessage *msg;
  void *bytes;
  onnx_wire_file file;   /* fd -1 when closed */
} box;

static void box_close(box *b) {
  if (b->msg) protobuf_c_message_free_unpacked(b->msg, NULL);
  free(b->bytes);
  if (b->file.fd >= 0) close(b->file.fd);
  b->msg = NULL;
  b->bytes = NULL;
  b->file.fd = -1;
}

static int box_gc(lua_State *L) {
  box_close(luaL_checkudata(L, 1, LT_ONNXBOX));
  return 0;
}

static box *push_box(lua_State *L) {
  box *b = lua_newuserdatauv(L, sizeof *b, 0);
  b->msg = NULL;
  b->bytes = NULL;
  b->file.fd = -1;
  if (luaL_newmetatable(L, LT_ONNXBOX)) {
    lua_pushcfunction(L, box_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return b;
}

/* Opens path and reads it into b->bytes as a message at level, each
** stripped raw_data a slot (lonnx_wire.h); returns the length. Raises
** naming the file. */
static size_t read_stripped(lua_State *L, box *b, const char *path, int level) {
  onnx_wire_file *f = &b->file;
  struct stat st;
  uint64_t len;
  f->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) return (size_t)raise(L, "%s: cannot open (%s)", path, strerror(errno));
  if (fstat(f->fd, &st) != 0 || !S_ISREG(st.st_mode))
    return (size_t)raise(L, "%s: cannot read (not a regular file?)", path);
  f->size = (uint64_t)st.st_size;
  f->win_at = 0;
  f->win_len = 0;
  f->failed = 0;
  errno = 0;
  len = onnx_wire_strip(f, 0, f->size, level, NULL);
  if (f->failed) return (size_t)raise(L, "%s: cannot read (%s)", path,
                                      errno ? strerror(errno) : "the file shrank while loading");
  if (len >= MAX_MESSAGE)
    return (size_t)raise(L, "%s: %llu bytes besides the weights: too large (at most 2 GiB)", path,
                         (unsigned long long)len);
  b->bytes = malloc(len ? (size_t)len : 1);
  if (!b->bytes)
    return (size_t)raise(L, "%s: out of memory reading %llu bytes", path, (unsigned long long)len);
  if (onnx_wire_strip(f, 0, f->size, level, b->bytes) != len || f->failed)
    return (size_t)raise(L, "%s: short read (the file changed while loading?)", path);
  return (size_t)len;
}

/* ------------------------------------------------------------- tensors */

typedef struct dtype_info { const char *name; size_t size; } dtype_info;

/* Indexed by TensorProto.DataType; size 0 = not convertible to float32. */
static const dtype_info DTYPES[] = {
  {"undefined", 0}, {"float", 4}, {"uint8", 1}, {"int8", 1}, {"uint16", 2},
  {"int16", 2}, {"int32", 4}, {"int64", 8}, {"string", 0}, {"bool", 1},
  {"float16", 2}, {"double", 8}, {"uint32", 4}, {"uint64", 8},
  {"complex64", 0}, {"complex128", 0}, {"bfloat16", 2},
};
#define NDTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

static const char *dtype_name(int32_t dt) {
  return dt >= 0 && dt < NDTYPES ? DTYPES[dt].name : "unknown";
}

static int is_integral(int32_t dt) {
  return dt == 2 || dt == 3 || dt == 4 || dt == 5 || dt == 6 || dt == 7 || dt == 9 ||
         dt == 12 || dt == 13;
}

/* Element i of little-endian raw bytes of type dt, as a double (exact for
** integers up to 2^53, which bounds what a shape computation meets). */
static double raw_elem(const uint8_t *p, int32_t dt, size_t i) {
  switch (dt) {
  case 1: { float v; memcpy(&v, p + 4 * i, 4); return v; }
  case 2: return p[i];
  case 3: return (int8_t)p[i];
  case 4: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
  case 5: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
  case 6: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
  case 7: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
  case 9: return p[i] != 0;
  case 10: { uint16_t v; memcpy(&v, p + 2 * i, 2); return em_half_to_float(v); }
  case 11: { double v; memcpy(&v, p + 8 * i, 8); return v; }
  case 12: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
  case 13: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
  case 16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return em_bf16_to_float(v); }
  }
  return 0;
}

/* The model's name (for messages), its directory (for external data) and,
** while the model loads, its open file (for the stripped raw_data). */
typedef struct source {
  const char *file;
  const char *dir;
  int fd;
} source;

/* Integer values of small integral tensors are also returned as a Lua list,
** so shape arithmetic folded at import is exact (float32 is not beyond 2^24). */
#define MAX_INTS 65536

/* Values that are still in a file: the model's own (a stripped raw_data) or
** an external data file. */
typedef struct in_file {
  uint64_t offset;
  const char *loc;     /* external data location, NULL for the model */
  char path[4096];     /* external data path */
  const Onnx__TensorProto *chunks;   /* or float_data chunks in the model */
} in_file;

/* The slot of a stripped float_data chunk in tp's unknown field i
** (lonnx_wire.h); 0 when it is not one. protobuf-c keeps an unknown field's
** bytes after its key: here the length (one byte, 16), then the slot. */
static int float_chunk(const Onnx__TensorProto *tp, size_t i, uint64_t *offset, uint64_t *len) {
  const ProtobufCMessageUnknownField *u = &tp->base.unknown_fields[i];
  if (u->tag != ONNX_WIRE_FLOATS || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED ||
      u->len != 1 + ONNX_WIRE_SLOT || u->data[0] != ONNX_WIRE_SLOT)
    return 0;
  onnx_wire_slot(u->data + 1, offset, len);
  return 1;
}

/* Bytes of float_data stripped from tp; 0 when none. */
static uint64_t float_chunk_bytes(const Onnx__TensorProto *tp) {
  uint64_t total = 0, offset, len;
  for (size_t i = 0; i < tp->base.n_unknown_fields; i++)
    if (float_chunk(tp, i, &offset, &len)) total += len;
  return total;
}

/* External data: location relative to the model's directory, no absolute
** path and no "..". Fills where (nothing is read yet); raises on any problem,
** naming file and tensor. */
static void external_data(lua_State *L, const source *src, const Onnx__TensorProto *tp,
                          const char *tname, size_t nbytes, in_file *where) {
  const char *loc = NULL;
  long long offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const Onnx__StringStringEntryProto *e = tp->external_data[i];
    const char *k = e->key ? e->key : "", *v = e->value ? e->value : "";
    char *endp;
    if (!strcmp(k, "location")) loc = v;
    else if (!strcmp(k, "offset") || !strcmp(k, "length")) {
      long long n;
      errno = 0;
      n = strtoll(v, &endp, 10);
      if (errno || endp == v || *endp || n < 0)
        raise(L, "%s: tensor '%s': external data %s '%s' is not a non-negative integer",
                   src->file, tname, k, v);
      if (k[0] == 'o') offset = n; else length = n;
    }
  }
  if (!loc || !*loc) raise(L, "%s: tensor '%s': external data without a location", src->file, tname);
  if (loc[0] == '/' || loc[0] == '\\' || strchr(loc, ':'))
    raise(L, "%s: tensor '%s': external data location '%s' is absolute", src->file, tname, loc);
  for (const char *s = loc; *s; ) {
    size_t n = strcspn(s, "/\\");
    if (n == 2 && s[0] == '.' && s[1] == '.')
      raise(L, "%s: tensor '%s': external data location '%s' leaves the model's directory",
                 src->file, tname, loc);
    s += n;
    if (*s) s++;
  }
  if (length >= 0 && (unsigned long long)length != nbytes)
    raise(L, "%s: tensor '%s': external data length %lld, expected %zu bytes",
               src->file, tname, length, nbytes);
  if ((size_t)snprintf(where->path, sizeof where->path, "%s/%s", src->dir, loc) >= sizeof where->path)
    raise(L, "%s: tensor '%s': external data path too long", src->file, tname);
  where->offset = (uint64_t)offset;
  where->loc = loc;
}

/* Reads the nbytes of values at where into dst; raises naming the tensor.
** An external file is open only for this read, so a raise leaks nothing. */
static void read_values(lua_State *L, const source *src, const char *tname, const in_file *where,
                        void *dst, size_t nbytes) {
  int fd, ok;
  if (nbytes == 0) return;
  if (where->chunks) {   /* float_data, packed in several chunks maybe */
    uint64_t offset, len;
    size_t done = 0;
    for (size_t i = 0; i < where->chunks->base.n_unknown_fields; i++) {
      if (!float_chunk(where->chunks, i, &offset, &len)) continue;
      if (len > nbytes - done || !onnx_wire_read(src->fd, offset, (uint8_t *)dst + done, (size_t)len))
        raise(L, "%s: tensor '%s': cannot read its float_data (the file changed while loading?)",
                   src->file, tname);
      done += (size_t)len;
    }
    return;
  }
  if (!where->loc) {
    if (!onnx_wire_read(src->fd, where->offset, dst, nbytes))
      raise(L, "%s: tensor '%s': cannot read its %zu bytes of raw_data (the file changed while loading?)",
                 src->file, tname, nbytes);
    return;
  }
  fd = open(where->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) raise(L, "%s: tensor '%s': external data file '%s' not found (%s)",
                         src->file, tname, where->loc, strerror(errno));
  ok = onnx_wire_read(fd, where->offset, dst, nbytes);
  close(fd);
  if (!ok) raise(L, "%s: tensor '%s': external data file '%s' has fewer than %llu + %zu bytes",
                      src->file, tname, where->loc, (unsigned long long)where->offset, nbytes);
}

/* Pushes {name=, dtype=, dims={...}, tensor=ember.Tensor (float32), ints={...}
** for integral types up to MAX_INTS elements}. Raises naming the tensor.
** slots: tp's raw_data is a slot (lonnx_wire.h), its bytes still in src->fd. */
static void push_tensor(lua_State *L, const Onnx__TensorProto *tp, const source *src, int slots) {
  const char *tname = tp->name && *tp->name ? tp->name : "(unnamed)";
  int32_t dt = tp->has_data_type ? tp->data_type : 0;
  int64_t sz[EM_MAXDIM];
  size_t n = 1, have, esize;
  const uint8_t *raw = NULL;
  in_file where, *filed = NULL;   /* filed: the values are in a file, at where */
  int buf = 0, direct;
  em_tensor *t;
  em_err err;
  float *out;
  int integral = is_integral(dt), want_ints;

  if (tp->n_dims > EM_MAXDIM)
    raise(L, "%s: tensor '%s': %zu dimensions, at most %d", src->file, tname, tp->n_dims, EM_MAXDIM);
  for (size_t i = 0; i < tp->n_dims; i++) {
    int64_t d = tp->dims[i];
    if (d < 0) raise(L, "%s: tensor '%s': dimension %zu is negative (%lld)", src->file, tname,
                          i + 1, (long long)d);
    if (d > 0 && n > ((size_t)1 << 40) / (size_t)d)
      raise(L, "%s: tensor '%s': absurd size (more than 2^40 elements)", src->file, tname);
    n *= (size_t)d;
    sz[i] = d;
  }
  if (dt <= 0 || dt >= NDTYPES || DTYPES[dt].size == 0)
    raise(L, "%s: tensor '%s': data type %s (%d) is not supported", src->file, tname,
               dtype_name(dt), (int)dt);
  esize = DTYPES[dt].size;

  /* where the values are, and whether their count matches the dims */
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    external_data(L, src, tp, tname, n * esize, &where);
    where.chunks = NULL;
    filed = &where;
    have = n;
  } else if (tp->has_raw_data) {
    uint64_t len = tp->raw_data.len;
    if (slots) {
      if (tp->raw_data.len != ONNX_WIRE_SLOT)
        raise(L, "%s: tensor '%s': malformed raw_data", src->file, tname);
      onnx_wire_slot(tp->raw_data.data, &where.offset, &len);
      where.loc = NULL;
      where.chunks = NULL;
      filed = &where;
    }
    if (len != n * esize)
      raise(L, "%s: tensor '%s': raw_data has %llu bytes, expected %zu (%zu %s elements)",
                 src->file, tname, (unsigned long long)len, n * esize, n, DTYPES[dt].name);
    if (!slots) raw = tp->raw_data.data;
    have = n;
  } else if (slots && dt == 1 && float_chunk_bytes(tp) > 0) {
    uint64_t bytes = float_chunk_bytes(tp);
    if (bytes != n * esize)
      raise(L, "%s: tensor '%s': float_data has %llu bytes, expected %zu (%zu float elements)",
                 src->file, tname, (unsigned long long)bytes, n * esize, n);
    where.chunks = tp;
    filed = &where;
    have = n;
  } else {
    switch (dt) {
    case 1: have = tp->n_float_data; break;
    case 7: have = tp->n_int64_data; break;
    case 11: have = tp->n_double_data; break;
    case 12: case 13: have = tp->n_uint64_data; break;
    default: have = tp->n_int32_data; break;
    }
    if (have != n)
      raise(L, "%s: tensor '%s': %zu values for %zu elements", src->file, tname, have, n);
  }
  /* float32 in a file goes straight into the tensor (the weights: one copy);
  ** other types through a buffer under the record, collected if a raise follows */
  direct = filed && dt == 1 && little_endian();
  if (filed && !direct) {
    void *p;
    luaL_checkstack(L, 4, "tensor values");
    p = lua_newuserdatauv(L, n > 0 ? n * esize : 1, 0);
    buf = lua_gettop(L);
    read_values(L, src, tname, filed, p, n * esize);
    raw = p;
  }

  lua_createtable(L, 0, 6);
  lua_pushstring(L, tname);
  lua_setfield(L, -2, "name");
  lua_pushstring(L, DTYPES[dt].name);
  lua_setfield(L, -2, "dtype");
  lua_createtable(L, (int)tp->n_dims, 0);
  for (size_t i = 0; i < tp->n_dims; i++) {
    lua_pushinteger(L, (lua_Integer)sz[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "dims");

  t = lt_push(L);
  if (em_tensor_new(t, (int)tp->n_dims, sz, &err) != EM_OK)
    raise(L, "%s: tensor '%s': %s", src->file, tname, err.msg);
  out = em_tensor_data(t);
  if (direct) {
    read_values(L, src, tname, filed, out, n * esize);
    n = 0;   /* nothing to convert */
  }
  want_ints = integral && n <= MAX_INTS;
  if (want_ints) lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    double v;
    lua_Integer iv = 0;
    if (raw) {
      v = raw_elem(raw, dt, i);
      if (want_ints && dt == 7) { int64_t x; memcpy(&x, raw + 8 * i, 8); iv = x; }
      else if (want_ints && dt == 13) { uint64_t x; memcpy(&x, raw + 8 * i, 8); iv = (lua_Integer)x; }
      else iv = (lua_Integer)v;
    } else {
      switch (dt) {
      case 1: v = tp->float_data[i]; break;
      case 7: v = (double)tp->int64_data[i]; iv = tp->int64_data[i]; break;
      case 11: v = tp->double_data[i]; break;
      case 12: case 13: v = (double)tp->uint64_data[i]; iv = (lua_Integer)tp->uint64_data[i]; break;
      case 10: v = em_half_to_float((uint16_t)tp->int32_data[i]); break;
      case 16: v = em_bf16_to_float((uint16_t)tp->int32_data[i]); break;
      default: v = tp->int32_data[i]; iv = tp->int32_data[i]; break;
      }
    }
    out[i] = (float)v;
    if (want_ints) {
      lua_pushinteger(L, iv);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
  }
  if (want_ints) lua_setfield(L, -3, "ints");
  lua_setfield(L, -2, "tensor");
  if (buf) lua_remove(L, buf);
}

/* ---------------------------------------------------------------- graph */

static void push_strings(lua_State *L, char **s, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_pushstring(L, s[i] ? s[i] : "");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* top: the model's graph, whose initializers' raw_data are slots */
static void push_graph(lua_State *L, const Onnx__GraphProto *g, const source *src, int top);

static void push_attr_value(lua_State *L, const Onnx__AttributeProto *a, const source *src) {
  int type = a->has_type ? (int)a->type : 0;
  switch (type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: lua_pushnumber(L, a->f); return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: lua_pushinteger(L, (lua_Integer)a->i); return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    lua_pushlstring(L, (const char *)a->s.data, a->s.len);
    return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
    if (!a->t) raise(L, "%s: attribute '%s' has no tensor", src->file, a->name);
    push_tensor(L, a->t, src, 0);
    return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH:
    if (!a->g) raise(L, "%s: attribute '%s' has no graph", src->file, a->name);
    push_graph(L, a->g, src, 0);
    return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
    lua_createtable(L, (int)a->n_floats, 0);
    for (size_t i = 0; i < a->n_floats; i++) {
      lua_pushnumber(L, a->floats[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    lua_createtable(L, (int)a->n_ints, 0);
    for (size_t i = 0; i < a->n_ints; i++) {
      lua_pushinteger(L, (lua_Integer)a->ints[i]);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
    lua_createtable(L, (int)a->n_strings, 0);
    for (size_t i = 0; i < a->n_strings; i++) {
      lua_pushlstring(L, (const char *)a->strings[i].data, a->strings[i].len);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS:
    lua_createtable(L, (int)a->n_tensors, 0);
    for (size_t i = 0; i < a->n_tensors; i++) {
      push_tensor(L, a->tensors[i], src, 0);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return;
  default:
    /* sparse tensors, type protos, graph lists: kept as a marker so an op
    ** that needs them fails by name; ops that ignore them still load */
    lua_pushfstring(L, "<unsupported attribute type %d>", type);
    return;
  }
}

static void push_node(lua_State *L, const Onnx__NodeProto *nd, const source *src) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, nd->name ? nd->name : "");
  lua_setfield(L, -2, "name");
  lua_pushstring(L, nd->op_type ? nd->op_type : "");
  lua_setfield(L, -2, "op_type");
  lua_pushstring(L, nd->domain ? nd->domain : "");
  lua_setfield(L, -2, "domain");
  push_strings(L, nd->input, nd->n_input);
  lua_setfield(L, -2, "inputs");
  push_strings(L, nd->output, nd->n_output);
  lua_setfield(L, -2, "outputs");
  lua_createtable(L, 0, (int)nd->n_attribute);
  for (size_t i = 0; i < nd->n_attribute; i++) {
    const Onnx__AttributeProto *a = nd->attribute[i];
    if (!a->name) continue;
    push_attr_value(L, a, src);
    lua_setfield(L, -2, a->name);
  }
  lua_setfield(L, -2, "attrs");
}

/* {name=, elem_type=, shape={d1, "batch", ...} or nil when unknown} */
static void push_value_info(lua_State *L, const Onnx__ValueInfoProto *v) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, v->name ? v->name : "");
  lua_setfield(L, -2, "name");
  if (v->type && v->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE &&
      v->type->tensor_type) {
    const Onnx__TypeProto__Tensor *tt = v->type->tensor_type;
    if (tt->has_elem_type) {
      lua_pushstring(L, dtype_name(tt->elem_type));
      lua_setfield(L, -2, "elem_type");
    }
    if (tt->shape) {
      lua_createtable(L, (int)tt->shape->n_dim, 0);
      for (size_t i = 0; i < tt->shape->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value >= 0)
          lua_pushinteger(L, (lua_Integer)d->dim_value);
        else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param)
          lua_pushstring(L, d->dim_param);
        else
          lua_pushliteral(L, "?");
        lua_rawseti(L, -2, (lua_Integer)i + 1);
      }
      lua_setfield(L, -2, "shape");
    }
  }
}

static void push_value_infos(lua_State *L, Onnx__ValueInfoProto **v, size_t n) {
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    push_value_info(L, v[i]);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

static void push_graph(lua_State *L, const Onnx__GraphProto *g, const source *src, int top) {
  luaL_checkstack(L, 20, "graph too deeply nested");
  lua_createtable(L, 0, 6);
  lua_pushstring(L, g->name ? g->name : "");
  lua_setfield(L, -2, "name");
  lua_createtable(L, (int)g->n_node, 0);
  for (size_t i = 0; i < g->n_node; i++) {
    push_node(L, g->node[i], src);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "nodes");
  lua_createtable(L, (int)g->n_initializer, 0);
  for (size_t i = 0; i < g->n_initializer; i++) {
    push_tensor(L, g->initializer[i], src, top);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "initializers");
  if (g->n_sparse_initializer) {
    lua_pushinteger(L, (lua_Integer)g->n_sparse_initializer);
    lua_setfield(L, -2, "sparse_initializers");
  }
  push_value_infos(L, g->input, g->n_input);
  lua_setfield(L, -2, "inputs");
  push_value_infos(L, g->output, g->n_output);
  lua_setfield(L, -2, "outputs");
  push_value_infos(L, g->value_info, g->n_value_info);
  lua_setfield(L, -2, "value_info");
}

/* "dir/model.onnx" -> "dir"; "model.onnx" -> "." */
static void dir_of(const char *path, char *dir, size_t len) {
  const char *slash = strrchr(path, '/');
  if (!slash) { snprintf(dir, len, "."); return; }
  if (slash == path) { snprintf(dir, len, "/"); return; }
  snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/* Reads and unpacks path as message type desc (at wire level) into a box
** left on the stack; the file stays open for the stripped raw_data. */
static box *unpack_file(lua_State *L, const char *path, const ProtobufCMessageDescriptor *desc,
                        int level, const char *what) {
  box *b = push_box(L);
  size_t len = read_stripped(L, b, path, level);
  if (onnx_wire_too_deep(b->bytes, len, desc))
    raise(L, "%s: not a valid ONNX %s (messages nested more than %d deep)", path, what,
               ONNX_WIRE_MAX_DEPTH);
  b->msg = protobuf_c_message_unpack(desc, NULL, len, b->bytes);
  if (!b->msg) raise(L, "%s: not a valid ONNX %s (truncated or corrupted protobuf)", path, what);
  free(b->bytes);
  b->bytes = NULL;
  return b;
}

/* core.onnx_load(path) -> {ir_version, producer_name, producer_version,
** opsets = {[domain] = version}, graph = {...}} */
static int onnx_load(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char dir[4096];
  source src;
  const Onnx__ModelProto *m;
  box *b;
  dir_of(path, dir, sizeof dir);
  src.file = path;
  src.dir = dir;
  b = unpack_file(L, path, &onnx__model_proto__descriptor, ONNX_WIRE_MODEL, "model");
  src.fd = b->file.fd;
  m = (const Onnx__ModelProto *)b->msg;
  if (!m->graph) return raise(L, "%s: model has no graph", path);
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, m->has_ir_version ? (lua_Integer)m->ir_version : 0);
  lua_setfield(L, -2, "ir_version");
  lua_pushstring(L, m->producer_name ? m->producer_name : "");
  lua_setfield(L, -2, "producer_name");
  lua_pushstring(L, m->producer_version ? m->producer_version : "");
  lua_setfield(L, -2, "producer_version");
  lua_newtable(L);
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    lua_pushinteger(L, o->has_version ? (lua_Integer)o->version : 0);
    lua_setfield(L, -2, o->domain ? o->domain : "");
  }
  lua_setfield(L, -2, "opsets");
  push_graph(L, m->graph, &src, 1);
  lua_setfield(L, -2, "graph");
  box_close(b);
  return 1;
}

/* core.onnx_load_tensor(path) -> {name, dtype, dims, tensor, ints}: a
** serialised TensorProto (the conformance cases' input_0.pb...). */
static int onnx_load_tensor(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char dir[4096];
  source src;
  box *b;
  dir_of(path, dir, sizeof dir);
  src.file = path;
  src.dir = dir;
  b = unpack_file(L, path, &onnx__tensor_proto__descriptor, ONNX_WIRE_TENSOR, "tensor");
  src.fd = b->file.fd;
  push_tensor(L, (const Onnx__TensorProto *)b->msg, &src, 1);
  box_close(b);
  return 1;
}

const luaL_Reg em_l_onnx_funcs[] = {
  {"onnx_load", onnx_load},
  {"onnx_load_tensor", onnx_load_tensor},
  {NULL, NULL}
};
