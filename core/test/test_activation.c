/* test_activation.c -- activations and PReLU against naive double formulas.
** Covers large |x|, in place, strided inputs, aliasing and the error cases. */

#include <string.h>

#include "test.h"

/* ------------------------------------------------------------- reference */

static double sigmoid_ref(double x) { return 1.0 / (1.0 + exp(-x)); }

static double act_ref(em_act act, double x, double a, double b) {
  switch (act) {
  case EM_ACT_NONE: return x;
  case EM_ACT_RELU: return x > 0 ? x : 0;
  case EM_ACT_CLAMP: return x < a ? a : x > b ? b : x;
  case EM_ACT_LEAKYRELU: return x >= 0 ? x : a * x;
  case EM_ACT_ELU: return x > 0 ? x : a * expm1(x);
  case EM_ACT_SIGMOID: return sigmoid_ref(x);
  case EM_ACT_TANH: return tanh(x);
  case EM_ACT_HARDSIGMOID: return fmax(0, fmin(1, a * x + b));
  case EM_ACT_HARDSWISH: return x * fmin(fmax(x + 3, 0), 6) / 6;
  case EM_ACT_SILU: return x * sigmoid_ref(x);
  case EM_ACT_GELU:
    if (a != 0) {
      /* 0.5 x (1 + tanh u), written as x / (1 + exp(-2u)) so that double
      ** keeps the tail, where 1 + tanh u cancels */
      double u = sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
      return fabs(u) < 1 ? 0.5 * x * (1 + tanh(u)) : x / (1 + exp(-2 * u));
    }
    return 0.5 * x * erfc(-x / sqrt(2.0));
  case EM_ACT_SOFTPLUS:   /* log(1 + e^y) = max(y, 0) + log1p(e^-|y|): no overflow in double */
    return a * x > b ? x : (fmax(a * x, 0) + log1p(exp(-fabs(a * x)))) / a;
  }
  return NAN;
}

typedef struct act_case { em_act act; float a, b; const char *name; } act_case;

static const act_case cases[] = {
  {EM_ACT_NONE, 0, 0, "none"},
  {EM_ACT_RELU, 0, 0, "relu"},
  {EM_ACT_CLAMP, 0, 6, "relu6"},
  {EM_ACT_CLAMP, -1.5f, 0.25f, "clamp"},
  {EM_ACT_LEAKYRELU, 0.01f, 0, "leakyrelu"},
  {EM_ACT_LEAKYRELU, -0.3f, 0, "leakyrelu negative slope"},
  {EM_ACT_ELU, 1, 0, "elu"},
  {EM_ACT_ELU, 2.5f, 0, "elu alpha 2.5"},
  {EM_ACT_SIGMOID, 0, 0, "sigmoid"},
  {EM_ACT_TANH, 0, 0, "tanh"},
  {EM_ACT_HARDSIGMOID, 1.0f / 6, 0.5f, "hardsigmoid pytorch"},
  {EM_ACT_HARDSIGMOID, 0.2f, 0.5f, "hardsigmoid onnx"},
  {EM_ACT_HARDSWISH, 0, 0, "hardswish"},
  {EM_ACT_SILU, 0, 0, "silu"},
  {EM_ACT_GELU, 0, 0, "gelu"},
  {EM_ACT_GELU, 1, 0, "gelu tanh"},
  {EM_ACT_SOFTPLUS, 1, 20, "softplus"},
  {EM_ACT_SOFTPLUS, 2, 5, "softplus beta 2 threshold 5"},
  {EM_ACT_SOFTPLUS, 0.5f, 1e30f, "softplus threshold 1e30"},
  {EM_ACT_SOFTPLUS, -1, 20, "softplus beta -1"},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* Values around every kink and far into both tails. */
static const float special[] = {
  0.0f, -0.0f, 1e-7f, -1e-7f, 0.5f, -0.5f, 1, -1, 2.999f, -2.999f, 3, -3, 3.001f, -3.001f,
  6, -6, 10, -10, 15, -15, 19.99f, 20.01f, -20, 30, -30, 50, -50, 87, -87, 89, -89,
  100, -100, 1000, -1000, 1e6f, -1e6f, 3e38f, -3e38f
};
#define NSPECIAL ((int)(sizeof special / sizeof special[0]))

static em_rng rng;

static void fill_input(em_tensor *t) {
  float *p = em_tensor_data(t);
  int64_t n = em_tensor_nelement(t);
  for (int64_t i = 0; i < n; i++) {
    if (i < NSPECIAL) p[i] = special[i];
    else if (i % 3 == 0) p[i] = (float)(em_rng_uniform01(&rng) * 200 - 100);
    else p[i] = (float)(em_rng_uniform01(&rng) * 16 - 8);
  }
}

/* |got - ref| within a few float ulps of the larger of |ref| and scale, the
** size of the terms that cancel in the op's float formula (a*x + b in
** hardsigmoid); a floor of 1e-6 leaves tiny values to test_tails, which
** checks their relative error. */
static int close_to(float got, double ref, double scale) {
  if (isnan(ref)) return isnan(got);
  if (isinf(ref)) return got == ref;
  return fabs(got - ref) <= 4e-6 * fmax(fmax(fabs(ref), scale), 1e-6) + 1e-12;
}

static double cancel_scale(const act_case *c, double x) {
  if (c->act == EM_ACT_HARDSIGMOID) return fabs(c->a * x) + fabs(c->b);
  return 0;
}

/* Walks t (any strides) in logical order, calling fn on each element. */
static float *at(const em_tensor *t, int64_t k) {
  float *p = em_tensor_data(t);
  for (int d = t->ndim - 1; d >= 0; d--) {
    p += (k % t->size[d]) * t->stride[d];
    k /= t->size[d];
  }
  return p;
}

static int matches_ref(const act_case *c, const em_tensor *in_copy, const em_tensor *out) {
  int64_t n = em_tensor_nelement(in_copy);
  int bad = 0;
  if (!em_tensor_same_size(in_copy, out)) return 0;
  for (int64_t k = 0; k < n; k++) {
    double x = *at(in_copy, k), ref = act_ref(c->act, x, c->a, c->b);
    float got = *at(out, k);
    if (!close_to(got, ref, cancel_scale(c, x))) {
      if (bad++ < 3)
        fprintf(stderr, "  %s(%.9g) = %.9g, expected %.9g\n", c->name, *at(in_copy, k), got, ref);
    }
  }
  return bad == 0;
}

static void new_tensor(em_tensor *t, int ndim, int64_t s0, int64_t s1, int64_t s2, int64_t s3) {
  int64_t size[4] = {s0, s1, s2, s3};
  em_tensor_init(t);
  CHECK_OK(em_tensor_new(t, ndim, size, &e_));
}

/* ------------------------------------------------------------------ tests */

static void test_contiguous(void) {
  for (int c = 0; c < NCASES; c++) {
    em_tensor x, y;
    new_tensor(&x, 4, 2, 3, 7, 13);        /* odd sizes: vector tails */
    em_tensor_init(&y);
    fill_input(&x);
    CHECK_OK(em_act_forward(&x, &y, cases[c].act, cases[c].a, cases[c].b, &e_));
    CHECK(matches_ref(&cases[c], &x, &y));
    em_tensor_free(&x);
    em_tensor_free(&y);
  }
}

/* sigmoid-like ops far into the tails: no overflow to NaN, no cancellation */
static void test_tails(void) {
  em_tensor x, y;
  float xs[] = {-100, -87, -50, -30, -20, -15, -10, -8, -5, 15, 30, 100, 1e4f, -1e4f};
  int n = (int)(sizeof xs / sizeof xs[0]);
  em_act acts[] = {EM_ACT_SIGMOID, EM_ACT_SILU, EM_ACT_GELU, EM_ACT_GELU, EM_ACT_SOFTPLUS,
                   EM_ACT_ELU, EM_ACT_TANH};
  new_tensor(&x, 1, n, 0, 0, 0);
  em_tensor_init(&y);
  memcpy(em_tensor_data(&x), xs, sizeof xs);
  for (int j = 0; j < (int)(sizeof acts / sizeof acts[0]); j++) {
    /* the second GELU is the tanh approximation */
    float a = acts[j] == EM_ACT_SOFTPLUS || acts[j] == EM_ACT_ELU || j == 3 ? 1 : 0, b = 20;
    CHECK_OK(em_act_forward(&x, &y, acts[j], a, b, &e_));
    for (int i = 0; i < n; i++) {
      double ref = act_ref(acts[j], xs[i], a, b);
      float got = em_tensor_data(&y)[i];
      CHECK(!isnan(got));
      /* relative, where the reference is a normal float */
      if (fabs(ref) > 1e-37) {
        if (!(fabs(got - ref) <= 1e-5 * fabs(ref)))
          fprintf(stderr, "  act %d at %g: %.9g vs %.9g\n", (int)acts[j], xs[i], got, ref);
        CHECK(fabs(got - ref) <= 1e-5 * fabs(ref));
      } else {
        CHECK(fabs(got) <= 1e-37);
      }
    }
  }
  em_tensor_free(&x);
  em_tensor_free(&y);
}

/* a dense sweep through the range of the vectorised exp, subnormals included:
** relative error, down to where subnormal intermediates set an absolute floor */
static void test_sweep(void) {
  em_tensor x, y;
  int n = 22001, bad = 0;
  em_act acts[] = {EM_ACT_SIGMOID, EM_ACT_SILU, EM_ACT_GELU, EM_ACT_TANH, EM_ACT_ELU};
  new_tensor(&x, 1, n, 0, 0, 0);
  em_tensor_init(&y);
  /* steps of 0.01, and near zero (where tanh and expm1 could cancel) of 1e-6 */
  for (int i = 0; i < n; i++)
    em_tensor_data(&x)[i] = i % 4 == 3 ? (float)(i - n / 2) * 1e-6f : -110.0f + 0.01f * (float)i;
  for (int j = 0; j < 5; j++) {
    /* the tanh GELU (sigmoid inside), ELU with alpha 1 */
    float a = acts[j] == EM_ACT_GELU || acts[j] == EM_ACT_ELU ? 1 : 0;
    CHECK_OK(em_act_forward(&x, &y, acts[j], a, 0, &e_));
    for (int i = 0; i < n; i++) {
      double xi = em_tensor_data(&x)[i], ref = act_ref(acts[j], xi, a, 0);
      double got = em_tensor_data(&y)[i];
      /* the tanh GELU rounds its exp argument 2u in float first: relative
      ** error ~ |2u| ulp, however exact the exp */
      double u2 = 2 * sqrt(2 / M_PI) * (xi + 0.044715 * xi * xi * xi);
      double rel = 4e-6 + (acts[j] == EM_ACT_GELU ? 2.4e-7 * fabs(u2) : 0);
      double tol = fmax(rel * fabs(ref), 1e-41);   /* |x| x a few subnormal steps */
      if (!(fabs(got - ref) <= tol) && bad++ < 3)
        fprintf(stderr, "  act %d at %.9g: %.9g vs %.9g\n", (int)acts[j], xi, got, ref);
    }
  }
  CHECK(bad == 0);
  em_tensor_free(&x);
  em_tensor_free(&y);
}

static void test_nan(void) {
  em_tensor x, y;
  em_act acts[] = {EM_ACT_RELU, EM_ACT_CLAMP, EM_ACT_LEAKYRELU, EM_ACT_SIGMOID, EM_ACT_GELU};
  new_tensor(&x, 1, 3, 0, 0, 0);
  em_tensor_init(&y);
  em_tensor_data(&x)[0] = 1;
  em_tensor_data(&x)[1] = NAN;
  em_tensor_data(&x)[2] = -1;
  for (int j = 0; j < 5; j++) {
    CHECK_OK(em_act_forward(&x, &y, acts[j], 0, 6, &e_));
    CHECK(isnan(em_tensor_data(&y)[1]));
  }
  em_tensor_free(&x);
  em_tensor_free(&y);
}

/* output is input: the same struct, or another view of the same memory */
static void test_inplace(void) {
  for (int c = 0; c < NCASES; c++) {
    em_tensor x, ref, y;
    float *before;
    new_tensor(&x, 3, 5, 4, 9, 0);
    new_tensor(&ref, 3, 5, 4, 9, 0);
    fill_input(&x);
    CHECK_OK(em_tensor_copy(&ref, &x, &e_));
    before = em_tensor_data(&x);
    CHECK_OK(em_act_forward(&x, &x, cases[c].act, cases[c].a, cases[c].b, &e_));
    CHECK(em_tensor_data(&x) == before);
    CHECK(matches_ref(&cases[c], &ref, &x));

    /* a second tensor sharing the view (as nn.ReLU(true) does) */
    CHECK_OK(em_tensor_copy(&x, &ref, &e_));
    em_tensor_init(&y);
    em_tensor_set(&y, &x);
    CHECK_OK(em_act_forward(&x, &y, cases[c].act, cases[c].a, cases[c].b, &e_));
    CHECK(em_tensor_data(&y) == before);
    CHECK(matches_ref(&cases[c], &ref, &x));
    em_tensor_free(&y);
    em_tensor_free(&x);
    em_tensor_free(&ref);
  }
}

/* strided input to a fresh output, and in place on a strided view
** (elements outside the view must stay as they were) */
static void test_strided(void) {
  for (int c = 0; c < NCASES; c++) {
    em_tensor base, keep, v, ref, y;
    new_tensor(&base, 3, 4, 6, 11, 0);
    new_tensor(&keep, 3, 4, 6, 11, 0);
    fill_input(&base);
    CHECK_OK(em_tensor_copy(&keep, &base, &e_));
    em_tensor_init(&v);
    em_tensor_init(&ref);
    em_tensor_init(&y);
    /* transposed then narrowed: no unit stride and an offset */
    CHECK_OK(em_tensor_transpose(&v, &base, 0, 2, &e_));
    CHECK_OK(em_tensor_narrow(&v, &v, 1, 1, 4, &e_));
    CHECK(!em_tensor_is_contiguous(&v));
    CHECK_OK(em_tensor_contiguous(&ref, &v, &e_));   /* a copy, since v is strided */

    CHECK_OK(em_act_forward(&v, &y, cases[c].act, cases[c].a, cases[c].b, &e_));
    CHECK(em_tensor_is_contiguous(&y));
    CHECK(matches_ref(&cases[c], &ref, &y));
    CHECK(test_maxdiff(em_tensor_data(&base), em_tensor_data(&keep), 4 * 6 * 11) == 0);

    CHECK_OK(em_act_forward(&v, &v, cases[c].act, cases[c].a, cases[c].b, &e_));
    CHECK(matches_ref(&cases[c], &ref, &v));
    /* rows 0 and 5 of dim 1 lie outside the narrowed view */
    for (int i = 0; i < 4; i++)
      for (int k = 0; k < 11; k++)
        for (int j = 0; j < 6; j += 5) {
          int64_t off = (i * 6 + j) * 11 + k;
          CHECK(em_tensor_data(&base)[off] == em_tensor_data(&keep)[off] ||
                (isnan(em_tensor_data(&base)[off]) && isnan(em_tensor_data(&keep)[off])));
        }
    em_tensor_free(&base);
    em_tensor_free(&keep);
    em_tensor_free(&v);
    em_tensor_free(&ref);
    em_tensor_free(&y);
  }
}

/* an output that is some other view of the input's memory must not clobber it */
static void test_overlap(void) {
  em_tensor x, keep, y;
  new_tensor(&x, 2, 6, 6, 0, 0);
  new_tensor(&keep, 2, 6, 6, 0, 0);
  fill_input(&x);
  CHECK_OK(em_tensor_copy(&keep, &x, &e_));
  em_tensor_init(&y);
  CHECK_OK(em_tensor_transpose(&y, &x, 0, 1, &e_));
  CHECK_OK(em_act_forward(&x, &y, EM_ACT_RELU, 0, 0, &e_));
  CHECK(y.storage != x.storage);
  CHECK(test_maxdiff(em_tensor_data(&x), em_tensor_data(&keep), 36) == 0);
  CHECK(matches_ref(&cases[1], &keep, &y));
  em_tensor_free(&x);
  em_tensor_free(&keep);
  em_tensor_free(&y);
}

/* the steady state reuses the output's memory; empty sizes work */
static void test_reuse_and_sizes(void) {
  em_tensor x, y, s;
  float *first;
  new_tensor(&x, 4, 2, 8, 5, 5);
  em_tensor_init(&y);
  fill_input(&x);
  CHECK_OK(em_act_forward(&x, &y, EM_ACT_SILU, 0, 0, &e_));
  first = em_tensor_data(&y);
  CHECK_OK(em_act_forward(&x, &y, EM_ACT_TANH, 0, 0, &e_));
  CHECK(em_tensor_data(&y) == first);
  CHECK(matches_ref(&cases[9], &x, &y));
  em_tensor_free(&x);

  new_tensor(&x, 2, 0, 3, 0, 0);
  CHECK_OK(em_act_forward(&x, &y, EM_ACT_RELU, 0, 0, &e_));
  CHECK(y.ndim == 2 && y.size[0] == 0 && y.size[1] == 3);
  em_tensor_free(&x);

  /* a 0-dimensional tensor: one element */
  new_tensor(&x, 1, 1, 0, 0, 0);
  em_tensor_data(&x)[0] = -2;
  em_tensor_init(&s);
  CHECK_OK(em_tensor_view(&s, &x, 0, NULL, &e_));
  CHECK_OK(em_act_forward(&s, &y, EM_ACT_LEAKYRELU, 0.5f, 0, &e_));
  CHECK(y.ndim == 0 && em_tensor_data(&y)[0] == -1);
  em_tensor_free(&s);
  em_tensor_free(&x);
  em_tensor_free(&y);
}

static void test_act_errors(void) {
  em_tensor x, y;
  em_err err;
  new_tensor(&x, 1, 4, 0, 0, 0);
  em_tensor_init(&y);
  em_tensor_zero(&x, NULL);
  CHECK(em_act_forward(&x, &y, (em_act)99, 0, 0, &err) == EM_EARG);
  CHECK(strstr(err.msg, "unknown activation 99") != NULL);
  CHECK(em_act_forward(&x, &y, (em_act)-1, 0, 0, &err) == EM_EARG);
  CHECK(em_act_forward(&x, &y, EM_ACT_CLAMP, NAN, 1, &err) == EM_EARG);
  CHECK(strstr(err.msg, "clamp bounds") != NULL);
  CHECK(em_act_forward(&x, &y, EM_ACT_LEAKYRELU, INFINITY, 0, &err) == EM_EARG);
  CHECK(em_act_forward(&x, &y, EM_ACT_ELU, NAN, 0, &err) == EM_EARG);
  CHECK(em_act_forward(&x, &y, EM_ACT_HARDSIGMOID, 0.2f, NAN, &err) == EM_EARG);
  CHECK(em_act_forward(&x, &y, EM_ACT_SOFTPLUS, 0, 20, &err) == EM_EARG);
  CHECK(strstr(err.msg, "softplus beta") != NULL);
  CHECK(em_act_forward(&y, &x, EM_ACT_RELU, 0, 0, &err) == EM_EARG);   /* y is empty */
  CHECK(strstr(err.msg, "input is empty") != NULL);
  CHECK(em_act_forward(NULL, &y, EM_ACT_RELU, 0, 0, &err) == EM_EARG);
  CHECK(em_act_forward(&x, &y, EM_ACT_RELU, 0, 0, NULL) == EM_OK);     /* err may be NULL */
  CHECK(em_act_forward(&x, &y, (em_act)99, 0, 0, NULL) == EM_EARG);
  em_tensor_free(&x);
  em_tensor_free(&y);
}

/* ------------------------------------------------------------------ PReLU */

static double prelu_ref(const em_tensor *x, const em_tensor *w, int64_t k) {
  /* channel of logical element k: dim 1, or dim 0 for 1-d */
  int64_t c = 0, nw = em_tensor_nelement(w), r = k;
  int cd = x->ndim > 1 ? 1 : 0;
  double v = *at(x, k);
  for (int d = x->ndim - 1; d >= 0; d--) {
    if (d == cd) c = r % x->size[d];
    r /= x->size[d];
  }
  return v >= 0 ? v : v * *at(w, nw == 1 ? 0 : c);
}

static int prelu_matches(const em_tensor *x, const em_tensor *w, const em_tensor *y) {
  int64_t n = em_tensor_nelement(x);
  if (!em_tensor_same_size(x, y)) return 0;
  for (int64_t k = 0; k < n; k++)
    if (!close_to(*at(y, k), prelu_ref(x, w, k), 0)) return 0;
  return 1;
}

static void fill_weight(em_tensor *w) {
  for (int64_t i = 0; i < em_tensor_nelement(w); i++)
    em_tensor_data(w)[i] = (float)(em_rng_uniform01(&rng) - 0.3);
}

static void test_prelu(void) {
  int64_t shapes[][4] = {{2, 5, 7, 3}, {1, 16, 1, 1}, {3, 4, 0, 0}, {9, 0, 0, 0}};
  int ndims[] = {4, 4, 2, 1};
  for (int s = 0; s < 4; s++) {
    int64_t C = ndims[s] > 1 ? shapes[s][1] : shapes[s][0];
    for (int shared = 0; shared < 2; shared++) {
      em_tensor x, w, y, ref;
      new_tensor(&x, ndims[s], shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
      new_tensor(&w, 1, shared ? 1 : C, 0, 0, 0);
      em_tensor_init(&y);
      fill_input(&x);
      fill_weight(&w);
      CHECK_OK(em_prelu_forward(&x, &y, &w, &e_));
      CHECK(prelu_matches(&x, &w, &y));
      /* in place */
      new_tensor(&ref, ndims[s], shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3]);
      CHECK_OK(em_tensor_copy(&ref, &x, &e_));
      CHECK_OK(em_prelu_forward(&x, &x, &w, &e_));
      CHECK(prelu_matches(&ref, &w, &x));
      em_tensor_free(&x);
      em_tensor_free(&w);
      em_tensor_free(&y);
      em_tensor_free(&ref);
    }
  }
}

/* strided input and weight (a (C,1,1) column of a wider tensor, as ONNX has) */
static void test_prelu_strided(void) {
  em_tensor base, x, wbase, w, y, ref;
  new_tensor(&base, 4, 3, 6, 5, 2);
  new_tensor(&wbase, 3, 5, 2, 1, 0);
  fill_input(&base);
  fill_weight(&wbase);
  em_tensor_init(&x);
  em_tensor_init(&w);
  em_tensor_init(&y);
  em_tensor_init(&ref);
  CHECK_OK(em_tensor_permute(&x, &base, (int[]){0, 2, 1, 3}, &e_));   /* N=3, C=5, 6x2 */
  CHECK_OK(em_tensor_select(&w, &wbase, 1, 1, &e_));                  /* 5x1, stride 2 */
  CHECK(!em_tensor_is_contiguous(&x) && !em_tensor_is_contiguous(&w));
  CHECK_OK(em_prelu_forward(&x, &y, &w, &e_));
  CHECK(prelu_matches(&x, &w, &y));
  CHECK_OK(em_tensor_contiguous(&ref, &x, &e_));
  CHECK_OK(em_prelu_forward(&x, &x, &w, &e_));
  CHECK(prelu_matches(&ref, &w, &x));
  em_tensor_free(&base);
  em_tensor_free(&wbase);
  em_tensor_free(&x);
  em_tensor_free(&w);
  em_tensor_free(&y);
  em_tensor_free(&ref);
}

static void test_prelu_errors(void) {
  em_tensor x, w, y, empty;
  em_err err;
  new_tensor(&x, 4, 2, 16, 3, 3);
  new_tensor(&w, 1, 3, 0, 0, 0);
  em_tensor_init(&y);
  em_tensor_init(&empty);
  CHECK(em_prelu_forward(&x, &y, &w, &err) == EM_ESHAPE);
  CHECK(strstr(err.msg, "3 weights but input (2x16x3x3) has 16 channels (expected 1 or 16)") != NULL);
  CHECK(em_prelu_forward(&x, &y, &empty, &err) == EM_EARG);
  CHECK(strstr(err.msg, "weight is empty") != NULL);
  CHECK(em_prelu_forward(&empty, &y, &w, &err) == EM_EARG);
  CHECK(strstr(err.msg, "input is empty") != NULL);
  CHECK(em_prelu_forward(&x, &y, NULL, &err) == EM_EARG);
  CHECK(y.storage == NULL);   /* nothing was allocated on the way to an error */
  em_tensor_free(&x);
  em_tensor_free(&w);
}

/* Large inputs on two threads (and in place) give the serial result
** exactly: the chunks run the same loop. An odd length leaves a ragged
** last chunk. */
static void test_threads(void) {
  int64_t sz[1] = {200003};
  em_ctx ctx;
  em_ctx_init(&ctx);
  em_ctx_set_threads(&ctx, 2);
  for (int c = 0; c < NCASES; c++) {
    em_tensor x, serial, par, inplace;
    em_err err;
    em_tensor_init(&x); em_tensor_init(&serial); em_tensor_init(&par); em_tensor_init(&inplace);
    CHECK_OK(em_tensor_new(&x, 1, sz, &err));
    fill_input(&x);
    CHECK_OK(em_act_forward(&x, &serial, cases[c].act, cases[c].a, cases[c].b, &err));
    CHECK_OK(em_act_forward_ctx(&ctx, &x, &par, cases[c].act, cases[c].a, cases[c].b, &err));
    CHECK_OK(em_tensor_new(&inplace, 1, sz, &err));
    CHECK_OK(em_tensor_copy(&inplace, &x, &err));
    CHECK_OK(em_act_forward_ctx(&ctx, &inplace, &inplace, cases[c].act, cases[c].a, cases[c].b, &err));
    CHECK(memcmp(em_tensor_data(&serial), em_tensor_data(&par), sizeof(float) * (size_t)sz[0]) == 0);
    CHECK(memcmp(em_tensor_data(&serial), em_tensor_data(&inplace), sizeof(float) * (size_t)sz[0]) == 0);
    em_tensor_free(&x); em_tensor_free(&serial); em_tensor_free(&par); em_tensor_free(&inplace);
  }
  em_ctx_free(&ctx);
}

int main(void) {
  em_rng_seed(&rng, 1234);
  TEST_RUN(test_contiguous);
  TEST_RUN(test_tails);
  TEST_RUN(test_sweep);
  TEST_RUN(test_nan);
  TEST_RUN(test_inplace);
  TEST_RUN(test_strided);
  TEST_RUN(test_overlap);
  TEST_RUN(test_reuse_and_sizes);
  TEST_RUN(test_act_errors);
  TEST_RUN(test_threads);
  TEST_RUN(test_prelu);
  TEST_RUN(test_prelu_strided);
  TEST_RUN(test_prelu_errors);
  TEST_REPORT();
}
