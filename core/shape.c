/* shape.c -- kernels that move data without arithmetic on it (mostly):
** concatenation, channel shuffle, permutation, 2-D padding, nearest and
** bilinear resizing. */

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"

/* ---------------------------------------------------------------- helpers */

/* An input a kernel can read: has storage, enough dims, no zero size (a
** zero-sized plane would make every index map below meaningless). */
static em_status check_input(const em_tensor *t, int mindim, em_err *err) {
  char s[128];
  if (!t || !t->storage) return em_fail(err, EM_EARG, "input is empty");
  if (t->ndim < mindim)
    return em_fail(err, EM_ESHAPE, "expected an input of at least %d dimensions, got %d (%s)",
                   mindim, t->ndim, em_tensor_shape_str(t, s, sizeof s));
  if (em_tensor_nelement(t) == 0)
    return em_fail(err, EM_ESHAPE, "input %s has no elements",
                   em_tensor_shape_str(t, s, sizeof s));
  return EM_OK;
}

/* The kernels write the output while reading the input: sharing memory
** would read values already overwritten. */
static em_status check_alias(const em_tensor *out, const em_tensor *in, em_err *err) {
  if (out == in || (out->storage && out->storage == in->storage))
    return em_fail(err, EM_EARG, "output shares memory with the input");
  return EM_OK;
}

/* Product of the sizes of dims [from, to). */
static int64_t span(const em_tensor *t, int from, int to) {
  int64_t n = 1;
  for (int d = from; d < to; d++) n *= t->size[d];
  return n;
}

/* ------------------------------------------------------------------ concat */

/* Whether dims from..ndim-1 of t are laid out contiguously: then each index
** of the leading dims starts one contiguous block (a channel narrow of an
** N,C,H,W tensor, as ShuffleNet's split makes, is such a tensor). */
static int blocks_contiguous(const em_tensor *t, int from) {
  int64_t expect = 1;
  for (int d = t->ndim - 1; d >= from; d--) {
    if (t->size[d] != 1 && t->stride[d] != expect) return 0;
    expect *= t->size[d];
  }
  return 1;
}

/* Storage offset (from t's data) of the block at flat index o of dims 0..from-1. */
static int64_t outer_offset(const em_tensor *t, int from, int64_t o) {
  int64_t off = 0;
  for (int d = from - 1; d >= 0; d--) {
    off += (o % t->size[d]) * t->stride[d];
    o /= t->size[d];
  }
  return off;
}

em_status em_concat_forward(em_ctx *ctx, const em_tensor *const *inputs, int n, em_tensor *output,
                            int dim, em_err *err) {
  const em_tensor *first;
  int64_t size[EM_MAXDIM], total = 0, outer, inner, offset = 0;
  char a[128], b[128];
  em_status st;
  if (!inputs || n < 1) return em_fail(err, EM_EARG, "concat needs at least one input, got %d", n);
  first = inputs[0];
  for (int i = 0; i < n; i++) {
    const em_tensor *t = inputs[i];
    if (!t || !t->storage) return em_fail(err, EM_EARG, "input %d is empty", i + 1);
    if (t->ndim != first->ndim)
      return em_fail(err, EM_ESHAPE, "input %d has %d dimensions (%s), input 1 has %d (%s)", i + 1,
                     t->ndim, em_tensor_shape_str(t, a, sizeof a), first->ndim,
                     em_tensor_shape_str(first, b, sizeof b));
    if (dim < 0 || dim >= t->ndim)
      return em_fail(err, EM_EARG, "dimension %d out of range for %d-dimensional inputs",
                     dim + 1, t->ndim);
    for (int d = 0; d < t->ndim; d++)
      if (d != dim && t->size[d] != first->size[d])
        return em_fail(err, EM_ESHAPE, "input %d size %s does not match %s outside dim %d", i + 1,
                       em_tensor_shape_str(t, a, sizeof a),
                       em_tensor_shape_str(first, b, sizeof b), dim + 1);
    if ((st = check_alias(output, t, err))) return st;
    total += t->size[dim];
  }
  for (int d = 0; d < first->ndim; d++) size[d] = first->size[d];
  size[dim] = total;
  if ((st = em_tensor_resize(output, first->ndim, size, err)) || EM_DRY(ctx)) return st;
  outer = span(first, 0, dim);
  inner = span(first, dim + 1, first->ndim);
  for (int i = 0; i < n; i++) {
    const em_tensor *t = inputs[i];
    int64_t len = t->size[dim], block = len * inner;
    if (em_tensor_nelement(t) == 0) continue;
    if (blocks_contiguous(t, dim)) {
      /* each outer index holds one contiguous block of this input */
      float *dst = em_tensor_data(output) + offset * inner;
      for (int64_t o = 0; o < outer; o++)
        memcpy(dst + o * total * inner, em_tensor_data(t) + outer_offset(t, dim, o),
               (size_t)block * sizeof(float));
    } else {
      em_tensor part;
      em_tensor_init(&part);
      st = em_tensor_narrow(&part, output, dim, offset, len, err);
      if (!st) st = em_tensor_copy(&part, t, err);
      em_tensor_free(&part);
      if (st) return st;
    }
    offset += len;
  }
  return EM_OK;
}

/* --------------------------------------------------------- channel shuffle */

/* Fewer floats than this are shuffled (or permuted) by one thread: a
** parallel region costs more than copying them. */
#define SHUFFLE_PARALLEL_MIN (1 << 15)

typedef struct copy_job { const float *const *from; float *out; int64_t inner; } copy_job;

/* Output planes [q0, q1), each from its source (none: already in place). */
static void copy_planes(void *arg, int64_t q0, int64_t q1, int t) {
  const copy_job *j = arg;
  (void)t;
  for (int64_t q = q0; q < q1; q++)
    if (j->from[q]) memcpy(j->out + q * j->inner, j->from[q], (size_t)j->inner * sizeof(float));
}

/* ShuffleNet's shuffle: channels seen as (groups, C/groups) are transposed
** to (C/groups, groups), so output channel k*groups + g is input g*C/groups + k.
** The inputs are joined along the channels first, virtually: each plane is
** copied once, from whichever input holds it. */

/* Whether every plane of input t (joined channels from c0) lies where the
** shuffle of C channels in groups writes it in output. */
static int in_place(const em_tensor *t, const em_tensor *output, int64_t c0, int64_t C, int groups,
                    int64_t inner) {
  int64_t cpg = C / groups;
  if (!blocks_contiguous(t, 2) || output->ndim != t->ndim || !em_tensor_is_contiguous(output))
    return 0;
  const float *x = em_tensor_data(t), *y = em_tensor_data(output);
  for (int64_t img = 0; img < t->size[0]; img++) {
    /* joined channel c0 + k is g * cpg + j: it goes to output channel j * groups + g */
    int64_t g = c0 / cpg, j = c0 % cpg;
    for (int64_t k = 0; k < t->size[1]; k++) {
      if (x + img * t->stride[0] + k * t->stride[1] != y + (img * C + j * groups + g) * inner) return 0;
      if (++j == cpg) j = 0, g++;
    }
  }
  return 1;
}

em_status em_channel_shuffle_join_forward(em_ctx *ctx, const em_tensor *const *inputs, int n,
                                          em_tensor *output, int groups, em_err *err) {
  const em_tensor *first;
  em_tensor *tmp = NULL;
  const em_tensor **src = NULL;
  const float **from = NULL;
  int64_t *start = NULL, size[EM_MAXDIM], N, C = 0, cpg, inner;
  char s[128], t2[128];
  em_status st = EM_OK;
  if (!inputs || n < 1) return em_fail(err, EM_EARG, "channel shuffle needs an input, got %d", n);
  if (groups < 1) return em_fail(err, EM_EARG, "groups must be positive, got %d", groups);
  first = inputs[0];
  for (int i = 0; i < n; i++) {
    const em_tensor *t = inputs[i];
    /* one sharing the output's memory must lie in place (checked below) */
    if ((st = check_input(t, 2, err)) ||
        (t->storage != output->storage && (st = check_alias(output, t, err))))
      return st;
    if (t->ndim != first->ndim)
      return em_fail(err, EM_ESHAPE, "input %d has %d dimensions (%s), input 1 has %d (%s)", i + 1,
                     t->ndim, em_tensor_shape_str(t, s, sizeof s), first->ndim,
                     em_tensor_shape_str(first, t2, sizeof t2));
    for (int d = 0; d < t->ndim; d++)
      if (d != 1 && t->size[d] != first->size[d])
        return em_fail(err, EM_ESHAPE, "input %d size %s does not match %s outside the channels",
                       i + 1, em_tensor_shape_str(t, s, sizeof s),
                       em_tensor_shape_str(first, t2, sizeof t2));
    C += t->size[1];
  }
  if (C % groups) {
    if (n == 1)
      return em_fail(err, EM_ESHAPE, "%lld channels (input %s) are not divisible by %d groups",
                     (long long)C, em_tensor_shape_str(first, s, sizeof s), groups);
    return em_fail(err, EM_ESHAPE, "%lld channels (%d inputs joined) are not divisible by %d groups",
                   (long long)C, n, groups);
  }
  tmp = malloc(sizeof *tmp * (size_t)n);
  src = malloc(sizeof *src * (size_t)n);
  start = malloc(sizeof *start * (size_t)(n + 1));
  if (!tmp || !src || !start) {
    free(tmp); free(src); free(start);
    return em_fail(err, EM_ENOMEM, "channel shuffle: out of memory for %d inputs", n);
  }
  /* each input's (image, channel) planes must be contiguous blocks */
  start[0] = 0;
  for (int i = 0; i < n; i++) {
    em_tensor_init(&tmp[i]);
    src[i] = inputs[i];
    if (!st && !blocks_contiguous(inputs[i], 2) && !(st = em_tensor_contiguous(&tmp[i], inputs[i], err)))
      src[i] = &tmp[i];
    start[i + 1] = start[i] + inputs[i]->size[1];
  }
  for (int d = 0; d < first->ndim; d++) size[d] = first->size[d];
  size[1] = C;
  if (!st) st = em_tensor_resize(output, first->ndim, size, err);
  N = first->size[0];
  cpg = C / groups;
  inner = span(first, 2, first->ndim);
  /* an input already written where the shuffle puts it (its producer wrote
  ** into a view of the output, ember/plan.lua) is not copied */
  for (int i = 0; i < n && !st; i++)
    if (inputs[i]->storage == output->storage && !in_place(inputs[i], output, start[i], C, groups, inner))
      st = em_fail(err, EM_EARG, "output shares memory with the input");
  if (!st && !EM_DRY(ctx) && !(from = malloc(sizeof *from * (size_t)(N * C))))
    st = em_fail(err, EM_ENOMEM, "channel shuffle: out of memory for %lld planes", (long long)(N * C));
  if (!st && from) {
    float *out = em_tensor_data(output);
    int64_t planes = N * C, p = 0;
    /* output plane (img, j * groups + g) comes from joined channel g * cpg + j,
    ** none where that input lies in place: found in order, with no division
    ** per plane (several cost more than copying a 7x7 plane) */
    for (int64_t img = 0; img < N; img++)
      for (int64_t j = 0; j < cpg; j++)
        for (int g = 0; g < groups; g++, p++) {
          int64_t c = g * cpg + j;
          int i = 0;
          while (c >= start[i + 1]) i++;
          const em_tensor *t = src[i];
          from[p] = t->storage == output->storage ? NULL
                  : em_tensor_data(t) + img * t->stride[0] + (c - start[i]) * t->stride[1];
        }
    copy_job cj = { from, out, inner };
    em_parallel(ctx, planes * inner >= SHUFFLE_PARALLEL_MIN ? INT_MAX : 1, planes, copy_planes, &cj);
  }
  for (int i = 0; i < n; i++) em_tensor_free(&tmp[i]);
  free(tmp); free(src); free(start); free(from);
  return st;
}

em_status em_channel_shuffle_forward(const em_tensor *input, em_tensor *output,
                                     int groups, em_err *err) {
  return em_channel_shuffle_join_forward(NULL, &input, 1, output, groups, err);
}

/* ----------------------------------------------------------------- permute */

/* Side of the square tiles of a transposing copy: 32 source rows of 32
** floats stay in L1 while the destination is written row by row. */
#define PERMUTE_TILE 32

/* One destination block of the permuted copy: nd (coalesced) dims of sizes
** sz, source strides ss; the destination is contiguous. The last dim is the
** inner loop; k >= 0 names a dim whose source stride is 1 (then the copy
** runs in tiles over dims k and nd-1 so both sides read whole cache lines). */
typedef struct permute_plan {
  int nd, k;
  int64_t sz[EM_MAXDIM], ss[EM_MAXDIM], ds[EM_MAXDIM], outer;
  const float *src;
  float *dst;
} permute_plan;

/* Source and destination offsets of outer block o: o counts the dims other
** than the last (and other than k when tiling), row-major. */
static void permute_block(const permute_plan *q, int64_t o, int64_t *so, int64_t *dof) {
  int64_t s = 0, d = 0;
  for (int i = q->nd - 2; i >= 0; i--) {
    if (i == q->k) continue;
    int64_t idx = o % q->sz[i];
    o /= q->sz[i];
    s += idx * q->ss[i];
    d += idx * q->ds[i];
  }
  *so = s;
  *dof = d;
}

static void permute_run(const permute_plan *q, int64_t o) {
  int64_t so, dof, n = q->sz[q->nd - 1], st = q->ss[q->nd - 1];
  const float *src;
  float *dst;
  permute_block(q, o, &so, &dof);
  src = q->src + so;
  dst = q->dst + dof;
  if (st == 1) {
    memcpy(dst, src, (size_t)n * sizeof(float));
  } else if (q->k < 0) {
    for (int64_t j = 0; j < n; j++) dst[j] = src[j * st];
  } else {
    int64_t m = q->sz[q->k], dk = q->ds[q->k];
    for (int64_t i0 = 0; i0 < m; i0 += PERMUTE_TILE)
      for (int64_t j0 = 0; j0 < n; j0 += PERMUTE_TILE) {
        int64_t i1 = i0 + PERMUTE_TILE < m ? i0 + PERMUTE_TILE : m;
        int64_t j1 = j0 + PERMUTE_TILE < n ? j0 + PERMUTE_TILE : n;
        for (int64_t i = i0; i < i1; i++)
          for (int64_t j = j0; j < j1; j++) dst[i * dk + j] = src[i + j * st];
      }
  }
}

static void permute_runs(void *arg, int64_t o0, int64_t o1, int t) {
  (void)t;
  for (int64_t o = o0; o < o1; o++) permute_run(arg, o);
}

em_status em_permute_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                             const int *perm, em_err *err) {
  int seen[EM_MAXDIM] = {0};
  int64_t size[EM_MAXDIM], total;
  permute_plan q;
  em_status st;
  if (!input || !input->storage) return em_fail(err, EM_EARG, "input is empty");
  if ((st = check_alias(output, input, err))) return st;
  for (int i = 0; i < input->ndim; i++) {
    if (perm[i] < 0 || perm[i] >= input->ndim || seen[perm[i]])
      return em_fail(err, EM_EARG, "permute: not a permutation of 1..%d", input->ndim);
    seen[perm[i]] = 1;
    size[i] = input->size[perm[i]];
  }
  if ((st = em_tensor_resize(output, input->ndim, size, err))) return st;
  total = em_tensor_nelement(input);
  if (total == 0 || EM_DRY(ctx)) return EM_OK;
  /* drop unit dims, merge dims the source also steps through as one (the
  ** destination is contiguous, so it always does) */
  q.nd = 0;
  for (int i = 0; i < input->ndim; i++) {
    int64_t n = input->size[perm[i]], s = input->stride[perm[i]];
    if (n == 1) continue;
    if (q.nd > 0 && q.ss[q.nd - 1] == s * n) {
      q.sz[q.nd - 1] *= n;
      q.ss[q.nd - 1] = s;
      continue;
    }
    q.sz[q.nd] = n;
    q.ss[q.nd] = s;
    q.nd++;
  }
  if (q.nd == 0) { q.sz[0] = 1; q.ss[0] = 1; q.nd = 1; }
  q.ds[q.nd - 1] = 1;
  for (int i = q.nd - 2; i >= 0; i--) q.ds[i] = q.ds[i + 1] * q.sz[i + 1];
  q.k = -1;
  if (q.ss[q.nd - 1] != 1)
    for (int i = 0; i < q.nd - 1; i++) if (q.ss[i] == 1) q.k = i;
  q.outer = total / q.sz[q.nd - 1] / (q.k >= 0 ? q.sz[q.k] : 1);
  q.src = em_tensor_data(input);
  q.dst = em_tensor_data(output);
  em_parallel(ctx, total >= SHUFFLE_PARALLEL_MIN ? INT_MAX : 1, q.outer, permute_runs, &q);
  return EM_OK;
}

/* ----------------------------------------------------------------- padding */

/* Source index of padded position i (input coordinates, may be outside
** 0..n-1), or -1 for the constant value. Reflection is valid for
** -(n-1) <= i <= 2(n-1), which em_pad2d_forward checks. */
static int64_t pad_index(int64_t i, int64_t n, em_padmode mode) {
  if (i >= 0 && i < n) return i;
  if (mode == EM_PAD_REPLICATE) return i < 0 ? 0 : n - 1;
  if (mode == EM_PAD_REFLECT) return i < 0 ? -i : 2 * (n - 1) - i;
  return -1;
}

/* One output row from source row `row` (NULL: all constant). */
static void pad_row(float *dst, const float *row, int64_t W, int64_t ow, int pl,
                    em_padmode mode, float value) {
  int64_t left, right;
  if (!row) {
    for (int64_t x = 0; x < ow; x++) dst[x] = value;
    return;
  }
  /* [0, left) and [right, ow) are padding; between them a plain copy */
  left = pl > 0 ? (pl < ow ? pl : ow) : 0;
  right = W + pl < ow ? W + pl : ow;
  if (right < left) right = left;
  for (int64_t x = 0; x < left; x++) {
    int64_t ix = pad_index(x - pl, W, mode);
    dst[x] = ix < 0 ? value : row[ix];
  }
  if (right > left) memcpy(dst + left, row + (left - pl), (size_t)(right - left) * sizeof(float));
  for (int64_t x = right; x < ow; x++) {
    int64_t ix = pad_index(x - pl, W, mode);
    dst[x] = ix < 0 ? value : row[ix];
  }
}

em_status em_pad2d_forward(const em_tensor *input, em_tensor *output,
                           int pl, int pr, int pt, int pb, em_padmode mode,
                           float value, em_err *err) {
  em_tensor src;
  int64_t size[EM_MAXDIM], H, W, oh, ow, planes;
  int nd;
  em_status st;
  char s[128];
  if ((st = check_input(input, 2, err))) return st;
  if ((st = check_alias(output, input, err))) return st;
  if (mode != EM_PAD_ZERO && mode != EM_PAD_REFLECT && mode != EM_PAD_REPLICATE)
    return em_fail(err, EM_EARG, "unknown padding mode %d", (int)mode);
  nd = input->ndim;
  H = input->size[nd - 2];
  W = input->size[nd - 1];
  oh = H + pt + pb;
  ow = W + pl + pr;
  if (oh < 1 || ow < 1)
    return em_fail(err, EM_ESHAPE, "padding (l=%d, r=%d, t=%d, b=%d) of a %lldx%lld input "
                   "leaves %lldx%lld", pl, pr, pt, pb, (long long)H, (long long)W,
                   (long long)oh, (long long)ow);
  if (mode == EM_PAD_REFLECT && (pt > H - 1 || pb > H - 1 || pl > W - 1 || pr > W - 1))
    return em_fail(err, EM_ESHAPE, "reflection padding (l=%d, r=%d, t=%d, b=%d) must be less "
                   "than the input size %lldx%lld (input %s)", pl, pr, pt, pb, (long long)H,
                   (long long)W, em_tensor_shape_str(input, s, sizeof s));
  for (int d = 0; d < nd; d++) size[d] = input->size[d];
  size[nd - 2] = oh;
  size[nd - 1] = ow;
  em_tensor_init(&src);
  if ((st = em_tensor_contiguous(&src, input, err))) return st;
  if ((st = em_tensor_resize(output, nd, size, err))) {
    em_tensor_free(&src);
    return st;
  }
  planes = span(input, 0, nd - 2);
  for (int64_t p = 0; p < planes; p++) {
    const float *in = em_tensor_data(&src) + p * H * W;
    float *out = em_tensor_data(output) + p * oh * ow;
    for (int64_t y = 0; y < oh; y++) {
      int64_t iy = pad_index(y - pt, H, mode);
      pad_row(out + y * ow, iy < 0 ? NULL : in + iy * W, W, ow, pl, mode, value);
    }
  }
  em_tensor_free(&src);
  return EM_OK;
}

/* --------------------------------------------------------------- upsample */

/* Shared checks and setup: a contiguous source and the resized output. */
static em_status resize_setup(const em_tensor *input, em_tensor *output, int oh, int ow,
                              em_tensor *src, em_err *err) {
  int64_t size[EM_MAXDIM];
  int nd;
  em_status st;
  if ((st = check_input(input, 2, err))) return st;
  if ((st = check_alias(output, input, err))) return st;
  if (oh < 1 || ow < 1)
    return em_fail(err, EM_EARG, "output size must be positive, got %dx%d", oh, ow);
  nd = input->ndim;
  for (int d = 0; d < nd; d++) size[d] = input->size[d];
  size[nd - 2] = oh;
  size[nd - 1] = ow;
  if ((st = em_tensor_contiguous(src, input, err))) return st;
  if ((st = em_tensor_resize(output, nd, size, err))) {
    em_tensor_free(src);
    return st;
  }
  return EM_OK;
}

/* PyTorch's 'nearest': source = min(floor(dst * (float)in/out), in-1), in
** float as PyTorch computes it, so fractional ratios pick the same pixels. */
static int64_t nearest_index(int64_t dst, int64_t in, int64_t out) {
  float scale = (float)in / (float)out;
  int64_t i = (int64_t)floorf((float)dst * scale);
  return i < in - 1 ? i : in - 1;
}

/* Column tables are computed per tile of this many output columns, on the
** stack: the per-pixel index arithmetic is then done once per column. */
#define TILE 256

em_status em_upsample_nearest_forward(const em_tensor *input, em_tensor *output,
                                      int oh, int ow, em_err *err) {
  em_tensor src;
  int64_t H, W, planes;
  em_status st;
  em_tensor_init(&src);
  if ((st = resize_setup(input, output, oh, ow, &src, err))) return st;
  H = input->size[input->ndim - 2];
  W = input->size[input->ndim - 1];
  planes = span(input, 0, input->ndim - 2);
  for (int64_t x0 = 0; x0 < ow; x0 += TILE) {
    int64_t n = ow - x0 < TILE ? ow - x0 : TILE, ix[TILE];
    for (int64_t k = 0; k < n; k++) ix[k] = nearest_index(x0 + k, W, ow);
    for (int64_t p = 0; p < planes; p++) {
      const float *in = em_tensor_data(&src) + p * H * W;
      float *out = em_tensor_data(output) + p * (int64_t)oh * ow + x0;
      int64_t prev = -1;
      for (int64_t y = 0; y < oh; y++) {
        int64_t iy = nearest_index(y, H, oh);
        float *dst = out + y * ow;
        const float *row = in + iy * W;
        if (iy == prev) {   /* upscaling repeats rows: copy the one just made */
          memcpy(dst, dst - ow, (size_t)n * sizeof(float));
          continue;
        }
        for (int64_t k = 0; k < n; k++) dst[k] = row[ix[k]];
        prev = iy;
      }
    }
  }
  em_tensor_free(&src);
  return EM_OK;
}

/* Bilinear source position of dst: the lower neighbour *i0, the step to the
** upper one *step (0 at the last row/column) and its weight *w1 (PyTorch's
** area_pixel_compute_source_index). */
static void linear_source(int64_t dst, int64_t in, int64_t out, int align_corners,
                          int64_t *i0, int64_t *step, float *w1) {
  float src;
  if (align_corners) {
    float scale = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
    src = scale * (float)dst;
  } else {
    float scale = (float)in / (float)out;
    src = scale * ((float)dst + 0.5f) - 0.5f;
    if (src < 0) src = 0;
  }
  *i0 = (int64_t)src;
  if (*i0 > in - 1) *i0 = in - 1;
  *step = *i0 < in - 1 ? 1 : 0;
  *w1 = src - (float)*i0;
}

em_status em_upsample_bilinear_forward(const em_tensor *input, em_tensor *output,
                                       int oh, int ow, int align_corners, em_err *err) {
  em_tensor src;
  int64_t H, W, planes;
  em_status st;
  em_tensor_init(&src);
  if ((st = resize_setup(input, output, oh, ow, &src, err))) return st;
  H = input->size[input->ndim - 2];
  W = input->size[input->ndim - 1];
  planes = span(input, 0, input->ndim - 2);
  for (int64_t xs = 0; xs < ow; xs += TILE) {
    int64_t n = ow - xs < TILE ? ow - xs : TILE, lo[TILE], hi[TILE];
    float w0[TILE], w1[TILE];
    for (int64_t k = 0; k < n; k++) {
      int64_t step;
      linear_source(xs + k, W, ow, align_corners, &lo[k], &step, &w1[k]);
      hi[k] = lo[k] + step;
      w0[k] = 1.0f - w1[k];
    }
    for (int64_t p = 0; p < planes; p++) {
      const float *in = em_tensor_data(&src) + p * H * W;
      float *out = em_tensor_data(output) + p * (int64_t)oh * ow + xs;
      for (int64_t y = 0; y < oh; y++) {
        int64_t y0, dy;
        float wy1, wy0;
        const float *r0, *r1;
        float *dst = out + y * ow;
        linear_source(y, H, oh, align_corners, &y0, &dy, &wy1);
        wy0 = 1.0f - wy1;
        r0 = in + y0 * W;
        r1 = r0 + dy * W;
        for (int64_t k = 0; k < n; k++)
          dst[k] = wy0 * (w0[k] * r0[lo[k]] + w1[k] * r0[hi[k]]) +
                   wy1 * (w0[k] * r1[lo[k]] + w1[k] * r1[hi[k]]);
      }
    }
  }
  em_tensor_free(&src);
  return EM_OK;
}
