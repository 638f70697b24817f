// Dense linear algebra on a backend's memory: the BLAS/LAPACK subset the solvers use (gemm, trsm, trsv, potrf,
// syrk, a thin QR), plus the few gathers a Nyström build needs. The CPU backend implements it with the linked
// BLAS/LAPACK (linalg.hpp), the CUDA backend with cuBLAS/cuSOLVER. Matrices are row-major unless a function
// says column-major (triangular factors keep LAPACK's column-major layout). All pointers are backend memory
// except where a name or comment says host.
#pragma once

#include <cstdint>
#include <memory>

#include "fastgdml/transpose.hpp"

namespace fastgdml {

// The tall Nyström factor W (rows x cols, row-major): built in double, then optionally narrowed to float storage
// (its two products per CG iteration are memory-bound, so float halves their time and memory; products still
// accumulate in double). See cpu/tall_matrix.hpp for the measured effect.
class TallFactor {
 public:
  virtual ~TallFactor() = default;
  virtual std::int64_t rows() const = 0;
  virtual std::int64_t cols() const = 0;
  virtual bool single() const = 0;
  virtual std::int64_t bytes() const = 0;
  virtual double* doubles() = 0;  // the double entries (backend memory); only before narrow()
  virtual const double* doubles() const = 0;
  virtual void round_to_single() = 0;  // entries <- float(entry), still stored as double
  virtual void narrow() = 0;           // float storage from now on
  // t = W^T a (a: rows, t: cols) and out -= W s (s: cols, out: rows).
  virtual void multiply_transposed(const double* a, double* t) const = 0;
  virtual void subtract_product(const double* s, double* out) const = 0;
  // Rows [r0, r0 + count) as doubles into dst (count x cols, row-major, backend memory).
  virtual void copy_rows(std::int64_t r0, std::int64_t count, double* dst) const = 0;
};

class DenseAlgebra {
 public:
  virtual ~DenseAlgebra() = default;

  virtual std::unique_ptr<TallFactor> tall_factor(std::int64_t rows, std::int64_t cols) const = 0;  // zeros

  // C (m x n) = alpha op(A) op(B) + beta C.
  virtual void gemm(Op op_a, Op op_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* A,
                    std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C,
                    std::int64_t ldc) const = 0;
  // Upper triangle of C (n x n, column-major) <- A^T A + beta C for A (m x n, row-major).
  virtual void syrk_upper(std::int64_t m, std::int64_t n, const double* A, double beta, double* C) const = 0;

  // In-place Cholesky factors of a symmetric matrix (n x n, column-major): L (lower) or R (upper, R^T R = A).
  // Return LAPACK's info (> 0: the leading minor of that order is not positive definite).
  virtual int potrf_lower(std::int64_t n, double* A) const = 0;
  virtual int potrf_upper(std::int64_t n, double* A) const = 0;
  // Solve A x = b in place for one right-hand side b (n) with A = R^T R factored by potrf_upper.
  virtual void potrs_upper(std::int64_t n, const double* R, double* b) const = 0;

  // B (m x n) <- B inv(op(T)) for T triangular (n x n); B (m x n) <- inv(op(T)) B for T (m x m); x <- inv(op(T)) x.
  virtual void trsm_right(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B,
                          std::int64_t ldb) const = 0;
  virtual void trsm_left(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B,
                         std::int64_t ldb) const = 0;
  virtual void trsv(bool lower, Op op_t, std::int64_t n, const double* T, double* x) const = 0;

  // R (n x n upper, column-major) <- the R factor of the thin QR of [A; I] for A (m x n, row-major): the stable
  // alternative to the Cholesky factor of I + A^T A. Q is never stored.
  virtual void qr_r_of_stacked_identity(std::int64_t m, std::int64_t n, const double* A, double* R) const = 0;

  // Row i of out (count x n) <- row rows_host[i] of A (? x n), left as it is where rows_host[i] < 0;
  // out[i] <- |row i of A (m x n)|^2 (m).
  virtual void gather_rows(std::int64_t n, const double* A, const std::int64_t* rows_host, std::int64_t count,
                           double* out) const = 0;
  virtual void row_squared_norms(std::int64_t m, std::int64_t n, const double* A, double* out) const = 0;
  // The diagonal of a square matrix (n x n) into host memory, and A_ii += value.
  virtual void diagonal_to_host(std::int64_t n, const double* A, double* host) const = 0;
  virtual void add_to_diagonal(std::int64_t n, double value, double* A) const = 0;
};

}  // namespace fastgdml
