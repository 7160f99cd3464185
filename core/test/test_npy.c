/* test_npy.c -- tests of npy.c: round trips, every dtype and order, and
** malformed headers built byte by byte (each must fail cleanly, naming the file). */

#include <stdio.h>
#include <string.h>

#include "test.h"

/* Builds a .npy image: preamble of `version`, dict padded to 64, then data. */
static size_t make_npy(unsigned char *out, int version, const char *dict,
                       const void *data, size_t nbytes) {
  size_t pre = version == 1 ? 10 : 12, n = strlen(dict), hlen = n + 1;
  while ((pre + hlen) % 64) hlen++;
  memcpy(out, "\x93NUMPY", 6);
  out[6] = (unsigned char)version;
  out[7] = 0;
  out[8] = (unsigned char)(hlen & 0xff);
  out[9] = (unsigned char)(hlen >> 8);
  if (version > 1) out[10] = out[11] = 0;
  memcpy(out + pre, dict, n);
  memset(out + pre + n, ' ', hlen - n - 1);
  out[pre + hlen - 1] = '\n';
  if (nbytes) memcpy(out + pre + hlen, data, nbytes);
  return pre + hlen + nbytes;
}

static unsigned char img[1 << 14];

static void test_roundtrip_file(void) {
  em_tensor a, b, v;
  int64_t sz[3] = {2, 3, 5};
  const char *path = "build/test/npy_roundtrip.npy";
  em_tensor_init(&a); em_tensor_init(&b); em_tensor_init(&v);
  CHECK_OK(em_tensor_new(&a, 3, sz, &e_));
  for (int i = 0; i < 30; i++) em_tensor_data(&a)[i] = (float)i * 0.5f - 3.25f;
  CHECK_OK(em_npy_save(&a, path, &e_));
  CHECK_OK(em_npy_load(&b, path, &e_));
  CHECK(em_tensor_same_size(&a, &b));
  CHECK(test_maxdiff(em_tensor_data(&a), em_tensor_data(&b), 30) == 0);
  /* a transposed view is written in its logical order */
  CHECK_OK(em_tensor_transpose(&v, &a, 0, 2, &e_));
  CHECK_OK(em_npy_save(&v, path, &e_));
  CHECK_OK(em_npy_load(&b, path, &e_));
  CHECK(b.ndim == 3 && b.size[0] == 5 && b.size[1] == 3 && b.size[2] == 2);
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 3; j++)
      for (int k = 0; k < 2; k++)
        CHECK(em_tensor_data(&b)[i * 6 + j * 2 + k] == em_tensor_data(&a)[k * 15 + j * 5 + i]);
  /* the header is padded to 64 bytes and ends in a newline */
  {
    FILE *f = fopen(path, "rb");
    unsigned char h[128];
    CHECK(f && fread(h, 1, 128, f) == 128);
    if (f) fclose(f);
    CHECK(h[6] == 1 && h[7] == 0 && h[9] == 0 && h[8] + 10 == 128 && h[127] == '\n');
  }
  remove(path);
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&v);
}

static void test_dtypes(void) {
  em_tensor t;
  em_err err;
  double f8[3] = {1.5, -2.25, 1e10};
  int64_t i8[3] = {-7, 0, 123456};
  int32_t i4[3] = {-1, 2, 2147483647};
  int16_t i2[3] = {-300, 5, 7};
  unsigned char u1[3] = {0, 200, 255}, b1[3] = {1, 0, 1};
  signed char i1[3] = {-128, 0, 127};
  uint16_t f2[3] = {0x3c00, 0xc000, 0x3555};   /* 1, -2, 0.333251953125 */
  struct { const char *descr; const void *data; size_t bytes; float want[3]; } cases[] = {
    {"<f8", f8, sizeof f8, {1.5f, -2.25f, 1e10f}},
    {"<i8", i8, sizeof i8, {-7, 0, 123456}},
    {"<i4", i4, sizeof i4, {-1, 2, 2147483647.0f}},
    {"<i2", i2, sizeof i2, {-300, 5, 7}},
    {"|u1", u1, 3, {0, 200, 255}}, {"<u1", u1, 3, {0, 200, 255}},
    {"|b1", b1, 3, {1, 0, 1}}, {"|i1", i1, 3, {-128, 0, 127}},
    {"<f2", f2, sizeof f2, {1, -2, 0.333251953125f}},
  };
  em_tensor_init(&t);
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    char dict[128];
    size_t n;
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (3,), }",
             cases[c].descr);
    n = make_npy(img, 1, dict, cases[c].data, cases[c].bytes);
    if (em_npy_load_mem(&t, img, n, cases[c].descr, &err) != EM_OK) {
      fprintf(stderr, "  %s: %s\n", cases[c].descr, err.msg);
      CHECK(0);
      continue;
    }
    CHECK(t.ndim == 1 && t.size[0] == 3);
    CHECK(test_maxdiff(em_tensor_data(&t), cases[c].want, 3) == 0);
  }
  em_tensor_free(&t);
}

static void test_fortran_and_versions(void) {
  em_tensor t;
  float d[6] = {0, 3, 1, 4, 2, 5};   /* column-major 2x3 of 0..5 */
  size_t n;
  em_tensor_init(&t);
  for (int v = 1; v <= 3; v++) {
    n = make_npy(img, v, "{\"shape\": (2L, 3L), \"fortran_order\": True, \"descr\": \"<f4\"}", d, sizeof d);
    CHECK_OK(em_npy_load_mem(&t, img, n, "f.npy", &e_));
    CHECK(t.ndim == 2 && t.size[0] == 2 && t.size[1] == 3 && em_tensor_is_contiguous(&t));
    for (int i = 0; i < 6; i++) CHECK(em_tensor_data(&t)[i] == (float)i);
  }
  /* scalar and empty shapes */
  n = make_npy(img, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", d + 1, 4);
  CHECK_OK(em_npy_load_mem(&t, img, n, "s.npy", &e_));
  CHECK(t.ndim == 0 && em_tensor_nelement(&t) == 1 && em_tensor_data(&t)[0] == 3);
  n = make_npy(img, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4)}", NULL, 0);
  CHECK_OK(em_npy_load_mem(&t, img, n, "z.npy", &e_));
  CHECK(t.ndim == 2 && t.size[0] == 0 && em_tensor_nelement(&t) == 0);
  n = make_npy(img, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,2,)}", d, 8);
  CHECK_OK(em_npy_load_mem(&t, img, n, "8.npy", &e_));
  CHECK(t.ndim == 8 && t.size[7] == 2);
  em_tensor_free(&t);
}

/* Each malformed image must fail with EM_EFORMAT and a message containing `want`. */
static void expect_bad(const unsigned char *b, size_t n, const char *want) {
  em_tensor t;
  em_err err;
  em_status st;
  em_tensor_init(&t);
  err.msg[0] = 0;
  st = em_npy_load_mem(&t, b, n, "x.npy", &err);
  if (st != EM_EFORMAT || !strstr(err.msg, want) || strncmp(err.msg, "x.npy: ", 7)) {
    fprintf(stderr, "  status %d, message '%s', expected '%s'\n", (int)st, err.msg, want);
    test_cur_failed = 1;
  }
  CHECK(t.storage == NULL);
  em_tensor_free(&t);
}

static void test_malformed(void) {
  float d[6] = {0};
  size_t n;
  const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expect_bad(img, 0, "empty file");
  expect_bad((const unsigned char *)"\x93NUM", 4, "truncated");
  expect_bad((const unsigned char *)"PK\x03\x04 zip file", 14, "bad magic");
  n = make_npy(img, 1, ok, d, 24);
  expect_bad(img, 9, "truncated");
  expect_bad(img, 40, "truncated: header length is 118 bytes but 30 bytes follow");
  expect_bad(img, n - 14, "truncated: header says 2x3 float32 (24 bytes) but 10 bytes follow");
  memcpy(img + n, "xx", 2);
  expect_bad(img, n + 2, "trailing data: header says 2x3 float32 (24 bytes) but 26 bytes follow");
  img[6] = 4;
  expect_bad(img, n, "unsupported .npy version 4.0");
  img[6] = 1; img[8] = 0xff; img[9] = 0xff;
  expect_bad(img, n, "truncated: header length is 65535");

#define BAD_DICT(dict, want) do { n = make_npy(img, 1, dict, d, 24); expect_bad(img, n, want); } while (0)
  BAD_DICT("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3)}", "unsupported dtype '>f4'");
  BAD_DICT("{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3)}", "unsupported dtype '<c8'");
  BAD_DICT("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}", "structured");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'");
  BAD_DICT("{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}", "fortran_order");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "negative size");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "trailing comma");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", "unexpected or repeated key 'x'");
  BAD_DICT("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", "repeated key 'descr'");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} junk", "trailing characters");
  BAD_DICT("{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", "expected ',' or '}'");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3", "expected ',' or ')'");
  BAD_DICT("{'descr: '<f4'", "bad header");
  BAD_DICT("", "expected '{'");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", "more than 8 dimensions");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", "too large");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", "shape too large");
  BAD_DICT("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000)}",
           "truncated: header says 100000x100000 float32 (40000000000 bytes) but 24 bytes follow");
#undef BAD_DICT
}

static void test_file_errors(void) {
  em_tensor t;
  em_err err;
  const char *path = "build/test/npy_empty.npy";
  FILE *f;
  em_tensor_init(&t);
  CHECK(em_npy_load(&t, "build/test/no_such.npy", &err) == EM_EIO);
  CHECK(strstr(err.msg, "build/test/no_such.npy: cannot open") != NULL);
  CHECK(em_npy_load(&t, "build/test", &err) == EM_EIO);
  f = fopen(path, "wb");
  if (f) fclose(f);
  CHECK(em_npy_load(&t, path, &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "npy_empty.npy: empty file") != NULL);
  /* a truncated file on disk: same message as in memory */
  f = fopen(path, "wb");
  if (f) {
    float d[6] = {0};
    size_t n = make_npy(img, 2, "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }", d, 20);
    fwrite(img, 1, n, f);
    fclose(f);
  }
  CHECK(em_npy_load(&t, path, &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "truncated: header says 2x3 float64 (48 bytes) but 20 bytes follow") != NULL);
  CHECK(t.storage == NULL);
  CHECK(em_npy_save(&t, "build/no/such/dir/x.npy", &err) == EM_EIO);
  CHECK(strstr(err.msg, "cannot create") != NULL);
  remove(path);
  em_tensor_free(&t);
}

int main(void) {
  TEST_RUN(test_roundtrip_file);
  TEST_RUN(test_dtypes);
  TEST_RUN(test_fortran_and_versions);
  TEST_RUN(test_malformed);
  TEST_RUN(test_file_errors);
  TEST_REPORT();
}
