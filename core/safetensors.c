/* safetensors.c -- .safetensors weights: the file mapped once, checked, and
** turned into float32 tensors (views of the mapping when possible). */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ember.h"

/* The reference implementation's limit: a header this large is an attack or
** a corrupt length, never a real list of tensors. */
#define MAX_HEADER 100000000ull

/* ------------------------------------------------------------------ dtypes */

static const struct { const char *name; size_t size; } dtypes[] = {
  [EM_ST_F32] = {"F32", 4},     [EM_ST_F16] = {"F16", 2},   [EM_ST_BF16] = {"BF16", 2},
  [EM_ST_F64] = {"F64", 8},     [EM_ST_F8_E4M3] = {"F8_E4M3", 1},
  [EM_ST_F8_E5M2] = {"F8_E5M2", 1},
  [EM_ST_I8] = {"I8", 1},       [EM_ST_I16] = {"I16", 2},   [EM_ST_I32] = {"I32", 4},
  [EM_ST_I64] = {"I64", 8},     [EM_ST_U8] = {"U8", 1},     [EM_ST_U16] = {"U16", 2},
  [EM_ST_U32] = {"U32", 4},     [EM_ST_U64] = {"U64", 8},   [EM_ST_BOOL] = {"BOOL", 1},
};
#define NDTYPES ((int)(sizeof dtypes / sizeof dtypes[0]))

static int valid_dtype(em_st_dtype d) { return (int)d >= 0 && (int)d < NDTYPES; }

em_st_dtype em_st_dtype_parse(const char *name) {
  for (int i = 0; name && i < NDTYPES; i++)
    if (strcmp(name, dtypes[i].name) == 0) return (em_st_dtype)i;
  return EM_ST_UNKNOWN;
}

const char *em_st_dtype_name(em_st_dtype d) { return valid_dtype(d) ? dtypes[d].name : "?"; }
size_t em_st_dtype_size(em_st_dtype d) { return valid_dtype(d) ? dtypes[d].size : 0; }

static float from_bits(uint32_t b) { float f; memcpy(&f, &b, 4); return f; }

float em_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  if (exp == 0x1f) return from_bits(sign | 0x7f800000u | mant << 13);  /* inf, nan + payload */
  if (exp) return from_bits(sign | (exp + 112) << 23 | mant << 13);     /* rebias 15 -> 127 */
  if (!mant) return from_bits(sign);
  /* subnormal half (mant * 2^-24) is a normal float: move the leading 1 up */
  exp = 113;
  while (!(mant & 0x400)) { mant <<= 1; exp--; }
  return from_bits(sign | exp << 23 | (mant & 0x3ff) << 13);
}

float em_bf16_to_float(uint16_t h) { return from_bits((uint32_t)h << 16); }

/* OCP FP8 E4M3 ("fn" variant: no infinities, S.1111.111 is NaN); E5M2 is the top
** byte of a binary16. */
static float e4m3_to_float(uint8_t b) {
  int exp = (b >> 3) & 0xf, mant = b & 7;
  float v;
  if (exp == 0xf && mant == 7) return NAN;
  v = exp ? ldexpf((float)(8 + mant), exp - 10) : ldexpf((float)mant, -9);
  return b & 0x80 ? -v : v;
}

/* Little-endian reads that work on any host and alignment. */
static uint64_t le(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

static int host_little_endian(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1;
}

/* --------------------------------------------------------------- mapping */

em_status em_st_map(const char *path, em_st_mapping **map, em_err *err) {
  struct stat st;
  unsigned char len8[8];
  uint64_t n;
  void *base;
  em_st_mapping *m;
  int fd;
  *map = NULL;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return em_fail(err, EM_EIO, "cannot open: %s", strerror(errno));
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return em_fail(err, EM_EIO, "not a regular file");
  }
  if (st.st_size < 8) {
    close(fd);
    return em_fail(err, EM_EFORMAT, "file is %lld bytes, too short for the 8-byte header length",
                   (long long)st.st_size);
  }
  if (pread(fd, len8, 8, 0) != 8) {
    close(fd);
    return em_fail(err, EM_EIO, "cannot read the header length");
  }
  n = le(len8, 8);
  if (n >= MAX_HEADER) {
    close(fd);
    return em_fail(err, EM_EFORMAT, "header length %llu is over the limit of %llu bytes",
                   (unsigned long long)n, MAX_HEADER);
  }
  if (n > (uint64_t)st.st_size - 8) {
    close(fd);
    return em_fail(err, EM_EFORMAT, "header length %llu runs past the end of the file (%lld bytes)",
                   (unsigned long long)n, (long long)st.st_size);
  }
  /* Private and writable: pages are shared with the page cache until a
  ** tensor is written in place, which then gets its own copy, never the file. */
  base = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  if (base == MAP_FAILED) return em_fail(err, EM_EIO, "cannot map: %s", strerror(errno));
  m = malloc(sizeof *m);
  if (!m) {
    munmap(base, (size_t)st.st_size);
    return em_fail(err, EM_ENOMEM, "out of memory");
  }
  m->base = base;
  m->size = (size_t)st.st_size;
  m->header = (const char *)m->base + 8;
  m->header_len = (size_t)n;
  m->data = m->base + 8 + n;
  m->data_len = m->size - 8 - (size_t)n;
  m->refcount = 1;
  *map = m;
  return EM_OK;
}

void em_st_retain(em_st_mapping *m) {
  if (m) m->refcount++;
}

void em_st_release(em_st_mapping *m) {
  if (!m || --m->refcount > 0) return;
  munmap((void *)m->base, m->size);
  free(m);
}

/* ---------------------------------------------------------------- checks */

/* Element count of an entry, or an error naming it (sizes, overflow). */
static em_status entry_count(const em_st_entry *e, uint64_t *count, em_err *err) {
  uint64_t n = 1, limit = (uint64_t)SIZE_MAX / 8;
  if (!valid_dtype(e->dtype))
    return em_fail(err, EM_EFORMAT, "tensor '%s': unknown dtype", e->name);
  if (e->ndim < 0 || e->ndim > EM_MAXDIM)
    return em_fail(err, EM_EFORMAT, "tensor '%s': shape has %d dimensions, at most %d",
                   e->name, e->ndim, EM_MAXDIM);
  for (int i = 0; i < e->ndim; i++) {
    if (e->shape[i] < 0)
      return em_fail(err, EM_EFORMAT, "tensor '%s': size %lld at dimension %d is negative",
                     e->name, (long long)e->shape[i], i + 1);
    if (e->shape[i] && n > limit / (uint64_t)e->shape[i])
      return em_fail(err, EM_EFORMAT, "tensor '%s': shape has too many elements", e->name);
    n *= (uint64_t)e->shape[i];
  }
  *count = n;
  return EM_OK;
}

/* Byte ranges in file order: by begin, then end. */
static int by_offset(const void *a, const void *b) {
  const em_st_entry *x = *(const em_st_entry *const *)a, *y = *(const em_st_entry *const *)b;
  if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end) return x->end < y->end ? -1 : 1;
  return 0;
}

em_status em_st_check(const em_st_entry *e, int n, size_t data_len, em_err *err) {
  const em_st_entry **order;
  const em_st_entry *prev = NULL;
  if (n < 0) return em_fail(err, EM_EARG, "negative tensor count %d", n);
  for (int i = 0; i < n; i++) {
    uint64_t count, bytes;
    em_status st = entry_count(&e[i], &count, err);
    if (st) return st;
    bytes = count * em_st_dtype_size(e[i].dtype);
    if (e[i].begin > e[i].end)
      return em_fail(err, EM_EFORMAT, "tensor '%s': data_offsets [%llu, %llu] end before they begin",
                     e[i].name, (unsigned long long)e[i].begin, (unsigned long long)e[i].end);
    if (e[i].end > data_len)
      return em_fail(err, EM_EFORMAT,
                     "tensor '%s': data_offsets [%llu, %llu] run past the end of the data (%zu bytes)",
                     e[i].name, (unsigned long long)e[i].begin, (unsigned long long)e[i].end, data_len);
    if (e[i].end - e[i].begin != bytes)
      return em_fail(err, EM_EFORMAT,
                     "tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, but %llu %s values need %llu",
                     e[i].name, (unsigned long long)e[i].begin, (unsigned long long)e[i].end,
                     (unsigned long long)(e[i].end - e[i].begin), (unsigned long long)count,
                     dtypes[e[i].dtype].name, (unsigned long long)bytes);
  }
  if (n < 2) return EM_OK;
  order = malloc((size_t)n * sizeof *order);
  if (!order) return em_fail(err, EM_ENOMEM, "out of memory");
  for (int i = 0; i < n; i++) order[i] = &e[i];
  qsort(order, (size_t)n, sizeof *order, by_offset);
  for (int i = 0; i < n; i++) {
    if (order[i]->begin == order[i]->end) continue;   /* empty: overlaps nothing */
    if (prev && order[i]->begin < prev->end) {
      em_status st = em_fail(err, EM_EFORMAT,
          "tensors '%s' and '%s' overlap: data_offsets [%llu, %llu] and [%llu, %llu]",
          prev->name, order[i]->name, (unsigned long long)prev->begin,
          (unsigned long long)prev->end, (unsigned long long)order[i]->begin,
          (unsigned long long)order[i]->end);
      free(order);
      return st;
    }
    prev = order[i];
  }
  free(order);
  return EM_OK;
}

/* ---------------------------------------------------------------- tensors */

static void drop_mapping(void *owner) { em_st_release(owner); }

static int64_t count_nonfinite(const float *p, uint64_t n) {
  int64_t bad = 0;
  for (uint64_t i = 0; i < n; i++) bad += !isfinite(p[i]);
  return bad;
}

static void convert(float *out, const unsigned char *p, uint64_t n, em_st_dtype d) {
  size_t w = dtypes[d].size;
  for (uint64_t i = 0; i < n; i++, p += w) {
    uint64_t v = le(p, (int)w);
    float f;
    switch (d) {
    case EM_ST_F32: f = from_bits((uint32_t)v); break;
    case EM_ST_F16: f = em_half_to_float((uint16_t)v); break;
    case EM_ST_BF16: f = em_bf16_to_float((uint16_t)v); break;
    case EM_ST_F64: { double x; memcpy(&x, &v, 8); f = (float)x; break; }
    case EM_ST_F8_E4M3: f = e4m3_to_float((uint8_t)v); break;
    case EM_ST_F8_E5M2: f = em_half_to_float((uint16_t)(v << 8)); break;
    case EM_ST_I8: f = (float)(int8_t)v; break;
    case EM_ST_I16: f = (float)(int16_t)v; break;
    case EM_ST_I32: f = (float)(int32_t)v; break;
    case EM_ST_I64: f = (float)(int64_t)v; break;
    case EM_ST_BOOL: f = v ? 1.0f : 0.0f; break;
    default: f = (float)v; break;   /* U8, U16, U32, U64 */
    }
    out[i] = f;
  }
}

em_status em_st_tensor(em_tensor *t, em_st_mapping *m, const em_st_entry *e,
                       int64_t *nonfinite, em_err *err) {
  uint64_t count;
  const unsigned char *p;
  em_status st;
  if (nonfinite) *nonfinite = 0;
  st = entry_count(e, &count, err);
  if (st) return st;
  if (e->begin > e->end || e->end > m->data_len ||
      e->end - e->begin != count * dtypes[e->dtype].size)
    return em_fail(err, EM_EFORMAT, "tensor '%s': data_offsets do not fit (call em_st_check first)",
                   e->name);
  p = m->data + e->begin;
  if (e->dtype == EM_ST_F32 && count > 0 && host_little_endian() &&
      (uintptr_t)p % sizeof(float) == 0) {
    em_storage *s = em_storage_wrap((float *)p, (size_t)count, drop_mapping, m);
    if (!s) return em_fail(err, EM_ENOMEM, "out of memory");
    em_st_retain(m);
    em_tensor_free(t);
    t->storage = s;
    t->offset = 0;
    t->ndim = e->ndim;
    int64_t stride = 1;
    for (int i = e->ndim - 1; i >= 0; i--) {
      t->size[i] = e->shape[i];
      t->stride[i] = stride;
      stride *= e->shape[i];
    }
  } else {
    st = em_tensor_new(t, e->ndim, e->shape, err);
    if (st) return st;
    convert(em_tensor_data(t), p, count, e->dtype);
  }
  if (nonfinite)   /* integer dtypes give 0; not worth a branch per dtype */
    *nonfinite = count_nonfinite(em_tensor_data(t), count);
  return EM_OK;
}

/* ------------------------------------------------------------------ save */

static int put_f32(FILE *f, const em_tensor *t) {
  int64_t n = em_tensor_nelement(t);
  const float *p = em_tensor_data(t);
  unsigned char buf[4096];
  if (host_little_endian()) return n == 0 || fwrite(p, sizeof(float), (size_t)n, f) == (size_t)n;
  for (int64_t i = 0; i < n; ) {
    size_t k = 0;
    for (; k + 4 <= sizeof buf && i < n; i++, k += 4) {
      uint32_t b;
      memcpy(&b, &p[i], 4);
      for (size_t j = 0; j < 4; j++) buf[k + j] = (unsigned char)(b >> (8 * j));
    }
    if (fwrite(buf, 1, k, f) != k) return 0;
  }
  return 1;
}

em_status em_st_save(const char *path, const char *header, size_t header_len,
                     const em_tensor *const *tensors, int n, em_err *err) {
  size_t padded = (header_len + 7) / 8 * 8;
  unsigned char len8[8];
  FILE *f;
  em_tensor tmp;
  int ok = 1;
  if (n < 0) return em_fail(err, EM_EARG, "negative tensor count %d", n);
  if (padded >= MAX_HEADER)
    return em_fail(err, EM_EARG, "header of %zu bytes is over the limit of %llu", header_len, MAX_HEADER);
  f = fopen(path, "wb");
  if (!f) return em_fail(err, EM_EIO, "cannot create %s: %s", path, strerror(errno));
  for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  ok = fwrite(len8, 1, 8, f) == 8 && fwrite(header, 1, header_len, f) == header_len;
  for (size_t i = header_len; ok && i < padded; i++) ok = fputc(' ', f) != EOF;
  em_tensor_init(&tmp);
  for (int i = 0; ok && i < n; i++) {
    em_status st = em_tensor_contiguous(&tmp, tensors[i], err);
    if (st) {
      em_tensor_free(&tmp);
      fclose(f);
      return st;
    }
    ok = put_f32(f, &tmp);
  }
  em_tensor_free(&tmp);
  if (fclose(f) != 0) ok = 0;
  if (!ok) return em_fail(err, EM_EIO, "cannot write %s: %s", path, strerror(errno));
  return EM_OK;
}
