/* tensor.c -- float32 tensors: refcounted storage, views and copies.
** Sizes and strides are in elements; a tensor of ndim 0 holds one scalar. */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "ember.h"

em_status em_fail(em_err *err, em_status code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  return code;
}

/* ---------------------------------------------------------------- storage */

/* Storages of HUGE_PAGE bytes and more start on a 2 MB boundary and ask
** Linux for transparent huge pages (its default policy is "madvise"): the
** first write to a fresh 2 MB then costs one page fault instead of 512, which
** is most of what a first inference or a weight transform spends on new
** memory. The size is not rounded up: the tail past the last whole 2 MB
** lies on small pages (rounded, ResNet-50's 24 storages of 4 MB and more
** held 24 MB more, a 512 x 2048 weight of 4.2 MB taking 6). */
#define HUGE_PAGE ((size_t)2 << 20)

static float *alloc_floats(size_t bytes) {
  float *p;
  if (bytes < HUGE_PAGE) return aligned_alloc(EM_ALIGN, bytes);
  /* posix_memalign: C11's aligned_alloc wants a size that is a multiple of
  ** the alignment, which a storage's seldom is */
  if (posix_memalign((void **)&p, HUGE_PAGE, bytes)) return NULL;
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);   /* advice: failure changes nothing */
#endif
  return p;
}

em_storage *em_storage_new(size_t n) {
  em_storage *s;
  size_t bytes;
  if (n > (SIZE_MAX - HUGE_PAGE) / sizeof(float)) return NULL;
  bytes = (n * sizeof(float) + EM_ALIGN - 1) / EM_ALIGN * EM_ALIGN;
  s = malloc(sizeof *s);
  if (!s) return NULL;
  s->data = bytes ? alloc_floats(bytes) : NULL;
  if (bytes && !s->data) { free(s); return NULL; }
  s->size = n;
  s->refcount = 1;
  s->release = NULL;
  s->owner = NULL;
  return s;
}

em_storage *em_storage_wrap(float *data, size_t n, void (*release)(void *), void *owner) {
  em_storage *s = malloc(sizeof *s);
  if (!s) return NULL;
  s->data = data;
  s->size = n;
  s->refcount = 1;
  s->release = release;
  s->owner = owner;
  return s;
}

void em_storage_retain(em_storage *s) {
  if (s) s->refcount++;
}

void em_storage_release(em_storage *s) {
  if (!s || --s->refcount > 0) return;
  if (s->release) s->release(s->owner);
  else free(s->data);
  free(s);
}

/* ----------------------------------------------------------------- tensor */

void em_tensor_init(em_tensor *t) {
  memset(t, 0, sizeof *t);
}

void em_tensor_free(em_tensor *t) {
  em_storage_release(t->storage);
  em_tensor_init(t);
}

int64_t em_tensor_nelement(const em_tensor *t) {
  int64_t n = 1;
  if (!t->storage) return 0;
  for (int i = 0; i < t->ndim; i++) n *= t->size[i];
  return n;
}

int em_tensor_is_contiguous(const em_tensor *t) {
  int64_t expect = 1;
  for (int i = 0; i < t->ndim; i++)
    if (t->size[i] == 0) return 1;   /* no elements: any strides will do */
  for (int i = t->ndim - 1; i >= 0; i--) {
    if (t->size[i] != 1 && t->stride[i] != expect) return 0;
    expect *= t->size[i];
  }
  return 1;
}

int em_tensor_same_view(const em_tensor *a, const em_tensor *b) {
  if (a == b) return 1;
  if (a->storage != b->storage || a->offset != b->offset || a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->size[i] != b->size[i] || (a->size[i] > 1 && a->stride[i] != b->stride[i])) return 0;
  return 1;
}

int em_tensor_same_size(const em_tensor *a, const em_tensor *b) {
  if (a->ndim != b->ndim) return 0;
  for (int i = 0; i < a->ndim; i++)
    if (a->size[i] != b->size[i]) return 0;
  return 1;
}

const char *em_tensor_shape_str(const em_tensor *t, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  if (t->ndim == 0) {
    snprintf(buf, len, "%s", t->storage ? "scalar" : "empty");
    return buf;
  }
  for (int i = 0; i < t->ndim && used < len; i++) {
    int w = snprintf(buf + used, len - used, i ? "x%lld" : "%lld", (long long)t->size[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
  return buf;
}

static void set_contiguous_strides(em_tensor *t) {
  int64_t s = 1;
  for (int i = t->ndim - 1; i >= 0; i--) {
    t->stride[i] = s;
    s *= t->size[i];
  }
}

/* Checks sizes and returns their product in *n; rejects overflow. */
static em_status count_elements(int ndim, const int64_t *size, size_t *n, em_err *err) {
  size_t total = 1;
  if (ndim < 0 || ndim > EM_MAXDIM)
    return em_fail(err, EM_EARG, "a tensor has 0 to %d dimensions, got %d", EM_MAXDIM, ndim);
  for (int i = 0; i < ndim; i++) {
    if (size[i] < 0)
      return em_fail(err, EM_EARG, "size %lld at dimension %d is negative",
                     (long long)size[i], i + 1);
    if (size[i] && total > (SIZE_MAX / 8) / (size_t)size[i])
      return em_fail(err, EM_ENOMEM, "tensor too large");
    total *= (size_t)size[i];
  }
  *n = total;
  return EM_OK;
}

em_status em_tensor_new(em_tensor *t, int ndim, const int64_t *size, em_err *err) {
  size_t n;
  em_storage *s;
  em_status st = count_elements(ndim, size, &n, err);
  if (st) return st;
  s = em_storage_new(n);
  if (!s) return em_fail(err, EM_ENOMEM, "out of memory allocating %zu floats", n);
  em_storage_release(t->storage);
  t->storage = s;
  t->offset = 0;
  t->ndim = ndim;
  for (int i = 0; i < ndim; i++) t->size[i] = size[i];
  set_contiguous_strides(t);
  return EM_OK;
}

em_status em_tensor_resize(em_tensor *t, int ndim, const int64_t *size, em_err *err) {
  size_t n;
  em_status st = count_elements(ndim, size, &n, err);
  if (st) return st;
  if (t->storage && t->storage->refcount == 1 && !t->storage->release &&
      t->storage->size >= n) {
    /* an unshared storage big enough: reuse it from its start */
    t->offset = 0;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->size[i] = size[i];
    set_contiguous_strides(t);
    return EM_OK;
  }
  if (t->storage && em_tensor_is_contiguous(t) && t->ndim == ndim) {
    int same = 1;
    for (int i = 0; i < ndim; i++) same &= t->size[i] == size[i];
    if (same) return EM_OK;   /* shared but already the right shape */
  }
  return em_tensor_new(t, ndim, size, err);
}

em_status em_tensor_resize_as(em_tensor *t, const em_tensor *like, em_err *err) {
  return em_tensor_resize(t, like->ndim, like->size, err);
}

void em_tensor_set(em_tensor *dst, const em_tensor *src) {
  if (dst == src) return;
  em_storage_retain(src->storage);
  em_storage_release(dst->storage);
  *dst = *src;
}

/* ------------------------------------------------------------------ views */

em_status em_tensor_view(em_tensor *dst, const em_tensor *src, int ndim,
                         const int64_t *size, em_err *err) {
  int64_t sz[EM_MAXDIM], known = 1, have = em_tensor_nelement(src);
  int infer = -1;
  char a[128];
  if (ndim < 0 || ndim > EM_MAXDIM)
    return em_fail(err, EM_EARG, "a tensor has 0 to %d dimensions, got %d", EM_MAXDIM, ndim);
  if (!src->storage) return em_fail(err, EM_EARG, "cannot view an empty tensor");
  for (int i = 0; i < ndim; i++) {
    sz[i] = size[i];
    if (sz[i] == -1) {
      if (infer >= 0) return em_fail(err, EM_EARG, "only one size may be -1");
      infer = i;
    } else if (sz[i] < 0) {
      return em_fail(err, EM_EARG, "size %lld at dimension %d is negative", (long long)sz[i], i + 1);
    } else {
      known *= sz[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || have % known)
      return em_fail(err, EM_ESHAPE, "cannot view %lld elements (%s) with a -1 size and %lld known",
                     (long long)have, em_tensor_shape_str(src, a, sizeof a), (long long)known);
    sz[infer] = have / known;
    known = have;
  }
  if (known != have)
    return em_fail(err, EM_ESHAPE, "%lld elements (%s) cannot be viewed as %lld",
                   (long long)have, em_tensor_shape_str(src, a, sizeof a), (long long)known);
  if (!em_tensor_is_contiguous(src))
    return em_fail(err, EM_ESHAPE, "view needs a contiguous tensor (call contiguous() first)");
  em_tensor_set(dst, src);
  dst->ndim = ndim;
  for (int i = 0; i < ndim; i++) dst->size[i] = sz[i];
  set_contiguous_strides(dst);
  return EM_OK;
}

static em_status check_dim(const em_tensor *t, int dim, em_err *err) {
  if (dim < 0 || dim >= t->ndim)
    return em_fail(err, EM_EARG, "dimension %d out of range for a %d-dimensional tensor",
                   dim + 1, t->ndim);
  return EM_OK;
}

em_status em_tensor_narrow(em_tensor *dst, const em_tensor *src, int dim, int64_t start,
                           int64_t len, em_err *err) {
  em_status st = check_dim(src, dim, err);
  if (st) return st;
  if (start < 0 || len < 0 || start + len > src->size[dim])
    return em_fail(err, EM_EARG, "narrow(%d, %lld, %lld) out of range: dimension %d has size %lld",
                   dim + 1, (long long)start + 1, (long long)len, dim + 1,
                   (long long)src->size[dim]);
  em_tensor_set(dst, src);
  dst->offset += (size_t)(start * src->stride[dim]);
  dst->size[dim] = len;
  return EM_OK;
}

em_status em_tensor_select(em_tensor *dst, const em_tensor *src, int dim, int64_t index,
                           em_err *err) {
  em_status st = check_dim(src, dim, err);
  if (st) return st;
  if (index < 0 || index >= src->size[dim])
    return em_fail(err, EM_EARG, "index %lld out of range: dimension %d has size %lld",
                   (long long)index + 1, dim + 1, (long long)src->size[dim]);
  em_tensor_set(dst, src);
  dst->offset += (size_t)(index * src->stride[dim]);
  for (int i = dim; i < src->ndim - 1; i++) {
    dst->size[i] = src->size[i + 1];
    dst->stride[i] = src->stride[i + 1];
  }
  dst->ndim--;
  return EM_OK;
}

em_status em_tensor_transpose(em_tensor *dst, const em_tensor *src, int d1, int d2, em_err *err) {
  em_status st;
  int64_t tmp;
  if ((st = check_dim(src, d1, err)) || (st = check_dim(src, d2, err))) return st;
  em_tensor_set(dst, src);
  tmp = dst->size[d1]; dst->size[d1] = dst->size[d2]; dst->size[d2] = tmp;
  tmp = dst->stride[d1]; dst->stride[d1] = dst->stride[d2]; dst->stride[d2] = tmp;
  return EM_OK;
}

em_status em_tensor_permute(em_tensor *dst, const em_tensor *src, const int *perm, em_err *err) {
  int seen[EM_MAXDIM] = {0};
  int64_t sz[EM_MAXDIM], sd[EM_MAXDIM];
  for (int i = 0; i < src->ndim; i++) {
    if (perm[i] < 0 || perm[i] >= src->ndim || seen[perm[i]])
      return em_fail(err, EM_EARG, "permute: not a permutation of 1..%d", src->ndim);
    seen[perm[i]] = 1;
    sz[i] = src->size[perm[i]];
    sd[i] = src->stride[perm[i]];
  }
  em_tensor_set(dst, src);
  for (int i = 0; i < src->ndim; i++) {
    dst->size[i] = sz[i];
    dst->stride[i] = sd[i];
  }
  return EM_OK;
}

/* ------------------------------------------------------------------- data */

/* Walks a tensor in logical (row-major) order. */
typedef struct iter {
  const em_tensor *t;
  int64_t idx[EM_MAXDIM];
  float *p;
} iter;

static void iter_start(iter *it, const em_tensor *t) {
  it->t = t;
  memset(it->idx, 0, sizeof it->idx);
  it->p = em_tensor_data(t);
}

static void iter_next(iter *it) {
  const em_tensor *t = it->t;
  for (int d = t->ndim - 1; d >= 0; d--) {
    if (++it->idx[d] < t->size[d]) {
      it->p += t->stride[d];
      return;
    }
    it->p -= (it->idx[d] - 1) * t->stride[d];
    it->idx[d] = 0;
  }
}

em_status em_tensor_copy(em_tensor *dst, const em_tensor *src, em_err *err) {
  int64_t n = em_tensor_nelement(src);
  char a[128], b[128];
  if (n != em_tensor_nelement(dst))
    return em_fail(err, EM_ESHAPE, "copy: source has %lld elements (%s), destination %lld (%s)",
                   (long long)n, em_tensor_shape_str(src, a, sizeof a),
                   (long long)em_tensor_nelement(dst), em_tensor_shape_str(dst, b, sizeof b));
  if (n == 0) return EM_OK;
  if (em_tensor_is_contiguous(dst) && em_tensor_is_contiguous(src)) {
    memmove(em_tensor_data(dst), em_tensor_data(src), (size_t)n * sizeof(float));
    return EM_OK;
  }
  {
    iter i, o;
    iter_start(&i, src);
    iter_start(&o, dst);
    for (int64_t k = 0; k < n; k++) {
      *o.p = *i.p;
      iter_next(&i);
      iter_next(&o);
    }
  }
  return EM_OK;
}

em_status em_tensor_fill(em_tensor *t, float v, em_err *err) {
  int64_t n = em_tensor_nelement(t);
  iter it;
  (void)err;
  if (em_tensor_is_contiguous(t)) {
    float *p = em_tensor_data(t);
    for (int64_t k = 0; k < n; k++) p[k] = v;
    return EM_OK;
  }
  iter_start(&it, t);
  for (int64_t k = 0; k < n; k++) {
    *it.p = v;
    iter_next(&it);
  }
  return EM_OK;
}

em_status em_tensor_zero(em_tensor *t, em_err *err) {
  return em_tensor_fill(t, 0.0f, err);
}

em_status em_tensor_contiguous(em_tensor *dst, const em_tensor *src, em_err *err) {
  em_tensor tmp;
  em_status st;
  if (em_tensor_is_contiguous(src)) {
    em_tensor_set(dst, src);
    return EM_OK;
  }
  em_tensor_init(&tmp);
  if ((st = em_tensor_new(&tmp, src->ndim, src->size, err)) ||
      (st = em_tensor_copy(&tmp, src, err))) {
    em_tensor_free(&tmp);
    return st;
  }
  em_tensor_free(dst);
  *dst = tmp;
  return EM_OK;
}
