/* test_image.c -- image.c against per-pixel formulas written here: resizing,
** crops, letterbox, colour; decoding, encoding and malformed files. */

#include <string.h>
#include <unistd.h>

#include "test.h"

static em_rng rng;
static char dir[64];

static int rnd(int lo, int hi) { return lo + (int)(em_rng_next(&rng) % (uint64_t)(hi - lo + 1)); }

/* A random float image planes x h x w; strided: a narrow of a wider one. */
static void make_float(em_tensor *t, int planes, int h, int w, int strided) {
  int64_t sz[3] = {planes, h, w + (strided ? 3 : 0)};
  em_tensor_new(t, 3, sz, NULL);
  em_rng_uniform(&rng, t, 0, 1, NULL);
  if (strided) em_tensor_narrow(t, t, 2, 1, w, NULL);
}

static float get3(const em_tensor *t, int64_t c, int64_t y, int64_t x) {
  return em_tensor_data(t)[c * t->stride[0] + y * t->stride[1] + x * t->stride[2]];
}

static void make_u8(em_image *im, int w, int h, int c) {
  em_image_alloc(im, w, h, c, NULL);
  for (size_t i = 0; i < (size_t)w * h * c; i++) im->data[i] = (uint8_t)(em_rng_next(&rng) >> 56);
}

/* ---------------------------------------------------------------- resizing */

/* PyTorch's upsample_bilinear2d, one output pixel from its 2-D formula. */
static float naive_bilinear(const em_tensor *t, int c, int oy, int ox, int oh, int ow, int aligned) {
  int ih = (int)t->size[1], iw = (int)t->size[2];
  double sy, sx;
  if (aligned) {
    sy = oh > 1 ? oy * (double)(ih - 1) / (oh - 1) : 0;
    sx = ow > 1 ? ox * (double)(iw - 1) / (ow - 1) : 0;
  } else {
    sy = (oy + 0.5) * ih / oh - 0.5;
    sx = (ox + 0.5) * iw / ow - 0.5;
    if (sy < 0) sy = 0;
    if (sx < 0) sx = 0;
  }
  int y0 = (int)sy, x0 = (int)sx;
  int y1 = y0 + (y0 < ih - 1), x1 = x0 + (x0 < iw - 1);
  double ly = sy - y0, lx = sx - x0;
  return (float)((1 - ly) * ((1 - lx) * get3(t, c, y0, x0) + lx * get3(t, c, y0, x1)) +
                 ly * ((1 - lx) * get3(t, c, y1, x0) + lx * get3(t, c, y1, x1)));
}

static void test_bilinear(void) {
  for (int trial = 0; trial < 40; trial++) {
    int planes = rnd(1, 4), ih = rnd(1, 40), iw = rnd(1, 40), oh = rnd(1, 50), ow = rnd(1, 50);
    int aligned = trial % 3 == 2;
    em_tensor x, y;
    em_tensor_init(&x); em_tensor_init(&y);
    make_float(&x, planes, ih, iw, trial % 2);
    CHECK_OK(em_image_resize(&x, &y, ow, oh, aligned ? EM_RESIZE_ALIGNED : EM_RESIZE_BILINEAR, &e_));
    CHECK(y.ndim == 3 && y.size[0] == planes && y.size[1] == oh && y.size[2] == ow);
    double md = 0;
    for (int c = 0; c < planes; c++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          double d = fabs(get3(&y, c, i, j) - naive_bilinear(&x, c, i, j, oh, ow, aligned));
          if (d > md) md = d;
        }
    CHECK_CLOSE(md, 0, 5e-6);
    em_tensor_free(&x); em_tensor_free(&y);
  }
}

/* Upscaling with the antialias filter is plain bilinear (support 1, and the
** border weights renormalise to the clamped pixel); halving is the
** [1 3 3 1] / 8 kernel away from the borders. */
static void test_antialias(void) {
  for (int trial = 0; trial < 20; trial++) {
    int ih = rnd(2, 20), iw = rnd(2, 20), oh = ih + rnd(0, 20), ow = iw + rnd(0, 20);
    em_tensor x, a, b;
    em_tensor_init(&x); em_tensor_init(&a); em_tensor_init(&b);
    make_float(&x, 2, ih, iw, trial % 2);
    CHECK_OK(em_image_resize(&x, &a, ow, oh, EM_RESIZE_ANTIALIAS, &e_));
    CHECK_OK(em_image_resize(&x, &b, ow, oh, EM_RESIZE_BILINEAR, &e_));
    CHECK_CLOSE(test_maxdiff(em_tensor_data(&a), em_tensor_data(&b), em_tensor_nelement(&a)), 0, 2e-6);
    em_tensor_free(&x); em_tensor_free(&a); em_tensor_free(&b);
  }
  for (int trial = 0; trial < 10; trial++) {
    int oh = rnd(3, 12), ow = rnd(3, 12);
    em_tensor x, y;
    em_tensor_init(&x); em_tensor_init(&y);
    make_float(&x, 1, 2 * oh, 2 * ow, 0);
    CHECK_OK(em_image_resize(&x, &y, ow, oh, EM_RESIZE_ANTIALIAS, &e_));
    static const double k[4] = {0.125, 0.375, 0.375, 0.125};
    double md = 0;
    for (int i = 1; i < oh - 1; i++)
      for (int j = 1; j < ow - 1; j++) {
        double s = 0;
        for (int u = 0; u < 4; u++)
          for (int v = 0; v < 4; v++) s += k[u] * k[v] * get3(&x, 0, 2 * i - 1 + u, 2 * j - 1 + v);
        if (fabs(s - get3(&y, 0, i, j)) > md) md = fabs(s - get3(&y, 0, i, j));
      }
    CHECK_CLOSE(md, 0, 5e-6);
    em_tensor_free(&x); em_tensor_free(&y);
  }
}

/* 8-bit resampling is the float one, but for rounding between and after the
** passes: within one step; an unchanged size is a copy. */
static void test_resize_u8(void) {
  for (int trial = 0; trial < 20; trial++) {
    int c = trial % 2 ? 3 : 1, ih = rnd(1, 60), iw = rnd(1, 60), oh = rnd(1, 40), ow = rnd(1, 40);
    em_image a, b, back;
    em_tensor x, y;
    em_image_init(&a); em_image_init(&b); em_image_init(&back);
    em_tensor_init(&x); em_tensor_init(&y);
    make_u8(&a, iw, ih, c);
    CHECK_OK(em_image_resize_u8(&a, &b, ow, oh, EM_RESIZE_ANTIALIAS, &e_));
    CHECK(b.w == ow && b.h == oh && b.c == c);
    CHECK_OK(em_image_to_tensor(&a, &x, 255, &e_));
    CHECK_OK(em_image_resize(&x, &y, ow, oh, EM_RESIZE_ANTIALIAS, &e_));
    double md = 0;
    for (int ch = 0; ch < c; ch++)
      for (int i = 0; i < oh; i++)
        for (int j = 0; j < ow; j++) {
          double d = fabs(b.data[((size_t)i * ow + j) * c + ch] - get3(&y, ch, i, j));
          if (d > md) md = d;
        }
    CHECK(md <= 1.0);
    CHECK_OK(em_image_resize_u8(&a, &back, iw, ih, EM_RESIZE_ANTIALIAS, &e_));
    CHECK(memcmp(a.data, back.data, (size_t)iw * ih * c) == 0);
    em_image_free(&a); em_image_free(&b); em_image_free(&back);
    em_tensor_free(&x); em_tensor_free(&y);
  }
}

static void test_resize_errors(void) {
  em_tensor x, y, empty;
  em_image a, b;
  em_err err;
  em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&empty);
  em_image_init(&a); em_image_init(&b);
  make_float(&x, 3, 5, 5, 0);
  CHECK(em_image_resize(&x, &y, 0, 4, EM_RESIZE_BILINEAR, &err) == EM_EARG);
  CHECK(strstr(err.msg, "0x4") != NULL);
  CHECK(em_image_resize(&x, &y, 4, 4, (em_resize)7, &err) == EM_EARG);
  CHECK(em_image_resize(&empty, &y, 4, 4, EM_RESIZE_BILINEAR, &err) == EM_EARG);
  CHECK(em_image_resize(&x, &x, 4, 4, EM_RESIZE_BILINEAR, &err) == EM_EARG);
  int64_t one[1] = {5};
  em_tensor_new(&empty, 1, one, NULL);
  CHECK(em_image_resize(&empty, &y, 4, 4, EM_RESIZE_BILINEAR, &err) == EM_ESHAPE);
  CHECK(strstr(err.msg, "got 5") != NULL);
  CHECK(em_image_resize_u8(&a, &b, 4, 4, EM_RESIZE_ANTIALIAS, &err) == EM_EARG);
  make_u8(&a, 3, 3, 3);
  CHECK(em_image_resize_u8(&a, &a, 4, 4, EM_RESIZE_ANTIALIAS, &err) == EM_EARG);
  CHECK(em_image_resize_u8(&a, &b, 4, -1, EM_RESIZE_ANTIALIAS, &err) == EM_EARG);
  em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&empty);
  em_image_free(&a); em_image_free(&b);
}

/* -------------------------------------------------- geometry and colour */

static void test_crop_geometry(void) {
  em_tensor x, y;
  em_err err;
  int cx, cy, ow, oh;
  em_tensor_init(&x); em_tensor_init(&y);
  make_float(&x, 3, 9, 13, 1);
  CHECK_OK(em_image_crop(&x, &y, 2, 3, 7, 5, &e_));
  CHECK(y.size[0] == 3 && y.size[1] == 5 && y.size[2] == 7);
  int same = 1;
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 7; j++) same &= get3(&y, c, i, j) == get3(&x, c, i + 3, j + 2);
  CHECK(same);
  CHECK(em_image_crop(&x, &y, 7, 0, 7, 5, &err) == EM_ESHAPE);
  CHECK(strstr(err.msg, "13x9") != NULL);
  CHECK(em_image_crop(&x, &y, -1, 0, 2, 2, &err) == EM_ESHAPE);
  CHECK(em_image_crop(&x, &y, 0, 0, 0, 2, &err) == EM_ESHAPE);
  /* Python's round halves to even: offsets of 0.5, 1.5, 2.5 give 0, 2, 2 */
  em_image_center_box(225, 224, 224, 224, &cx, &cy); CHECK(cx == 0 && cy == 0);
  em_image_center_box(227, 226, 224, 224, &cx, &cy); CHECK(cx == 2 && cy == 1);
  em_image_center_box(229, 384, 224, 224, &cx, &cy); CHECK(cx == 2 && cy == 80);
  em_image_short_side(451, 300, 256, &ow, &oh); CHECK(ow == 384 && oh == 256);   /* int(384.85) */
  em_image_short_side(300, 451, 256, &ow, &oh); CHECK(ow == 256 && oh == 384);
  em_image_short_side(500, 500, 256, &ow, &oh); CHECK(ow == 256 && oh == 256);
  em_tensor_free(&x); em_tensor_free(&y);
}

static void test_letterbox(void) {
  em_tensor x, y, r;
  em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&r);
  make_float(&x, 3, 50, 100, 0);   /* wide: fits the width, 32 rows at row 16 */
  CHECK_OK(em_image_letterbox(&x, &y, 64, 64, 0.5f, EM_RESIZE_ALIGNED, &e_));
  CHECK_OK(em_image_resize(&x, &r, 64, 32, EM_RESIZE_ALIGNED, &e_));
  CHECK(y.size[0] == 3 && y.size[1] == 64 && y.size[2] == 64);
  int ok = 1;
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 64; i++)
      for (int j = 0; j < 64; j++) {
        float want = i >= 16 && i < 48 ? get3(&r, c, i - 16, j) : 0.5f;
        ok &= get3(&y, c, i, j) == want;
      }
  CHECK(ok);
  make_float(&x, 1, 30, 10, 1);    /* tall: 7 x 21 at column (20 - 7) / 2 = 6 */
  CHECK_OK(em_image_letterbox(&x, &y, 20, 21, 0.0f, EM_RESIZE_BILINEAR, &e_));
  CHECK_OK(em_image_resize(&x, &r, 7, 21, EM_RESIZE_BILINEAR, &e_));
  ok = 1;
  for (int i = 0; i < 21; i++)
    for (int j = 0; j < 20; j++) ok &= get3(&y, 0, i, j) == (j >= 6 && j < 13 ? get3(&r, 0, i, j - 6) : 0.0f);
  CHECK(ok);
  em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&r);
}

static void test_colour(void) {
  em_tensor x, y, z;
  em_image a, g;
  em_err err;
  em_tensor_init(&x); em_tensor_init(&y); em_tensor_init(&z);
  em_image_init(&a); em_image_init(&g);
  make_float(&x, 3, 6, 7, 1);
  CHECK_OK(em_image_grayscale(&x, &y, &e_));
  CHECK(y.size[0] == 1 && y.size[1] == 6 && y.size[2] == 7);
  double md = 0;
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 7; j++) {
      double l = (get3(&x, 0, i, j) * 299 + get3(&x, 1, i, j) * 587 + get3(&x, 2, i, j) * 114) / 1000;
      if (fabs(l - get3(&y, 0, i, j)) > md) md = fabs(l - get3(&y, 0, i, j));
    }
  CHECK_CLOSE(md, 0, 1e-6);
  /* PIL's integer luma stays within half a step of the exact one */
  make_u8(&a, 50, 40, 3);
  CHECK_OK(em_image_grayscale_u8(&a, &g, &e_));
  int ok = g.c == 1;
  for (int i = 0; i < 2000; i++) {
    const uint8_t *p = a.data + 3 * i;
    ok &= fabs(g.data[i] - (p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000.0) <= 0.5 + 1e-3;
  }
  CHECK(ok);
  /* normalise, in place too, on a strided input */
  float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
  CHECK_OK(em_image_normalize(&x, &y, mean, sd, 3, &e_));
  em_tensor_contiguous(&z, &x, NULL);
  em_tensor_copy(&z, &x, NULL);   /* z: a separate contiguous copy */
  ok = 1;
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 7; j++) ok &= get3(&y, c, i, j) == (get3(&x, c, i, j) - mean[c]) / sd[c];
  CHECK(ok);
  CHECK_OK(em_image_normalize(&x, &x, mean, sd, 3, &e_));
  ok = 1;
  for (int c = 0; c < 3; c++)
    for (int i = 0; i < 6; i++)
      for (int j = 0; j < 7; j++) ok &= get3(&x, c, i, j) == get3(&y, c, i, j);
  CHECK(ok);
  CHECK(em_image_normalize(&x, &y, mean, sd, 2, &err) == EM_ESHAPE);
  sd[1] = 0;
  CHECK(em_image_normalize(&x, &y, mean, sd, 3, &err) == EM_EARG);
  /* swap and invert */
  make_float(&x, 3, 4, 5, 1);
  CHECK_OK(em_image_swap_rb(&x, &y, &e_));
  CHECK_OK(em_image_invert(&x, &z, 1.0f, &e_));
  ok = 1;
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 5; j++) {
      ok &= get3(&y, 0, i, j) == get3(&x, 2, i, j) && get3(&y, 1, i, j) == get3(&x, 1, i, j) &&
            get3(&y, 2, i, j) == get3(&x, 0, i, j);
      ok &= fabsf(get3(&z, 1, i, j) - (1 - get3(&x, 1, i, j))) < 1e-7f;
    }
  CHECK(ok);
  make_float(&x, 2, 4, 5, 0);
  CHECK(em_image_swap_rb(&x, &y, &err) == EM_ESHAPE);
  CHECK(em_image_grayscale(&x, &y, &err) == EM_ESHAPE);
  em_tensor_free(&x); em_tensor_free(&y); em_tensor_free(&z);
  em_image_free(&a); em_image_free(&g);
}

static void test_tensor_roundtrip(void) {
  em_image a, b;
  em_tensor x;
  em_image_init(&a); em_image_init(&b); em_tensor_init(&x);
  make_u8(&a, 17, 9, 3);
  CHECK_OK(em_image_to_tensor(&a, &x, 1.0f, &e_));
  CHECK(x.size[0] == 3 && x.size[1] == 9 && x.size[2] == 17);
  CHECK(get3(&x, 2, 4, 5) == a.data[(4 * 17 + 5) * 3 + 2] / 255.0f);
  CHECK_OK(em_image_from_tensor(&b, &x, 1.0f, &e_));
  CHECK(b.w == 17 && b.h == 9 && b.c == 3 && memcmp(a.data, b.data, 17 * 9 * 3) == 0);
  em_tensor_fill(&x, 1.7f, NULL);   /* clamped */
  CHECK_OK(em_image_from_tensor(&b, &x, 1.0f, &e_));
  CHECK(b.data[0] == 255);
  em_tensor_fill(&x, -0.2f, NULL);
  CHECK_OK(em_image_from_tensor(&b, &x, 1.0f, &e_));
  CHECK(b.data[5] == 0);
  em_image_free(&a); em_image_free(&b); em_tensor_free(&x);
}

/* ------------------------------------------------------------- files */

static char *path_in(const char *name) {
  static char p[128];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return p;
}

static unsigned char *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = malloc(*len + 1);
  if (fread(b, 1, *len, f) != *len) *len = 0;
  fclose(f);
  return b;
}

static void test_encode_decode(void) {
  em_image a, b;
  em_err err;
  size_t len;
  em_image_init(&a); em_image_init(&b);
  /* a smooth image, so JPEG's error is small */
  em_image_alloc(&a, 37, 23, 3, NULL);
  for (int i = 0; i < 23; i++)
    for (int j = 0; j < 37; j++)
      for (int c = 0; c < 3; c++) a.data[(i * 37 + j) * 3 + c] = (uint8_t)(i * 5 + j * 3 + c * 40);
  for (int k = 0; k < 3; k++) {
    const char *name = k == 0 ? "a.png" : k == 1 ? "a.bmp" : "a.jpg";
    CHECK_OK(em_image_save(&a, path_in(name), 95, &e_));
    CHECK_OK(em_image_load(&b, path_in(name), 3, NULL, &e_));
    CHECK(b.w == 37 && b.h == 23 && b.c == 3);
    int md = 0;
    for (size_t i = 0; b.data && i < 37 * 23 * 3; i++) {
      int d = abs(a.data[i] - b.data[i]);
      if (d > md) md = d;
    }
    CHECK(k == 2 ? md <= 16 : md == 0);
    if (k == 2) printf("  JPEG q95 round trip: max error %d/255\n", md);
  }
  /* grey from colour on load is PIL's L */
  em_image g;
  em_image_init(&g);
  CHECK_OK(em_image_load(&b, path_in("a.png"), 1, NULL, &e_));
  CHECK_OK(em_image_grayscale_u8(&a, &g, &e_));
  CHECK(b.c == 1 && memcmp(b.data, g.data, 37 * 23) == 0);
  em_image_free(&g);
  /* a JPEG with bytes after its end marker is still whole */
  unsigned char *j = read_all(path_in("a.jpg"), &len);
  unsigned char *j2 = malloc(len + 10);
  memcpy(j2, j, len);
  memset(j2 + len, 0x55, 10);
  CHECK_OK(em_image_decode(&b, j2, len + 10, 3, NULL, "x.jpg", &e_));
  /* truncated JPEG */
  CHECK(em_image_decode(&b, j, len * 2 / 3, 3, NULL, "cut.jpg", &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "cut.jpg: truncated JPEG") != NULL);
  CHECK(em_image_decode(&b, j, len - 1, 3, NULL, "cut.jpg", &err) == EM_EFORMAT);
  free(j); free(j2);
  /* truncated PNG */
  unsigned char *p = read_all(path_in("a.png"), &len);
  CHECK(em_image_decode(&b, p, len / 2, 3, NULL, "cut.png", &err) == EM_EFORMAT);
  CHECK(strncmp(err.msg, "cut.png: ", 9) == 0);
  /* a PNG header claiming 100000 x 100000: refused before decoding */
  unsigned char *h = malloc(len);
  memcpy(h, p, len);
  h[16] = 0; h[17] = 0x01; h[18] = 0x86; h[19] = 0xA0;    /* IHDR width */
  h[20] = 0; h[21] = 0x01; h[22] = 0x86; h[23] = 0xA0;    /* height */
  CHECK(em_image_decode(&b, h, len, 3, NULL, "x.png", &err) == EM_ENOMEM);
  CHECK(strstr(err.msg, "x.png: image 100000x100000 would need 28 GiB") != NULL);
  /* a smaller limit */
  em_image_limits lim = {16, 0};
  CHECK(em_image_decode(&b, p, len, 3, &lim, "a.png", &err) == EM_ENOMEM);
  CHECK(strstr(err.msg, "37x23") != NULL);
  lim.max_side = 0; lim.max_bytes = 37 * 23 * 3 - 1;
  CHECK(em_image_decode(&b, p, len, 3, &lim, "a.png", &err) == EM_ENOMEM);
  lim.max_bytes = 37 * 23 * 3;
  CHECK_OK(em_image_decode(&b, p, len, 3, &lim, "a.png", &e_));
  free(h); free(p);
  /* a BMP, PPM cut short (stb_image would fill the rows) */
  p = read_all(path_in("a.bmp"), &len);
  CHECK_OK(em_image_decode(&b, p, len, 3, NULL, "a.bmp", &e_));
  CHECK(em_image_decode(&b, p, len - 1, 3, NULL, "a.bmp", &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "a.bmp: truncated BMP") != NULL);
  static const unsigned char ppm[] = "P6\n# comment\n2 2\n255\n0123456789a";
  CHECK(em_image_decode(&b, ppm, sizeof ppm - 1, 3, NULL, "a.ppm", &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "a.ppm: truncated PNM") != NULL);
  CHECK_OK(em_image_decode(&b, ppm, sizeof ppm, 3, NULL, "a.ppm", &e_));   /* with the NUL: 12 bytes */
  /* a BMP header claiming 60000 x 60000 */
  p[18] = 0x60; p[19] = 0xEA; p[20] = 0; p[21] = 0;
  p[22] = 0x60; p[23] = 0xEA; p[24] = 0; p[25] = 0;
  CHECK(em_image_decode(&b, p, len, 3, NULL, "x.bmp", &err) == EM_ENOMEM);
  CHECK(strstr(err.msg, "60000x60000") != NULL);
  free(p);
  /* empty, random bytes, missing file */
  FILE *f = fopen(path_in("empty.png"), "wb");
  fclose(f);
  CHECK(em_image_load(&b, path_in("empty.png"), 3, NULL, &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "empty.png: empty file") != NULL);
  unsigned char junk[300];
  for (int i = 0; i < 300; i++) junk[i] = (unsigned char)(em_rng_next(&rng) >> 56);
  junk[0] = 'x';   /* not by chance a PNM or GIF signature */
  CHECK(em_image_decode(&b, junk, sizeof junk, 3, NULL, "junk", &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "junk: not an image") != NULL);
  CHECK(em_image_load(&b, path_in("none.png"), 3, NULL, &err) == EM_EIO);
  CHECK(em_image_decode(&b, junk, sizeof junk, 5, NULL, "junk", &err) == EM_EARG);
  /* saving: unknown format, missing directory, no temporary left behind */
  CHECK(em_image_save(&a, path_in("a.tiff"), 90, &err) == EM_EARG);
  CHECK(strstr(err.msg, "unknown image format") != NULL);
  CHECK(em_image_save(&a, path_in("no/such/dir.png"), 90, &err) == EM_EIO);
  em_image_free(&b);
  CHECK(em_image_save(&b, path_in("x.png"), 90, &err) == EM_EARG);
  CHECK(access(path_in("x.png"), F_OK) != 0);
  em_image_free(&a);
}

/* PPM, PGM and a hand-made one-pixel GIF. */
static void test_other_formats(void) {
  em_image b;
  em_image_init(&b);
  unsigned char ppm[] = "P6\n2 1\n255\n\x0a\x14\x1e\x28\x32\x3c";
  CHECK_OK(em_image_decode(&b, ppm, sizeof ppm - 1, 0, NULL, "a.ppm", &e_));
  CHECK(b.w == 2 && b.h == 1 && b.c == 3 && b.data[0] == 10 && b.data[5] == 60);
  unsigned char pgm[] = "P5\n3 1\n255\n\x01\x80\xff";
  CHECK_OK(em_image_decode(&b, pgm, sizeof pgm - 1, 0, NULL, "a.pgm", &e_));
  CHECK(b.c == 1 && b.data[0] == 1 && b.data[1] == 128 && b.data[2] == 255);
  CHECK_OK(em_image_decode(&b, pgm, sizeof pgm - 1, 3, NULL, "a.pgm", &e_));
  CHECK(b.c == 3 && b.data[3] == 128 && b.data[4] == 128 && b.data[5] == 128);
  /* 1x1, palette {white, black}, LZW codes clear, 0, end */
  static const unsigned char gif[] = {
    'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0, 0xFF, 0xFF, 0xFF, 0, 0, 0,
    0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B};
  CHECK_OK(em_image_decode(&b, gif, sizeof gif, 3, NULL, "a.gif", &e_));
  CHECK(b.w == 1 && b.h == 1 && b.data[0] == 255 && b.data[1] == 255 && b.data[2] == 255);
  em_err err;
  CHECK(em_image_decode(&b, gif, sizeof gif - 3, 3, NULL, "a.gif", &err) == EM_EFORMAT);
  CHECK(strstr(err.msg, "truncated GIF") != NULL);
  em_image_free(&b);
}

int main(void) {
  em_rng_seed(&rng, 42);
  snprintf(dir, sizeof dir, "/tmp/ember_test_image.XXXXXX");
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
  TEST_RUN(test_bilinear);
  TEST_RUN(test_antialias);
  TEST_RUN(test_resize_u8);
  TEST_RUN(test_resize_errors);
  TEST_RUN(test_crop_geometry);
  TEST_RUN(test_letterbox);
  TEST_RUN(test_colour);
  TEST_RUN(test_tensor_roundtrip);
  TEST_RUN(test_encode_decode);
  TEST_RUN(test_other_formats);
  static const char *made[] = {"a.png", "a.bmp", "a.jpg", "empty.png"};
  for (int i = 0; i < 4; i++) unlink(path_in(made[i]));
  if (rmdir(dir) != 0) fprintf(stderr, "could not remove %s (files left behind?)\n", dir);
  TEST_REPORT();
}
