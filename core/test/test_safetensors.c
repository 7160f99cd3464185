/* test_safetensors.c -- the safetensors mapping, dtype conversion, checks
** and writer, against converters and files built independently here. */

#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

/* ------------------------------------------------------------- helpers */

/* Writes bytes to a fresh temporary file; returns its path (static buffer per slot). */
static const char *tmpfile_with(const void *bytes, size_t n) {
  static char path[4][64];
  static int slot;
  char *p = path[slot++ % 4];
  int fd;
  strcpy(p, "/tmp/em_st_test_XXXXXX");
  fd = mkstemp(p);
  if (fd < 0) return NULL;
  if (n && write(fd, bytes, n) != (ssize_t)n) { close(fd); return NULL; }
  close(fd);
  return p;
}

/* A file image: 8-byte length, the header as given (padded to pad_to with
** spaces), then data. Returns its total size. */
static size_t image(unsigned char *out, const char *header, size_t pad_to,
                    const void *data, size_t data_len) {
  size_t h = strlen(header), hp = h < pad_to ? pad_to : h;
  for (int i = 0; i < 8; i++) out[i] = (unsigned char)((uint64_t)hp >> (8 * i));
  memcpy(out + 8, header, h);
  memset(out + 8 + h, ' ', hp - h);
  if (data_len) memcpy(out + 8 + hp, data, data_len);
  return 8 + hp + data_len;
}

static int msg_has(const em_err *e, const char *s) { return strstr(e->msg, s) != NULL; }

/* Reference converters, written from the formats' definitions: value =
** (-1)^s * 2^(e - bias) * (1 + m / 2^mbits), or 2^(1 - bias) * m / 2^mbits. */
static float ref_minifloat(uint32_t bits, int ebits, int mbits) {
  int s = (bits >> (ebits + mbits)) & 1;
  int e = (int)((bits >> mbits) & ((1u << ebits) - 1));
  int m = (int)(bits & ((1u << mbits) - 1));
  int bias = (1 << (ebits - 1)) - 1;
  double v;
  if (e == (1 << ebits) - 1) v = m ? NAN : INFINITY;
  else if (e == 0) v = ldexp((double)m, 1 - bias - mbits);
  else v = ldexp(1.0 + ldexp((double)m, -mbits), e - bias);
  return (float)(s ? -v : v);
}

static int same_float(float a, float b) {
  if (isnan(a) || isnan(b)) return isnan(a) && isnan(b);
  return a == b && signbit(a) == signbit(b);
}

/* ------------------------------------------------------------ conversion */

static void test_half_all(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++)
    if (!same_float(em_half_to_float((uint16_t)h), ref_minifloat(h, 5, 10))) {
      if (bad++ < 5) fprintf(stderr, "  half 0x%04x: got %g, expected %g\n", h,
                             em_half_to_float((uint16_t)h), ref_minifloat(h, 5, 10));
    }
  CHECK(bad == 0);
  /* a few by hand: smallest subnormal, largest normal, -inf */
  CHECK(em_half_to_float(0x0001) == ldexpf(1.0f, -24));
  CHECK(em_half_to_float(0x7bff) == 65504.0f);
  CHECK(isinf(em_half_to_float(0xfc00)) && em_half_to_float(0xfc00) < 0);
  CHECK(isnan(em_half_to_float(0x7e00)));
}

static void test_bf16_all(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++)
    if (!same_float(em_bf16_to_float((uint16_t)h), ref_minifloat(h, 8, 7))) bad++;
  CHECK(bad == 0);
  CHECK(em_bf16_to_float(0x3f80) == 1.0f);
  CHECK(em_bf16_to_float(0xc040) == -3.0f);
}

static void test_dtype_names(void) {
  CHECK(em_st_dtype_parse("F32") == EM_ST_F32);
  CHECK(em_st_dtype_parse("BF16") == EM_ST_BF16);
  CHECK(em_st_dtype_parse("F8_E4M3") == EM_ST_F8_E4M3);
  CHECK(em_st_dtype_parse("f32") == EM_ST_UNKNOWN);
  CHECK(em_st_dtype_parse("F128") == EM_ST_UNKNOWN);
  CHECK(em_st_dtype_parse(NULL) == EM_ST_UNKNOWN);
  CHECK(em_st_dtype_size(EM_ST_I64) == 8 && em_st_dtype_size(EM_ST_F16) == 2);
  CHECK(em_st_dtype_size(EM_ST_UNKNOWN) == 0);
  CHECK(strcmp(em_st_dtype_name(EM_ST_U16), "U16") == 0);
  CHECK(strcmp(em_st_dtype_name((em_st_dtype)99), "?") == 0);
}

/* ---------------------------------------------------------------- loading */

static em_st_entry entry(const char *name, em_st_dtype d, int ndim, const int64_t *shape,
                         uint64_t begin, uint64_t end) {
  em_st_entry e;
  memset(&e, 0, sizeof e);
  e.name = name;
  e.dtype = d;
  e.ndim = ndim;
  for (int i = 0; i < ndim; i++) e.shape[i] = shape[i];
  e.begin = begin;
  e.end = end;
  return e;
}

static void put_le(unsigned char *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void test_load_dtypes(void) {
  /* data: F32 2x3 at 0 (aligned), F32 2 at 25 (unaligned), F16 4 at 33,
  ** BF16 2 at 41, I64 1 at 45, F64 1 at 53, U8 2 at 61, BOOL 2 at 63,
  ** I16 1 at 65, E5M2 1 at 67, E4M3 2 at 68 */
  unsigned char data[80], file[256];
  const float f32[6] = {1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-20f};
  const float un[2] = {7.0f, -8.5f};
  const uint16_t f16[4] = {0x3c00, 0x0001, 0xfc00, 0x8400};  /* 1, 2^-24, -inf, -2^-14 */
  const uint16_t b16[2] = {0x3f80, 0xc1a0};                    /* 1, -20 */
  int64_t s23[2] = {2, 3}, s2[1] = {2}, s4[1] = {4}, s1[1] = {1};
  double f64 = -0.125;
  em_st_entry e[11];
  em_st_mapping *m = NULL;
  em_tensor t[11];
  int64_t bad[11];
  const char *path;
  size_t n;
  memset(data, 0xAB, sizeof data);
  for (int i = 0; i < 6; i++) { uint32_t b; memcpy(&b, &f32[i], 4); put_le(data + 4 * i, b, 4); }
  for (int i = 0; i < 2; i++) { uint32_t b; memcpy(&b, &un[i], 4); put_le(data + 25 + 4 * i, b, 4); }
  for (int i = 0; i < 4; i++) put_le(data + 33 + 2 * i, f16[i], 2);
  for (int i = 0; i < 2; i++) put_le(data + 41 + 2 * i, b16[i], 2);
  put_le(data + 45, (uint64_t)(int64_t)-3, 8);
  { uint64_t b; memcpy(&b, &f64, 8); put_le(data + 53, b, 8); }
  data[61] = 0; data[62] = 255; data[63] = 0; data[64] = 1;
  put_le(data + 65, (uint16_t)(int16_t)-300, 2);
  data[67] = 0x3c;                  /* E5M2: 1.0 */
  data[68] = 0x38; data[69] = 0xff; /* E4M3: 1.0, NaN */
  e[0] = entry("a", EM_ST_F32, 2, s23, 0, 24);
  e[1] = entry("unaligned", EM_ST_F32, 1, s2, 25, 33);
  e[2] = entry("half", EM_ST_F16, 1, s4, 33, 41);
  e[3] = entry("bf", EM_ST_BF16, 1, s2, 41, 45);
  e[4] = entry("count", EM_ST_I64, 0, NULL, 45, 53);
  e[5] = entry("dbl", EM_ST_F64, 1, s1, 53, 61);
  e[6] = entry("bytes", EM_ST_U8, 1, s2, 61, 63);
  e[7] = entry("flags", EM_ST_BOOL, 1, s2, 63, 65);
  e[8] = entry("short", EM_ST_I16, 1, s1, 65, 67);
  e[9] = entry("e5", EM_ST_F8_E5M2, 1, s1, 67, 68);
  e[10] = entry("e4", EM_ST_F8_E4M3, 1, s2, 68, 70);
  /* header padded to 64 so the data buffer starts 8-aligned in the file */
  n = image(file, "{}", 56, data, 70);
  path = tmpfile_with(file, n);
  CHECK(path != NULL);
  CHECK_OK(em_st_map(path, &m, &e_));
  if (!m) return;
  CHECK(m->header_len == 56 && m->data_len == 70 && m->size == n);
  CHECK(memcmp(m->header, "{}  ", 4) == 0);
  CHECK_OK(em_st_check(e, 11, m->data_len, &e_));
  for (int i = 0; i < 11; i++) {
    em_tensor_init(&t[i]);
    CHECK_OK(em_st_tensor(&t[i], m, &e[i], &bad[i], &e_));
  }
  /* the aligned F32 is a view of the mapping and keeps it alive */
  CHECK(t[0].storage && t[0].storage->release != NULL);
  CHECK((const unsigned char *)em_tensor_data(&t[0]) == m->data);
  CHECK(m->refcount == 2);
  CHECK(t[1].storage && t[1].storage->release == NULL);   /* unaligned: copied */
  em_st_release(m);   /* the tensors still hold it */
  CHECK(t[0].ndim == 2 && t[0].size[0] == 2 && t[0].size[1] == 3 && t[0].stride[0] == 3);
  CHECK(test_maxdiff(em_tensor_data(&t[0]), f32, 6) == 0);
  CHECK(signbit(em_tensor_data(&t[0])[4]));
  CHECK(test_maxdiff(em_tensor_data(&t[1]), un, 2) == 0);
  CHECK(em_tensor_data(&t[2])[0] == 1.0f && em_tensor_data(&t[2])[1] == ldexpf(1, -24));
  CHECK(isinf(em_tensor_data(&t[2])[2]) && em_tensor_data(&t[2])[3] == -ldexpf(1, -14));
  CHECK(bad[0] == 0 && bad[1] == 0 && bad[2] == 1);
  CHECK(em_tensor_data(&t[3])[0] == 1.0f && em_tensor_data(&t[3])[1] == -20.0f);
  CHECK(t[4].ndim == 0 && em_tensor_nelement(&t[4]) == 1 && em_tensor_data(&t[4])[0] == -3.0f);
  CHECK(em_tensor_data(&t[5])[0] == -0.125f);
  CHECK(em_tensor_data(&t[6])[0] == 0.0f && em_tensor_data(&t[6])[1] == 255.0f);
  CHECK(em_tensor_data(&t[7])[0] == 0.0f && em_tensor_data(&t[7])[1] == 1.0f);
  CHECK(em_tensor_data(&t[8])[0] == -300.0f);
  CHECK(em_tensor_data(&t[9])[0] == 1.0f);
  CHECK(em_tensor_data(&t[10])[0] == 1.0f && isnan(em_tensor_data(&t[10])[1]) && bad[10] == 1);
  /* the mapping is private: writing a view leaves the file alone */
  em_tensor_data(&t[0])[0] = 42.0f;
  {
    em_st_mapping *m2 = NULL;
    CHECK_OK(em_st_map(path, &m2, &e_));
    if (m2) {
      float v;
      memcpy(&v, m2->data, 4);
      CHECK(v == 1.5f);
      em_st_release(m2);
    }
  }
  for (int i = 0; i < 11; i++) em_tensor_free(&t[i]);
  unlink(path);
}

/* every E4M3 value against the reference (bias 7, no inf, only S.1111.111 NaN) */
static void test_e4m3_all(void) {
  unsigned char file[8 + 8 + 256];
  unsigned char data[256];
  int64_t s[1] = {256};
  em_st_entry e = entry("all", EM_ST_F8_E4M3, 1, s, 0, 256);
  em_st_mapping *m = NULL;
  em_tensor t;
  const char *path;
  int bad = 0;
  for (int i = 0; i < 256; i++) data[i] = (unsigned char)i;
  path = tmpfile_with(file, image(file, "{}", 8, data, 256));
  CHECK_OK(em_st_map(path, &m, &e_));
  if (!m) return;
  em_tensor_init(&t);
  CHECK_OK(em_st_tensor(&t, m, &e, NULL, &e_));
  for (int i = 0; i < 256; i++) {
    float ref = (i & 0x7f) == 0x7f ? NAN : ref_minifloat((uint32_t)i, 4, 3);
    if ((i & 0x78) == 0x78 && (i & 7) != 7)   /* top exponent is finite in E4M3 */
      ref = (i & 0x80 ? -1.0f : 1.0f) * (float)ldexp(1.0 + (i & 7) / 8.0, 8);
    if (!same_float(em_tensor_data(&t)[i], ref)) bad++;
  }
  CHECK(bad == 0);
  CHECK(em_tensor_data(&t)[0x7e] == 448.0f);
  em_tensor_free(&t);
  em_st_release(m);
  unlink(path);
}

/* ---------------------------------------------------------- bad files */

static void expect_map_error(const void *bytes, size_t n, em_status code, const char *frag) {
  em_st_mapping *m = (em_st_mapping *)1;
  em_err err;
  const char *path = tmpfile_with(bytes, n);
  err.msg[0] = 0;
  CHECK(em_st_map(path, &m, &err) == code);
  CHECK(m == NULL);
  if (!msg_has(&err, frag)) {
    fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, frag);
    test_cur_failed = 1;
  }
  unlink(path);
}

static void test_bad_files(void) {
  unsigned char buf[64];
  em_st_mapping *m = (em_st_mapping *)1;
  em_err err;
  expect_map_error("", 0, EM_EFORMAT, "file is 0 bytes, too short");
  expect_map_error("\x05\0\0", 3, EM_EFORMAT, "file is 3 bytes");
  /* length 100 with 10 bytes of header present */
  image(buf, "{\"a\":1}   ", 0, NULL, 0);
  put_le(buf, 100, 8);
  expect_map_error(buf, 18, EM_EFORMAT, "header length 100 runs past the end of the file (18 bytes)");
  put_le(buf, 100000000, 8);
  expect_map_error(buf, 18, EM_EFORMAT, "over the limit");
  put_le(buf, UINT64_MAX, 8);
  expect_map_error(buf, 18, EM_EFORMAT, "over the limit");
  /* a header exactly filling the file is fine (no data) */
  put_le(buf, 10, 8);
  {
    const char *path = tmpfile_with(buf, 18);
    m = NULL;
    CHECK_OK(em_st_map(path, &m, &e_));
    if (m) {
      CHECK(m->data_len == 0 && m->header_len == 10);
      em_st_release(m);
    }
    unlink(path);
  }
  m = (em_st_mapping *)1;
  CHECK(em_st_map("/nonexistent/w.safetensors", &m, &err) == EM_EIO && m == NULL);
  CHECK(msg_has(&err, "cannot open"));
  CHECK(em_st_map("/tmp", &m, &err) == EM_EIO && msg_has(&err, "not a regular file"));
}

static void expect_check_error(const em_st_entry *e, int n, size_t len, const char *frag) {
  em_err err;
  err.msg[0] = 0;
  CHECK(em_st_check(e, n, len, &err) == EM_EFORMAT);
  if (!msg_has(&err, frag)) {
    fprintf(stderr, "  message '%s' lacks '%s'\n", err.msg, frag);
    test_cur_failed = 1;
  }
}

static void test_bad_entries(void) {
  int64_t s25[1] = {25}, s4[1] = {4}, s22[2] = {2, 2}, neg[2] = {2, -1};
  int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  int64_t huge[3] = {INT64_MAX, INT64_MAX, 2}, zero[2] = {0, 5};
  em_st_entry e[3];
  e[0] = entry("conv1.weight", EM_ST_F32, 1, s25, 0, 100);
  expect_check_error(e, 1, 64,
      "tensor 'conv1.weight': data_offsets [0, 100] run past the end of the data (64 bytes)");
  e[0] = entry("w", EM_ST_F32, 1, s4, 0, 12);
  expect_check_error(e, 1, 64, "tensor 'w': data_offsets [0, 12] hold 12 bytes, but 4 F32 values need 16");
  e[0] = entry("w", EM_ST_F16, 2, s22, 16, 8);
  expect_check_error(e, 1, 64, "tensor 'w': data_offsets [16, 8] end before they begin");
  e[0] = entry("w", EM_ST_F32, 2, neg, 0, 0);
  expect_check_error(e, 1, 64, "tensor 'w': size -1 at dimension 2 is negative");
  e[0] = entry("w", EM_ST_F32, 0, NULL, 0, 4);
  e[0].ndim = 9;
  memcpy(e[0].shape, nine, sizeof e[0].shape);   /* only 8 fit; ndim is what counts */
  expect_check_error(e, 1, 64, "shape has 9 dimensions, at most 8");
  e[0] = entry("w", EM_ST_F32, 3, huge, 0, 0);
  expect_check_error(e, 1, 64, "too many elements");
  e[0] = entry("w", EM_ST_UNKNOWN, 1, s4, 0, 4);
  expect_check_error(e, 1, 64, "tensor 'w': unknown dtype");
  /* far offsets (near 2^64) do not wrap around */
  e[0] = entry("w", EM_ST_F32, 1, s4, UINT64_MAX - 8, UINT64_MAX + 8);
  expect_check_error(e, 1, 64, "end before they begin");
  e[0] = entry("w", EM_ST_F32, 1, s4, UINT64_MAX - 15, UINT64_MAX);
  expect_check_error(e, 1, 64, "run past the end");
  /* overlaps: partial, contained, identical; reported in file order */
  e[0] = entry("b", EM_ST_F32, 1, s4, 8, 24);
  e[1] = entry("a", EM_ST_F32, 1, s4, 0, 16);
  expect_check_error(e, 2, 64, "tensors 'a' and 'b' overlap: data_offsets [0, 16] and [8, 24]");
  e[0] = entry("a", EM_ST_F32, 1, s4, 0, 16);
  e[1] = entry("b", EM_ST_F16, 1, s4, 4, 12);
  e[2] = entry("c", EM_ST_F32, 1, s4, 32, 48);
  expect_check_error(e, 3, 64, "tensors 'a' and 'b' overlap");
  e[1] = entry("b", EM_ST_F32, 1, s4, 0, 16);
  expect_check_error(e, 3, 64, "overlap");
  /* touching ranges, gaps, empty tensors anywhere: all fine */
  e[0] = entry("a", EM_ST_F32, 1, s4, 0, 16);
  e[1] = entry("b", EM_ST_F32, 1, s4, 16, 32);
  e[2] = entry("empty", EM_ST_F32, 2, zero, 8, 8);
  CHECK_OK(em_st_check(e, 3, 64, &e_));
  e[1] = entry("b", EM_ST_F32, 1, s4, 40, 56);
  CHECK_OK(em_st_check(e, 3, 56, &e_));
  CHECK_OK(em_st_check(e, 0, 0, &e_));
  {
    em_err err;
    CHECK(em_st_check(e, -1, 0, &err) == EM_EARG);
  }
}

/* em_st_tensor refuses an entry that was not checked rather than read past the end */
static void test_tensor_unchecked(void) {
  unsigned char file[64];
  int64_t s4[1] = {4};
  em_st_entry e = entry("w", EM_ST_F32, 1, s4, 0, 16);
  em_st_mapping *m = NULL;
  em_tensor t;
  em_err err;
  const char *path = tmpfile_with(file, image(file, "{}", 8, "12345678", 8));
  CHECK_OK(em_st_map(path, &m, &e_));
  if (!m) return;
  em_tensor_init(&t);
  CHECK(em_st_tensor(&t, m, &e, NULL, &err) == EM_EFORMAT);
  CHECK(t.storage == NULL && m->refcount == 1);
  em_st_release(m);
  unlink(path);
}

/* ------------------------------------------------------------------ save */

static void test_save_roundtrip(void) {
  em_tensor a, at, b, empty, back;
  int64_t s[2] = {3, 5}, s1[1] = {3};
  em_st_mapping *m = NULL;
  const char *path = tmpfile_with("", 0);
  /* header lists the transposed a (5x3) at 0, b at 60, an empty one at 72 */
  const char *header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[5,3],\"data_offsets\":[0,60]},"
                       "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[60,72]}}";
  const em_tensor *list[3];
  em_tensor_init(&a); em_tensor_init(&at); em_tensor_init(&b);
  em_tensor_init(&empty); em_tensor_init(&back);
  CHECK_OK(em_tensor_new(&a, 2, s, &e_));
  CHECK_OK(em_tensor_new(&b, 1, s1, &e_));
  for (int i = 0; i < 15; i++) em_tensor_data(&a)[i] = (float)i * 0.5f - 3.0f;
  for (int i = 0; i < 3; i++) em_tensor_data(&b)[i] = (float)(i + 100);
  CHECK_OK(em_tensor_transpose(&at, &a, 0, 1, &e_));
  list[0] = &at; list[1] = &b; list[2] = &empty;
  CHECK_OK(em_st_save(path, header, strlen(header), list, 3, &e_));
  CHECK_OK(em_st_map(path, &m, &e_));
  if (m) {
    int64_t s53[2] = {5, 3};
    em_st_entry e = entry("a", EM_ST_F32, 2, s53, 0, 60);
    CHECK(m->header_len % 8 == 0 && m->header_len >= strlen(header));
    CHECK(memcmp(m->header, header, strlen(header)) == 0);
    for (size_t i = strlen(header); i < m->header_len; i++) CHECK(m->header[i] == ' ');
    CHECK(m->data_len == 72);
    CHECK_OK(em_st_tensor(&back, m, &e, NULL, &e_));
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 3; j++)
        CHECK(em_tensor_data(&back)[i * 3 + j] == em_tensor_data(&a)[j * 5 + i]);
    {
      float v;
      memcpy(&v, m->data + 64, 4);
      CHECK(v == 101.0f);
    }
    em_st_release(m);
  }
  {
    em_err err;
    CHECK(em_st_save("/nonexistent/dir/x.safetensors", "{}", 2, list, 0, &err) == EM_EIO);
    CHECK(msg_has(&err, "cannot create"));
  }
  em_tensor_free(&a); em_tensor_free(&at); em_tensor_free(&b);
  em_tensor_free(&empty); em_tensor_free(&back);
  unlink(path);
}

int main(void) {
  TEST_RUN(test_half_all);
  TEST_RUN(test_bf16_all);
  TEST_RUN(test_dtype_names);
  TEST_RUN(test_load_dtypes);
  TEST_RUN(test_e4m3_all);
  TEST_RUN(test_bad_files);
  TEST_RUN(test_bad_entries);
  TEST_RUN(test_tensor_unchecked);
  TEST_RUN(test_save_roundtrip);
  TEST_REPORT();
}
