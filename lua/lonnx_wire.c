/* lonnx_wire.c -- protobuf wire format walks for lonnx.c: an ONNX file copied
** without its initializers' raw_data (read later into the tensors), depth scan. */

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "lonnx_wire.h"

int onnx_wire_read(int fd, uint64_t offset, void *dst, size_t n) {
  uint8_t *p = dst;
  while (n > 0) {
    ssize_t got = pread(fd, p, n < ((size_t)1 << 30) ? n : (size_t)1 << 30, (off_t)offset);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return 0;
    p += got;
    offset += (uint64_t)got;
    n -= (size_t)got;
  }
  return 1;
}

/* ------------------------------------------------------ the stripped copy */
/* The walk reads keys and lengths through the window and skips values, so a
** 200 MB model costs a few reads: protobuf-c then unpacks a copy of the
** model's structure alone, and each weight is read once, into its tensor.
** (Mapping the file and aliasing it was the other way; most raw_data in
** exports is not 4-byte aligned, and a model rewritten in place while the
** net runs would change its weights or kill it with SIGBUS.) */

/* Byte pos (< f->size) of the file; -1 when it cannot be read. */
static int byte_at(onnx_wire_file *f, uint64_t pos) {
  if (pos < f->win_at || pos - f->win_at >= f->win_len) {
    size_t want = sizeof f->win;
    if (f->size - pos < want) want = (size_t)(f->size - pos);
    if (!onnx_wire_read(f->fd, pos, f->win, want)) {
      f->failed = 1;
      f->win_len = 0;
      return -1;
    }
    f->win_at = pos;
    f->win_len = want;
  }
  return f->win[pos - f->win_at];
}

static int varint_at(onnx_wire_file *f, uint64_t end, uint64_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
    int c = byte_at(f, (*pos)++);
    if (c < 0) return 0;
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) { *v = r; return 1; }
  }
  return 0;
}

static size_t put_varint(uint8_t *out, uint64_t v) {
  size_t n = 0;
  do {
    uint8_t c = (uint8_t)(v & 0x7f);
    v >>= 7;
    if (out) out[n] = (uint8_t)(c | (v ? 0x80 : 0));
    n++;
  } while (v);
  return n;
}

/* File bytes [a, b) to out (when not NULL). */
static void copy_range(onnx_wire_file *f, uint64_t a, uint64_t b, uint8_t *out) {
  if (out && b > a && !onnx_wire_read(f->fd, a, out, (size_t)(b - a))) f->failed = 1;
}

enum { KEEP = -1, SLOT = -2, FLOAT_SLOT = -3, DROP = -4 };

/* What becomes of field (wire type 2) of a message at level: the level of
** its message when the walk goes into it, or KEEP, SLOT, FLOAT_SLOT, DROP. */
static int sub_level(int level, uint64_t field, int floats) {
  if (level == ONNX_WIRE_MODEL && field == 7) return ONNX_WIRE_GRAPH;
  if (level == ONNX_WIRE_GRAPH && field == 5) return ONNX_WIRE_TENSOR;
  if (level != ONNX_WIRE_TENSOR) return KEEP;
  if (field == 9) return SLOT;
  if (field == 4 && floats) return FLOAT_SLOT;
  if (field == ONNX_WIRE_FLOATS) return DROP;
  return KEEP;
}

/* Whether the tensor [pos, end) holds float_data one value at a time (or
** cannot be walked): its packed float_data is then left in place, since
** the order of the two kinds of values would be lost. */
static int unpacked_floats(onnx_wire_file *f, uint64_t pos, uint64_t end) {
  while (pos < end) {
    uint64_t key, v;
    if (!varint_at(f, end, &pos, &key)) return 1;
    switch (key & 7) {
    case 0: if (!varint_at(f, end, &pos, &v)) return 1; break;
    case 1: if (end - pos < 8) return 1; pos += 8; break;
    case 5: if (key >> 3 == 4 || end - pos < 4) return 1; pos += 4; break;
    case 2: if (!varint_at(f, end, &pos, &v) || v > end - pos) return 1; pos += v; break;
    default: return 1;
    }
  }
  return 0;
}

static size_t put_slot(uint8_t *out, uint64_t offset, uint64_t len) {
  if (out)
    for (int i = 0; i < 8; i++) {
      out[i] = (uint8_t)(offset >> (8 * i));
      out[8 + i] = (uint8_t)(len >> (8 * i));
    }
  return ONNX_WIRE_SLOT;
}

uint64_t onnx_wire_strip(onnx_wire_file *f, uint64_t pos, uint64_t end, int level, uint8_t *out) {
  uint64_t size = 0, run = pos;   /* run: first byte not yet copied */
  int floats = level == ONNX_WIRE_TENSOR && !unpacked_floats(f, pos, end);
  while (pos < end && !f->failed) {
    uint64_t start = pos, key, len, body, key_end;
    int sub;
    if (!varint_at(f, end, &pos, &key)) break;
    if ((key & 7) == 0) {
      if (!varint_at(f, end, &pos, &len)) break;
      continue;
    }
    if ((key & 7) == 1 || (key & 7) == 5) {
      uint64_t w = (key & 7) == 1 ? 8 : 4;
      if (end - pos < w) break;
      pos += w;
      continue;
    }
    if ((key & 7) != 2) break;   /* groups or garbage: protobuf-c rejects them */
    key_end = pos;
    if (!varint_at(f, end, &pos, &len) || len > end - pos) break;
    body = pos;
    pos += len;
    sub = sub_level(level, key >> 3, floats);
    if (sub == KEEP) continue;
    /* the bytes before this field as they are, then the field rewritten */
    copy_range(f, run, start, out ? out + size : NULL);
    size += start - run;
    run = pos;
    if (sub == DROP) continue;
    if (sub == FLOAT_SLOT) {
      size += put_varint(out ? out + size : NULL, (uint64_t)ONNX_WIRE_FLOATS << 3 | 2);
    } else {
      copy_range(f, start, key_end, out ? out + size : NULL);   /* the key as it is */
      size += key_end - start;
    }
    if (sub == SLOT || sub == FLOAT_SLOT) {
      size += put_varint(out ? out + size : NULL, ONNX_WIRE_SLOT);
      size += put_slot(out ? out + size : NULL, body, len);
    } else {
      uint64_t inner = onnx_wire_strip(f, body, body + len, sub, NULL);
      size += put_varint(out ? out + size : NULL, inner);
      if (out && onnx_wire_strip(f, body, body + len, sub, out + size) != inner) f->failed = 1;
      size += inner;
    }
  }
  /* the tail, including any malformed field: the same bytes reach protobuf-c */
  copy_range(f, run, end, out ? out + size : NULL);
  return size + (end - run);
}

void onnx_wire_slot(const uint8_t *slot, uint64_t *offset, uint64_t *len) {
  uint64_t o = 0, n = 0;
  for (int i = 7; i >= 0; i--) {
    o = o << 8 | slot[i];
    n = n << 8 | slot[8 + i];
  }
  *offset = o;
  *len = n;
}

/* ------------------------------------------------- nesting depth pre-scan */
/* This walk follows the schema (which fields are messages) iteratively and
** only counts depth; malformed wire data is left for protobuf-c to reject. */

static int get_varint(const uint8_t *p, size_t end, size_t *pos, uint64_t *v) {
  uint64_t r = 0;
  for (int shift = 0; shift < 64 && *pos < end; shift += 7) {
    uint8_t c = p[(*pos)++];
    r |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80)) { *v = r; return 1; }
  }
  return 0;
}

int onnx_wire_too_deep(const uint8_t *p, size_t len, const ProtobufCMessageDescriptor *top) {
  size_t ends[ONNX_WIRE_MAX_DEPTH + 1];
  const ProtobufCMessageDescriptor *descs[ONNX_WIRE_MAX_DEPTH + 1];
  int depth = 0;
  size_t pos = 0;
  ends[0] = len;
  descs[0] = top;
  for (;;) {
    uint64_t key, v;
    while (depth > 0 && pos >= ends[depth]) depth--;
    if (pos >= ends[depth]) return 0;
    if (!get_varint(p, ends[depth], &pos, &key)) return 0;
    switch (key & 7) {
    case 0: if (!get_varint(p, ends[depth], &pos, &v)) return 0; break;
    case 1: pos += 8; break;
    case 5: pos += 4; break;
    case 2: {
      const ProtobufCFieldDescriptor *fd;
      if (!get_varint(p, ends[depth], &pos, &v) || v > ends[depth] - pos) return 0;
      fd = descs[depth] && key >> 3 <= UINT_MAX
             ? protobuf_c_message_descriptor_get_field(descs[depth], (unsigned)(key >> 3)) : NULL;
      if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE) {
        if (depth == ONNX_WIRE_MAX_DEPTH) return 1;
        depth++;
        ends[depth] = pos + (size_t)v;
        descs[depth] = fd->descriptor;
      } else {
        pos += (size_t)v;
      }
      break;
    }
    default: return 0;   /* groups or garbage: protobuf-c decides */
    }
  }
}
