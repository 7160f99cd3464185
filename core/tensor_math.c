/* tensor_math.c -- elementwise arithmetic with NumPy broadcasting, reductions
** and top-k on float32 tensors: one strided walk, fast when dims coalesce. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"

/* ---------------------------------------------------------------- helpers */

static em_status check_input(const em_tensor *t, const char *fn, em_err *err) {
  if (!t) return em_fail(err, EM_EARG, "%s: missing tensor", fn);
  if (!t->storage) return em_fail(err, EM_EARG, "%s: tensor is empty (no storage)", fn);
  return EM_OK;
}

static int has_shape(const em_tensor *t, int ndim, const int64_t *size) {
  if (!t->storage || t->ndim != ndim) return 0;
  for (int i = 0; i < ndim; i++)
    if (t->size[i] != size[i]) return 0;
  return 1;
}

/* Writing dst could change elements of y before they are read: they share
** memory but not element for element. */
static int hazard(const em_tensor *dst, const em_tensor *y) {
  return dst->storage && dst->storage == y->storage && !em_tensor_same_view(dst, y);
}

/* Replaces the local view *t by a private contiguous copy. */
static em_status own_copy(em_tensor *t, em_err *err) {
  em_tensor c;
  em_status st;
  em_tensor_init(&c);
  if ((st = em_tensor_new(&c, t->ndim, t->size, err)) || (st = em_tensor_copy(&c, t, err))) {
    em_tensor_free(&c);
    return st;
  }
  em_tensor_free(t);
  *t = c;
  return EM_OK;
}

/* dst keeps its (possibly strided) layout when it already has the result's
** shape, so in-place ops on views write through; otherwise it is resized.
** Callers hold their own reference to the inputs' storage first, so a resize
** never frees or reuses memory an input still reads. */
static em_status prepare_out(em_tensor *dst, int ndim, const int64_t *size, em_err *err) {
  if (has_shape(dst, ndim, size)) return EM_OK;
  return em_tensor_resize(dst, ndim, size, err);
}

/* -------------------------------------------------------------- the walk */

/* Up to three operands walked over one shape; strides are per operand, 0 on
** broadcast dims. Dims that every operand steps through as one are merged, so
** contiguous same-shape operands become a single run of the inner loop. */
typedef struct walk {
  int nd, nops;
  int64_t size[EM_MAXDIM];
  int64_t st[3][EM_MAXDIM];
  float *p[3];
} walk;

static void walk_init(walk *w, int nd, const int64_t *size) {
  memset(w, 0, sizeof *w);
  w->nd = nd;
  for (int i = 0; i < nd; i++) w->size[i] = size[i];
}

static void walk_add(walk *w, const em_tensor *t) {
  int k = w->nops++, off = w->nd - t->ndim;
  for (int i = 0; i < w->nd; i++)
    w->st[k][i] = (i < off || t->size[i - off] == 1) ? 0 : t->stride[i - off];
  w->p[k] = em_tensor_data(t);
}

static void walk_coalesce(walk *w) {
  int n = 0;
  for (int i = 0; i < w->nd; i++) {
    int merge = n > 0;
    if (w->size[i] == 1) continue;
    for (int k = 0; k < w->nops && merge; k++)
      merge = w->st[k][n - 1] == w->st[k][i] * w->size[i];
    if (merge) {
      w->size[n - 1] *= w->size[i];
      for (int k = 0; k < w->nops; k++) w->st[k][n - 1] = w->st[k][i];
      continue;
    }
    w->size[n] = w->size[i];
    for (int k = 0; k < w->nops; k++) w->st[k][n] = w->st[k][i];
    n++;
  }
  if (n == 0) {   /* a single element */
    w->size[0] = 1;
    for (int k = 0; k < w->nops; k++) w->st[k][0] = 0;
    n = 1;
  }
  w->nd = n;
}

typedef void (*inner_fn)(int64_t n, float *const *p, const int64_t *st, const void *arg);

static void walk_run(walk *w, inner_fn f, const void *arg) {
  int64_t idx[EM_MAXDIM] = {0}, outer = 1, ist[3];
  float *p[3];
  int nd = 0;
  walk_coalesce(w);
  nd = w->nd;
  for (int k = 0; k < 3; k++) { p[k] = w->p[k]; ist[k] = w->st[k][nd - 1]; }
  for (int d = 0; d < nd - 1; d++) outer *= w->size[d];
  for (int64_t o = 0; o < outer; o++) {
    f(w->size[nd - 1], p, ist, arg);
    for (int d = nd - 2; d >= 0; d--) {
      if (++idx[d] < w->size[d]) {
        for (int k = 0; k < w->nops; k++) p[k] += w->st[k][d];
        break;
      }
      for (int k = 0; k < w->nops; k++) p[k] -= w->st[k][d] * (w->size[d] - 1);
      idx[d] = 0;
    }
  }
}

/* ------------------------------------------------------------ elementwise */

#define OP_ADD(x, y) ((x) + (y))
#define OP_SUB(x, y) ((x) - (y))
#define OP_MUL(x, y) ((x) * (y))
#define OP_DIV(x, y) ((x) / (y))

/* Unit and zero strides get their own loops so the compiler vectorises them. */
#define BIN_LOOP(OP) do { \
    if (so == 1 && sa == 1 && sb == 1) for (int64_t i = 0; i < n; i++) o[i] = OP(x[i], y[i]); \
    else if (so == 1 && sa == 1 && sb == 0) { float yv = *y; \
      for (int64_t i = 0; i < n; i++) o[i] = OP(x[i], yv); } \
    else if (so == 1 && sa == 0 && sb == 1) { float xv = *x; \
      for (int64_t i = 0; i < n; i++) o[i] = OP(xv, y[i]); } \
    else for (int64_t i = 0; i < n; i++) o[i * so] = OP(x[i * sa], y[i * sb]); \
  } while (0)

static void binop_inner(int64_t n, float *const *p, const int64_t *st, const void *arg) {
  float *o = p[0];
  const float *x = p[1], *y = p[2];
  int64_t so = st[0], sa = st[1], sb = st[2];
  switch (*(const em_binop *)arg) {
    case EM_ADD: BIN_LOOP(OP_ADD); break;
    case EM_SUB: BIN_LOOP(OP_SUB); break;
    case EM_MUL: BIN_LOOP(OP_MUL); break;
    case EM_DIV: BIN_LOOP(OP_DIV); break;
  }
}

static em_status check_binop(em_binop op, em_err *err) {
  if ((int)op < EM_ADD || (int)op > EM_DIV)
    return em_fail(err, EM_EARG, "unknown arithmetic operation %d", (int)op);
  return EM_OK;
}

/* NumPy rules: align at the last dim; sizes must match or one be 1. */
static em_status broadcast_shape(const em_tensor *a, const em_tensor *b, int *nd,
                                 int64_t *size, em_err *err) {
  int n = a->ndim > b->ndim ? a->ndim : b->ndim;
  for (int i = 0; i < n; i++) {
    int ia = i - (n - a->ndim), ib = i - (n - b->ndim);
    int64_t sa = ia >= 0 ? a->size[ia] : 1, sb = ib >= 0 ? b->size[ib] : 1;
    if (sa != sb && sa != 1 && sb != 1) {
      char x[128], y[128];
      return em_fail(err, EM_ESHAPE, "cannot broadcast %s with %s",
                     em_tensor_shape_str(a, x, sizeof x), em_tensor_shape_str(b, y, sizeof y));
    }
    size[i] = sa == 1 ? sb : sa;
  }
  *nd = n;
  return EM_OK;
}

em_status em_tensor_binop(em_tensor *dst, const em_tensor *a, const em_tensor *b, em_binop op,
                          em_err *err) {
  int64_t size[EM_MAXDIM], n = 1;
  int nd = 0;
  em_tensor la, lb;
  em_status st;
  walk w;
  if (!dst) return em_fail(err, EM_EARG, "binop: missing output tensor");
  if ((st = check_binop(op, err)) || (st = check_input(a, "binop", err)) ||
      (st = check_input(b, "binop", err)) || (st = broadcast_shape(a, b, &nd, size, err)))
    return st;
  for (int i = 0; i < nd; i++) n *= size[i];
  em_tensor_init(&la);
  em_tensor_init(&lb);
  em_tensor_set(&la, a);
  em_tensor_set(&lb, b);
  if (!(st = prepare_out(dst, nd, size, err)) && hazard(dst, &la)) st = own_copy(&la, err);
  if (!st && hazard(dst, &lb)) st = own_copy(&lb, err);
  if (!st && n > 0) {
    walk_init(&w, nd, size);
    walk_add(&w, dst);
    walk_add(&w, &la);
    walk_add(&w, &lb);
    walk_run(&w, binop_inner, &op);
  }
  em_tensor_free(&la);
  em_tensor_free(&lb);
  return st;
}

typedef struct scalar_arg { em_binop op; float s; } scalar_arg;

static void scalar_inner(int64_t n, float *const *p, const int64_t *st, const void *arg) {
  const scalar_arg *s = arg;
  float *o = p[0], yv = s->s;
  const float *x = p[1], *y = &yv;
  int64_t so = st[0], sa = st[1], sb = 0;
  switch (s->op) {
    case EM_ADD: BIN_LOOP(OP_ADD); break;
    case EM_SUB: BIN_LOOP(OP_SUB); break;
    case EM_MUL: BIN_LOOP(OP_MUL); break;
    case EM_DIV: BIN_LOOP(OP_DIV); break;
  }
}

/* Runs a two-operand inner loop (dst, a) after the usual output preparation. */
static em_status unary_walk(em_tensor *dst, const em_tensor *a, inner_fn f, const void *arg,
                            const char *fn, em_err *err) {
  em_tensor la;
  em_status st;
  walk w;
  if (!dst) return em_fail(err, EM_EARG, "%s: missing output tensor", fn);
  if ((st = check_input(a, fn, err))) return st;
  em_tensor_init(&la);
  em_tensor_set(&la, a);
  if (!(st = prepare_out(dst, la.ndim, la.size, err)) && hazard(dst, &la))
    st = own_copy(&la, err);
  if (!st && em_tensor_nelement(&la) > 0) {
    walk_init(&w, la.ndim, la.size);
    walk_add(&w, dst);
    walk_add(&w, &la);
    walk_run(&w, f, arg);
  }
  em_tensor_free(&la);
  return st;
}

em_status em_tensor_scalar(em_tensor *dst, const em_tensor *a, float s, em_binop op, em_err *err) {
  scalar_arg arg = {op, s};
  em_status st = check_binop(op, err);
  return st ? st : unary_walk(dst, a, scalar_inner, &arg, "scalar op", err);
}

#define UN_LOOP(F) do { \
    if (so == 1 && sa == 1) for (int64_t i = 0; i < n; i++) o[i] = F(x[i]); \
    else for (int64_t i = 0; i < n; i++) o[i * so] = F(x[i * sa]); \
  } while (0)
#define OP_NEG(x) (-(x))

static void unop_inner(int64_t n, float *const *p, const int64_t *st, const void *arg) {
  float *o = p[0];
  const float *x = p[1];
  int64_t so = st[0], sa = st[1];
  switch (*(const em_unop *)arg) {
    case EM_ABS: UN_LOOP(fabsf); break;
    case EM_EXP: UN_LOOP(expf); break;
    case EM_LOG: UN_LOOP(logf); break;
    case EM_SQRT: UN_LOOP(sqrtf); break;
    case EM_NEG: UN_LOOP(OP_NEG); break;
  }
}

em_status em_tensor_unop(em_tensor *dst, const em_tensor *a, em_unop op, em_err *err) {
  if ((int)op < EM_ABS || (int)op > EM_NEG)
    return em_fail(err, EM_EARG, "unknown elementwise function %d", (int)op);
  return unary_walk(dst, a, unop_inner, &op, "unary op", err);
}

/* ------------------------------------------------------------- reductions */

static const char *reduce_name(em_reduce op) {
  static const char *names[] = {"sum", "mean", "max", "min"};
  return names[op];
}

/* NaN wins, as in PyTorch: a max over data holding NaN is NaN. */
static inline int beats(float v, float best, int max) {
  if (v != v) return best == best;
  return max ? v > best : v < best;
}

typedef struct all_acc { double sum; float best; int started; int max; } all_acc;

static void all_sum_inner(int64_t n, float *const *p, const int64_t *st, const void *arg) {
  all_acc *a = (all_acc *)arg;
  const float *x = p[0];
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i * st[0]];
  a->sum += s;
}

static void all_best_inner(int64_t n, float *const *p, const int64_t *st, const void *arg) {
  all_acc *a = (all_acc *)arg;
  const float *x = p[0];
  int64_t i = 0;
  if (!a->started) { a->best = x[0]; a->started = 1; i = 1; }
  for (; i < n; i++)
    if (beats(x[i * st[0]], a->best, a->max)) a->best = x[i * st[0]];
}

static em_status reduce_all(const em_tensor *src, em_reduce op, double *out, em_err *err) {
  int64_t n = em_tensor_nelement(src);
  all_acc acc = {0, 0, 0, op == EM_MAX};
  walk w;
  if (!out) return em_fail(err, EM_EARG, "%s: missing result pointer", reduce_name(op));
  if (n == 0 && (op == EM_MAX || op == EM_MIN))
    return em_fail(err, EM_ESHAPE, "%s of a tensor with no elements", reduce_name(op));
  if (n > 0) {
    walk_init(&w, src->ndim, src->size);
    walk_add(&w, src);
    walk_run(&w, op == EM_SUM || op == EM_MEAN ? all_sum_inner : all_best_inner, &acc);
  }
  if (op == EM_SUM) *out = acc.sum;
  else if (op == EM_MEAN) *out = n ? acc.sum / (double)n : NAN;
  else *out = acc.best;
  return EM_OK;
}

#define BLOCK 256   /* inner positions reduced together: rows stay in cache */

/* The first NaN wins; otherwise the first strict improvement. */
#define BEST_STEP(CMP, x, b, p, k) do { \
    if ((x) CMP (b)) { (b) = (x); (p) = (k); } \
    else if ((x) != (x) && (b) == (b)) { (b) = (x); (p) = (k); } \
  } while (0)

/* One contiguous row: reducing the last dim. */
static void reduce_row(const float *x, int64_t n, em_reduce op, float *v, float *idx) {
  float b = x[0];
  int64_t p = 0;
  if (op == EM_SUM || op == EM_MEAN) {
    /* four chains of adds: one would wait on each add's latency */
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s;
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) {
      s0 += x[k]; s1 += x[k + 1]; s2 += x[k + 2]; s3 += x[k + 3];
    }
    for (; k < n; k++) s0 += x[k];
    s = (s0 + s1) + (s2 + s3);
    *v = (float)(op == EM_SUM ? s : s / (double)n);
    return;
  }
  if (op == EM_MAX) for (int64_t k = 1; k < n; k++) BEST_STEP(>, x[k], b, p, k);
  else for (int64_t k = 1; k < n; k++) BEST_STEP(<, x[k], b, p, k);
  *v = b;
  if (idx) *idx = (float)p;
}

/* x is [n][inner] (contiguous); writes inner results into v (and idx). */
static void reduce_block(const float *x, int64_t n, int64_t inner, em_reduce op,
                         float *v, float *idx) {
  if (inner == 1) {
    reduce_row(x, n, op, v, idx);
    return;
  }
  for (int64_t j0 = 0; j0 < inner; j0 += BLOCK) {
    int m = (int)(inner - j0 < BLOCK ? inner - j0 : BLOCK);
    if (op == EM_SUM || op == EM_MEAN) {
      double acc[BLOCK] = {0};
      for (int64_t k = 0; k < n; k++) {
        const float *row = x + k * inner + j0;
        for (int j = 0; j < m; j++) acc[j] += row[j];
      }
      for (int j = 0; j < m; j++)
        v[j0 + j] = (float)(op == EM_SUM ? acc[j] : acc[j] / (double)n);
    } else {
      float best[BLOCK];
      int64_t pos[BLOCK] = {0};
      memcpy(best, x + j0, (size_t)m * sizeof(float));
      for (int64_t k = 1; k < n; k++) {
        const float *row = x + k * inner + j0;
        if (op == EM_MAX) for (int j = 0; j < m; j++) BEST_STEP(>, row[j], best[j], pos[j], k);
        else for (int j = 0; j < m; j++) BEST_STEP(<, row[j], best[j], pos[j], k);
      }
      memcpy(v + j0, best, (size_t)m * sizeof(float));
      if (idx)
        for (int j = 0; j < m; j++) idx[j0 + j] = (float)pos[j];
    }
  }
}

em_status em_tensor_reduce(em_tensor *values, em_tensor *indices, const em_tensor *src,
                           int dim, em_reduce op, double *out, em_err *err) {
  int64_t size[EM_MAXDIM], outer = 1, inner = 1, n;
  em_tensor ls;
  em_status st;
  int best = op == EM_MAX || op == EM_MIN;
  if ((int)op < EM_SUM || (int)op > EM_MIN)
    return em_fail(err, EM_EARG, "unknown reduction %d", (int)op);
  if ((st = check_input(src, reduce_name(op), err))) return st;
  if (dim < 0) return reduce_all(src, op, out, err);
  if (dim >= src->ndim)
    return em_fail(err, EM_EARG, "%s: dimension %d out of range for a %d-dimensional tensor "
                   "(expected 1 to %d)", reduce_name(op), dim + 1, src->ndim, src->ndim);
  if (!values) return em_fail(err, EM_EARG, "%s: missing values tensor", reduce_name(op));
  if (indices == values)
    return em_fail(err, EM_EARG, "%s: values and indices must be different tensors",
                   reduce_name(op));
  n = src->size[dim];
  if (n == 0 && best)
    return em_fail(err, EM_ESHAPE, "%s along dimension %d of size 0", reduce_name(op), dim + 1);
  for (int i = 0; i < src->ndim; i++) {
    size[i] = i == dim ? 1 : src->size[i];
    if (i < dim) outer *= src->size[i];
    if (i > dim) inner *= src->size[i];
  }
  em_tensor_init(&ls);
  if ((st = em_tensor_contiguous(&ls, src, err)) ||
      (st = em_tensor_resize(values, src->ndim, size, err)) ||
      (best && indices && (st = em_tensor_resize(indices, src->ndim, size, err)))) {
    em_tensor_free(&ls);
    return st;
  }
  for (int64_t o = 0; o < outer && inner > 0; o++)
    reduce_block(em_tensor_data(&ls) + o * n * inner, n, inner, op,
                 em_tensor_data(values) + o * inner,
                 best && indices ? em_tensor_data(indices) + o * inner : NULL);
  em_tensor_free(&ls);
  return EM_OK;
}

/* ------------------------------------------------------------------ top-k */

typedef struct pair { float v; int64_t i; } pair;
typedef int (*before_fn)(const pair *a, const pair *b);

/* Strict total orders: value, NaN counted largest, ties by position. */
static int before_large(const pair *a, const pair *b) {
  int an = a->v != a->v, bn = b->v != b->v;
  if (an != bn) return an;
  if (!an && a->v != b->v) return a->v > b->v;
  return a->i < b->i;
}

static int before_small(const pair *a, const pair *b) {
  int an = a->v != a->v, bn = b->v != b->v;
  if (an != bn) return bn;
  if (!an && a->v != b->v) return a->v < b->v;
  return a->i < b->i;
}

static int cmp_large(const void *a, const void *b) {
  return before_large(a, b) ? -1 : before_large(b, a) ? 1 : 0;
}

static int cmp_small(const void *a, const void *b) {
  return before_small(a, b) ? -1 : before_small(b, a) ? 1 : 0;
}

/* Moves the k best of p[0..n) to the front, unordered (Wirth's selection,
** median-of-three pivots: expected O(n); a full sort bounds the bad cases). */
static void select_k(pair *p, int64_t n, int64_t k, before_fn before, int (*cmp)(const void *, const void *)) {
  int64_t l = 0, r = n - 1, kk = k - 1;
  int rounds = 0;
  while (l < r) {
    pair a = p[l], b = p[l + (r - l) / 2], c = p[r], x, t;
    int64_t i = l, j = r;
    if (++rounds > 64) { qsort(p + l, (size_t)(r - l + 1), sizeof *p, cmp); return; }
    if (before(&a, &b)) { t = a; a = b; b = t; }          /* now b before a */
    if (before(&c, &b)) x = b;                            /* c, b, a */
    else if (before(&c, &a)) x = c;                       /* b, c, a */
    else x = a;                                           /* b, a, c */
    do {
      while (before(&p[i], &x)) i++;
      while (before(&x, &p[j])) j--;
      if (i <= j) { t = p[i]; p[i] = p[j]; p[j] = t; i++; j--; }
    } while (i <= j);
    if (j < kk) l = i;
    if (kk < i) r = j;
  }
}

/* Small k: the k best so far sit in a heap with the worst of them at the
** root, so most elements lose with one comparison and no scratch of size n. */
static void heap_sift(pair *h, int64_t k, int64_t i, before_fn before) {
  for (;;) {
    int64_t l = 2 * i + 1, r = l + 1, w = i;
    pair t;
    if (l < k && before(&h[w], &h[l])) w = l;
    if (r < k && before(&h[w], &h[r])) w = r;
    if (w == i) return;
    t = h[i]; h[i] = h[w]; h[w] = t;
    i = w;
  }
}

static void heap_select(const float *x, int64_t n, int64_t stride, int64_t k, int largest,
                        before_fn before, pair *h) {
  for (int64_t i = 0; i < k; i++) { h[i].v = x[i * stride]; h[i].i = i; }
  for (int64_t i = k / 2 - 1; i >= 0; i--) heap_sift(h, k, i, before);
  for (int64_t i = k; i < n; i++) {
    float v = x[i * stride], r = h[0].v;
    /* a later element wins only strictly (NaN counts as largest) */
    int wins = largest ? v > r || (v != v && r == r) : v < r || (r != r && v == v);
    if (wins) {
      h[0].v = v;
      h[0].i = i;
      heap_sift(h, k, 0, before);
    }
  }
}

em_status em_tensor_topk(em_tensor *values, em_tensor *indices, const em_tensor *src,
                         int64_t k, int dim, int largest, em_err *err) {
  int64_t size[EM_MAXDIM], outer = 1, inner = 1, n;
  before_fn before = largest ? before_large : before_small;
  int (*cmp)(const void *, const void *) = largest ? cmp_large : cmp_small;
  em_tensor ls;
  em_status st;
  pair *p;
  int use_heap;
  if ((st = check_input(src, "topk", err))) return st;
  if (dim < 0 || dim >= src->ndim)
    return em_fail(err, EM_EARG, "topk: dimension %d out of range for a %d-dimensional tensor "
                   "(expected 1 to %d)", dim + 1, src->ndim, src->ndim);
  if (!values) return em_fail(err, EM_EARG, "topk: missing values tensor");
  if (indices == values)
    return em_fail(err, EM_EARG, "topk: values and indices must be different tensors");
  n = src->size[dim];
  if (k < 0 || k > n)
    return em_fail(err, EM_EARG, "topk: k = %lld out of range: dimension %d has size %lld",
                   (long long)k, dim + 1, (long long)n);
  for (int i = 0; i < src->ndim; i++) {
    size[i] = i == dim ? k : src->size[i];
    if (i < dim) outer *= src->size[i];
    if (i > dim) inner *= src->size[i];
  }
  use_heap = k * 8 <= n;
  p = malloc((size_t)(use_heap ? k : n ? n : 1) * sizeof *p);
  if (!p) return em_fail(err, EM_ENOMEM, "topk: out of memory for %lld entries", (long long)n);
  em_tensor_init(&ls);
  if ((st = em_tensor_contiguous(&ls, src, err)) ||
      (st = em_tensor_resize(values, src->ndim, size, err)) ||
      (indices && (st = em_tensor_resize(indices, src->ndim, size, err)))) {
    em_tensor_free(&ls);
    free(p);
    return st;
  }
  for (int64_t o = 0; o < outer && k > 0; o++) {
    for (int64_t j = 0; j < inner; j++) {
      const float *x = em_tensor_data(&ls) + o * n * inner + j;
      float *v = em_tensor_data(values) + o * k * inner + j;
      if (use_heap) {
        heap_select(x, n, inner, k, largest, before, p);
      } else {
        for (int64_t i = 0; i < n; i++) { p[i].v = x[i * inner]; p[i].i = i; }
        if (k < n) select_k(p, n, k, before, cmp);
      }
      qsort(p, (size_t)k, sizeof *p, cmp);
      for (int64_t i = 0; i < k; i++) v[i * inner] = p[i].v;
      if (indices) {
        float *ix = em_tensor_data(indices) + o * k * inner + j;
        for (int64_t i = 0; i < k; i++) ix[i * inner] = (float)p[i].i;
      }
    }
  }
  em_tensor_free(&ls);
  free(p);
  return EM_OK;
}
