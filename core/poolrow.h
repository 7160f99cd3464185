/* poolrow.h -- one output row of a max or average pooling with AVX2
** (poolrow.c), and one plane of a "same" pooling (poolplane.c), for pool.c.
** Internal: not installed with ember.h. */
#ifndef EMBER_POOLROW_H
#define EMBER_POOLROW_H

#include "ember.h"

/* One pooling's geometry for the rows: input plane H x W, ow outputs a row;
** colcount (average only, else NULL): each output column's count of cells,
** the divisor being that times the row's count. */
typedef struct em_pool_rows {
  const em_pool_params *p;
  int64_t H, W, ow;
  const float *colcount;
} em_pool_rows;

/* Whether em_pool_row runs this pooling (max, else average): ctx's isa has
** AVX2, stride 1 or 2 and no dilation along x, at most 16 kernel rows. */
int em_pool_row_ok(const em_ctx *ctx, const em_pool_params *p, int64_t W, int max);

/* Output row oy of one plane (x its input, y the row): max, or average
** when r->colcount is set. Returns 0 when the caller must redo the row with
** its exact scalar code: a max window held a NaN, or no window row is inside. */
int em_pool_row(const em_pool_rows *r, const float *x, float *y, int64_t oy);

/* Whether em_pool_plane runs this pooling (max, else average) of an H x W
** plane to oh x ow: ctx's isa has AVX2, and either a k x k window (k odd,
** up to 7) at stride 1 with padding k / 2 on every side and no dilation,
** the output as large as the input, a plane of at least k x k and at most
** 4096 cells; or a 3x3 max pool of stride 2 without dilation, padding 0 or
** 1 at top and left, a plane at least 8 wide. */
int em_pool_plane_ok(const em_ctx *ctx, const em_pool_params *p, int64_t H, int64_t W,
                     int64_t oh, int64_t ow, int max);

/* 1 / an average pooling's divisor (PyTorch's) for each of the H x W
** outputs, into count. */
#define EM_POOL_PLANE_MAX 4096
void em_pool_plane_counts(const em_pool_params *p, int64_t H, int64_t W, float *count);

/* One plane x (H x W) pooled into y (oh x ow): the average when count (the
** reciprocals above) is given, else the max. Returns 0 when the caller must redo the plane by
** rows: a max pooling's plane held a NaN. */
int em_pool_plane(const em_pool_params *p, const float *count, const float *x, float *y,
                  int64_t H, int64_t W, int64_t oh, int64_t ow);

#endif
