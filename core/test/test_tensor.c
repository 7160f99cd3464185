/* test_tensor.c -- storage, resize, views (view, narrow, select, transpose,
** permute), contiguous and copy, checked element by element against indices. */

#include <string.h>

#include "test.h"

/* Value stored at logical index (i, j, k, ...) of the test tensors: unique. */
static float code(int nd, const int64_t *idx) {
  float v = 0;
  for (int i = 0; i < nd; i++) v = v * 10 + (float)idx[i];
  return v;
}

/* A contiguous tensor whose element (i, j, ...) holds code(i, j, ...). */
static void coded(em_tensor *t, int nd, const int64_t *size) {
  int64_t idx[EM_MAXDIM] = {0};
  CHECK_OK(em_tensor_new(t, nd, size, &e_));
  if (em_tensor_nelement(t) == 0) return;
  do *test_at(t, idx) = code(nd, idx); while (test_next_index(idx, nd, size));
}

static void test_new_free(void) {
  em_tensor t;
  int64_t s[3] = {2, 3, 4};
  em_tensor_init(&t);
  CHECK(t.storage == NULL && em_tensor_nelement(&t) == 0 && em_tensor_data(&t) == NULL);
  CHECK_OK(em_tensor_new(&t, 3, s, &e_));
  CHECK(em_tensor_nelement(&t) == 24);
  CHECK(t.stride[0] == 12 && t.stride[1] == 4 && t.stride[2] == 1);
  CHECK(((uintptr_t)em_tensor_data(&t)) % EM_ALIGN == 0);
  CHECK(em_tensor_is_contiguous(&t));
  CHECK(t.storage->refcount == 1);
  CHECK_OK(em_tensor_new(&t, 0, s, &e_));   /* a scalar: one element */
  CHECK(em_tensor_nelement(&t) == 1 && t.ndim == 0);
  em_tensor_free(&t);
  CHECK(t.storage == NULL && t.ndim == 0);
  em_tensor_free(&t);   /* freeing twice is harmless */
}

static void test_new_errors(void) {
  em_tensor t;
  int64_t neg[2] = {2, -3}, huge[3] = {INT64_C(1) << 30, INT64_C(1) << 30, INT64_C(1) << 30};
  char buf[64];
  em_err err;
  em_tensor_init(&t);
  CHECK(em_tensor_new(&t, 2, neg, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "size -3 at dimension 2 is negative") == 0);
  CHECK(em_tensor_new(&t, EM_MAXDIM + 1, neg, &err) == EM_EARG);
  CHECK(strstr(err.msg, "0 to 8 dimensions, got 9") != NULL);
  CHECK(em_tensor_new(&t, 3, huge, &err) == EM_ENOMEM);
  CHECK(em_tensor_resize(&t, -1, neg, &err) == EM_EARG);
  CHECK(t.storage == NULL);
  CHECK(strcmp(em_tensor_shape_str(&t, buf, sizeof buf), "empty") == 0);
}

static void test_resize_reuse(void) {
  em_tensor t, v;
  int64_t s1[2] = {4, 5}, s2[3] = {2, 2, 3}, s3[2] = {10, 10};
  em_storage *first;
  em_tensor_init(&t); em_tensor_init(&v);
  CHECK_OK(em_tensor_resize(&t, 2, s1, &e_));
  first = t.storage;
  CHECK_OK(em_tensor_resize(&t, 3, s2, &e_));   /* smaller: same storage */
  CHECK(t.storage == first && em_tensor_is_contiguous(&t) && t.stride[0] == 6);
  CHECK_OK(em_tensor_resize(&t, 2, s1, &e_));   /* back to the old size: still reused */
  CHECK(t.storage == first);
  CHECK_OK(em_tensor_resize(&t, 2, s3, &e_));   /* larger: new storage */
  CHECK(t.storage->size == 100);
  first = t.storage;
  /* a shared storage is never resized under another tensor's feet */
  em_tensor_set(&v, &t);
  CHECK(t.storage->refcount == 2);
  CHECK_OK(em_tensor_resize(&t, 2, s3, &e_));   /* already that shape: kept */
  CHECK(t.storage == first);
  CHECK_OK(em_tensor_resize(&t, 2, s1, &e_));   /* another shape: fresh storage */
  CHECK(t.storage != first && v.storage == first && first->refcount == 1);
  CHECK_OK(em_tensor_resize_as(&v, &t, &e_));
  CHECK(em_tensor_same_size(&v, &t) && v.storage == first);
  em_tensor_free(&t); em_tensor_free(&v);
}

static void test_view(void) {
  em_tensor t, v, tr;
  int64_t s[2] = {3, 4}, s2[3] = {2, -1, 3}, bad[2] = {5, 2}, two[2] = {-1, -1}, neg[1] = {-2};
  em_err err;
  em_tensor_init(&t); em_tensor_init(&v); em_tensor_init(&tr);
  coded(&t, 2, s);
  CHECK_OK(em_tensor_view(&v, &t, 3, s2, &e_));
  CHECK(v.ndim == 3 && v.size[1] == 2 && v.storage == t.storage && t.storage->refcount == 2);
  {
    int64_t idx[3] = {1, 1, 2};   /* flat 11 = row 2, col 3 of t */
    CHECK(*test_at(&v, idx) == 23.0f);
  }
  CHECK(em_tensor_view(&v, &t, 2, bad, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "12 elements (3x4) cannot be viewed as 10") == 0);
  CHECK(em_tensor_view(&v, &t, 2, two, &err) == EM_EARG);
  CHECK(em_tensor_view(&v, &t, 1, neg, &err) == EM_EARG);
  CHECK_OK(em_tensor_transpose(&tr, &t, 0, 1, &e_));
  CHECK(em_tensor_view(&v, &tr, 3, s2, &err) == EM_ESHAPE);
  CHECK(strstr(err.msg, "contiguous") != NULL);
  em_tensor_free(&v);
  CHECK(em_tensor_view(&v, &v, 1, neg, &err) == EM_EARG);
  em_tensor_free(&t); em_tensor_free(&v); em_tensor_free(&tr);
}

static void test_narrow_select(void) {
  em_tensor t, n, s, s2;
  int64_t size[3] = {3, 4, 5}, idx[3] = {0};
  em_err err;
  em_tensor_init(&t); em_tensor_init(&n); em_tensor_init(&s); em_tensor_init(&s2);
  coded(&t, 3, size);
  CHECK_OK(em_tensor_narrow(&n, &t, 1, 1, 2, &e_));
  CHECK(n.size[1] == 2 && !em_tensor_is_contiguous(&n));
  do {
    int64_t j[3] = {idx[0], idx[1] + 1, idx[2]};
    CHECK(*test_at(&n, idx) == code(3, j));
  } while (test_next_index(idx, 3, n.size));
  CHECK_OK(em_tensor_narrow(&n, &n, 2, 4, 1, &e_));   /* dst == src */
  CHECK(n.size[2] == 1 && *em_tensor_data(&n) == code(3, (int64_t[]){0, 1, 4}));
  CHECK_OK(em_tensor_narrow(&n, &t, 0, 3, 0, &e_));   /* empty at the end is fine */
  CHECK(em_tensor_nelement(&n) == 0 && em_tensor_is_contiguous(&n));
  CHECK_OK(em_tensor_view(&n, &n, 1, (int64_t[]){0}, &e_));   /* empty views are fine */
  CHECK(em_tensor_narrow(&n, &t, 1, 3, 2, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "narrow(2, 4, 2) out of range: dimension 2 has size 4") == 0);
  CHECK(em_tensor_narrow(&n, &t, 3, 0, 1, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "dimension 4 out of range for a 3-dimensional tensor") == 0);
  CHECK(em_tensor_narrow(&n, &t, 0, -1, 1, &err) == EM_EARG);
  CHECK_OK(em_tensor_select(&s, &t, 2, 3, &e_));
  CHECK(s.ndim == 2 && s.size[0] == 3 && s.size[1] == 4 && s.stride[1] == 5);
  memset(idx, 0, sizeof idx);
  do {
    int64_t j[3] = {idx[0], idx[1], 3};
    CHECK(*test_at(&s, idx) == code(3, j));
  } while (test_next_index(idx, 2, s.size));
  CHECK_OK(em_tensor_select(&s2, &s, 0, 2, &e_));
  CHECK_OK(em_tensor_select(&s2, &s2, 0, 1, &e_));   /* down to a scalar */
  CHECK(s2.ndim == 0 && em_tensor_nelement(&s2) == 1 && *em_tensor_data(&s2) == 213.0f);
  CHECK(em_tensor_select(&s, &t, 0, 3, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "index 4 out of range: dimension 1 has size 3") == 0);
  CHECK(em_tensor_select(&s, &s2, 0, 0, &err) == EM_EARG);
  em_tensor_free(&t); em_tensor_free(&n); em_tensor_free(&s); em_tensor_free(&s2);
}

static void test_transpose_permute(void) {
  em_tensor t, tr, p;
  int64_t size[4] = {2, 3, 4, 5}, idx[4] = {0};
  int perm[4] = {2, 0, 3, 1}, bad[4] = {0, 1, 1, 2}, oob[4] = {0, 1, 2, 4};
  em_err err;
  em_tensor_init(&t); em_tensor_init(&tr); em_tensor_init(&p);
  coded(&t, 4, size);
  CHECK_OK(em_tensor_transpose(&tr, &t, 1, 3, &e_));
  CHECK(tr.size[1] == 5 && tr.size[3] == 3 && !em_tensor_is_contiguous(&tr));
  do {
    int64_t j[4] = {idx[0], idx[3], idx[2], idx[1]};
    CHECK(*test_at(&tr, idx) == code(4, j));
  } while (test_next_index(idx, 4, tr.size));
  CHECK_OK(em_tensor_transpose(&tr, &tr, 1, 3, &e_));   /* back */
  CHECK(em_tensor_is_contiguous(&tr) && em_tensor_same_size(&tr, &t));
  CHECK_OK(em_tensor_transpose(&tr, &t, 2, 2, &e_));
  CHECK(em_tensor_is_contiguous(&tr));
  CHECK(em_tensor_transpose(&tr, &t, 0, 4, &err) == EM_EARG);
  CHECK_OK(em_tensor_permute(&p, &t, perm, &e_));
  CHECK(p.size[0] == 4 && p.size[1] == 2 && p.size[2] == 5 && p.size[3] == 3);
  memset(idx, 0, sizeof idx);
  do {
    int64_t j[4];
    for (int d = 0; d < 4; d++) j[perm[d]] = idx[d];
    CHECK(*test_at(&p, idx) == code(4, j));
  } while (test_next_index(idx, 4, p.size));
  CHECK(em_tensor_permute(&p, &t, bad, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "permute: not a permutation of 1..4") == 0);
  CHECK(em_tensor_permute(&p, &t, oob, &err) == EM_EARG);
  em_tensor_free(&t); em_tensor_free(&tr); em_tensor_free(&p);
}

static void test_contiguous_copy(void) {
  em_tensor t, tr, c, d, n;
  int64_t size[3] = {3, 4, 5}, idx[3] = {0}, s60[1] = {60}, s7[1] = {7};
  int perm[3] = {2, 0, 1};
  em_err err;
  em_tensor_init(&t); em_tensor_init(&tr); em_tensor_init(&c); em_tensor_init(&d);
  em_tensor_init(&n);
  coded(&t, 3, size);
  CHECK_OK(em_tensor_contiguous(&c, &t, &e_));   /* already contiguous: a view */
  CHECK(c.storage == t.storage);
  CHECK_OK(em_tensor_permute(&tr, &t, perm, &e_));
  CHECK_OK(em_tensor_contiguous(&c, &tr, &e_));
  CHECK(c.storage != t.storage && em_tensor_is_contiguous(&c) && em_tensor_same_size(&c, &tr));
  do CHECK(*test_at(&c, idx) == *test_at(&tr, idx)); while (test_next_index(idx, 3, c.size));
  /* copy walks both in logical order: a strided source into a flat vector */
  CHECK_OK(em_tensor_new(&d, 1, s60, &e_));
  CHECK_OK(em_tensor_copy(&d, &tr, &e_));
  for (int64_t k = 0; k < 60; k++) CHECK(em_tensor_data(&d)[k] == em_tensor_data(&c)[k]);
  /* and into a strided destination */
  CHECK_OK(em_tensor_zero(&t, &e_));
  CHECK_OK(em_tensor_copy(&tr, &c, &e_));
  memset(idx, 0, sizeof idx);
  do CHECK(*test_at(&t, idx) == code(3, idx)); while (test_next_index(idx, 3, size));
  /* fill through a narrowed view touches only the view */
  CHECK_OK(em_tensor_narrow(&n, &t, 2, 1, 2, &e_));
  CHECK_OK(em_tensor_fill(&n, -1.0f, &e_));
  memset(idx, 0, sizeof idx);
  do CHECK(*test_at(&t, idx) == (idx[2] == 1 || idx[2] == 2 ? -1.0f : code(3, idx)));
  while (test_next_index(idx, 3, size));
  CHECK_OK(em_tensor_new(&d, 1, s7, &e_));
  CHECK(em_tensor_copy(&d, &t, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "copy: source has 60 elements (3x4x5), destination 7 (7)") == 0);
  em_tensor_free(&t); em_tensor_free(&tr); em_tensor_free(&c); em_tensor_free(&d);
  em_tensor_free(&n);
}

static int released;
static void count_release(void *owner) { released += *(int *)owner; }

/* Wrapped memory (e.g. a mapped file) goes back through its release hook,
** once, when the last view lets go. */
static void test_refcount_and_wrap(void) {
  static float buf[6] = {1, 2, 3, 4, 5, 6};
  int one = 1;
  em_tensor a, b;
  em_storage *s;
  em_tensor_init(&a); em_tensor_init(&b);
  released = 0;
  s = em_storage_wrap(buf, 6, count_release, &one);
  CHECK(s != NULL);
  a.storage = s;
  a.ndim = 2; a.size[0] = 2; a.size[1] = 3; a.stride[0] = 3; a.stride[1] = 1;
  em_tensor_set(&b, &a);
  CHECK(s->refcount == 2);
  em_tensor_set(&b, &b);   /* self: no change */
  CHECK(s->refcount == 2);
  em_tensor_free(&a);
  CHECK(released == 0 && s->refcount == 1 && em_tensor_data(&b)[5] == 6.0f);
  /* resize never writes into external memory: it gets its own storage */
  em_tensor_set(&a, &b);
  em_tensor_free(&b);
  CHECK_OK(em_tensor_resize(&a, 1, (int64_t[]){4}, &e_));
  CHECK(released == 1 && a.storage != s && buf[0] == 1.0f);
  em_tensor_free(&a);
  CHECK(released == 1);
}

int main(void) {
  TEST_RUN(test_new_free);
  TEST_RUN(test_new_errors);
  TEST_RUN(test_resize_reuse);
  TEST_RUN(test_view);
  TEST_RUN(test_narrow_select);
  TEST_RUN(test_transpose_permute);
  TEST_RUN(test_contiguous_copy);
  TEST_RUN(test_refcount_and_wrap);
  TEST_REPORT();
}
