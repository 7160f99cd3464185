/* gemm.c -- matrix products through OpenBLAS, and the thread context.
** The only file that includes cblas.h. */

#include <unistd.h>
#include <cblas.h>

#include "ember.h"


int em_ncores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void em_ctx_init(em_ctx *ctx) {
  ctx->nthreads = em_ncores();
}

void em_ctx_set_threads(em_ctx *ctx, int n) {
  ctx->nthreads = n > 0 ? n : 1;
  openblas_set_num_threads(ctx->nthreads);
}

void em_sgemm(int transA, int transB, int M, int N, int K, float alpha,
              const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc) {
  cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans,
              transB ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void em_sgemv(int transA, int M, int N, float alpha, const float *A, int lda,
              const float *x, float beta, float *y) {
  cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, M, N, alpha, A, lda,
              x, 1, beta, y, 1);
}
