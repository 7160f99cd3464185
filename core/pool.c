/* pool.c -- max, average and adaptive pooling over N,C,H,W planes.
** Output sizes and divisors follow PyTorch (and ONNX, which agrees). */

#include <math.h>

#include "ember.h"
#include "poolrow.h"

/* Floor division for a possibly negative numerator (b > 0). */
static int64_t floor_div(int64_t a, int64_t b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t ceil_div(int64_t a, int64_t b) {
  return a > 0 ? (a + b - 1) / b : -(-a / b);
}

/* PyTorch's pooling_output_shape_pad_lr: in ceil mode the last window must
** start inside the input or the left padding, else it would see only
** right padding (and, for max pooling, output -inf). */
static int64_t out_size(int64_t in, int k, int s, int pl, int pr, int d, int ceil_mode) {
  int64_t ext = (int64_t)d * (k - 1) + 1;
  int64_t o = floor_div(in + pl + pr - ext + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (o - 1) * s >= in + pl) o--;
  return o;
}

/* The input must be a non-empty N,C,H,W tensor and the output a distinct
** tensor: resizing an output that shares the input's storage would
** overwrite the input while it is read. */
static em_status check_io(const em_tensor *in, const em_tensor *out, em_err *err) {
  char a[128];
  if (!in->storage)
    return em_fail(err, EM_ESHAPE, "expected a 4-dimensional input (N,C,H,W), got an empty tensor");
  if (in->ndim != 4)
    return em_fail(err, EM_ESHAPE, "expected a 4-dimensional input (N,C,H,W), got %d dimensions (%s)",
                   in->ndim, em_tensor_shape_str(in, a, sizeof a));
  for (int i = 0; i < 4; i++)
    if (in->size[i] < 1)
      return em_fail(err, EM_ESHAPE, "input %s has a zero size", em_tensor_shape_str(in, a, sizeof a));
  if (out == in || (out->storage && out->storage == in->storage))
    return em_fail(err, EM_EARG, "the output must not share storage with the input");
  return EM_OK;
}

/* Checks p against the input and computes the output size. dilated says
** whether p's dilation applies (max pooling) or must be 1 (average). */
static em_status check_params(const em_tensor *in, const em_pool_params *p, int dilated,
                              int64_t *oh, int64_t *ow, em_err *err) {
  int dh = dilated ? p->dh : 1, dw = dilated ? p->dw : 1;
  int64_t H = in->size[2], W = in->size[3], eh, ew;
  if (p->kh < 1 || p->kw < 1)
    return em_fail(err, EM_EARG, "kernel size must be positive, got %dx%d", p->kw, p->kh);
  if (p->sh < 1 || p->sw < 1)
    return em_fail(err, EM_EARG, "stride must be positive, got %d,%d", p->sw, p->sh);
  if (p->pt < 0 || p->pl < 0 || p->pb < 0 || p->pr < 0)
    return em_fail(err, EM_EARG, "padding must not be negative, got top %d, left %d, bottom %d, right %d",
                   p->pt, p->pl, p->pb, p->pr);
  if (dilated && (p->dh < 1 || p->dw < 1))
    return em_fail(err, EM_EARG, "dilation must be positive, got %d,%d", p->dw, p->dh);
  if (!dilated && ((p->dh != 0 && p->dh != 1) || (p->dw != 0 && p->dw != 1)))
    return em_fail(err, EM_EARG, "average pooling has no dilation, got %d,%d", p->dw, p->dh);
  if (p->kh > 1 << 20 || p->kw > 1 << 20 || p->sh > 1 << 20 || p->sw > 1 << 20 ||
      dh > 1 << 20 || dw > 1 << 20)
    return em_fail(err, EM_EARG, "kernel %dx%d, stride %d,%d or dilation %d,%d too large",
                   p->kw, p->kh, p->sw, p->sh, dw, dh);
  eh = (int64_t)dh * (p->kh - 1) + 1;
  ew = (int64_t)dw * (p->kw - 1) + 1;
  /* a pad as wide as the (dilated) kernel would give windows of padding
  ** only (ONNX Runtime's rule; PyTorch's nn modules ask pad <= kernel/2) */
  if (p->pt >= eh || p->pb >= eh || p->pl >= ew || p->pr >= ew)
    return em_fail(err, EM_EARG, "padding (top %d, left %d, bottom %d, right %d) must be smaller than the kernel %lldx%lld",
                   p->pt, p->pl, p->pb, p->pr, (long long)ew, (long long)eh);
  *oh = out_size(H, p->kh, p->sh, p->pt, p->pb, dh, p->ceil_mode);
  *ow = out_size(W, p->kw, p->sw, p->pl, p->pr, dw, p->ceil_mode);
  if (*oh < 1 || *ow < 1) {
    if (eh > H + p->pt + p->pb || ew > W + p->pl + p->pr)
      return em_fail(err, EM_ESHAPE, "%skernel %lldx%lld is larger than the padded input %lldx%lld",
                     eh != p->kh || ew != p->kw ? "dilated " : "", (long long)ew, (long long)eh,
                     (long long)(W + p->pl + p->pr), (long long)(H + p->pt + p->pb));
    return em_fail(err, EM_ESHAPE, "output size would be %lldx%lld for input %lldx%lld",
                   (long long)*ow, (long long)*oh, (long long)W, (long long)H);
  }
  return EM_OK;
}

/* in: contiguous view of input; out resized to N,C,oh,ow. */
static em_status setup(const em_tensor *input, em_tensor *in, em_tensor *output,
                       int64_t oh, int64_t ow, em_err *err) {
  int64_t sz[4] = {input->size[0], input->size[1], oh, ow};
  em_status st;
  em_tensor_init(in);
  if ((st = em_tensor_contiguous(in, input, err))) return st;
  if ((st = em_tensor_resize(output, 4, sz, err))) em_tensor_free(in);
  return st;
}

static int nthreads(const em_ctx *ctx) {
  return ctx && ctx->nthreads > 0 ? ctx->nthreads : 1;
}

/* Output columns [*lo, *hi) whose windows lie wholly inside the input
** width: they need no bounds checks, and run as vector loops over ox. */
static void interior(int64_t W, int64_t ow, int k, int s, int pl, int d, int64_t *lo, int64_t *hi) {
  int64_t last = W - 1 - (int64_t)(k - 1) * d + pl;   /* ox*s may reach this */
  *lo = ceil_div(pl, s);
  *hi = last < 0 ? 0 : last / s + 1;
  if (*hi > ow) *hi = ow;
  if (*lo > *hi) *lo = *hi;
}

/* NaN wins, as in PyTorch; written as a select so the loops vectorise */
static inline float max_nan(float m, float v) { return (v > m) | (v != v) ? v : m; }

/* y[i] = max(y[i], r[i*s]) for i < n; inlined with s = 1 and 2 so those
** (the common strides) get constant-stride vector code */
static inline void max_row(float *restrict y, const float *restrict r, int64_t n, int64_t s) {
  for (int64_t i = 0; i < n; i++) y[i] = max_nan(y[i], r[i * s]);
}

static inline void sum_row(float *restrict y, const float *restrict r, int64_t n, int64_t s) {
  for (int64_t i = 0; i < n; i++) y[i] += r[i * s];
}

typedef void (*row_fn)(float *restrict, const float *restrict, int64_t, int64_t);
static void max_row_s1(float *restrict y, const float *restrict r, int64_t n, int64_t s) { (void)s; max_row(y, r, n, 1); }
static void max_row_s2(float *restrict y, const float *restrict r, int64_t n, int64_t s) { (void)s; max_row(y, r, n, 2); }
static void max_row_sn(float *restrict y, const float *restrict r, int64_t n, int64_t s) { max_row(y, r, n, s); }
static void sum_row_s1(float *restrict y, const float *restrict r, int64_t n, int64_t s) { (void)s; sum_row(y, r, n, 1); }
static void sum_row_s2(float *restrict y, const float *restrict r, int64_t n, int64_t s) { (void)s; sum_row(y, r, n, 2); }
static void sum_row_sn(float *restrict y, const float *restrict r, int64_t n, int64_t s) { sum_row(y, r, n, s); }

/* A max or average pooling: the checked sizes, a contiguous input, the
** interior columns and the row loop for the stride. */
typedef struct window {
  const em_pool_params *p;
  const float *src;
  float *dst;
  int64_t planes, H, W, oh, ow, lo, hi;
  row_fn row;
} window;

/* ---------------------------------------------------------------- max */

/* One output: the max over the window's cells inside the input. */
static float max_window(const float *x, int64_t W, int64_t ys, int64_t ky0, int64_t ky1,
                        int64_t xs, const em_pool_params *p) {
  int64_t kx0 = xs < 0 ? ceil_div(-xs, p->dw) : 0;
  int64_t kx1 = ceil_div(W - xs, p->dw);
  float m = -INFINITY;
  if (kx1 > p->kw) kx1 = p->kw;
  for (int64_t ky = ky0; ky < ky1; ky++) {
    const float *row = x + (ys + ky * p->dh) * W + xs;
    for (int64_t kx = kx0; kx < kx1; kx++) m = max_nan(m, row[kx * p->dw]);
  }
  return m;
}

/* Input columns of one tile of the separable max (on the stack). */
#define MAX_TILE_IN 512

/* The interior columns of output row oy, undilated along x: the kernel's
** rows are reduced first (contiguous passes over the input row span, which
** vectorise), then the kw-wide windows along that one row; kh + kw passes
** instead of kh * kw strided ones. Max is exact in any order and max_nan
** keeps a NaN from any cell, so the result is the same as cell by cell. */
static void max_interior_separable(const window *w, const float *x, float *y, int64_t ys,
                                   int64_t ky0, int64_t ky1) {
  const em_pool_params *p = w->p;
  float v[MAX_TILE_IN];
  int64_t tile = (MAX_TILE_IN - p->kw) / p->sw + 1;
  for (int64_t t0 = w->lo; t0 < w->hi; t0 += tile) {
    int64_t n = w->hi - t0 < tile ? w->hi - t0 : tile;
    int64_t len = (n - 1) * p->sw + p->kw;
    const float *r = x + (ys + ky0 * p->dh) * w->W + t0 * p->sw - p->pl;
    for (int64_t i = 0; i < len; i++) v[i] = r[i];
    for (int64_t ky = ky0 + 1; ky < ky1; ky++) {
      r = x + (ys + ky * p->dh) * w->W + t0 * p->sw - p->pl;
      for (int64_t i = 0; i < len; i++) v[i] = max_nan(v[i], r[i]);
    }
    for (int64_t i = 0; i < n; i++) y[t0 + i] = v[i * p->sw];
    for (int kx = 1; kx < p->kw; kx++) w->row(y + t0, v + kx, n, p->sw);
  }
}

/* Output row oy of one plane: x is the plane's input, y the row. */
static void max_line(const window *w, const float *x, float *y, int64_t oy) {
  const em_pool_params *p = w->p;
  const int64_t H = w->H, W = w->W, ow = w->ow, lo = w->lo, hi = w->hi;
  /* kernel rows ky with 0 <= ys + ky*dh < H */
  int64_t ys = oy * p->sh - p->pt;
  int64_t ky0 = ys < 0 ? ceil_div(-ys, p->dh) : 0;
  int64_t ky1 = ceil_div(H - ys, p->dh);
  if (ky1 > p->kh) ky1 = p->kh;
  /* the whole row at once when it fits on the stack: the window's rows
  ** reduced into one row v bordered by -inf (the padding), then kw passes
  ** along v, as avg_line; the border columns cost nothing extra (they went
  ** cell by cell, a third of the time on Inception's 28x28 pools) */
  int64_t span = (ow - 1) * p->sw + p->kw;
  if (span < p->pl + W) span = p->pl + W;
  if (p->dw == 1 && ky0 < ky1 && span <= MAX_TILE_IN) {
    float v[MAX_TILE_IN];
    const float *r = x + (ys + ky0 * p->dh) * W;
    for (int64_t i = 0; i < span; i++) v[i] = -INFINITY;
    for (int64_t i = 0; i < W; i++) v[p->pl + i] = r[i];
    for (int64_t ky = ky0 + 1; ky < ky1; ky++) max_row_s1(v + p->pl, x + (ys + ky * p->dh) * W, W, 1);
    for (int64_t ox = 0; ox < ow; ox++) y[ox] = v[ox * p->sw];
    for (int kx = 1; kx < p->kw; kx++) w->row(y, v + kx, ow, p->sw);
    return;
  }
  for (int64_t ox = 0; ox < lo; ox++)
    y[ox] = max_window(x, W, ys, ky0, ky1, ox * p->sw - p->pl, p);
  for (int64_t ox = hi; ox < ow; ox++)
    y[ox] = max_window(x, W, ys, ky0, ky1, ox * p->sw - p->pl, p);
  if (p->dw == 1 && p->kw <= MAX_TILE_IN / 2 && ky0 < ky1) {
    max_interior_separable(w, x, y, ys, ky0, ky1);
    return;
  }
  for (int64_t ox = lo; ox < hi; ox++) y[ox] = -INFINITY;
  for (int64_t ky = ky0; ky < ky1; ky++) {
    const float *r = x + (ys + ky * p->dh) * W + lo * p->sw - p->pl;
    for (int kx = 0; kx < p->kw; kx++) w->row(y + lo, r + kx * p->dw, hi - lo, p->sw);
  }
}

/* ------------------------------------------------------------ average */

/* Output row oy of one plane, separably: the window's input rows summed
** into one zero-bordered row v (kh vector passes), then the kw-wide sums
** along v (kw passes), then PyTorch's divisor per column. About 4x the
** speed of summing kh * kw strided rows into the interior and each border
** output cell by cell (Inception v3's 3x3 pools took 0.9 ms each). */
static void avg_line(const window *w, const float *x, float *y, int64_t oy) {
  const em_pool_params *p = w->p;
  const int64_t H = w->H, W = w->W, ow = w->ow;
  float v[MAX_TILE_IN];
  /* PyTorch's divisor: with count_include_pad the window is clipped to
  ** the padded input (so the ceil-mode overhang does not count), else
  ** to the input itself */
  int64_t y0 = oy * p->sh - p->pt, y1 = y0 + p->kh;
  if (y1 > H + p->pb) y1 = H + p->pb;
  int64_t ph = y1 - y0, span = (ow - 1) * p->sw + p->kw;   /* v's columns: x0 = -pl on */
  if (span < p->pl + W) span = p->pl + W;
  if (y0 < 0) y0 = 0;
  if (y1 > H) y1 = H;
  if (span > MAX_TILE_IN) {   /* too wide for the stack row: cell by cell */
    for (int64_t ox = 0; ox < ow; ox++) {
      int64_t x0 = ox * p->sw - p->pl, x1 = x0 + p->kw;
      if (x1 > W + p->pr) x1 = W + p->pr;
      int64_t pw = x1 - x0, count;
      float s = 0;
      if (x0 < 0) x0 = 0;
      if (x1 > W) x1 = W;
      if (y0 >= y1 || x0 >= x1) { y[ox] = 0; continue; }
      for (int64_t yy = y0; yy < y1; yy++)
        for (int64_t xx = x0; xx < x1; xx++) s += x[yy * W + xx];
      count = p->count_include_pad ? ph * pw : (y1 - y0) * (x1 - x0);
      y[ox] = s / (float)count;
    }
    return;
  }
  for (int64_t i = 0; i < span; i++) v[i] = 0;
  for (int64_t yy = y0; yy < y1; yy++) sum_row_s1(v + p->pl, x + yy * W, W, 1);
  for (int64_t ox = 0; ox < ow; ox++) y[ox] = v[ox * p->sw];
  for (int kx = 1; kx < p->kw; kx++) w->row(y, v + kx, ow, p->sw);
  if (y0 >= y1) {   /* no cells: 0, as PyTorch */
    for (int64_t ox = 0; ox < ow; ox++) y[ox] = 0.0f;
    return;
  }
  for (int64_t ox = 0; ox < ow; ox++) {
    int64_t x0, x1, count;
    if (ox == w->lo && w->lo < w->hi) {   /* the interior: one divisor, a vector loop */
      float c = (float)((p->count_include_pad ? ph : y1 - y0) * p->kw);
      for (; ox < w->hi; ox++) y[ox] /= c;
      if (ox >= ow) break;
    }
    x0 = ox * p->sw - p->pl;
    x1 = x0 + p->kw;
    if (x1 > W + p->pr) x1 = W + p->pr;
    if (p->count_include_pad) {
      count = ph * (x1 - x0);
    } else {
      if (x0 < 0) x0 = 0;
      if (x1 > W) x1 = W;
      count = (y1 - y0) * (x1 - x0);
    }
    y[ox] = count <= 0 ? 0.0f : y[ox] / (float)count;
  }
}

/* ------------------------------------------------------ both, by rows */

typedef struct rows_job {
  const window *w;
  const em_pool_rows *r;
  void (*line)(const window *, const float *, float *, int64_t);
  const float *count;   /* average: cells of each output of a plane pooled whole */
  int plane, vec;
} rows_job;

static void pool_planes(void *arg, int64_t p0, int64_t p1, int t) {
  const rows_job *j = arg;
  const window *w = j->w;
  (void)t;
  for (int64_t pl = p0; pl < p1; pl++) {
    if (j->plane && em_pool_plane(w->p, j->count, w->src + pl * w->H * w->W,
                                  w->dst + pl * w->oh * w->ow, w->H, w->W, w->oh, w->ow))
      continue;
    for (int64_t oy = 0; oy < w->oh; oy++) {
      const float *x = w->src + pl * w->H * w->W;
      float *y = w->dst + (pl * w->oh + oy) * w->ow;
      if (!j->vec || !em_pool_row(j->r, x, y, oy)) j->line(w, x, y, oy);
    }
  }
}

/* max: max pooling (dilation applies), else average. */
static em_status pool(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                      const em_pool_params *p, int max, em_err *err) {
  window w = {.p = p};
  em_tensor in;
  em_status st;
  if ((st = check_io(input, output, err)) || (st = check_params(input, p, max, &w.oh, &w.ow, err)) ||
      (st = setup(input, &in, output, w.oh, w.ow, err)))
    return st;
  if (EM_DRY(ctx)) {
    em_tensor_free(&in);
    return EM_OK;
  }
  w.planes = input->size[0] * input->size[1];
  w.H = input->size[2];
  w.W = input->size[3];
  w.src = em_tensor_data(&in);
  w.dst = em_tensor_data(output);
  interior(w.W, w.ow, p->kw, p->sw, p->pl, max ? p->dw : 1, &w.lo, &w.hi);
  if (max) w.row = p->sw == 1 ? max_row_s1 : p->sw == 2 ? max_row_s2 : max_row_sn;
  else w.row = p->sw == 1 ? sum_row_s1 : p->sw == 2 ? sum_row_s2 : sum_row_sn;
  void (*line)(const window *, const float *, float *, int64_t) = max ? max_line : avg_line;
  /* the AVX2 rows, given (average) each output column's count of cells */
  float colcount[MAX_TILE_IN];
  em_pool_rows r = { p, w.H, w.W, w.ow, max ? NULL : colcount };
  int vec = em_pool_row_ok(ctx, p, w.W, max) && (max || w.ow <= MAX_TILE_IN);
  for (int64_t ox = 0; vec && !max && ox < w.ow; ox++) {
    int64_t x0 = ox * p->sw - p->pl, x1 = x0 + p->kw;
    if (p->count_include_pad) {
      if (x1 > w.W + p->pr) x1 = w.W + p->pr;
    } else {
      if (x0 < 0) x0 = 0;
      if (x1 > w.W) x1 = w.W;
    }
    colcount[ox] = (float)(x1 - x0);
    if (x1 <= x0) vec = 0;
  }
  /* a "same" pooling of small planes, a 3x3 max pool of stride 2: a plane
  ** at a time (poolplane.c) */
  int plane = em_pool_plane_ok(ctx, p, w.H, w.W, w.oh, w.ow, max);
  float count[EM_POOL_PLANE_MAX];
  if (plane && !max) em_pool_plane_counts(p, w.H, w.W, count);
  rows_job j = { &w, &r, line, max ? NULL : count, plane, vec };
  em_parallel(ctx, nthreads(ctx), w.planes, pool_planes, &j);
  em_tensor_free(&in);
  return EM_OK;
}

em_status em_maxpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_pool_params *p, em_err *err) {
  return pool(ctx, input, output, p, 1, err);
}

em_status em_avgpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_pool_params *p, em_err *err) {
  return pool(ctx, input, output, p, 0, err);
}

/* ----------------------------------------------------------- adaptive */

/* Cell i of n over a length L covers [floor(i*L/n), ceil((i+1)*L/n)). */
static int64_t cell_start(int64_t i, int64_t L, int64_t n) { return i * L / n; }
static int64_t cell_end(int64_t i, int64_t L, int64_t n) { return ((i + 1) * L + n - 1) / n; }

/* Sum and max of a run of n floats in 8 independent lanes: a serial sum
** waits on each add (the 7x7 global pools of ShuffleNet and ResNet were
** latency bound), and the lanes vectorise. */
static float sum_run(const float *x, int64_t n) {
  float a[8] = {0}, s = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) a[j] += x[i + j];
  for (; i < n; i++) s += x[i];
  return s + (((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])));
}

static float max_run(const float *x, int64_t n) {
  float a[8], m = -INFINITY;
  int64_t i = 0;
  for (int j = 0; j < 8; j++) a[j] = -INFINITY;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) a[j] = max_nan(a[j], x[i + j]);
  for (; i < n; i++) m = max_nan(m, x[i]);
  for (int j = 0; j < 8; j++) m = max_nan(m, a[j]);
  return m;
}

typedef struct cells_job { const float *src; float *dst; int64_t H, W; int oh, ow, max; } cells_job;

/* the global pool: no cell bounds (4 divisions a plane) */
static void global_planes(void *arg, int64_t p0, int64_t p1, int t) {
  const cells_job *j = arg;
  const int64_t n = j->H * j->W;
  (void)t;
  for (int64_t pl = p0; pl < p1; pl++)
    j->dst[pl] = j->max ? max_run(j->src + pl * n, n) : sum_run(j->src + pl * n, n) / (float)n;
}

static void cell_planes(void *arg, int64_t p0, int64_t p1, int t) {
  const cells_job *j = arg;
  const int64_t H = j->H, W = j->W, oh = j->oh, ow = j->ow;
  (void)t;
  for (int64_t pl = p0; pl < p1; pl++) {
    const float *x = j->src + pl * H * W;
    float *y = j->dst + pl * oh * ow;
    for (int64_t oy = 0; oy < oh; oy++) {
      int64_t y0 = cell_start(oy, H, oh), y1 = cell_end(oy, H, oh);
      for (int64_t ox = 0; ox < ow; ox++) {
        int64_t x0 = cell_start(ox, W, ow), x1 = cell_end(ox, W, ow);
        float r = j->max ? -INFINITY : 0;
        /* a cell as wide as the plane is one run of rows (the global pool) */
        int64_t run = x1 - x0, rows = y1 - y0;
        if (run == W) { run *= rows; rows = 1; }
        for (int64_t k = 0; k < rows; k++) {
          const float *cell = x + (y0 + k) * W + x0;
          r = j->max ? max_nan(r, max_run(cell, run)) : r + sum_run(cell, run);
        }
        y[oy * ow + ox] = j->max ? r : r / (float)((y1 - y0) * (x1 - x0));
      }
    }
  }
}

static em_status adaptive(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                          int oh, int ow, int max, em_err *err) {
  int64_t planes, H, W;
  em_tensor in;
  em_status st;
  const float *src;
  float *dst;
  if ((st = check_io(input, output, err))) return st;
  if (oh < 1 || ow < 1)
    return em_fail(err, EM_EARG, "output size must be positive, got %dx%d", ow, oh);
  if ((st = setup(input, &in, output, oh, ow, err))) return st;
  if (EM_DRY(ctx)) {
    em_tensor_free(&in);
    return EM_OK;
  }
  planes = input->size[0] * input->size[1];
  H = input->size[2];
  W = input->size[3];
  src = em_tensor_data(&in);
  dst = em_tensor_data(output);
  cells_job j = { src, dst, H, W, oh, ow, max };
  em_parallel(ctx, nthreads(ctx), planes, oh == 1 && ow == 1 ? global_planes : cell_planes, &j);
  em_tensor_free(&in);
  return EM_OK;
}

em_status em_adaptive_avgpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                                        int oh, int ow, em_err *err) {
  return adaptive(ctx, input, output, oh, ow, 0, err);
}

em_status em_adaptive_maxpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                                        int oh, int ow, em_err *err) {
  return adaptive(ctx, input, output, oh, ow, 1, err);
}
