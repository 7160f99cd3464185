/* ember.h -- the public interface of ember's C core.
** float32 tensors and the CNN kernels that run on them; no Lua, no globals.
**
**   em_err err;
**   em_tensor x, y;
**   em_tensor_init(&x); em_tensor_init(&y);
**   int64_t sz[4] = {1, 3, 224, 224};
**   if (em_tensor_new(&x, 4, sz, &err) != EM_OK) fprintf(stderr, "%s\n", err.msg);
**   em_tensor_fill(&x, 1.0f, &err);
**   em_act_forward(&x, &y, EM_ACT_RELU, 0, 0, &err);   // y is resized as needed
**   em_tensor_free(&x); em_tensor_free(&y);
**
** Conventions
** - Every function that can fail returns an em_status and, when `err` is not
**   NULL, writes a one-line message into err->msg. Nothing prints or exits.
** - A tensor is a view: sizes and strides (in elements) over a refcounted
**   storage. em_tensor_init gives an empty tensor (no storage); every
**   tensor that was initialised must be released with em_tensor_free.
** - Outputs are passed as tensors that the kernel resizes (em_tensor_resize),
**   so a caller that keeps its output tensor allocates nothing in the steady
**   state. An output must not alias an input unless the function says so.
** - Layouts: activations N,C,H,W; convolution weights out,in/groups,kH,kW;
**   transposed convolution weights in,out/groups,kH,kW; linear out,in.
** - Parallel work uses at most ctx->nthreads threads (em_ctx, below).
*/
#ifndef EMBER_H
#define EMBER_H

#include <stddef.h>
#include <stdint.h>

#define EM_MAXDIM 8
#define EM_ALIGN 64

typedef enum em_status {
  EM_OK = 0,
  EM_EARG,     /* bad argument (value out of range, wrong count...) */
  EM_ESHAPE,   /* sizes do not fit */
  EM_ENOMEM,   /* allocation failed or size overflow */
  EM_EIO,      /* file could not be read or written */
  EM_EFORMAT   /* file or data is malformed */
} em_status;

typedef struct em_err { char msg[512]; } em_err;

/* Formats err->msg (if err) and returns code. */
em_status em_fail(em_err *err, em_status code, const char *fmt, ...)
#if defined(__GNUC__)
  __attribute__((format(printf, 3, 4)))
#endif
  ;

/* Execution context: passed to kernels that run in parallel or need
** scratch memory. Owned by the caller (the Lua binding keeps one per state). */
/* SIMD instruction sets of the hand-written kernels (depthwise.c), best last. */
typedef enum em_isa { EM_ISA_C, EM_ISA_AVX2, EM_ISA_AVX512 } em_isa;

typedef struct em_ctx {
  int nthreads;         /* >= 1: the caller and the pool's workers */
  em_isa isa;           /* best the CPU runs (em_ctx_init); lower it to force a path */
  int dry;              /* shapes only: the forwards taking ctx check their arguments
                        ** and size their outputs, then return without computing or
                        ** preparing weights (a memory plan's trace, ember/plan.lua) */
  struct em_pool *pool; /* nthreads - 1 worker threads (parallel.c), NULL for one */
} em_ctx;
#define EM_DRY(ctx) ((ctx) && (ctx)->dry)

void em_ctx_init(em_ctx *ctx);               /* nthreads = em_ncores(), isa = em_cpu_isa() */
void em_ctx_free(em_ctx *ctx);               /* stops the workers; init again to reuse */
em_isa em_cpu_isa(void);                     /* AVX-512F, AVX2+FMA, or plain C */
void em_ctx_set_threads(em_ctx *ctx, int n); /* starts or stops workers (at most 32 threads) */
int em_ncores(void);                         /* cores the process may run on (its affinity) */

/* Runs fn over [0, n) in chunks on up to nt of ctx's threads (ctx may be
** NULL), returning when all are done: fn(arg, i0, i1, t) with t the running
** thread, 0 the caller, below ctx->nthreads (per-thread scratch). Called from
** inside a running job (or while another thread runs one on ctx), or with
** nt <= 1, it runs fn(arg, 0, n, 0) inline. */
typedef void (*em_task)(void *arg, int64_t i0, int64_t i1, int t);
void em_parallel(const em_ctx *ctx, int nt, int64_t n, em_task fn, void *arg);

/* ---------------------------------------------------------------- storage */

typedef struct em_storage {
  float *data;
  size_t size;          /* elements */
  int refcount;
  /* external memory (e.g. a mapped file) is released by this, if set */
  void (*release)(void *owner);
  void *owner;
} em_storage;

em_storage *em_storage_new(size_t n);       /* 64-byte aligned, NULL on OOM */
em_storage *em_storage_wrap(float *data, size_t n, void (*release)(void *), void *owner);
void em_storage_retain(em_storage *s);
void em_storage_release(em_storage *s);

/* ----------------------------------------------------------------- tensor */

typedef struct em_tensor {
  em_storage *storage;  /* NULL for an empty tensor */
  size_t offset;        /* in elements */
  int ndim;
  int64_t size[EM_MAXDIM];
  int64_t stride[EM_MAXDIM];
} em_tensor;

void em_tensor_init(em_tensor *t);
void em_tensor_free(em_tensor *t);           /* releases storage, back to empty */
/* Allocates fresh contiguous storage of the given sizes (old one released). */
em_status em_tensor_new(em_tensor *t, int ndim, const int64_t *size, em_err *err);
/* Makes t contiguous with these sizes, reusing its storage when it is
** unshared and large enough; contents are unspecified afterwards. */
em_status em_tensor_resize(em_tensor *t, int ndim, const int64_t *size, em_err *err);
em_status em_tensor_resize_as(em_tensor *t, const em_tensor *like, em_err *err);
/* dst becomes a view of src (shares storage). dst may equal src. */
void em_tensor_set(em_tensor *dst, const em_tensor *src);

int64_t em_tensor_nelement(const em_tensor *t);
int em_tensor_is_contiguous(const em_tensor *t);
int em_tensor_same_size(const em_tensor *a, const em_tensor *b);
/* Whether a and b view the same elements the same way: same memory, offset
** and sizes, strides equal wherever a size exceeds 1 (writing one writes
** the other element for element). */
int em_tensor_same_view(const em_tensor *a, const em_tensor *b);
static inline float *em_tensor_data(const em_tensor *t) {
  return t->storage ? t->storage->data + t->offset : NULL;
}
/* "2x3x4" into buf; returns buf. */
const char *em_tensor_shape_str(const em_tensor *t, char *buf, size_t len);

/* Views (dst shares src's storage; dst may equal src). Negative dims are
** not accepted here; the binding converts Lua's 1-based dims. */
em_status em_tensor_view(em_tensor *dst, const em_tensor *src, int ndim, const int64_t *size, em_err *err); /* one size may be -1 */
em_status em_tensor_narrow(em_tensor *dst, const em_tensor *src, int dim, int64_t start, int64_t len, em_err *err);
em_status em_tensor_select(em_tensor *dst, const em_tensor *src, int dim, int64_t index, em_err *err);
em_status em_tensor_transpose(em_tensor *dst, const em_tensor *src, int d1, int d2, em_err *err);
em_status em_tensor_permute(em_tensor *dst, const em_tensor *src, const int *perm, em_err *err);
/* dst = contiguous copy of src (or a view of it when already contiguous). */
em_status em_tensor_contiguous(em_tensor *dst, const em_tensor *src, em_err *err);

/* Data. copy needs equal element counts (iterates both in logical order). */
em_status em_tensor_copy(em_tensor *dst, const em_tensor *src, em_err *err);
em_status em_tensor_fill(em_tensor *t, float v, em_err *err);
em_status em_tensor_zero(em_tensor *t, em_err *err);

/* Elementwise. dst is resized to the broadcast shape (NumPy rules) unless it
** already has it; dst may alias a or b when it has that shape. */
typedef enum em_binop { EM_ADD, EM_SUB, EM_MUL, EM_DIV } em_binop;
em_status em_tensor_binop(em_tensor *dst, const em_tensor *a, const em_tensor *b, em_binop op, em_err *err);
/* dst = a op s (dst may alias a) */
em_status em_tensor_scalar(em_tensor *dst, const em_tensor *a, float s, em_binop op, em_err *err);
typedef enum em_unop { EM_ABS, EM_EXP, EM_LOG, EM_SQRT, EM_NEG } em_unop;
em_status em_tensor_unop(em_tensor *dst, const em_tensor *a, em_unop op, em_err *err);

/* Reductions. dim < 0: over everything, result in *out (values/indices
** untouched). Otherwise values (and indices, if not NULL, as 0-based float
** positions) get src's shape with size 1 at dim (kept, as Torch7 does). */
typedef enum em_reduce { EM_SUM, EM_MEAN, EM_MAX, EM_MIN } em_reduce;
em_status em_tensor_reduce(em_tensor *values, em_tensor *indices, const em_tensor *src,
                           int dim, em_reduce op, double *out, em_err *err);
/* k largest (or smallest) along dim, sorted best first; indices 0-based. */
em_status em_tensor_topk(em_tensor *values, em_tensor *indices, const em_tensor *src,
                         int64_t k, int dim, int largest, em_err *err);
/* softmax or log-softmax along dim; dst may alias src. */
em_status em_softmax_forward(em_tensor *dst, const em_tensor *src, int dim, int log, em_err *err);

/* Random numbers: xoshiro256** seeded by splitmix64, normal by Box-Muller,
** so a seed gives the same stream on every platform. State lives with the caller. */
typedef struct em_rng { uint64_t s[4]; } em_rng;
void em_rng_seed(em_rng *r, uint64_t seed);
uint64_t em_rng_next(em_rng *r);
double em_rng_uniform01(em_rng *r);          /* [0, 1) with 53 bits */
em_status em_rng_uniform(em_rng *r, em_tensor *t, float a, float b, em_err *err);
em_status em_rng_normal(em_rng *r, em_tensor *t, float mean, float std, em_err *err);

/* NumPy .npy (versions 1-3, little-endian float32/float64/int32/int64/uint8/
** bool in, C or Fortran order; always written as '<f4', C order). */
em_status em_npy_load(em_tensor *t, const char *path, em_err *err);
em_status em_npy_load_mem(em_tensor *t, const void *buf, size_t len, const char *name, em_err *err);
em_status em_npy_save(const em_tensor *t, const char *path, em_err *err);

/* ---------------------------------------------------------------- kernels */
/* All kernels take N,C,H,W input (N >= 1) unless stated. Shape errors say
** what was expected and what came ("expected 64 input planes, got 32"). */

/* gemm.c: C = alpha * op(A) * op(B) + beta * C, row-major, the only user of
** cblas: single-threaded OpenBLAS, on the calling thread (never from a job). */
void em_sgemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);
void em_sgemv(int transA, int M, int N, float alpha, const float *A, int lda,
              const float *x, float beta, float *y);
/* sgemm.c: C (m x n, row stride ldc) = A (m x k, lda) * B (k x n, ldb) + bias[row]
** (bias may be NULL), row-major: ember's product on ctx's threads with AVX2,
** else OpenBLAS on the calling thread. EM_ENOMEM when its scratch cannot be had. */
em_status em_matmul(const em_ctx *ctx, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                    const float *b, int64_t ldb, const float *bias, float *c, int64_t ldc,
                    em_err *err);

/* conv.c */
typedef struct em_conv_params {
  int kh, kw;           /* kernel */
  int sh, sw;           /* stride */
  int pt, pl, pb, pr;   /* padding top, left, bottom, right */
  int dh, dw;           /* dilation */
  int groups;
  /* zero-initialised: the defaults (automatic choice, weight transformed per call) */
  int algo;             /* an em_conv_algo (winograd.c section) */
  /* Winograd's transformed weight kept by the caller, or NULL: used when
  ** filled, filled (em_winograd_prepare) when empty and Winograd runs */
  em_tensor *wino_weight;
  /* the weight packed for ember's own product (sgemm.h), kept by the
  ** caller, or NULL: used when its size fits, filled when empty (or of
  ** another size) and the product runs; without it the weight is packed
  ** on every call */
  em_tensor *packed_weight;
  /* with algo auto: where Winograd would first have to fill an empty
  ** wino_weight, multiply by im2col this call instead (a first inference
  ** that prepares no weights; ember/plan.lua) */
  int defer_prepare;
  /* packed_weight is used only for outputs of at most this many pixels
  ** (ho * wo); 0: any */
  int64_t pack_pixels;
} em_conv_params;
/* output N,Cout,Ho,Wo. bias may be NULL or empty. buf is scratch (im2col). */
em_status em_conv2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                            const em_tensor *weight, const em_tensor *bias,
                            em_tensor *buf, const em_conv_params *p, em_err *err);
/* What runs on each output value before it is stored, in this order:
** y = act(scale * conv + bias + residual), scale per output channel (a batch
** norm kept out of the weight, which then stays as loaded). residual (may be NULL) has the output's
** shape N,Cout,Ho,Wo and must not share memory with the output, unless it is
** the output tensor itself (the same contiguous values) on a path where
** em_conv2d_residual_in_place says it is added in place; act and a, b
** as em_act_forward (RELU and CLAMP are applied inside the kernels' loops,
** the others in one more pass). NULL epilogue: plain convolution. */
typedef struct em_conv_epilogue {
  int act;              /* an em_act (declared below, with activation.c) */
  float a, b;
  const em_tensor *residual;
  const em_tensor *scale;   /* Cout values, or NULL (1) */
} em_conv_epilogue;
em_status em_conv2d_forward_ex(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_tensor *weight, const em_tensor *bias,
                               em_tensor *buf, const em_conv_params *p,
                               const em_conv_epilogue *ep, em_err *err);
/* Whether em_conv2d_forward_ex multiplies a convolution of these planes and
** output size by Winograd (and so fills an empty p->wino_weight): 0 if not,
** else the side of its output blocks, 4 for F(4x4, 3x3) or 2 for F(2x2, 3x3). */
int em_conv2d_winograd(const em_ctx *ctx, const em_conv_params *p, int64_t cin, int64_t cout,
                       int64_t ho, int64_t wo);
/* Whether em_conv2d_forward_ex may take the residual as its own output for
** a layer of cin input planes and wo output columns (scaled: with a scale
** in its epilogue): the path it takes reads each residual value before it
** stores that output value, and stores it once (ResNet's blocks then need
** no buffer for their last convolution's output). */
int em_conv2d_residual_in_place(const em_ctx *ctx, const em_conv_params *p, int64_t cin,
                                int64_t wo, int scaled);
/* depthwise.c (used by conv.c): one input plane per group (cin/groups == 1),
** shapes already checked, data contiguous; bias and res may be NULL; act is
** NONE, RELU or CLAMP (lo, hi). Picks the 3x3 stride 1/2 or generic kernel
** for ctx->isa. */
typedef struct em_dw_args {
  const float *in, *wt, *bias, *res;
  float *out;
  int64_t n, cin, cout, h, w, ho, wo;
  int act;              /* EM_ACT_NONE, EM_ACT_RELU or EM_ACT_CLAMP */
  float lo, hi;
} em_dw_args;
void em_depthwise_forward(em_ctx *ctx, const em_dw_args *a, const em_conv_params *p);
/* Transposed convolution; weight in,out/groups,kH,kW; padding as in PyTorch
** (pt..pr remove rows/cols); output_padding adds at bottom/right. */
em_status em_conv_transpose2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                                      const em_tensor *weight, const em_tensor *bias,
                                      em_tensor *buf, const em_conv_params *p,
                                      int out_pad_h, int out_pad_w, em_err *err);

/* linear.c: input (N, in) or (in); weight (out, in); bias (out) or NULL. */
em_status em_linear_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                            const em_tensor *weight, const em_tensor *bias, em_err *err);

/* pool.c: output sizes and average divisors as PyTorch (ONNX agrees). Each
** pad must be smaller than the (dilated) kernel (PyTorch's nn layers ask
** pad <= kernel/2; the Lua modules check that). ceil_mode keeps a last
** partial window only if it starts inside the input or the top/left
** padding. Padded cells never win a max; with count_include_pad they count
** in the divisor, but not the ceil-mode overhang past the padding.
** Adaptive cell i of n over L covers [floor(i*L/n), ceil((i+1)*L/n)). */
typedef struct em_pool_params {
  int kh, kw, sh, sw, pt, pl, pb, pr;
  int ceil_mode;
  int count_include_pad;   /* average pooling only */
  int dh, dw;              /* dilation, max pooling only (1 = none) */
} em_pool_params;
em_status em_maxpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_pool_params *p, em_err *err);
em_status em_avgpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_pool_params *p, em_err *err);
/* adaptive average pooling to oh x ow (1x1 = global). */
em_status em_adaptive_avgpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                                        int oh, int ow, em_err *err);
em_status em_adaptive_maxpool2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                                        int oh, int ow, em_err *err);

/* batchnorm.c: inference; weight/bias may be NULL (affine off). Input N,C,...
** (any rank >= 2, channels at dim 1). dst may alias input. */
em_status em_batchnorm_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                               const em_tensor *weight, const em_tensor *bias,
                               const em_tensor *mean, const em_tensor *var, float eps, em_err *err);
/* Folds bn into a conv's weight (out, ...) and bias (out; created if empty). */
em_status em_batchnorm_fold(em_tensor *conv_weight, em_tensor *conv_bias,
                            const em_tensor *weight, const em_tensor *bias,
                            const em_tensor *mean, const em_tensor *var, float eps, em_err *err);

/* lrn.c: across channels, as torch.nn.LocalResponseNorm / ONNX LRN:
** b = a / (k + alpha/size * sum over the window of a^2)^beta, the window
** [c - floor((size-1)/2), c + ceil((size-1)/2)] clipped (ONNX's; PyTorch's
** mirror image for even sizes). Input N,C,... of rank >= 3. */
em_status em_lrn_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                         int size, float alpha, float beta, float k, em_err *err);

/* activation.c: output may be input itself (or the same view of its storage)
** for in-place work. a, b are the op's parameters (ignored where none):
**  NONE (copy); RELU; CLAMP (min a, max b; RELU6 is 0, 6); LEAKYRELU (slope a);
**  ELU (alpha a); SIGMOID; TANH; HARDSIGMOID (alpha a, beta b:
**  max(0, min(1, a*x+b)); PyTorch's is 1/6, 1/2, ONNX's 0.2, 0.5);
**  HARDSWISH (x * relu6(x+3)/6); SILU (x * sigmoid(x)); GELU (exact, with
**  erf; a != 0: PyTorch's tanh approximation); SOFTPLUS (beta a, threshold b:
**  log(1 + exp(a*x))/a, or x where a*x > b). Unknown kinds are EM_EARG. */
typedef enum em_act {
  EM_ACT_NONE, EM_ACT_RELU, EM_ACT_CLAMP, EM_ACT_LEAKYRELU, EM_ACT_ELU,
  EM_ACT_SIGMOID, EM_ACT_TANH, EM_ACT_HARDSIGMOID, EM_ACT_HARDSWISH,
  EM_ACT_SILU, EM_ACT_GELU, EM_ACT_SOFTPLUS
} em_act;
em_status em_act_forward(const em_tensor *input, em_tensor *output, em_act act,
                         float a, float b, em_err *err);
/* The same on ctx->nthreads threads for large inputs (ctx may be NULL). */
em_status em_act_forward_ctx(em_ctx *ctx, const em_tensor *input, em_tensor *output, em_act act,
                             float a, float b, em_err *err);
/* PReLU: weight has 1 or C elements (channel dim 1). */
em_status em_prelu_forward(const em_tensor *input, em_tensor *output,
                           const em_tensor *weight, em_err *err);

/* shape.c */
/* concatenation of n inputs along dim (all other sizes equal); ctx may be
** NULL (its only use here is EM_DRY). */
em_status em_concat_forward(em_ctx *ctx, const em_tensor *const *inputs, int n, em_tensor *output,
                            int dim, em_err *err);
em_status em_channel_shuffle_forward(const em_tensor *input, em_tensor *output,
                                     int groups, em_err *err);
/* The shuffle of the channel concatenation of n inputs (N,C_i,...; sizes
** equal but for C_i), without forming it: ShuffleNet's concat + shuffle in
** one copy. Output channel k*groups + g is joined channel g*C/groups + k.
** ctx (may be NULL) gives the threads for large inputs. */
em_status em_channel_shuffle_join_forward(em_ctx *ctx, const em_tensor *const *inputs, int n,
                                          em_tensor *output, int groups, em_err *err);
/* output = contiguous copy of input's dims permuted: output dim i is input
** dim perm[i] (0-based). ctx (may be NULL) gives the threads for large inputs. */
em_status em_permute_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                             const int *perm, em_err *err);
typedef enum em_padmode { EM_PAD_ZERO, EM_PAD_REFLECT, EM_PAD_REPLICATE } em_padmode;
/* pads the last two dims; negative pads crop. */
em_status em_pad2d_forward(const em_tensor *input, em_tensor *output,
                           int pl, int pr, int pt, int pb, em_padmode mode,
                           float value, em_err *err);
/* upsampling of the last two dims to oh x ow. align_corners as in PyTorch
** (bilinear only). */
em_status em_upsample_nearest_forward(const em_tensor *input, em_tensor *output,
                                      int oh, int ow, em_err *err);
em_status em_upsample_bilinear_forward(const em_tensor *input, em_tensor *output,
                                       int oh, int ow, int align_corners, em_err *err);

/* ------------------------------------------------------------ safetensors.c */
/* A .safetensors file: 8-byte little-endian header length N, N bytes of JSON
** {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__"},
** then the data buffer (offsets relative to its start). The core has no JSON
** parser: the caller parses the header and hands over one em_st_entry per
** tensor, which em_st_check validates before any data is read.
**
**   em_st_mapping *m;
**   if (em_st_map("w.safetensors", &m, &err)) ...;   // m->header, m->header_len
**   ... parse the JSON into entries e[0..n) ...
**   if (em_st_check(e, n, m->data_len, &err)) ...;
**   em_st_tensor(&t, m, &e[0], &nonfinite, &err);     // t may keep m alive
**   em_st_release(m);
*/
typedef enum em_st_dtype {
  EM_ST_UNKNOWN = -1,
  EM_ST_F32, EM_ST_F16, EM_ST_BF16, EM_ST_F64, EM_ST_F8_E4M3, EM_ST_F8_E5M2,
  EM_ST_I8, EM_ST_I16, EM_ST_I32, EM_ST_I64, EM_ST_U8, EM_ST_U16, EM_ST_U32,
  EM_ST_U64, EM_ST_BOOL
} em_st_dtype;
em_st_dtype em_st_dtype_parse(const char *name);   /* "F16" -> EM_ST_F16, else EM_ST_UNKNOWN */
const char *em_st_dtype_name(em_st_dtype d);        /* "F16"; "?" if unknown */
size_t em_st_dtype_size(em_st_dtype d);             /* bytes per element; 0 if unknown */
/* IEEE binary16 and bfloat16 to float, exact (subnormals, inf, nan kept). */
float em_half_to_float(uint16_t h);
float em_bf16_to_float(uint16_t h);

/* A mapped file, shared by the tensors viewing it: each holds a reference,
** the last em_st_release unmaps. Mapped copy-on-write: a tensor may be
** written (e.g. batchnorm folding) without touching the file. */
typedef struct em_st_mapping {
  const unsigned char *base;   /* the whole file, size bytes */
  size_t size;
  const char *header;          /* the JSON text, header_len bytes, no NUL */
  size_t header_len;
  const unsigned char *data;   /* the data buffer, data_len bytes */
  size_t data_len;
  int refcount;
} em_st_mapping;
/* Maps path and checks the header length (within the file, < 100 MB). */
em_status em_st_map(const char *path, em_st_mapping **map, em_err *err);
void em_st_retain(em_st_mapping *m);
void em_st_release(em_st_mapping *m);

typedef struct em_st_entry {
  const char *name;
  em_st_dtype dtype;
  int ndim;                    /* 0 (a scalar) to EM_MAXDIM */
  int64_t shape[EM_MAXDIM];
  uint64_t begin, end;         /* data_offsets */
} em_st_entry;
/* Checks n entries against a data buffer of data_len bytes: sizes >= 0,
** element count without overflow, begin <= end <= data_len, end - begin ==
** elements * dtype size, no two byte ranges overlapping. The message names
** the tensor: "tensor 'fc.weight': data_offsets [0, 100] run past ...". */
em_status em_st_check(const em_st_entry *e, int n, size_t data_len, em_err *err);
/* t = the float32 tensor of a checked entry: a view of m for aligned F32
** data (on a little-endian host), else converted into new storage.
** *nonfinite (if not NULL) gets the count of NaN and Inf values. */
em_status em_st_tensor(em_tensor *t, em_st_mapping *m, const em_st_entry *e,
                       int64_t *nonfinite, em_err *err);
/* Writes 8-byte length, header padded with spaces to a multiple of 8, then
** each tensor as little-endian F32 in logical order. The header must list
** them with matching data_offsets (the caller builds it). */
em_status em_st_save(const char *path, const char *header, size_t header_len,
                     const em_tensor *const *tensors, int n, em_err *err);

/* ------------------------------------------------------------------ image.c */
/* Images in and out, and preprocessing. Decoded pixels are an em_image:
** uint8, H,W,C interleaved (row-major, as decoded). The float operations
** take C,H,W tensors (leading dims are planes for resize/crop/letterbox).
**
**   em_image im; em_tensor x;
**   em_image_init(&im); em_tensor_init(&x);
**   if (em_image_load(&im, "cat.jpg", 3, NULL, &err)) ...;  // NULL: default limits
**   em_image_to_tensor(&im, &x, 1.0f, &err);                // 3,H,W in [0, 1]
**   em_image_free(&im); em_tensor_free(&x);
*/
typedef struct em_image {
  uint8_t *data;               /* h * w * c bytes, malloc'd; NULL when empty */
  int w, h, c;                 /* c: 1 (grey), 2 (grey, alpha), 3 (RGB), 4 (RGBA) */
} em_image;
#define EM_IMAGE_MAX_SIDE 16384
#define EM_IMAGE_MAX_BYTES ((int64_t)1 << 30)
/* Checked against the header before decoding; 0 fields take the defaults. */
typedef struct em_image_limits {
  int64_t max_side;            /* width and height at most this */
  int64_t max_bytes;           /* decoded pixels at most this many bytes */
} em_image_limits;
void em_image_init(em_image *im);
void em_image_free(em_image *im);
em_status em_image_alloc(em_image *im, int w, int h, int c, em_err *err);
/* JPEG, PNG, BMP, GIF (first frame), PGM/PPM, TGA, PSD (stb_image) from
** memory or a file. channels: 0 keeps the file's, 1 gives grey (PIL's "L"
** weights from colour), 3 RGB, 4 RGBA. name is used in messages. */
em_status em_image_decode(em_image *im, const void *buf, size_t len, int channels,
                          const em_image_limits *lim, const char *name, em_err *err);
em_status em_image_load(em_image *im, const char *path, int channels,
                        const em_image_limits *lim, em_err *err);
/* PNG, JPEG (quality 1..100) or BMP by the extension; written beside the
** file, then renamed over it. */
em_status em_image_save(const em_image *im, const char *path, int quality, em_err *err);
/* uint8 H,W,C <-> float C,H,W with values in [0, range] (x / 255 * range;
** back with rounding and clamping). from_tensor takes C,H,W (C 1..4) or H,W. */
em_status em_image_to_tensor(const em_image *im, em_tensor *t, float range, em_err *err);
em_status em_image_from_tensor(em_image *im, const em_tensor *t, float range, em_err *err);

/* BILINEAR: half-pixel centres, no antialiasing (PyTorch's interpolate with
** align_corners=False, OpenCV's INTER_LINEAR). ANTIALIAS: PIL's triangle
** filter whose support widens with the downscale factor (Image.resize with
** BILINEAR; interpolate with antialias=True). ALIGNED: align_corners=True,
** darknet's resize_image. */
typedef enum em_resize { EM_RESIZE_BILINEAR, EM_RESIZE_ANTIALIAS, EM_RESIZE_ALIGNED } em_resize;
/* 8-bit resampling exactly as PIL's ImagingResample (fixed-point weights,
** horizontal pass, rounding to 8 bits, vertical pass): torchvision's Resize
** on PIL images. dst must not be src. */
em_status em_image_resize_u8(const em_image *src, em_image *dst, int w, int h,
                             em_resize mode, em_err *err);
/* PIL's convert("L"): L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
em_status em_image_grayscale_u8(const em_image *src, em_image *dst, em_err *err);

/* Float images. dst must not share memory with src unless stated. */
em_status em_image_resize(const em_tensor *src, em_tensor *dst, int w, int h,
                          em_resize mode, em_err *err);
/* the w x h region whose top-left pixel is (x, y), 0-based */
em_status em_image_crop(const em_tensor *src, em_tensor *dst, int x, int y, int w, int h, em_err *err);
/* top-left of a centred tw x th box, rounded as torchvision's CenterCrop */
void em_image_center_box(int w, int h, int tw, int th, int *x, int *y);
/* the size torchvision's Resize(n) gives: shorter side n, longer int(n * long / short) */
void em_image_short_side(int w, int h, int n, int *ow, int *oh);
/* fit inside w x h keeping the aspect ratio, centred, borders = fill
** (darknet's letterbox_image: fill 0.5, mode ALIGNED) */
em_status em_image_letterbox(const em_tensor *src, em_tensor *dst, int w, int h, float fill,
                             em_resize mode, em_err *err);
/* C = 3 or 4 -> 1,H,W luma 0.299 R + 0.587 G + 0.114 B; C = 1 copied */
em_status em_image_grayscale(const em_tensor *src, em_tensor *dst, em_err *err);
/* (x - mean) / std per channel, n = 1 or C values; dst may be src */
em_status em_image_normalize(const em_tensor *src, em_tensor *dst, const float *mean,
                             const float *std, int n, em_err *err);
/* range - x; dst may be src */
em_status em_image_invert(const em_tensor *src, em_tensor *dst, float range, em_err *err);
/* channels 0 and 2 swapped (RGB <-> BGR), C = 3 or 4 */
em_status em_image_swap_rb(const em_tensor *src, em_tensor *dst, em_err *err);

/* -------------------------------------------------------------- winograd.c */
/* 3x3 convolutions with stride 1, dilation 1 and groups 1 by Winograd's
** F(4x4, 3x3): 36 sgemms U[k] (Cout x Cin) * V[k] (Cin x tiles) over 6x6
** input tiles, a quarter of the direct method's multiplications; or by
** F(2x2, 3x3): 16 sgemms over 4x4 tiles, 4/9 of them, for small planes;
** 5x5 ones by F(2x2, 5x5): 36 sgemms over 6x6 tiles, 9/25 of them.
** em_conv2d_forward picks one (EM_CONV_AUTO) where it measured faster, or as
** em_conv_params.algo says (WINOGRAD: F(4x4, 3x3), WINOGRAD2: F(2x2, 3x3)
** or F(2x2, 5x5)); params.wino_weight keeps the transformed weight between
** calls (without it the weight is transformed per call; one of the other
** tile is redone). */
typedef enum em_conv_algo {
  EM_CONV_AUTO, EM_CONV_IM2COL, EM_CONV_WINOGRAD, EM_CONV_WINOGRAD2
} em_conv_algo;
/* weight out,in,r,r -> out t*t,ceil(out/6),in,6 (G g G^T, computed in
** double, packed for sgemm.h's product), t = m + r - 1 for output blocks
** of m x m: m is 4 (F(4x4, 3x3)) or 2 (F(2x2, 3x3), F(2x2, 5x5)) */
em_status em_winograd_prepare(const em_ctx *ctx, const em_tensor *weight, em_tensor *out, int m,
                              em_err *err);   /* ctx may be NULL (one thread) */
int em_winograd_fits(const em_conv_params *p);    /* kernel (3x3, 5x5), stride, dilation, groups fit */
/* used by conv.c: shapes checked, data contiguous; bias and res may be NULL;
** clamp: the output is clamped to [lo, hi] after bias and residual. */
typedef struct em_wino_args {
  const float *in, *bias, *res;
  float *out;
  int64_t n, cin, cout, h, w, ho, wo;
  int pt, pl;           /* top and left padding (the rest follows from ho, wo) */
  int clamp;
  float lo, hi;
  const float *scale;   /* per output channel, or NULL */
  int k;                /* the kernel's side, 3 or 5 */
  int64_t ldo;          /* F(2, 7) only: floats from one output plane to the next (n 1), or 0: ho * wo */
} em_wino_args;
/* u: the transformed weight (its first size, 36 or 16, says which F);
** buf: scratch, resized */
em_status em_winograd_forward(em_ctx *ctx, const em_wino_args *a, const em_tensor *u,
                              em_tensor *buf, em_err *err);
/* the floats of buf em_winograd_forward resizes to, output blocks m x m, kernel k x k */
int64_t em_winograd_scratch(const em_ctx *ctx, int64_t n, int64_t cin, int64_t cout, int64_t ho,
                            int64_t wo, int m, int k);
/* 1x7 and 7x1 convolutions by F(2, 7) along the kernel's axis (winograd7.c):
** stride 1, dilation 1, groups 1, no padding across the axis. The weight
** out,in,1,7 or out,in,7,1 -> out 8,ceil(out/6),in,6 (G g in double, packed
** as em_winograd_prepare's); the forward takes a->k 7 for 7x1, 1 for 1x7. */
int em_winograd7_fits(const em_conv_params *p);
em_status em_winograd7_prepare(const em_ctx *ctx, const em_tensor *weight, em_tensor *out,
                               em_err *err);
em_status em_winograd7_forward(em_ctx *ctx, const em_wino_args *a, const em_tensor *u,
                               em_tensor *buf, em_err *err);
/* the floats of buf the forward resizes to; vertical: 7x1, pad: the padding along */
int64_t em_winograd7_scratch(const em_ctx *ctx, int64_t n, int64_t cin, int64_t cout, int64_t h,
                             int64_t w, int64_t ho, int64_t wo, int vertical, int pad);

#endif
