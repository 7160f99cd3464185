/* npy.c -- NumPy .npy files to and from float32 tensors.
** The header is parsed strictly and every size is checked against the bytes present before allocating. */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ember.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "npy.c reads little-endian data with memcpy: port the decoders first"
#endif

static const char MAGIC[6] = { '\x93', 'N', 'U', 'M', 'P', 'Y' };

/* ------------------------------------------------------------------ dtypes */

typedef enum kind { K_F2, K_F4, K_F8, K_I1, K_I2, K_I4, K_I8, K_U1, K_U2, K_B1 } kind;

static const struct dtype {
  const char *descr, *name;
  kind k;
  int bytes;
} DTYPES[] = {
  {"<f4", "float32", K_F4, 4}, {"<f8", "float64", K_F8, 8}, {"<f2", "float16", K_F2, 2},
  {"<i4", "int32", K_I4, 4}, {"<i8", "int64", K_I8, 8}, {"<i2", "int16", K_I2, 2},
  {"|i1", "int8", K_I1, 1}, {"<i1", "int8", K_I1, 1},
  {"|u1", "uint8", K_U1, 1}, {"<u1", "uint8", K_U1, 1}, {"<u2", "uint16", K_U2, 2},
  {"|b1", "bool", K_B1, 1}, {"<b1", "bool", K_B1, 1},
};
#define NDTYPES (sizeof DTYPES / sizeof DTYPES[0])

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
  float f;
  if (e == 0x1f) bits = sign | 0x7f800000u | (m << 13);          /* inf, nan */
  else if (e) bits = sign | ((e + 112) << 23) | (m << 13);        /* normal */
  else {                                                          /* zero, subnormal */
    f = (float)m / 16777216.0f;   /* m * 2^-24 */
    return sign ? -f : f;
  }
  memcpy(&f, &bits, 4);
  return f;
}

/* Converts n elements of a little-endian dtype to float32. */
static void convert(float *dst, const unsigned char *src, size_t n, const struct dtype *d) {
  size_t i;
  switch (d->k) {
  case K_F4: memcpy(dst, src, n * 4); break;
  case K_F8: for (i = 0; i < n; i++) { double v; memcpy(&v, src + 8 * i, 8); dst[i] = (float)v; } break;
  case K_F2: for (i = 0; i < n; i++) { uint16_t v; memcpy(&v, src + 2 * i, 2); dst[i] = half_to_float(v); } break;
  case K_I1: for (i = 0; i < n; i++) dst[i] = (float)(int8_t)src[i]; break;
  case K_I2: for (i = 0; i < n; i++) { int16_t v; memcpy(&v, src + 2 * i, 2); dst[i] = (float)v; } break;
  case K_I4: for (i = 0; i < n; i++) { int32_t v; memcpy(&v, src + 4 * i, 4); dst[i] = (float)v; } break;
  case K_I8: for (i = 0; i < n; i++) { int64_t v; memcpy(&v, src + 8 * i, 8); dst[i] = (float)v; } break;
  case K_U1: for (i = 0; i < n; i++) dst[i] = (float)src[i]; break;
  case K_U2: for (i = 0; i < n; i++) { uint16_t v; memcpy(&v, src + 2 * i, 2); dst[i] = (float)v; } break;
  case K_B1: for (i = 0; i < n; i++) dst[i] = src[i] ? 1.0f : 0.0f; break;
  }
}

/* ------------------------------------------------------------------ header */

typedef struct header {
  const struct dtype *dtype;
  int fortran;
  int ndim;
  int64_t shape[EM_MAXDIM];
  size_t data_offset;   /* bytes from the file start */
  size_t nelem, nbytes;
} header;

/* The header is a Python dict literal; a cursor over it. */
typedef struct cur { const char *p, *end, *start; const char *name; em_err *err; } cur;

static em_status bad(cur *c, const char *what) {
  return em_fail(c->err, EM_EFORMAT, "%s: bad header: %s at byte %d of the header dict",
                 c->name, what, (int)(c->p - c->start));
}

static void skip_ws(cur *c) {
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int accept(cur *c, char ch) {
  skip_ws(c);
  if (c->p < c->end && *c->p == ch) { c->p++; return 1; }
  return 0;
}

/* A quoted string (no escapes: none of the values we accept need them). */
static em_status string(cur *c, char *out, size_t cap) {
  char q;
  size_t n = 0;
  skip_ws(c);
  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad(c, "expected a string");
  q = *c->p++;
  while (c->p < c->end && *c->p != q) {
    if (*c->p == '\\' || n + 1 >= cap) return bad(c, "unexpected string");
    out[n++] = *c->p++;
  }
  if (c->p >= c->end) return bad(c, "unterminated string");
  c->p++;
  out[n] = '\0';
  return EM_OK;
}

static int word(cur *c, const char *w) {
  size_t n = strlen(w);
  skip_ws(c);
  if ((size_t)(c->end - c->p) >= n && memcmp(c->p, w, n) == 0) { c->p += n; return 1; }
  return 0;
}

/* A tuple of non-negative integers: (), (3,), (2, 3), with Python 2's 3L. */
static em_status shape_tuple(cur *c, header *h) {
  if (!accept(c, '(')) return bad(c, "expected a shape tuple");
  h->ndim = 0;
  if (accept(c, ')')) return EM_OK;
  for (;;) {
    int64_t v = 0;
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
      return bad(c, c->p < c->end && *c->p == '-' ? "negative size in shape" : "expected a size in shape");
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (v > (INT64_MAX - 9) / 10) return bad(c, "size in shape too large");
      v = v * 10 + (*c->p++ - '0');
    }
    if (c->p < c->end && *c->p == 'L') c->p++;
    if (h->ndim == EM_MAXDIM)
      return em_fail(c->err, EM_EFORMAT, "%s: more than %d dimensions (ember tensors have at most %d)",
                     c->name, EM_MAXDIM, EM_MAXDIM);
    h->shape[h->ndim++] = v;
    if (accept(c, ')')) return h->ndim == 1 ? bad(c, "a 1-tuple needs a trailing comma") : EM_OK;
    if (!accept(c, ',')) return bad(c, "expected ',' or ')' in shape");
    if (accept(c, ')')) return EM_OK;
  }
}

static em_status parse_dict(cur *c, header *h) {
  int seen_descr = 0, seen_fortran = 0, seen_shape = 0;
  char key[32], descr[32];
  em_status st;
  if (!accept(c, '{')) return bad(c, "expected '{'");
  while (!accept(c, '}')) {
    if ((st = string(c, key, sizeof key))) return st;
    if (!accept(c, ':')) return bad(c, "expected ':' after a key");
    if (!strcmp(key, "descr") && !seen_descr++) {
      skip_ws(c);
      if (c->p < c->end && *c->p == '[')
        return em_fail(c->err, EM_EFORMAT, "%s: unsupported dtype: a structured array", c->name);
      if ((st = string(c, descr, sizeof descr))) return st;
      h->dtype = NULL;
      for (size_t i = 0; i < NDTYPES; i++)
        if (!strcmp(descr, DTYPES[i].descr)) h->dtype = &DTYPES[i];
      if (!h->dtype)
        return em_fail(c->err, EM_EFORMAT, "%s: unsupported dtype '%s' (ember reads little-endian "
                       "float16/32/64, int8/16/32/64, uint8/16 and bool)", c->name, descr);
    } else if (!strcmp(key, "fortran_order") && !seen_fortran++) {
      if (word(c, "True")) h->fortran = 1;
      else if (word(c, "False")) h->fortran = 0;
      else return bad(c, "fortran_order is not True or False");
    } else if (!strcmp(key, "shape") && !seen_shape++) {
      if ((st = shape_tuple(c, h))) return st;
    } else {
      return em_fail(c->err, EM_EFORMAT, "%s: bad header: unexpected or repeated key '%s'", c->name, key);
    }
    if (!accept(c, ',')) {
      if (!accept(c, '}')) return bad(c, "expected ',' or '}'");
      break;
    }
  }
  skip_ws(c);
  if (c->p != c->end) return bad(c, "trailing characters after the dict");
  if (!seen_descr || !seen_fortran || !seen_shape)
    return em_fail(c->err, EM_EFORMAT, "%s: bad header: missing key '%s'", c->name,
                   !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
  return EM_OK;
}

/* Reads the preamble (magic, version, header length) from the first bytes:
** sets *prefix (10 or 12) and *hlen, checking they fit in `total` bytes. */
static em_status parse_preamble(const unsigned char *b, size_t have, size_t total, const char *name,
                                size_t *prefix, size_t *hlen, em_err *err) {
  if (total == 0) return em_fail(err, EM_EFORMAT, "%s: empty file, not a .npy file", name);
  if (have < 6 && memcmp(b, MAGIC, have) == 0)
    return em_fail(err, EM_EFORMAT, "%s: truncated: %zu bytes, shorter than a .npy preamble", name, have);
  if (have < 6 || memcmp(b, MAGIC, 6) != 0)
    return em_fail(err, EM_EFORMAT, "%s: not a .npy file (bad magic)", name);
  if (have < 10)
    return em_fail(err, EM_EFORMAT, "%s: truncated: %zu bytes, shorter than a .npy preamble", name, have);
  if (b[6] < 1 || b[6] > 3 || b[7] != 0)
    return em_fail(err, EM_EFORMAT, "%s: unsupported .npy version %d.%d (ember reads 1.0, 2.0, 3.0)",
                   name, b[6], b[7]);
  if (b[6] == 1) {
    *prefix = 10;
    *hlen = (size_t)b[8] | (size_t)b[9] << 8;
  } else {
    if (have < 12)
      return em_fail(err, EM_EFORMAT, "%s: truncated: %zu bytes, shorter than a .npy preamble", name, have);
    *prefix = 12;
    *hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
  }
  if (*hlen > total - *prefix)
    return em_fail(err, EM_EFORMAT, "%s: truncated: header length is %zu bytes but %zu bytes follow",
                   name, *hlen, total - *prefix);
  return EM_OK;
}

/* Parses the header dict and checks the data size against `total` bytes. */
static em_status parse_header(const char *dict, size_t hlen, size_t prefix, size_t total,
                              const char *name, header *h, em_err *err) {
  cur c = { dict, dict + hlen, dict, name, err };
  char shape[160];
  size_t n = 1, avail;
  em_status st;
  memset(h, 0, sizeof *h);
  if ((st = parse_dict(&c, h))) return st;
  h->data_offset = prefix + hlen;
  for (int i = 0; i < h->ndim; i++) {
    if (h->shape[i] && n > SIZE_MAX / 16 / (uint64_t)h->shape[i])
      return em_fail(err, EM_EFORMAT, "%s: shape too large (dimension %d is %lld)",
                     name, i + 1, (long long)h->shape[i]);
    n *= (size_t)h->shape[i];
  }
  h->nelem = n;
  h->nbytes = n * (size_t)h->dtype->bytes;
  avail = total - h->data_offset;
  if (avail != h->nbytes) {
    em_tensor tmp;   /* only to format the shape */
    em_tensor_init(&tmp);
    tmp.ndim = h->ndim;
    memcpy(tmp.size, h->shape, sizeof h->shape);
    if (h->ndim == 0) snprintf(shape, sizeof shape, "a scalar");
    else em_tensor_shape_str(&tmp, shape, sizeof shape);
    return em_fail(err, EM_EFORMAT, "%s: %s: header says %s %s (%zu bytes) but %zu bytes follow",
                   name, avail < h->nbytes ? "truncated" : "trailing data", shape,
                   h->dtype->name, h->nbytes, avail);
  }
  return EM_OK;
}

/* Allocates t (C order sizes; reversed for Fortran order, fixed by finish). */
static em_status alloc_for(em_tensor *t, const header *h, em_err *err) {
  int64_t sz[EM_MAXDIM];
  for (int i = 0; i < h->ndim; i++) sz[i] = h->fortran ? h->shape[h->ndim - 1 - i] : h->shape[i];
  return em_tensor_new(t, h->ndim, sz, err);
}

/* Fortran-order data was read as the reversed shape; reversing the dims
** gives the right logical tensor, made contiguous. */
static em_status finish(em_tensor *out, em_tensor *t, const header *h, em_err *err) {
  em_status st = EM_OK;
  if (h->fortran && h->ndim > 1) {
    int perm[EM_MAXDIM];
    em_tensor c;
    em_tensor_init(&c);
    for (int i = 0; i < h->ndim; i++) perm[i] = h->ndim - 1 - i;
    if (!(st = em_tensor_permute(t, t, perm, err)) && !(st = em_tensor_contiguous(&c, t, err)))
      em_tensor_set(t, &c);
    em_tensor_free(&c);
  }
  if (st) { em_tensor_free(t); return st; }
  em_tensor_free(out);
  *out = *t;
  return EM_OK;
}

/* -------------------------------------------------------------------- load */

em_status em_npy_load_mem(em_tensor *t, const void *buf, size_t len, const char *name, em_err *err) {
  const unsigned char *b = buf;
  size_t prefix = 0, hlen = 0;
  header h;
  em_tensor tmp;
  em_status st;
  if (!name) name = "<memory>";
  if (!b && len) return em_fail(err, EM_EARG, "%s: no buffer", name);
  if ((st = parse_preamble(b, len, len, name, &prefix, &hlen, err)) ||
      (st = parse_header((const char *)b + prefix, hlen, prefix, len, name, &h, err)))
    return st;
  em_tensor_init(&tmp);
  if ((st = alloc_for(&tmp, &h, err))) return st;
  if (h.nelem) convert(em_tensor_data(&tmp), b + h.data_offset, h.nelem, h.dtype);
  return finish(t, &tmp, &h, err);
}

static em_status read_fail(FILE *f, const char *path, em_err *err) {
  em_status st = em_fail(err, EM_EIO, "%s: read error: %s", path,
                         ferror(f) ? strerror(errno) : "unexpected end of file");
  fclose(f);
  return st;
}

em_status em_npy_load(em_tensor *t, const char *path, em_err *err) {
  FILE *f;
  struct stat sb;
  unsigned char pre[12];
  size_t total, have, prefix = 0, hlen = 0;
  char *dict;
  header h;
  em_tensor tmp;
  em_status st;

  if (!path) return em_fail(err, EM_EARG, "no file name");
  if (!(f = fopen(path, "rb"))) return em_fail(err, EM_EIO, "%s: cannot open: %s", path, strerror(errno));
  if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(f);
    return em_fail(err, EM_EIO, "%s: not a regular file", path);
  }
  total = (size_t)sb.st_size;
  have = fread(pre, 1, sizeof pre, f);
  if (have < sizeof pre && ferror(f)) return read_fail(f, path, err);
  if ((st = parse_preamble(pre, have, total, path, &prefix, &hlen, err))) { fclose(f); return st; }
  /* hlen is now known to fit in the file */
  if (fseek(f, (long)prefix, SEEK_SET) != 0) return read_fail(f, path, err);
  if (!(dict = malloc(hlen + 1))) { fclose(f); return em_fail(err, EM_ENOMEM, "%s: out of memory", path); }
  if (fread(dict, 1, hlen, f) != hlen) { free(dict); return read_fail(f, path, err); }
  st = parse_header(dict, hlen, prefix, total, path, &h, err);
  free(dict);
  if (st) { fclose(f); return st; }

  em_tensor_init(&tmp);
  if ((st = alloc_for(&tmp, &h, err))) { fclose(f); return st; }
  if (h.nelem == 0) {
    /* nothing to read */
  } else if (h.dtype->k == K_F4) {
    if (fread(em_tensor_data(&tmp), 4, h.nelem, f) != h.nelem) {
      em_tensor_free(&tmp);
      return read_fail(f, path, err);
    }
  } else {
    /* other dtypes go through a small buffer, converted chunk by chunk */
    unsigned char chunk[1 << 16];
    size_t per = sizeof chunk / (size_t)h.dtype->bytes, done = 0;
    float *dst = em_tensor_data(&tmp);
    while (done < h.nelem) {
      size_t k = h.nelem - done < per ? h.nelem - done : per;
      if (fread(chunk, (size_t)h.dtype->bytes, k, f) != k) {
        em_tensor_free(&tmp);
        return read_fail(f, path, err);
      }
      convert(dst + done, chunk, k, h.dtype);
      done += k;
    }
  }
  fclose(f);
  return finish(t, &tmp, &h, err);
}

/* -------------------------------------------------------------------- save */

em_status em_npy_save(const em_tensor *t, const char *path, em_err *err) {
  char hdr[512];
  int n, pad;
  FILE *f;
  int64_t total = em_tensor_nelement(t);
  int ok;

  if (!path) return em_fail(err, EM_EARG, "no file name");
  /* 10-byte preamble + dict + spaces + '\n', padded to 64 as NumPy writes it */
  memcpy(hdr, MAGIC, 6);
  hdr[6] = 1; hdr[7] = 0;
  n = snprintf(hdr + 10, sizeof hdr - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  if (!t->storage) n += snprintf(hdr + 10 + n, sizeof hdr - 10 - (size_t)n, "0,");
  for (int i = 0; t->storage && i < t->ndim; i++)
    n += snprintf(hdr + 10 + n, sizeof hdr - 10 - (size_t)n, i ? " %lld," : "%lld,", (long long)t->size[i]);
  if (t->storage && t->ndim > 1) n--;   /* only a 1-tuple keeps its trailing comma */
  n += snprintf(hdr + 10 + n, sizeof hdr - 10 - (size_t)n, "), }");
  pad = 63 - (10 + n) % 64;   /* spaces, then the newline completes the block */
  memset(hdr + 10 + n, ' ', (size_t)pad);
  n += pad;
  hdr[10 + n++] = '\n';
  hdr[8] = (char)(n & 0xff);
  hdr[9] = (char)(n >> 8);

  if (!(f = fopen(path, "wb"))) return em_fail(err, EM_EIO, "%s: cannot create: %s", path, strerror(errno));
  ok = fwrite(hdr, 1, (size_t)(10 + n), f) == (size_t)(10 + n);
  if (ok && total > 0 && em_tensor_is_contiguous(t)) {
    ok = fwrite(em_tensor_data(t), sizeof(float), (size_t)total, f) == (size_t)total;
  } else if (ok && total > 0) {
    /* a strided view: gather rows of the last dim in logical order */
    float buf[4096];
    int64_t idx[EM_MAXDIM] = {0};
    const float *base = em_tensor_data(t);
    size_t used = 0;
    for (int64_t k = 0; ok && k < total; k++) {
      int64_t off = 0;
      for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
      buf[used++] = base[off];
      if (used == sizeof buf / sizeof buf[0] || k == total - 1) {
        ok = fwrite(buf, sizeof(float), used, f) == used;
        used = 0;
      }
      for (int d = t->ndim - 1; d >= 0 && ++idx[d] == t->size[d]; d--) idx[d] = 0;
    }
  }
  if (fclose(f) != 0) ok = 0;
  if (!ok) {
    int e = errno;
    remove(path);
    return em_fail(err, EM_EIO, "%s: write error: %s", path, strerror(e));
  }
  return EM_OK;
}
