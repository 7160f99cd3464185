/* deconv.c -- transposed 2-D convolution (PyTorch's conv_transpose2d):
** sgemm into columns, then col2im scatters them onto the output. */

#include <limits.h>
#include <string.h>

#include "ember.h"
#include "convutil.h"

/* The checks of em_conv_transpose2d_forward; sets the output size. */
static em_status check_deconv(const em_tensor *input, const em_tensor *weight, const em_tensor *bias,
                              const em_conv_params *p, int oph, int opw,
                              int64_t *ho, int64_t *wo, em_err *err) {
  char a[128];
  em_status st;
  int64_t cin, cout;
  if ((st = check_4d(input, "input", "N,C,H,W", err))) return st;
  if (p->sh < 1 || p->sw < 1)
    return em_fail(err, EM_EARG, "stride must be positive, got %dx%d", p->sh, p->sw);
  if (p->dh < 1 || p->dw < 1)
    return em_fail(err, EM_EARG, "dilation must be positive, got %dx%d", p->dh, p->dw);
  if (p->pt < 0 || p->pl < 0 || p->pb < 0 || p->pr < 0)
    return em_fail(err, EM_EARG, "padding must not be negative, got %d,%d,%d,%d (top, left, bottom, right)",
                   p->pt, p->pl, p->pb, p->pr);
  if (p->groups < 1)
    return em_fail(err, EM_EARG, "groups must be positive, got %d", p->groups);
  /* beyond this the extra rows would be reachable by no kernel tap */
  if (oph < 0 || opw < 0 || (oph >= p->sh && oph >= p->dh) || (opw >= p->sw && opw >= p->dw))
    return em_fail(err, EM_EARG, "output padding %dx%d must be smaller than stride %dx%d or dilation %dx%d",
                   oph, opw, p->sh, p->sw, p->dh, p->dw);
  if ((st = check_4d(weight, "weight", "in, out/groups, kH, kW", err))) return st;
  if (p->kh != weight->size[2] || p->kw != weight->size[3])
    return em_fail(err, EM_ESHAPE, "kernel %dx%d does not match weight %s", p->kh, p->kw,
                   em_tensor_shape_str(weight, a, sizeof a));
  cin = weight->size[0];
  cout = weight->size[1] * p->groups;
  if (cin % p->groups)
    return em_fail(err, EM_ESHAPE, "%lld input planes do not divide into %d groups",
                   (long long)cin, p->groups);
  if (input->size[1] != cin)
    return em_fail(err, EM_ESHAPE, "expected %lld input planes, got %lld",
                   (long long)cin, (long long)input->size[1]);
  *ho = (input->size[2] - 1) * p->sh - p->pt - p->pb + (int64_t)(p->kh - 1) * p->dh + 1 + oph;
  *wo = (input->size[3] - 1) * p->sw - p->pl - p->pr + (int64_t)(p->kw - 1) * p->dw + 1 + opw;
  if (*ho < 1 || *wo < 1)
    return em_fail(err, EM_ESHAPE, "padding %d,%d,%d,%d leaves no output for input %s (%lldx%lld)",
                   p->pt, p->pl, p->pb, p->pr, em_tensor_shape_str(input, a, sizeof a),
                   (long long)*ho, (long long)*wo);
  if (bias && bias->storage && em_tensor_nelement(bias) != cout)
    return em_fail(err, EM_ESHAPE, "expected a bias of %lld elements, got %s",
                   (long long)cout, em_tensor_shape_str(bias, a, sizeof a));
  if (input->size[2] * input->size[3] > INT_MAX || weight->size[1] * p->kh * p->kw > INT_MAX ||
      *ho * *wo > INT_MAX || cin > INT_MAX)
    return em_fail(err, EM_ENOMEM, "transposed convolution too large: input %s, output %lldx%lld",
                   em_tensor_shape_str(input, a, sizeof a), (long long)*ho, (long long)*wo);
  return EM_OK;
}

typedef struct col_job {
  const float *col, *bias;
  float *out;
  int64_t h, w, ho, wo;
  const em_conv_params *p;
} col_job;

/* Output planes [c0, c1): column rows (oc, ky, kx) (each H*W) added onto
** plane oc. */
static void col2im_planes(void *arg, int64_t c0, int64_t c1, int t) {
  const col_job *j = arg;
  const float *col = j->col, *bias = j->bias;
  float *out = j->out;
  const int64_t h = j->h, w = j->w, ho = j->ho, wo = j->wo;
  const em_conv_params *p = j->p;
  (void)t;
  for (int64_t oc = c0; oc < c1; oc++) {
    float *dst = out + oc * ho * wo, b = bias ? bias[oc] : 0.0f;
    for (int64_t j = 0; j < ho * wo; j++) dst[j] = b;
    for (int ky = 0; ky < p->kh; ky++)
      for (int kx = 0; kx < p->kw; kx++) {
        const float *src = col + ((oc * p->kh + ky) * p->kw + kx) * h * w;
        int64_t offx = (int64_t)kx * p->dw - p->pl, lo, hi;
        valid_span(wo, w, p->sw, offx, &lo, &hi);
        for (int64_t iy = 0; iy < h; iy++) {
          int64_t oy = iy * p->sh - p->pt + (int64_t)ky * p->dh;
          const float *s = src + iy * w;
          float *d;
          if (oy < 0 || oy >= ho) continue;
          d = dst + oy * wo;
          if (p->sw == 1) {
            for (int64_t ix = lo; ix < hi; ix++) d[ix + offx] += s[ix];
          } else {
            for (int64_t ix = lo; ix < hi; ix++) d[ix * p->sw + offx] += s[ix];
          }
        }
      }
  }
}

static void col2im(const em_ctx *ctx, const float *col, float *out, const float *bias, int64_t cout,
                   int64_t h, int64_t w, int64_t ho, int64_t wo, const em_conv_params *p) {
  col_job j = { col, bias, out, h, w, ho, wo, p };
  em_parallel(ctx, cout * ho * wo >= 16384 ? ctx->nthreads : 1, cout, col2im_planes, &j);
}

static void fill_bias(float *out, const float *bias, int64_t c, int64_t plane) {
  for (int64_t i = 0; i < c; i++) {
    float *o = out + i * plane;
    for (int64_t j = 0; j < plane; j++) o[j] = bias[i];
  }
}

/* The products through ember's own (sgemm.c), whose A is row-major: each
** group's weight Cin/g x M transposed to M x Cin/g first, in buf after the
** column matrix. The direct case adds the bias as it stores. */
static em_status own_product(em_ctx *ctx, const em_tensor *x, const em_tensor *wt, const float *bp,
                             em_tensor *output, em_tensor *buf, const em_conv_params *p,
                             int direct, int64_t ho, int64_t wo, em_err *err) {
  int64_t n = x->size[0], cin = x->size[1], h = x->size[2], w = x->size[3], hw = h * w;
  int64_t cout = output->size[1], cin_g = cin / p->groups, cout_g = cout / p->groups;
  int64_t M = cout_g * p->kh * p->kw, cols = direct ? 0 : cout * p->kh * p->kw * hw;
  int64_t sz[1] = { cols + p->groups * M * cin_g };
  em_status st;
  if ((st = em_tensor_resize(buf, 1, sz, err))) return st;
  float *col = em_tensor_data(buf), *wtt = col + cols;
  const float *src = em_tensor_data(wt);
  for (int64_t g = 0; g < p->groups; g++)
    for (int64_t i = 0; i < cin_g; i++)
      for (int64_t r = 0; r < M; r++) wtt[(g * M + r) * cin_g + i] = src[(g * cin_g + i) * M + r];
  for (int64_t img = 0; img < n; img++) {
    const float *xi = em_tensor_data(x) + img * cin * hw;
    float *y = em_tensor_data(output) + img * cout * ho * wo, *dst = direct ? y : col;
    for (int64_t g = 0; g < p->groups && !st; g++)
      st = em_matmul(ctx, M, hw, cin_g, wtt + g * M * cin_g, cin_g, xi + g * cin_g * hw, hw,
                     direct && bp ? bp + g * cout_g : NULL, dst + g * M * hw, hw, err);
    if (!st && !direct) col2im(ctx, col, y, bp, cout, h, w, ho, wo, p);
  }
  return st;
}

/* Per image and group: col_g (Cout/g*kH*kW x H*W) = weight_g^T * input_g,
** weight_g being Cin/g x Cout/g*kH*kW as stored. A 1x1 kernel with stride
** 1 and no padding maps columns to output pixels one to one, so sgemm then
** writes the output directly. */
em_status em_conv_transpose2d_forward(em_ctx *ctx, const em_tensor *input, em_tensor *output,
                                      const em_tensor *weight, const em_tensor *bias,
                                      em_tensor *buf, const em_conv_params *p,
                                      int out_pad_h, int out_pad_w, em_err *err) {
  em_tensor x, wt, b, scratch;
  int64_t ho = 0, wo = 0, n, cin, cout, h, w, osz[4], cin_g, cout_g, M, hw;
  int has_bias = bias && bias->storage, direct;
  const float *bp;
  em_status st;
  if (!ctx || !input || !output || !weight || !p)
    return em_fail(err, EM_EARG, "conv_transpose2d: missing argument");
  if ((st = check_deconv(input, weight, bias, p, out_pad_h, out_pad_w, &ho, &wo, err))) return st;
  if (shares(output, input) || shares(output, weight) || shares(output, bias) ||
      shares(buf, input) || shares(buf, output) || shares(buf, weight))
    return em_fail(err, EM_EARG, "output and scratch must not share memory with the inputs");
  n = input->size[0]; cin = input->size[1]; h = input->size[2]; w = input->size[3];
  cout = weight->size[1] * p->groups;
  cin_g = cin / p->groups; cout_g = cout / p->groups;
  M = cout_g * p->kh * p->kw; hw = h * w;
  direct = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && !p->pt && !p->pl &&
           !p->pb && !p->pr && !out_pad_h && !out_pad_w;
  osz[0] = n; osz[1] = cout; osz[2] = ho; osz[3] = wo;
  em_tensor_init(&x); em_tensor_init(&wt); em_tensor_init(&b); em_tensor_init(&scratch);
  if (!buf) buf = &scratch;
  if ((st = em_tensor_contiguous(&x, input, err)) ||
      (st = em_tensor_contiguous(&wt, weight, err)) ||
      (has_bias && (st = em_tensor_contiguous(&b, bias, err))) ||
      (st = em_tensor_resize(output, 4, osz, err)) || EM_DRY(ctx))
    goto done;
  bp = has_bias ? em_tensor_data(&b) : NULL;
  if (ctx->isa >= EM_ISA_AVX2) {   /* ember's product on its threads, the weight transposed once */
    st = own_product(ctx, &x, &wt, bp, output, buf, p, direct, ho, wo, err);
    goto done;
  }
  if (!direct) {
    int64_t sz[2] = { cout * p->kh * p->kw, hw };
    if ((st = em_tensor_resize(buf, 2, sz, err))) goto done;
  }
  for (int64_t img = 0; img < n; img++) {
    const float *xi = em_tensor_data(&x) + img * cin * hw;
    float *y = em_tensor_data(output) + img * cout * ho * wo;
    float *col = direct ? y : em_tensor_data(buf);
    float beta = 0.0f;
    if (direct && bp) {
      fill_bias(y, bp, cout, hw);
      beta = 1.0f;
    }
    for (int g = 0; g < p->groups; g++)
      em_sgemm(1, 0, (int)M, (int)hw, (int)cin_g, 1.0f, em_tensor_data(&wt) + g * cin_g * M, (int)M,
               xi + g * cin_g * hw, (int)hw, beta, col + g * M * hw, (int)hw);
    if (!direct) col2im(ctx, col, y, bp, cout, h, w, ho, wo, p);
  }
done:
  em_tensor_free(&x); em_tensor_free(&wt); em_tensor_free(&b); em_tensor_free(&scratch);
  return st;
}
