/* gemm.c -- matrix products through OpenBLAS, on the calling thread.
** The only file that includes cblas.h. */

#include <cblas.h>

#include "ember.h"


/* Debian's single-threaded OpenBLAS (Makefile: BLAS_LIB) is built without
** locking: two threads calling it at once share its buffers and get wrong
** products (OpenBLAS issues 1755, 2126; measured here: conv specs failing
** one run in four when ember split its products over two threads). So it
** runs only on the thread that calls, never inside an em_parallel job. */
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
