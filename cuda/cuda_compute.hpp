// The CUDA backend's VectorSpace and DenseAlgebra (compute/*.hpp): device memory, cuBLAS/cuSOLVER through Device
// and the small kernels of dense_kernels.cu. The solvers (CG, Nyström, Woodbury, block-Jacobi) run on them
// unchanged, so every vector of a CG run stays on the GPU.
//
// Layout: the interface is row-major (triangular factors column-major, as LAPACK's); cuBLAS is column-major. A
// row-major m x n matrix with leading dimension ld is the column-major n x m matrix of its transpose with the same
// ld, so every row-major product is the column-major product of the transposes in swapped order (see each call).
#pragma once

#include "device.hpp"
#include "fastgdml/compute/dense_algebra.hpp"
#include "fastgdml/compute/vector_space.hpp"

namespace fastgdml::cuda {

class CudaVectorSpace final : public VectorSpace {
 public:
  explicit CudaVectorSpace(const Device& device) : device_(device) {}
  bool host_memory() const override { return false; }
  Buffer allocate(std::int64_t n) const override;
  void fill(std::int64_t n, double value, double* x) const override;
  void copy(std::int64_t n, const double* x, double* y) const override;
  void axpy(std::int64_t n, double a, const double* x, double* y) const override;
  void xpay(std::int64_t n, const double* x, double a, double* y) const override;
  void scale(std::int64_t n, double a, double* x) const override;
  void multiply(std::int64_t n, const double* w, double* x) const override;
  double dot(std::int64_t n, const double* x, const double* y) const override;
  void to_host(std::int64_t n, const double* x, double* host) const override;
  void from_host(std::int64_t n, const double* host, double* x) const override;

 private:
  const Device& device_;
};

class CudaDenseAlgebra final : public DenseAlgebra {
 public:
  explicit CudaDenseAlgebra(const Device& device) : device_(device) {}
  std::unique_ptr<TallFactor> tall_factor(std::int64_t rows, std::int64_t cols) const override;
  void gemm(Op op_a, Op op_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* A,
            std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C,
            std::int64_t ldc) const override;
  void syrk_upper(std::int64_t m, std::int64_t n, const double* A, double beta, double* C) const override;
  int potrf_lower(std::int64_t n, double* A) const override;
  int potrf_upper(std::int64_t n, double* A) const override;
  void potrs_upper(std::int64_t n, const double* R, double* b) const override;
  void trsm_right(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B,
                  std::int64_t ldb) const override;
  void trsm_left(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B,
                 std::int64_t ldb) const override;
  void trsv(bool lower, Op op_t, std::int64_t n, const double* T, double* x) const override;
  void qr_r_of_stacked_identity(std::int64_t m, std::int64_t n, const double* A, double* R) const override;
  void gather_rows(std::int64_t n, const double* A, const std::int64_t* rows_host, std::int64_t count,
                   double* out) const override;
  void row_squared_norms(std::int64_t m, std::int64_t n, const double* A, double* out) const override;
  void diagonal_to_host(std::int64_t n, const double* A, double* host) const override;
  void add_to_diagonal(std::int64_t n, double value, double* A) const override;

 private:
  const Device& device_;
};

}  // namespace fastgdml::cuda
