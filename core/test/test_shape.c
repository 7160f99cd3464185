/* test_shape.c -- concat, channel shuffle, permute, padding and upsampling against
** naive loops on random shapes, strided (non-contiguous) inputs and N > 1. */

#include <string.h>

#include "test.h"

static em_rng rng;

static int rnd(int lo, int hi) { return lo + (int)(em_rng_next(&rng) % (uint64_t)(hi - lo + 1)); }

/* A random tensor of the given sizes into *t; when strided, t is a
** non-contiguous view (a transpose of the last two dims of a bigger tensor,
** or a narrow of the last dim or of dim 2) so stride handling is exercised. */
static void make_input(em_tensor *t, int ndim, const int64_t *size, int strided) {
  int64_t big[EM_MAXDIM];
  em_tensor base;
  em_tensor_init(&base);
  memcpy(big, size, sizeof(int64_t) * (size_t)ndim);
  if (!strided || ndim < 2) {
    em_tensor_new(t, ndim, size, NULL);
    em_rng_uniform(&rng, t, -1, 1, NULL);
    return;
  }
  if (strided == 1) {   /* transpose of the last two dims */
    big[ndim - 2] = size[ndim - 1];
    big[ndim - 1] = size[ndim - 2];
    em_tensor_new(&base, ndim, big, NULL);
    em_rng_uniform(&rng, &base, -1, 1, NULL);
    em_tensor_transpose(t, &base, ndim - 2, ndim - 1, NULL);
  } else if (strided == 2) {   /* narrow of the last dim */
    big[ndim - 1] = size[ndim - 1] + 3;
    em_tensor_new(&base, ndim, big, NULL);
    em_rng_uniform(&rng, &base, -1, 1, NULL);
    em_tensor_narrow(t, &base, ndim - 1, 1, size[ndim - 1], NULL);
  } else {                     /* narrow of dim 2: a channel split of N,C,H,W */
    big[1] = size[1] + 2;
    em_tensor_new(&base, ndim, big, NULL);
    em_rng_uniform(&rng, &base, -1, 1, NULL);
    em_tensor_narrow(t, &base, 1, 1, size[1], NULL);
  }
  em_tensor_free(&base);
}

static void random_sizes(int ndim, int64_t *size, int lo, int hi) {
  for (int d = 0; d < ndim; d++) size[d] = rnd(lo, hi);
}

/* ----------------------------------------------------------------- concat */

static void test_concat(void) {
  for (int trial = 0; trial < 200; trial++) {
    int ndim = rnd(1, 4), n = rnd(1, 4), dim = rnd(0, ndim - 1);
    int64_t base[EM_MAXDIM], size[EM_MAXDIM], idx[EM_MAXDIM] = {0}, total = 0;
    em_tensor in[4], out;
    const em_tensor *ptrs[4];
    em_tensor_init(&out);
    random_sizes(ndim, base, 1, 5);
    for (int i = 0; i < n; i++) {
      memcpy(size, base, sizeof size);
      size[dim] = rnd(1, 4);
      total += size[dim];
      em_tensor_init(&in[i]);
      make_input(&in[i], ndim, size, rnd(0, 3));
      ptrs[i] = &in[i];
    }
    CHECK_OK(em_concat_forward(NULL, ptrs, n, &out, dim, &e_));
    CHECK(out.ndim == ndim && out.size[dim] == total);
    /* every output element equals the element of the input it came from */
    do {
      int64_t off = idx[dim], src[EM_MAXDIM];
      int i = 0;
      while (off >= in[i].size[dim]) off -= in[i++].size[dim];
      memcpy(src, idx, sizeof src);
      src[dim] = off;
      if (*test_at(&out, idx) != *test_at(&in[i], src)) { CHECK(!"concat element differs"); break; }
    } while (test_next_index(idx, out.ndim, out.size));
    for (int i = 0; i < n; i++) em_tensor_free(&in[i]);
    em_tensor_free(&out);
  }
}

static void test_concat_steady(void) {
  int64_t s[4] = {2, 3, 4, 5};
  em_tensor a, b, out;
  const em_tensor *ptrs[2] = {&a, &b};
  float *data;
  em_tensor_init(&a); em_tensor_init(&b); em_tensor_init(&out);
  make_input(&a, 4, s, 0);
  make_input(&b, 4, s, 0);
  CHECK_OK(em_concat_forward(NULL, ptrs, 2, &out, 1, &e_));
  data = em_tensor_data(&out);
  CHECK_OK(em_concat_forward(NULL, ptrs, 2, &out, 1, &e_));
  CHECK(em_tensor_data(&out) == data);   /* same shape: same buffer */
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&out);
}

static void test_concat_errors(void) {
  int64_t s1[4] = {1, 64, 8, 8}, s2[4] = {1, 32, 7, 7}, s3[3] = {1, 32, 8};
  em_tensor a, b, c, empty, out;
  const em_tensor *ab[2] = {&a, &b}, *ac[2] = {&a, &c}, *ae[2] = {&a, &empty}, *aa[2] = {&a, &a};
  em_err err;
  em_tensor_init(&a); em_tensor_init(&b); em_tensor_init(&c);
  em_tensor_init(&empty); em_tensor_init(&out);
  make_input(&a, 4, s1, 0);
  make_input(&b, 4, s2, 0);
  make_input(&c, 3, s3, 0);
  CHECK(em_concat_forward(NULL, ab, 2, &out, 1, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "input 2 size 1x32x7x7 does not match 1x64x8x8 outside dim 2") == 0);
  CHECK(em_concat_forward(NULL, ac, 2, &out, 1, &err) == EM_ESHAPE);
  CHECK(strstr(err.msg, "input 2 has 3 dimensions") != NULL);
  CHECK(em_concat_forward(NULL, ab, 0, &out, 1, &err) == EM_EARG);
  CHECK(em_concat_forward(NULL, ab, 2, &out, 4, &err) == EM_EARG);
  CHECK(strstr(err.msg, "dimension 5 out of range") != NULL);
  CHECK(em_concat_forward(NULL, ab, 2, &out, -1, &err) == EM_EARG);
  CHECK(em_concat_forward(NULL, ae, 2, &out, 1, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "input 2 is empty") == 0);
  CHECK(em_concat_forward(NULL, aa, 2, &a, 1, &err) == EM_EARG);   /* output aliases input */
  CHECK(out.storage == NULL);                                   /* nothing was touched */
  em_tensor_free(&a); em_tensor_free(&b); em_tensor_free(&c); em_tensor_free(&out);
}

/* --------------------------------------------------------- channel shuffle */

static void test_shuffle(void) {
  for (int trial = 0; trial < 100; trial++) {
    int ndim = rnd(2, 4), g = rnd(1, 4);
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor in, out;
    em_tensor_init(&in); em_tensor_init(&out);
    random_sizes(ndim, size, 1, 5);
    size[1] = g * rnd(1, 4);
    make_input(&in, ndim, size, rnd(0, 2));
    CHECK_OK(em_channel_shuffle_forward(&in, &out, g, &e_));
    CHECK(em_tensor_same_size(&in, &out));
    do {
      int64_t src[EM_MAXDIM], cpg = size[1] / g, c = idx[1];
      memcpy(src, idx, sizeof src);
      src[1] = (c % g) * cpg + c / g;
      if (*test_at(&out, idx) != *test_at(&in, src)) { CHECK(!"shuffle element differs"); break; }
    } while (test_next_index(idx, out.ndim, out.size));
    em_tensor_free(&in); em_tensor_free(&out);
  }
}

/* The shuffle of n inputs joined along the channels, against the shuffle
** rule applied to a naive concatenation: random channel counts, strided
** inputs, N > 1, and planes large enough for the parallel path. */
static void test_shuffle_join(void) {
  em_ctx ctx;
  em_ctx_init(&ctx);
  em_ctx_set_threads(&ctx, 2);
  for (int trial = 0; trial < 120; trial++) {
    int ndim = rnd(2, 4), n = rnd(1, 4), g = rnd(1, 3), big = trial % 10 == 0;
    int64_t base[EM_MAXDIM], size[EM_MAXDIM], idx[EM_MAXDIM] = {0}, start[5] = {0}, C = 0;
    em_tensor in[4], out;
    const em_tensor *ptrs[4];
    em_tensor_init(&out);
    random_sizes(ndim, base, 1, 5);
    if (big && ndim == 4) { base[2] = 60; base[3] = 70; }
    for (int i = 0; i < n; i++) {
      memcpy(size, base, sizeof size);
      size[1] = rnd(1, 6);
      if (i == n - 1) size[1] += (g - (C + size[1]) % g) % g;   /* total divisible by g */
      em_tensor_init(&in[i]);
      make_input(&in[i], ndim, size, rnd(0, 3));
      ptrs[i] = &in[i];
      C += size[1];
      start[i + 1] = C;
    }
    CHECK_OK(em_channel_shuffle_join_forward(&ctx, ptrs, n, &out, g, &e_));
    CHECK(out.ndim == ndim && out.size[1] == C);
    do {
      int64_t src[EM_MAXDIM], c = (idx[1] % g) * (C / g) + idx[1] / g;
      int j = 0;
      while (c >= start[j + 1]) j++;
      memcpy(src, idx, sizeof src);
      src[1] = c - start[j];
      if (*test_at(&out, idx) != *test_at(&in[j], src)) { CHECK(!"joined shuffle element differs"); break; }
    } while (test_next_index(idx, out.ndim, out.size));
    for (int i = 0; i < n; i++) em_tensor_free(&in[i]);
    em_tensor_free(&out);
  }
  em_ctx_free(&ctx);
}

/* -------------------------------------------------------------- permute */

/* Every permutation kind (runs, strided inner loop, tiles), strided inputs
** and sizes past the tile and the parallel threshold, against indexing. */
static void test_permute(void) {
  em_ctx ctx;
  em_ctx_init(&ctx);
  em_ctx_set_threads(&ctx, 2);
  for (int trial = 0; trial < 300; trial++) {
    int ndim = rnd(1, 5), perm[EM_MAXDIM];
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor in, out;
    em_tensor_init(&in); em_tensor_init(&out);
    random_sizes(ndim, size, 1, 6);
    if (trial % 10 == 0 && ndim >= 2) { size[ndim - 1] = rnd(30, 90); size[ndim - 2] = rnd(30, 90); }
    make_input(&in, ndim, size, rnd(0, 3));
    for (int i = 0; i < ndim; i++) perm[i] = i;
    for (int i = ndim - 1; i > 0; i--) {   /* Fisher-Yates */
      int j = rnd(0, i), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    CHECK_OK(em_permute_forward(trial % 2 ? &ctx : NULL, &in, &out, perm, &e_));
    CHECK(out.ndim == ndim && em_tensor_is_contiguous(&out));
    for (int i = 0; i < ndim; i++) CHECK(out.size[i] == in.size[perm[i]]);
    do {
      int64_t src[EM_MAXDIM];
      for (int i = 0; i < ndim; i++) src[perm[i]] = idx[i];
      if (*test_at(&out, idx) != *test_at(&in, src)) { CHECK(!"permuted element differs"); break; }
    } while (test_next_index(idx, out.ndim, out.size));
    em_tensor_free(&in); em_tensor_free(&out);
  }
  em_ctx_free(&ctx);
}

static void test_permute_errors(void) {
  int64_t s[3] = {2, 3, 4};
  int bad[3] = {0, 0, 1}, out_of_range[3] = {0, 3, 1}, ok[3] = {2, 0, 1};
  em_tensor a, empty, out;
  em_err err;
  em_tensor_init(&a); em_tensor_init(&empty); em_tensor_init(&out);
  make_input(&a, 3, s, 0);
  CHECK(em_permute_forward(NULL, &a, &out, bad, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "permute: not a permutation of 1..3") == 0);
  CHECK(em_permute_forward(NULL, &a, &out, out_of_range, &err) == EM_EARG);
  CHECK(em_permute_forward(NULL, &a, &a, ok, &err) == EM_EARG);
  CHECK(em_permute_forward(NULL, &empty, &out, ok, &err) == EM_EARG);
  em_tensor_free(&a); em_tensor_free(&out);
}

/* A joined shuffle whose second input already lies in the output where the
** shuffle puts it (a view, planes `groups` apart: ember/plan.lua has its
** producer write there) gives the output of the plain call, in a batch of
** one and of two; an input sharing the output's memory anywhere else is
** refused. */
static void test_shuffle_in_place(void) {
  em_ctx ctx;
  em_ctx_init(&ctx);
  for (int g = 2; g <= 3; g++)
  for (int64_t n = 1; n <= 2; n++) {
    int64_t s[4] = { n, 4, 5, 6 }, so[4] = { n, 4 * g, 5, 6 }, hw = 30;
    em_tensor x[3], out, ref, v;
    const em_tensor *ptrs[3];
    em_err err;
    em_tensor_init(&out); em_tensor_init(&ref); em_tensor_init(&v);
    for (int i = 0; i < g; i++) {
      em_tensor_init(&x[i]);
      make_input(&x[i], 4, s, i == 0);
      ptrs[i] = &x[i];
    }
    CHECK_OK(em_channel_shuffle_join_forward(&ctx, ptrs, g, &ref, g, &e_));
    CHECK_OK(em_tensor_new(&out, 4, so, &e_));
    CHECK_OK(em_tensor_fill(&out, -5.0f, &e_));
    em_tensor_set(&v, &out);   /* input g-1's planes: channel k at k * g + g - 1 */
    v.offset += (size_t)((g - 1) * hw);
    v.size[1] = 4;
    v.stride[1] = g * hw;
    CHECK_OK(em_tensor_copy(&v, &x[g - 1], &e_));
    ptrs[g - 1] = &v;
    CHECK_OK(em_channel_shuffle_join_forward(&ctx, ptrs, g, &out, g, &e_));
    CHECK(test_maxdiff(em_tensor_data(&out), em_tensor_data(&ref), em_tensor_nelement(&ref)) == 0);
    v.offset -= (size_t)hw;   /* planes of the output, but not where this input goes */
    test_expect_error(em_channel_shuffle_join_forward(&ctx, ptrs, g, &out, g, &err), EM_EARG, &err,
                      "shares memory");
    for (int i = 0; i < g; i++) em_tensor_free(&x[i]);
    em_tensor_free(&out); em_tensor_free(&ref); em_tensor_free(&v);
  }
  em_ctx_free(&ctx);
}

static void test_shuffle_errors(void) {
  int64_t s[4] = {2, 6, 3, 3}, s1[1] = {6};
  em_tensor a, v, empty, out;
  em_err err;
  em_tensor_init(&a); em_tensor_init(&v); em_tensor_init(&empty); em_tensor_init(&out);
  make_input(&a, 4, s, 0);
  make_input(&v, 1, s1, 0);
  CHECK(em_channel_shuffle_forward(&a, &out, 4, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "6 channels (input 2x6x3x3) are not divisible by 4 groups") == 0);
  CHECK(em_channel_shuffle_forward(&a, &out, 0, &err) == EM_EARG);
  CHECK(em_channel_shuffle_forward(&v, &out, 2, &err) == EM_ESHAPE);
  CHECK(em_channel_shuffle_forward(&empty, &out, 2, &err) == EM_EARG);
  CHECK(em_channel_shuffle_forward(&a, &a, 2, &err) == EM_EARG);
  {
    int64_t s2[4] = {2, 5, 3, 3}, s3[4] = {2, 6, 3, 4};
    em_tensor b, c;
    const em_tensor *two[2] = {&a, &b}, *bad[2] = {&a, &c};
    em_tensor_init(&b); em_tensor_init(&c);
    make_input(&b, 4, s2, 0);
    make_input(&c, 4, s3, 0);
    CHECK(em_channel_shuffle_join_forward(NULL, two, 2, &out, 2, &err) == EM_ESHAPE);
    CHECK(strcmp(err.msg, "11 channels (2 inputs joined) are not divisible by 2 groups") == 0);
    CHECK(em_channel_shuffle_join_forward(NULL, bad, 2, &out, 2, &err) == EM_ESHAPE);
    CHECK(strcmp(err.msg, "input 2 size 2x6x3x4 does not match 2x6x3x3 outside the channels") == 0);
    CHECK(em_channel_shuffle_join_forward(NULL, two, 0, &out, 2, &err) == EM_EARG);
    CHECK(em_channel_shuffle_join_forward(NULL, two, 2, &b, 11, &err) == EM_EARG);
    em_tensor_free(&b); em_tensor_free(&c);
  }
  em_tensor_free(&a); em_tensor_free(&v); em_tensor_free(&out);
}

/* ----------------------------------------------------------------- padding */

static float naive_pad(const em_tensor *in, const int64_t *oidx, int pl, int pt,
                       em_padmode mode, float value) {
  int nd = in->ndim;
  int64_t H = in->size[nd - 2], W = in->size[nd - 1], idx[EM_MAXDIM];
  int64_t y = oidx[nd - 2] - pt, x = oidx[nd - 1] - pl;
  memcpy(idx, oidx, sizeof idx);
  if (mode == EM_PAD_ZERO) {
    if (y < 0 || y >= H || x < 0 || x >= W) return value;
  } else if (mode == EM_PAD_REPLICATE) {
    y = y < 0 ? 0 : y >= H ? H - 1 : y;
    x = x < 0 ? 0 : x >= W ? W - 1 : x;
  } else {   /* mirror without repeating the edge */
    if (y < 0) y = -y;
    if (y >= H) y = 2 * H - 2 - y;
    if (x < 0) x = -x;
    if (x >= W) x = 2 * W - 2 - x;
  }
  idx[nd - 2] = y;
  idx[nd - 1] = x;
  return *test_at(in, idx);
}

static void test_pad(void) {
  for (int trial = 0; trial < 300; trial++) {
    int ndim = rnd(2, 4), pl, pr, pt, pb;
    em_padmode mode = (em_padmode)rnd(0, 2);
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor in, out;
    float value = mode == EM_PAD_ZERO && rnd(0, 1) ? 1.5f : 0.0f;
    em_tensor_init(&in); em_tensor_init(&out);
    random_sizes(ndim, size, 1, 6);
    make_input(&in, ndim, size, rnd(0, 2));
    if (mode == EM_PAD_REFLECT) {   /* pads below the size; crops allowed */
      int64_t H = size[ndim - 2], W = size[ndim - 1];
      pl = rnd(-(int)W + 1, (int)W - 1); pr = rnd(0, (int)W - 1);
      pt = rnd(0, (int)H - 1); pb = rnd(-(int)H + 1, (int)H - 1);
      if (W + pl + pr < 1) pr = 1 - (int)W - pl;
      if (H + pt + pb < 1) pt = 1 - (int)H - pb;
    } else {
      pl = rnd(-3, 4); pr = rnd(-3, 4); pt = rnd(-3, 4); pb = rnd(-3, 4);
      if (size[ndim - 1] + pl + pr < 1 || size[ndim - 2] + pt + pb < 1) {
        pl = pr = pt = pb = 2;
      }
    }
    CHECK_OK(em_pad2d_forward(&in, &out, pl, pr, pt, pb, mode, value, &e_));
    CHECK(out.size[ndim - 2] == size[ndim - 2] + pt + pb);
    CHECK(out.size[ndim - 1] == size[ndim - 1] + pl + pr);
    do {
      if (*test_at(&out, idx) != naive_pad(&in, idx, pl, pt, mode, value)) {
        fprintf(stderr, "  pad mode %d l=%d r=%d t=%d b=%d\n", (int)mode, pl, pr, pt, pb);
        CHECK(!"pad element differs");
        break;
      }
    } while (test_next_index(idx, out.ndim, out.size));
    em_tensor_free(&in); em_tensor_free(&out);
  }
}

static void test_pad_errors(void) {
  int64_t s[4] = {1, 2, 3, 4}, s1[1] = {5};
  em_tensor a, v, empty, out;
  em_err err;
  em_tensor_init(&a); em_tensor_init(&v); em_tensor_init(&empty); em_tensor_init(&out);
  make_input(&a, 4, s, 0);
  make_input(&v, 1, s1, 0);
  CHECK(em_pad2d_forward(&a, &out, 4, 0, 0, 0, EM_PAD_REFLECT, 0, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "reflection padding (l=4, r=0, t=0, b=0) must be less than the input "
                        "size 3x4 (input 1x2x3x4)") == 0);
  CHECK(em_pad2d_forward(&a, &out, 0, 0, 0, 3, EM_PAD_REFLECT, 0, &err) == EM_ESHAPE);
  CHECK(em_pad2d_forward(&a, &out, 0, 0, -2, -1, EM_PAD_ZERO, 0, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "padding (l=0, r=0, t=-2, b=-1) of a 3x4 input leaves 0x4") == 0);
  CHECK(em_pad2d_forward(&v, &out, 1, 1, 1, 1, EM_PAD_ZERO, 0, &err) == EM_ESHAPE);
  CHECK(em_pad2d_forward(&empty, &out, 1, 1, 1, 1, EM_PAD_ZERO, 0, &err) == EM_EARG);
  CHECK(em_pad2d_forward(&a, &out, 1, 1, 1, 1, (em_padmode)7, 0, &err) == EM_EARG);
  CHECK(em_pad2d_forward(&a, &a, 1, 1, 1, 1, EM_PAD_ZERO, 0, &err) == EM_EARG);
  CHECK(out.storage == NULL);
  em_tensor_free(&a); em_tensor_free(&v); em_tensor_free(&out);
}

/* -------------------------------------------------------------- upsampling */

static void test_nearest(void) {
  for (int trial = 0; trial < 200; trial++) {
    int ndim = rnd(2, 4), oh, ow;
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor in, out;
    em_tensor_init(&in); em_tensor_init(&out);
    random_sizes(ndim, size, 1, 6);
    make_input(&in, ndim, size, rnd(0, 2));
    oh = rnd(1, 15); ow = trial % 50 == 1 ? rnd(257, 600) : rnd(1, 15);   /* > 1 tile */
    if (trial % 3 == 0) {   /* integer scale: floor(dst / s) exactly */
      int s = rnd(1, 4);
      oh = (int)size[ndim - 2] * s; ow = (int)size[ndim - 1] * s;
    }
    CHECK_OK(em_upsample_nearest_forward(&in, &out, oh, ow, &e_));
    CHECK(out.size[ndim - 2] == oh && out.size[ndim - 1] == ow);
    do {
      int64_t src[EM_MAXDIM], H = size[ndim - 2], W = size[ndim - 1];
      /* PyTorch: floor(dst * (float)(in / out)), at most in - 1 */
      int64_t y = (int64_t)floorf((float)idx[ndim - 2] * ((float)H / (float)oh));
      int64_t x = (int64_t)floorf((float)idx[ndim - 1] * ((float)W / (float)ow));
      if (trial % 3 == 0) {
        CHECK(y == idx[ndim - 2] * H / oh && x == idx[ndim - 1] * W / ow);
      }
      memcpy(src, idx, sizeof src);
      src[ndim - 2] = y < H ? y : H - 1;
      src[ndim - 1] = x < W ? x : W - 1;
      if (*test_at(&out, idx) != *test_at(&in, src)) { CHECK(!"nearest element differs"); break; }
    } while (test_next_index(idx, out.ndim, out.size));
    em_tensor_free(&in); em_tensor_free(&out);
  }
}

/* Bilinear in double, straight from the definition of both conventions. */
static double naive_bilinear(const em_tensor *in, const int64_t *oidx, int64_t oh, int64_t ow,
                             int align) {
  int nd = in->ndim;
  int64_t n[2] = {in->size[nd - 2], in->size[nd - 1]}, o[2] = {oh, ow}, lo[2], hi[2];
  int64_t idx[EM_MAXDIM];
  double w[2];
  double r = 0;
  for (int k = 0; k < 2; k++) {
    double d = (double)oidx[nd - 2 + k], s;
    if (align) s = o[k] > 1 ? d * (double)(n[k] - 1) / (double)(o[k] - 1) : 0;
    else s = fmax((d + 0.5) * (double)n[k] / (double)o[k] - 0.5, 0);
    lo[k] = (int64_t)floor(s);
    if (lo[k] > n[k] - 1) lo[k] = n[k] - 1;
    hi[k] = lo[k] + 1 < n[k] ? lo[k] + 1 : lo[k];
    w[k] = s - (double)lo[k];
  }
  memcpy(idx, oidx, sizeof idx);
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      idx[nd - 2] = a ? hi[0] : lo[0];
      idx[nd - 1] = b ? hi[1] : lo[1];
      r += (a ? w[0] : 1 - w[0]) * (b ? w[1] : 1 - w[1]) * *test_at(in, idx);
    }
  return r;
}

static void test_bilinear(void) {
  for (int trial = 0; trial < 200; trial++) {
    int ndim = rnd(2, 4), oh = rnd(1, 15), ow = trial % 50 < 2 ? rnd(257, 600) : rnd(1, 15);
    int align = trial % 2;
    int64_t size[EM_MAXDIM], idx[EM_MAXDIM] = {0};
    em_tensor in, out;
    double maxerr = 0;
    em_tensor_init(&in); em_tensor_init(&out);
    random_sizes(ndim, size, 1, 6);
    make_input(&in, ndim, size, rnd(0, 2));
    CHECK_OK(em_upsample_bilinear_forward(&in, &out, oh, ow, align, &e_));
    CHECK(out.size[ndim - 2] == oh && out.size[ndim - 1] == ow);
    do {
      double d = fabs(*test_at(&out, idx) - naive_bilinear(&in, idx, oh, ow, align));
      if (d > maxerr) maxerr = d;
    } while (test_next_index(idx, out.ndim, out.size));
    CHECK_CLOSE(maxerr, 0, 1e-5);   /* inputs are in [-1, 1] */
    em_tensor_free(&in); em_tensor_free(&out);
  }
}

static void test_upsample_errors(void) {
  int64_t s[4] = {1, 2, 3, 4}, s1[1] = {5}, z[4] = {1, 0, 3, 4};
  em_tensor a, v, zero, empty, out;
  em_err err;
  em_tensor_init(&a); em_tensor_init(&v); em_tensor_init(&zero);
  em_tensor_init(&empty); em_tensor_init(&out);
  make_input(&a, 4, s, 0);
  make_input(&v, 1, s1, 0);
  em_tensor_new(&zero, 4, z, NULL);
  CHECK(em_upsample_nearest_forward(&a, &out, 0, 4, &err) == EM_EARG);
  CHECK(strcmp(err.msg, "output size must be positive, got 0x4") == 0);
  CHECK(em_upsample_bilinear_forward(&a, &out, 3, -1, 1, &err) == EM_EARG);
  CHECK(em_upsample_nearest_forward(&v, &out, 2, 2, &err) == EM_ESHAPE);
  CHECK(em_upsample_bilinear_forward(&empty, &out, 2, 2, 0, &err) == EM_EARG);
  CHECK(em_upsample_bilinear_forward(&zero, &out, 2, 2, 0, &err) == EM_ESHAPE);
  CHECK(strcmp(err.msg, "input 1x0x3x4 has no elements") == 0);
  CHECK(em_upsample_nearest_forward(&a, &a, 6, 8, &err) == EM_EARG);
  CHECK(out.storage == NULL);
  em_tensor_free(&a); em_tensor_free(&v); em_tensor_free(&zero); em_tensor_free(&out);
}

int main(void) {
  em_rng_seed(&rng, 42);
  TEST_RUN(test_concat);
  TEST_RUN(test_concat_steady);
  TEST_RUN(test_concat_errors);
  TEST_RUN(test_shuffle);
  TEST_RUN(test_shuffle_join);
  TEST_RUN(test_permute);
  TEST_RUN(test_permute_errors);
  TEST_RUN(test_shuffle_errors);
  TEST_RUN(test_shuffle_in_place);
  TEST_RUN(test_pad);
  TEST_RUN(test_pad_errors);
  TEST_RUN(test_nearest);
  TEST_RUN(test_bilinear);
  TEST_RUN(test_upsample_errors);
  TEST_REPORT();
}
