/* gemm.c -- matrix products through OpenBLAS, and the thread context.
** The only file that includes cblas.h. */

#include <unistd.h>
#include <cblas.h>
#include <omp.h>

#include "ember.h"


int em_ncores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void em_ctx_init(em_ctx *ctx) {
  ctx->nthreads = em_ncores();
  ctx->isa = em_cpu_isa();
  ctx->dry = 0;
}

/* OpenBLAS is its OpenMP build (Makefile: BLAS_LIB), so both counts size one
** libgomp pool; OpenBLAS also runs single-threaded when called inside an
** OpenMP region, which lets a kernel run independent sgemms in parallel. */
void em_ctx_set_threads(em_ctx *ctx, int n) {
  ctx->nthreads = n > 0 ? n : 1;
  openblas_set_num_threads(ctx->nthreads);
  omp_set_num_threads(ctx->nthreads);
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
