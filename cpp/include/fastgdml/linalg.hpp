// The BLAS/LAPACK entry points the core uses, row-major where it matters. Implemented in linalg.cpp against
// the library chosen at build time (third_party/README.md): the PyPI scipy-openblas32 wheel for the Python
// module (symbols prefixed `scipy_`), or any system CBLAS + LAPACK for standalone programs.
#pragma once

#include <cstdint>

#include "fastgdml/transpose.hpp"

namespace fastgdml::linalg {

using fastgdml::Op;

// C (m x n) = alpha op(A) op(B) + beta C, all row-major with leading dimensions lda, ldb, ldc.
void gemm(Op op_a, Op op_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* A,
          std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C, std::int64_t ldc);

// In-place Cholesky of a symmetric positive-definite matrix (n x n, either triangle holds the data) and
// solve A x = b for nrhs right-hand sides stored as rows of B (nrhs x n). Return LAPACK's info
// (> 0: leading minor of that order is not positive definite).
int cholesky_factor(std::int64_t n, double* A);
// Cholesky factor L (lower, column-major) of a column-major symmetric matrix, in place; LAPACK info.
int cholesky_lower_colmajor(std::int64_t n, double* A);
void cholesky_solve(std::int64_t n, const double* factored_A, std::int64_t nrhs, double* B);
// Cholesky factor R (upper, column-major; R^T R = A) of a column-major symmetric matrix whose upper triangle
// holds the data, in place; LAPACK info.
int cholesky_upper_colmajor(std::int64_t n, double* A);

// y = alpha op(A) x + beta y, A row-major (m x n).
void gemv(Op op_a, std::int64_t m, std::int64_t n, double alpha, const double* A, std::int64_t lda, const double* x,
          double beta, double* y);

// Upper triangle of C (n x n, column-major) <- A^T A + beta C for A (m x n, row-major): BLAS syrk.
void gram_upper(std::int64_t m, std::int64_t n, const double* A, double beta, double* C);

// Triangular matrices are stored column-major (LAPACK's own layout) below.
// B (m x n, row-major) <- B * inv(op(T)) for T triangular (n x n, lower or upper).
void trsm_right(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B, std::int64_t ldb);
// B (m x n, row-major) <- inv(op(T)) * B for T triangular (m x m).
void trsm_left(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B, std::int64_t ldb);
// x <- inv(op(T)) x for T triangular (n x n).
void trsv(bool lower, Op op_t, std::int64_t n, const double* T, double* x);
// R (n x n upper) <- the R factor of [R; B] for B (m x n, column-major): one step of a streaming thin QR.
void qr_append_rows(std::int64_t n, double* R, std::int64_t m, double* B);

// Run BLAS's parallel jobs on the OpenMP thread pool (one pool for the whole core, no oversubscription).
// Call once, before the first BLAS call; a no-op for BLAS libraries without that hook.
void share_threads_with_openmp();

// Threads used by BLAS; the OpenMP loops of the core follow omp_set_num_threads.
void set_blas_threads(int n);
int blas_threads();
const char* blas_name();

}  // namespace fastgdml::linalg
