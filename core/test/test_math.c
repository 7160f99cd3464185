/* test_math.c -- broadcasting arithmetic, reductions, top-k, softmax and the
** random generator, each against a naive loop written here. */

#include <string.h>

#include "test.h"

/* ------------------------------------------------------------ test data */

static uint64_t lcg = 12345;   /* the test's own generator, independent of em_rng */
static int irand(int n) {
  lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
  return (int)((lcg >> 33) % (uint64_t)n);
}
static float frand(void) { return (float)irand(20001) / 10000.0f - 1.0f; }

static int64_t count(int nd, const int64_t *size) {
  int64_t n = 1;
  for (int i = 0; i < nd; i++) n *= size[i];
  return n;
}

static void fill_random(em_tensor *t) {
  int64_t idx[EM_MAXDIM] = {0};
  if (em_tensor_nelement(t) == 0) return;
  do *test_at(t, idx) = frand(); while (test_next_index(idx, t->ndim, t->size));
}

/* A tensor of these sizes with random contents, laid out in one of three ways
** (kind 0: contiguous; 1: transposed view; 2: narrowed view of a larger tensor);
** the view lands in *t, which owns a reference to the storage. */
static void make_tensor(em_tensor *t, int nd, const int64_t *size, int kind) {
  em_tensor base;
  int64_t big[EM_MAXDIM];
  em_tensor_init(&base);
  if (kind == 1 && nd >= 2) {
    memcpy(big, size, sizeof(int64_t) * nd);
    big[0] = size[nd - 1];
    big[nd - 1] = size[0];
    CHECK_OK(em_tensor_new(&base, nd, big, &e_));
    CHECK_OK(em_tensor_transpose(t, &base, 0, nd - 1, &e_));
  } else if (kind == 2 && nd >= 1) {
    memcpy(big, size, sizeof(int64_t) * nd);
    for (int i = 0; i < nd; i++) big[i] += 2;
    CHECK_OK(em_tensor_new(&base, nd, big, &e_));
    em_tensor_set(t, &base);
    for (int i = 0; i < nd; i++) CHECK_OK(em_tensor_narrow(t, t, i, 1, size[i], &e_));
  } else {
    CHECK_OK(em_tensor_new(t, nd, size, &e_));
  }
  em_tensor_free(&base);
  fill_random(t);
}

/* ----------------------------------------------------------- elementwise */

static float apply(em_binop op, float x, float y) {
  switch (op) {
    case EM_ADD: return x + y;
    case EM_SUB: return x - y;
    case EM_MUL: return x * y;
    default: return x / y;
  }
}

/* Element of t seen as broadcast to an nd-dim index. */
static float bcast_at(const em_tensor *t, int nd, const int64_t *idx) {
  int64_t j[EM_MAXDIM];
  int off = nd - t->ndim;
  for (int i = 0; i < t->ndim; i++) j[i] = t->size[i] == 1 ? 0 : idx[i + off];
  return *test_at(t, j);
}

static double naive_binop_diff(const em_tensor *out, const em_tensor *a, const em_tensor *b,
                               em_binop op) {
  int64_t idx[EM_MAXDIM] = {0};
  double m = 0;
  if (em_tensor_nelement(out) == 0) return 0;
  do {
    float want = apply(op, bcast_at(a, out->ndim, idx), bcast_at(b, out->ndim, idx));
    double d = fabs((double)*test_at(out, idx) - want);
    if (!(d <= m)) m = d;
  } while (test_next_index(idx, out->ndim, out->size));
  return m;
}

static void test_binop_broadcast(void) {
  for (int trial = 0; trial < 400; trial++) {
    int nd = irand(5), ndb = irand(nd + 1);
    int64_t so[EM_MAXDIM], sa[EM_MAXDIM], sb[EM_MAXDIM];
    em_binop op = (em_binop)irand(4);
    em_tensor a, b, out;
    for (int i = 0; i < nd; i++) so[i] = 1 + irand(5) + (trial % 7 == 0 ? 40 : 0);
    for (int i = 0; i < nd; i++) sa[i] = irand(3) == 0 ? 1 : so[i];
    for (int i = 0; i < ndb; i++) sb[i] = irand(3) == 0 ? 1 : so[nd - ndb + i];
    em_tensor_init(&a); em_tensor_init(&b); em_tensor_init(&out);
    make_tensor(&a, nd, sa, irand(3));
    make_tensor(&b, ndb, sb, irand(3));
    if (trial & 1) CHECK_OK(em_tensor_binop(&out, &a, &b, op, &e_));
    else CHECK_OK(em_tensor_binop(&out, &b, &a, op, &e_));
    CHECK(out.ndim == nd);
    for (int i = 0; i < nd; i++) CHECK(out.size[i] == (sa[i] == 1 && (i < nd - ndb || sb[i - nd + ndb] == 1) ? 1 : so[i]));
    CHECK(naive_binop_diff(&out, trial & 1 ? &a : &b, trial & 1 ? &b : &a, op) == 0);
    em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&out);
  }
}

/* Max |x - y| of two same-shape tensors, walked by index (NaN counts as inf). */
static double diff_tensors(const em_tensor *x, const em_tensor *y) {
  int64_t idx[EM_MAXDIM] = {0};
  double m = 0;
  if (!em_tensor_same_size(x, y)) return INFINITY;
  if (em_tensor_nelement(x) == 0) return 0;
  do {
    double d = fabs((double)*test_at(x, idx) - (double)*test_at(y, idx));
    if (!(d <= m)) m = d != d ? INFINITY : d;
  } while (test_next_index(idx, x->ndim, x->size));
  return m;
}

static void clone(em_tensor *dst, const em_tensor *src) {
  CHECK_OK(em_tensor_new(dst, src->ndim, src->size, &e_));
  CHECK_OK(em_tensor_copy(dst, src, &e_));
}

/* In place on views: dst == a (strided), dst == b, and overlapping inputs. */
static void test_binop_alias(void) {
  em_tensor a, b, ref, a0, t, v1, v2;
  int64_t s34[2] = {3, 4}, s4[1] = {4}, s13[2] = {1, 3}, s23[2] = {2, 3}, s10[1] = {10};
  em_storage *before;
  em_tensor_init(&a); em_tensor_init(&b); em_tensor_init(&ref); em_tensor_init(&a0);
  em_tensor_init(&t); em_tensor_init(&v1); em_tensor_init(&v2);
  /* a is a transposed view; a -= b (a broadcast row) writes through it */
  make_tensor(&a, 2, s34, 1);
  make_tensor(&b, 1, s4, 2);
  CHECK_OK(em_tensor_binop(&ref, &a, &b, EM_SUB, &e_));
  before = a.storage;
  CHECK_OK(em_tensor_binop(&a, &a, &b, EM_SUB, &e_));
  CHECK(a.storage == before && !em_tensor_is_contiguous(&a));
  CHECK(diff_tensors(&a, &ref) == 0);
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&ref);
  /* dst == b, which has the full shape */
  make_tensor(&a, 1, s4, 0);
  make_tensor(&b, 2, s34, 1);
  CHECK_OK(em_tensor_binop(&ref, &a, &b, EM_DIV, &e_));
  CHECK_OK(em_tensor_binop(&b, &a, &b, EM_DIV, &e_));
  CHECK(diff_tensors(&b, &ref) == 0);
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&ref);
  /* dst == a but the result is larger: a is read as it was */
  make_tensor(&a, 2, s13, 0);
  make_tensor(&b, 2, s23, 2);
  clone(&a0, &a);
  CHECK_OK(em_tensor_binop(&ref, &a0, &b, EM_MUL, &e_));
  CHECK_OK(em_tensor_binop(&a, &a, &b, EM_MUL, &e_));
  CHECK(diff_tensors(&a, &ref) == 0);
  /* overlapping views of one storage: t[0:9] += t[1:10] uses the old t */
  CHECK_OK(em_tensor_new(&t, 1, s10, &e_));
  for (int i = 0; i < 10; i++) em_tensor_data(&t)[i] = (float)(i * i);
  CHECK_OK(em_tensor_narrow(&v1, &t, 0, 0, 9, &e_));
  CHECK_OK(em_tensor_narrow(&v2, &t, 0, 1, 9, &e_));
  CHECK_OK(em_tensor_binop(&v1, &v1, &v2, EM_ADD, &e_));
  for (int i = 0; i < 9; i++) CHECK(em_tensor_data(&t)[i] == (float)(i * i + (i + 1) * (i + 1)));
  CHECK(em_tensor_data(&t)[9] == 81.0f);
  /* and the same for a scalar op writing into an overlapping view */
  CHECK_OK(em_tensor_scalar(&v2, &v1, 1.0f, EM_ADD, &e_));
  CHECK(em_tensor_data(&t)[9] == (float)(64 + 81) + 1.0f);
  CHECK(em_tensor_data(&t)[1] == 1.0f + 1.0f);
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&ref); em_tensor_free(&a0);
  em_tensor_free(&t); em_tensor_free(&v1); em_tensor_free(&v2);
}

static void test_binop_errors(void) {
  em_tensor a, b, out, empty;
  int64_t s23[2] = {2, 3}, s43[2] = {4, 3}, s03[2] = {0, 3}, s3[1] = {3};
  em_err err;
  em_tensor_init(&a); em_tensor_init(&b); em_tensor_init(&out); em_tensor_init(&empty);
  make_tensor(&a, 2, s23, 0);
  make_tensor(&b, 2, s43, 0);
  CHECK(em_tensor_binop(&out, &a, &b, EM_ADD, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "cannot broadcast 2x3 with 4x3") == 0);
  CHECK(out.storage == NULL);
  CHECK(em_tensor_binop(&out, &a, &empty, EM_ADD, &err) == EM_EARG);
  CHECK(strstr(err.msg, "empty") != NULL);
  CHECK(em_tensor_binop(&out, &a, &a, (em_binop)9, &err) == EM_EARG);
  CHECK(em_tensor_binop(NULL, &a, &a, EM_ADD, &err) == EM_EARG);
  CHECK(em_tensor_scalar(&out, &empty, 1, EM_ADD, &err) == EM_EARG);
  CHECK(em_tensor_scalar(&out, &a, 1, (em_binop)-1, &err) == EM_EARG);
  CHECK(em_tensor_unop(&out, &a, (em_unop)7, &err) == EM_EARG);
  CHECK(em_tensor_unop(&out, &empty, EM_EXP, &err) == EM_EARG);
  /* zero-size dims broadcast like any other (0 with 1 gives 0) */
  em_tensor_free(&b);
  make_tensor(&b, 2, s03, 0);
  em_tensor_free(&a);
  make_tensor(&a, 1, s3, 0);
  CHECK_OK(em_tensor_binop(&out, &a, &b, EM_MUL, &e_));
  CHECK(out.ndim == 2 && out.size[0] == 0 && out.size[1] == 3);
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&out);
}

static void test_scalar_unop(void) {
  for (int trial = 0; trial < 200; trial++) {
    int nd = 1 + irand(4);
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor a, a0, out;
    em_binop op = (em_binop)irand(4);
    em_unop u = (em_unop)irand(5);
    float s = frand() + 2.0f;
    double m = 0;
    for (int i = 0; i < nd; i++) size[i] = 1 + irand(6);
    em_tensor_init(&a); em_tensor_init(&a0); em_tensor_init(&out);
    make_tensor(&a, nd, size, irand(3));
    clone(&a0, &a);
    CHECK_OK(em_tensor_scalar(&out, &a, s, op, &e_));
    do m = fmax(m, fabs(*test_at(&out, idx) - apply(op, *test_at(&a0, idx), s)));
    while (test_next_index(idx, nd, size));
    CHECK(m == 0);
    if (u == EM_LOG || u == EM_SQRT) CHECK_OK(em_tensor_unop(&a, &a, EM_ABS, &e_));
    em_tensor_free(&a0);
    clone(&a0, &a);
    CHECK_OK(em_tensor_unop(&a, &a, u, &e_));   /* in place, through the view */
    m = 0;
    do {
      float x = *test_at(&a0, idx), want = u == EM_ABS ? fabsf(x) : u == EM_EXP ? expf(x) :
          u == EM_LOG ? logf(x) : u == EM_SQRT ? sqrtf(x) : -x;
      double d = fabs(*test_at(&a, idx) - want);
      if (!(d <= 1e-6 * fmax(1, fabs(want))) && !(isinf(want) && *test_at(&a, idx) == want)) m = 1;
    } while (test_next_index(idx, nd, size));
    CHECK(m == 0);
    em_tensor_free(&a); em_tensor_free(&a0); em_tensor_free(&out);
  }
}

/* ------------------------------------------------------------ reductions */

static void test_reduce_all(void) {
  for (int trial = 0; trial < 100; trial++) {
    int nd = irand(5);
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    double sum = 0, mx = -INFINITY, mn = INFINITY, r;
    em_tensor a;
    for (int i = 0; i < nd; i++) size[i] = 1 + irand(7);
    em_tensor_init(&a);
    make_tensor(&a, nd, size, irand(3));
    do {
      float x = *test_at(&a, idx);
      sum += x; mx = fmax(mx, x); mn = fmin(mn, x);
    } while (test_next_index(idx, nd, size));
    CHECK_OK(em_tensor_reduce(NULL, NULL, &a, -1, EM_SUM, &r, &e_));
    CHECK_CLOSE(r, sum, 1e-9);
    CHECK_OK(em_tensor_reduce(NULL, NULL, &a, -1, EM_MEAN, &r, &e_));
    CHECK_CLOSE(r, sum / (double)count(nd, size), 1e-9);
    CHECK_OK(em_tensor_reduce(NULL, NULL, &a, -1, EM_MAX, &r, &e_));
    CHECK(r == mx);
    CHECK_OK(em_tensor_reduce(NULL, NULL, &a, -1, EM_MIN, &r, &e_));
    CHECK(r == mn);
    em_tensor_free(&a);
  }
}

static void test_reduce_dim(void) {
  for (int trial = 0; trial < 150; trial++) {
    int nd = 1 + irand(4), dim = irand(nd), kind = irand(3);
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor a, v, ix;
    for (int i = 0; i < nd; i++) size[i] = 1 + irand(6);
    if (trial % 10 == 0) size[nd - 1] = 300 + irand(300);   /* more than one block */
    em_tensor_init(&a); em_tensor_init(&v); em_tensor_init(&ix);
    make_tensor(&a, nd, size, kind);
    if (trial % 3 == 0)   /* ties: values from a small set; the first one wins */
      do *test_at(&a, idx) = (float)irand(3); while (test_next_index(idx, nd, size));
    for (int op = EM_SUM; op <= EM_MIN; op++) {
      double worst = 0;
      int bad_idx = 0;
      CHECK_OK(em_tensor_reduce(&v, &ix, &a, dim, (em_reduce)op, NULL, &e_));
      CHECK(v.ndim == nd && v.size[dim] == 1);
      for (int i = 0; i < nd; i++) CHECK(v.size[i] == (i == dim ? 1 : size[i]));
      memset(idx, 0, sizeof idx);
      do {
        int64_t j[EM_MAXDIM];
        double acc = op == EM_MAX ? -INFINITY : op == EM_MIN ? INFINITY : 0;
        int64_t pos = -1;
        if (idx[dim] != 0) continue;
        memcpy(j, idx, sizeof j);
        for (int64_t k = 0; k < size[dim]; k++) {
          float x;
          j[dim] = k;
          x = *test_at(&a, j);
          if (op <= EM_MEAN) acc += x;
          else if (op == EM_MAX ? x > acc : x < acc) { acc = x; pos = k; }
        }
        if (op == EM_MEAN) acc /= (double)size[dim];
        worst = fmax(worst, fabs(*test_at(&v, idx) - acc) / fmax(1, fabs(acc)));
        if (op >= EM_MAX) bad_idx |= *test_at(&ix, idx) != (float)pos;
      } while (test_next_index(idx, nd, size));
      CHECK(worst < 1e-6);
      CHECK(!bad_idx);
    }
    em_tensor_free(&a); em_tensor_free(&v); em_tensor_free(&ix);
  }
}

static void test_reduce_edges(void) {
  em_tensor a, v, ix, empty;
  int64_t s23[2] = {2, 3}, s03[2] = {0, 3}, s3[1] = {3};
  double r;
  em_err err;
  em_tensor_init(&a); em_tensor_init(&v); em_tensor_init(&ix); em_tensor_init(&empty);
  make_tensor(&a, 2, s23, 0);
  CHECK(em_tensor_reduce(&v, &ix, &a, 2, EM_SUM, NULL, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "sum: dimension 3 out of range for a 2-dimensional tensor "
               "(expected 1 to 2)") == 0);
  CHECK(em_tensor_reduce(&v, &v, &a, 1, EM_MAX, NULL, &err) == EM_EARG);
  CHECK(em_tensor_reduce(NULL, NULL, &a, -1, EM_SUM, NULL, &err) == EM_EARG);
  CHECK(em_tensor_reduce(NULL, NULL, &a, -1, (em_reduce)4, &r, &err) == EM_EARG);
  CHECK(em_tensor_reduce(NULL, NULL, &empty, -1, EM_SUM, &r, &err) == EM_EARG);
  /* NaN wins a max or min, as in PyTorch */
  em_tensor_data(&a)[4] = NAN;
  CHECK_OK(em_tensor_reduce(NULL, NULL, &a, -1, EM_MAX, &r, &e_));
  CHECK(isnan(r));
  CHECK_OK(em_tensor_reduce(&v, &ix, &a, 1, EM_MIN, NULL, &e_));
  CHECK(isnan(em_tensor_data(&v)[1]) && em_tensor_data(&ix)[1] == 1.0f);
  /* values may be the source tensor itself */
  CHECK_OK(em_tensor_reduce(&a, NULL, &a, 0, EM_SUM, NULL, &e_));
  CHECK(a.size[0] == 1 && a.size[1] == 3);
  /* no elements: sum 0, mean NaN, max an error */
  em_tensor_free(&a);
  make_tensor(&a, 2, s03, 0);
  CHECK_OK(em_tensor_reduce(NULL, NULL, &a, -1, EM_SUM, &r, &e_));
  CHECK(r == 0);
  CHECK_OK(em_tensor_reduce(NULL, NULL, &a, -1, EM_MEAN, &r, &e_));
  CHECK(isnan(r));
  CHECK(em_tensor_reduce(NULL, NULL, &a, -1, EM_MAX, &r, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "max of a tensor with no elements") == 0);
  CHECK(em_tensor_reduce(&v, &ix, &a, 0, EM_MIN, NULL, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "min along dimension 1 of size 0") == 0);
  CHECK_OK(em_tensor_reduce(&v, NULL, &a, 0, EM_SUM, NULL, &e_));
  CHECK(v.size[0] == 1 && v.size[1] == 3 && em_tensor_data(&v)[2] == 0);
  CHECK_OK(em_tensor_reduce(&v, NULL, &a, 1, EM_SUM, NULL, &e_));
  CHECK(v.size[0] == 0 && v.size[1] == 1);
  /* a vector reduces to a 1-element tensor along its dim */
  em_tensor_free(&a);
  make_tensor(&a, 1, s3, 2);
  CHECK_OK(em_tensor_reduce(&v, &ix, &a, 0, EM_MAX, NULL, &e_));
  CHECK(v.ndim == 1 && v.size[0] == 1);
  em_tensor_free(&a); em_tensor_free(&v); em_tensor_free(&ix);
}

/* ------------------------------------------------------------------ top-k */

/* Sorts (value, index) by value, best first; stable, so ties keep index order. */
static void naive_sort(float *v, int64_t *ix, int64_t n, int largest) {
  for (int64_t i = 1; i < n; i++)
    for (int64_t j = i; j > 0 && (largest ? v[j] > v[j - 1] : v[j] < v[j - 1]); j--) {
      float t = v[j]; int64_t u = ix[j];
      v[j] = v[j - 1]; ix[j] = ix[j - 1]; v[j - 1] = t; ix[j - 1] = u;
    }
}

static void test_topk(void) {
  for (int trial = 0; trial < 300; trial++) {
    int nd = 1 + irand(3), dim = irand(nd), largest = irand(2), bad = 0;
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0}, k;
    em_tensor a, v, ix;
    for (int i = 0; i < nd; i++) size[i] = 1 + irand(5);
    if (trial % 25 == 0) { nd = 1; dim = 0; size[0] = 5000 + irand(5000); }
    else if (trial % 5 == 0) size[dim] = 50 + irand(200);
    k = trial % 25 == 0 ? 1 + irand(20) : irand((int)size[dim] + 1);
    em_tensor_init(&a); em_tensor_init(&v); em_tensor_init(&ix);
    make_tensor(&a, nd, size, irand(3));
    if (trial % 3 == 0)
      do *test_at(&a, idx) = (float)irand(4); while (test_next_index(idx, nd, size));
    CHECK_OK(em_tensor_topk(&v, &ix, &a, k, dim, largest, &e_));
    for (int i = 0; i < nd; i++) CHECK(v.size[i] == (i == dim ? k : size[i]));
    CHECK(em_tensor_same_size(&v, &ix));
    {
      float *vals = malloc(sizeof(float) * (size_t)size[dim]);
      int64_t *pos = malloc(sizeof(int64_t) * (size_t)size[dim]);
      memset(idx, 0, sizeof idx);
      do {
        int64_t j[EM_MAXDIM];
        if (idx[dim] != 0) continue;
        memcpy(j, idx, sizeof j);
        for (int64_t i = 0; i < size[dim]; i++) { j[dim] = i; vals[i] = *test_at(&a, j); pos[i] = i; }
        naive_sort(vals, pos, size[dim], largest);
        for (int64_t i = 0; i < k; i++) {
          j[dim] = i;
          bad |= *test_at(&v, j) != vals[i] || *test_at(&ix, j) != (float)pos[i];
        }
      } while (test_next_index(idx, nd, size));
      free(vals);
      free(pos);
    }
    CHECK(!bad);
    em_tensor_free(&a); em_tensor_free(&v); em_tensor_free(&ix);
  }
}

static void test_topk_edges(void) {
  em_tensor a, v, ix;
  int64_t s5[1] = {5}, s24[2] = {2, 4};
  em_err err;
  float data[5] = {3, NAN, 1, 7, 1};
  em_tensor_init(&a); em_tensor_init(&v); em_tensor_init(&ix);
  CHECK_OK(em_tensor_new(&a, 1, s5, &e_));
  memcpy(em_tensor_data(&a), data, sizeof data);
  CHECK_OK(em_tensor_topk(&v, &ix, &a, 2, 0, 1, &e_));   /* NaN counts as largest */
  CHECK(isnan(em_tensor_data(&v)[0]) && em_tensor_data(&ix)[0] == 1 && em_tensor_data(&v)[1] == 7);
  CHECK_OK(em_tensor_topk(&v, NULL, &a, 3, 0, 0, &e_));
  CHECK(em_tensor_data(&v)[0] == 1 && em_tensor_data(&v)[1] == 1 && em_tensor_data(&v)[2] == 3);
  CHECK_OK(em_tensor_topk(&v, &ix, &a, 0, 0, 1, &e_));
  CHECK(v.ndim == 1 && v.size[0] == 0);
  CHECK(em_tensor_topk(&v, &ix, &a, 6, 0, 1, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "topk: k = 6 out of range: dimension 1 has size 5") == 0);
  CHECK(em_tensor_topk(&v, &ix, &a, -1, 0, 1, &err) == EM_EARG);
  CHECK(em_tensor_topk(&v, &ix, &a, 1, 1, 1, &err) == EM_EARG);
  CHECK(strstr(err.msg, "expected 1 to 1") != NULL);
  CHECK(em_tensor_topk(&v, &v, &a, 1, 0, 1, &err) == EM_EARG);
  /* the same through the heap used for small k: NaN largest, ties by position */
  {
    int64_t s40[1] = {40};
    float *d;
    CHECK_OK(em_tensor_new(&a, 1, s40, &e_));
    d = em_tensor_data(&a);
    for (int i = 0; i < 40; i++) d[i] = (float)(i % 20);
    d[0] = d[1] = d[30] = NAN;
    CHECK_OK(em_tensor_topk(&v, &ix, &a, 4, 0, 1, &e_));
    CHECK(isnan(em_tensor_data(&v)[2]) && em_tensor_data(&ix)[2] == 30);
    CHECK(em_tensor_data(&ix)[0] == 0 && em_tensor_data(&ix)[1] == 1);
    CHECK(em_tensor_data(&v)[3] == 19 && em_tensor_data(&ix)[3] == 19);
    CHECK_OK(em_tensor_topk(&v, &ix, &a, 3, 0, 0, &e_));   /* NaN at the front is pushed out */
    CHECK(em_tensor_data(&v)[0] == 0 && em_tensor_data(&ix)[0] == 20);
    CHECK(em_tensor_data(&v)[1] == 1 && em_tensor_data(&ix)[1] == 21);
    CHECK(em_tensor_data(&v)[2] == 2 && em_tensor_data(&ix)[2] == 2);   /* 2 before 22 */
  }
  em_tensor_free(&a);
  make_tensor(&a, 2, s24, 1);
  CHECK_OK(em_tensor_topk(&a, &ix, &a, 2, 1, 1, &e_));   /* values may replace src */
  CHECK(a.size[1] == 2 && em_tensor_data(&a)[0] >= em_tensor_data(&a)[1]);
  em_tensor_free(&a); em_tensor_free(&v); em_tensor_free(&ix);
}

/* ---------------------------------------------------------------- softmax */

static void test_softmax(void) {
  for (int trial = 0; trial < 120; trial++) {
    int nd = 1 + irand(4), dim = irand(nd), lg = irand(2), mode = irand(3);
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor a, a0, out;
    double worst = 0, scale = trial % 4 == 0 ? 1000 : 5;
    for (int i = 0; i < nd; i++) size[i] = 1 + irand(6);
    if (trial % 10 == 0) size[nd - 1] = 260 + irand(100);
    em_tensor_init(&a); em_tensor_init(&a0); em_tensor_init(&out);
    make_tensor(&a, nd, size, irand(3));
    do *test_at(&a, idx) *= (float)scale; while (test_next_index(idx, nd, size));   /* no overflow */
    clone(&a0, &a);
    if (mode == 0) CHECK_OK(em_softmax_forward(&out, &a, dim, lg, &e_));
    else CHECK_OK(em_softmax_forward(&a, &a, dim, lg, &e_));   /* in place, maybe strided */
    if (mode != 0) em_tensor_set(&out, &a);
    CHECK(em_tensor_same_size(&out, &a0));
    memset(idx, 0, sizeof idx);
    do {
      int64_t j[EM_MAXDIM];
      double mx = -INFINITY, sum = 0;
      memcpy(j, idx, sizeof j);
      for (int64_t k = 0; k < size[dim]; k++) { j[dim] = k; mx = fmax(mx, *test_at(&a0, j)); }
      for (int64_t k = 0; k < size[dim]; k++) { j[dim] = k; sum += exp(*test_at(&a0, j) - mx); }
      {
        double x = *test_at(&a0, idx), want = lg ? x - mx - log(sum) : exp(x - mx) / sum;
        worst = fmax(worst, fabs(*test_at(&out, idx) - want) / fmax(1, fabs(want)));
      }
    } while (test_next_index(idx, nd, size));
    if (!(worst < 2e-6)) fprintf(stderr, "worst %g nd %d dim %d log %d mode %d scale %g\n", worst, nd, dim, lg, mode, scale);
    CHECK(worst < 2e-6);
    em_tensor_free(&a); em_tensor_free(&a0); em_tensor_free(&out);
  }
}

static void test_softmax_edges(void) {
  em_tensor a, out, empty;
  int64_t s23[2] = {2, 3};
  em_err err;
  em_tensor_init(&a); em_tensor_init(&out); em_tensor_init(&empty);
  make_tensor(&a, 2, s23, 0);
  CHECK(em_softmax_forward(&out, &a, 2, 0, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "softmax: dimension 3 out of range for a 2-dimensional tensor "
               "(expected 1 to 2)") == 0);
  CHECK(em_softmax_forward(&out, &a, -1, 1, &err) == EM_EARG);
  CHECK(strncmp(err.msg, "logsoftmax:", 11) == 0);
  CHECK(em_softmax_forward(&out, &empty, 0, 0, &err) == EM_EARG);
  /* -inf gives 0, far below the max gives about 0, NaN poisons its row */
  {
    int64_t s24[2] = {2, 4};
    float in[8] = {0, -INFINITY, 1, -200, 1, NAN, 2, 3}, *o;
    double z = 1 + exp(1.0) + exp(-201.0);
    em_tensor t;
    em_tensor_init(&t);
    CHECK_OK(em_tensor_new(&t, 2, s24, &e_));
    memcpy(em_tensor_data(&t), in, sizeof in);
    CHECK_OK(em_softmax_forward(&out, &t, 1, 0, &e_));
    o = em_tensor_data(&out);
    CHECK_CLOSE(o[0], 1 / z, 1e-7);
    CHECK(o[1] == 0);
    CHECK_CLOSE(o[2], exp(1.0) / z, 1e-7);
    CHECK(o[3] == 0);   /* e^-201: below float's normal range */
    CHECK(isnan(o[4]) && isnan(o[5]) && isnan(o[6]) && isnan(o[7]));
    CHECK_OK(em_softmax_forward(&out, &t, 1, 1, &e_));
    o = em_tensor_data(&out);
    CHECK(isinf(o[1]) && o[1] < 0);
    CHECK_CLOSE(o[3], -200.0 - log(z), 1e-4);
    CHECK(isnan(o[4]));
    em_tensor_free(&t);
  }
  /* dst shares storage with src at another offset: result still correct */
  {
    int64_t s6[1] = {6};
    em_tensor t, v1, v2;
    em_tensor_init(&t); em_tensor_init(&v1); em_tensor_init(&v2);
    CHECK_OK(em_tensor_new(&t, 1, s6, &e_));
    for (int i = 0; i < 6; i++) em_tensor_data(&t)[i] = (float)i;
    CHECK_OK(em_tensor_narrow(&v1, &t, 0, 0, 3, &e_));
    CHECK_OK(em_tensor_narrow(&v2, &t, 0, 1, 3, &e_));
    CHECK_OK(em_softmax_forward(&v1, &v2, 0, 0, &e_));   /* softmax(1,2,3) */
    CHECK_CLOSE(em_tensor_data(&t)[2], exp(3.0) / (exp(1.0) + exp(2.0) + exp(3.0)), 1e-6);
    CHECK_CLOSE(em_tensor_data(&t)[0], exp(1.0) / (exp(1.0) + exp(2.0) + exp(3.0)), 1e-6);
    em_tensor_free(&t); em_tensor_free(&v1); em_tensor_free(&v2);
  }
  em_tensor_free(&a); em_tensor_free(&out);
}

/* ----------------------------------------------------------------- random */

/* A second, plain transcription of splitmix64 and xoshiro256** (Vigna). */
typedef struct ref_rng { uint64_t a, b, c, d; } ref_rng;

static uint64_t ref_splitmix(uint64_t *state) {
  uint64_t z;
  *state += 0x9e3779b97f4a7c15ULL;
  z = *state;
  z ^= z >> 30; z *= 0xbf58476d1ce4e5b9ULL;
  z ^= z >> 27; z *= 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return z;
}

static uint64_t ref_next(ref_rng *r) {
  uint64_t m = r->b * 5, out = ((m << 7) | (m >> 57)) * 9, t = r->b << 17;
  r->c ^= r->a;
  r->d ^= r->b;
  r->b ^= r->c;
  r->a ^= r->d;
  r->c ^= t;
  r->d = (r->d << 45) | (r->d >> 19);
  return out;
}

static void test_rng_stream(void) {
  em_rng r, r2;
  ref_rng q;
  uint64_t st = 0;
  /* published first outputs of splitmix64 from 0 */
  CHECK(ref_splitmix(&st) == 0xe220a8397b1dcdafULL);
  CHECK(ref_splitmix(&st) == 0x6e789e6aa1b965f4ULL);
  CHECK(ref_splitmix(&st) == 0x06c45d188009454fULL);
  CHECK(ref_splitmix(&st) == 0xf88bb8a8724c81ecULL);
  em_rng_seed(&r, 0);
  CHECK(r.s[0] == 0xe220a8397b1dcdafULL && r.s[3] == 0xf88bb8a8724c81ecULL);
  /* first outputs for seed 42, computed separately with Python integers */
  em_rng_seed(&r, 42);
  CHECK(em_rng_next(&r) == 0x15780b2e0c2ec716ULL);
  CHECK(em_rng_next(&r) == 0x6104d9866d113a7eULL);
  CHECK(em_rng_next(&r) == 0xae17533239e499a1ULL);
  CHECK(em_rng_next(&r) == 0xecb8ad4703b360a1ULL);
  for (uint64_t seed = 1; seed < 2000; seed += 97) {
    int bad = 0;
    st = seed;
    q.a = ref_splitmix(&st); q.b = ref_splitmix(&st); q.c = ref_splitmix(&st); q.d = ref_splitmix(&st);
    em_rng_seed(&r, seed);
    em_rng_seed(&r2, seed);
    for (int i = 0; i < 1000; i++) {
      uint64_t x = em_rng_next(&r);
      bad |= x != ref_next(&q) || x != em_rng_next(&r2);
    }
    CHECK(!bad);
  }
  em_rng_seed(&r, 42);
  CHECK_CLOSE(em_rng_uniform01(&r), 0.08386297105988216, 1e-16);
}

static void test_rng_fill(void) {
  em_rng r;
  em_tensor a, b, tr;
  int64_t s[2] = {100, 101}, n = 100 * 101;
  double sum = 0, sq = 0, mn = INFINITY, mx = -INFINITY;
  em_err err;
  em_tensor_init(&a); em_tensor_init(&b); em_tensor_init(&tr);
  CHECK_OK(em_tensor_new(&a, 2, s, &e_));
  em_rng_seed(&r, 7);
  CHECK_OK(em_rng_uniform(&r, &a, -2.0f, 3.0f, &e_));
  for (int64_t i = 0; i < n; i++) {
    float x = em_tensor_data(&a)[i];
    sum += x; mn = fmin(mn, x); mx = fmax(mx, x);
  }
  CHECK(mn >= -2.0 && mx <= 3.0 && mn < -1.99 && mx > 2.99);
  CHECK_CLOSE(sum / (double)n, 0.5, 0.05);
  /* element i is a + (b - a) * u_i, in logical order */
  em_rng_seed(&r, 7);
  CHECK_CLOSE(em_tensor_data(&a)[0], (float)(-2.0 + 5.0 * em_rng_uniform01(&r)), 0);
  CHECK_CLOSE(em_tensor_data(&a)[1], (float)(-2.0 + 5.0 * em_rng_uniform01(&r)), 0);
  /* same seed, same values, also through a transposed view */
  {
    int64_t st[2] = {101, 100};
    CHECK_OK(em_tensor_new(&b, 2, st, &e_));
    CHECK_OK(em_tensor_transpose(&tr, &b, 0, 1, &e_));
    em_rng_seed(&r, 7);
    CHECK_OK(em_rng_uniform(&r, &tr, -2.0f, 3.0f, &e_));
    CHECK(diff_tensors(&tr, &a) == 0);
  }
  em_rng_seed(&r, 9);
  CHECK_OK(em_rng_normal(&r, &a, 1.5f, 2.0f, &e_));
  sum = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = em_tensor_data(&a)[i];
    sum += x; sq += x * x;
  }
  CHECK_CLOSE(sum / (double)n, 1.5, 0.06);
  CHECK_CLOSE(sqrt(sq / (double)n - (sum / n) * (sum / n)), 2.0, 0.06);
  /* Box-Muller by hand for the first pair */
  em_rng_seed(&r, 9);
  {
    double u1 = 1.0 - em_rng_uniform01(&r), u2 = em_rng_uniform01(&r);
    double rad = sqrt(-2 * log(u1));
    CHECK_CLOSE(em_tensor_data(&a)[0], 1.5 + 2.0 * rad * cos(2 * M_PI * u2), 1e-5);
    CHECK_CLOSE(em_tensor_data(&a)[1], 1.5 + 2.0 * rad * sin(2 * M_PI * u2), 1e-5);
  }
  CHECK(em_rng_uniform(&r, &a, 3.0f, 2.0f, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "uniform: expected finite bounds a <= b, got 3 and 2") == 0);
  CHECK(em_rng_normal(&r, &a, 0.0f, -1.0f, &err) == EM_EARG);
  CHECK(em_rng_normal(&r, &a, NAN, 1.0f, &err) == EM_EARG);
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&tr);
}

int main(void) {
  TEST_RUN(test_binop_broadcast);
  TEST_RUN(test_binop_alias);
  TEST_RUN(test_binop_errors);
  TEST_RUN(test_scalar_unop);
  TEST_RUN(test_reduce_all);
  TEST_RUN(test_reduce_dim);
  TEST_RUN(test_reduce_edges);
  TEST_RUN(test_topk);
  TEST_RUN(test_topk_edges);
  TEST_RUN(test_softmax);
  TEST_RUN(test_softmax_edges);
  TEST_RUN(test_rng_stream);
  TEST_RUN(test_rng_fill);
  TEST_REPORT();
}
