/* poolrow.h -- one output row of a max or average pooling with AVX2
** (poolrow.c), for pool.c. Internal: not installed with ember.h. */
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

#endif
