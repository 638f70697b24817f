// CudaVectorSpace, CudaDenseAlgebra and the CUDA tall factor (cuda_compute.hpp).
#include "cuda_compute.hpp"

#include <algorithm>
#include <vector>

#include "dense_kernels.cuh"
#include "kernel_sums.cuh"

namespace fastgdml::cuda {
namespace {

bool transposed(Op op) { return op == Op::kTrans; }

// The Nyström factor W (rows x cols, row-major) on the device: double while it is built, float after narrow().
// The float products are dense_kernels.cu's (cuBLAS has no float-storage, double-accumulation GEMV).
class CudaTallFactor final : public TallFactor {
 public:
  CudaTallFactor(const Device& device, std::int64_t rows, std::int64_t cols)
      : device_(device), rows_(rows), cols_(cols), doubles_(device, rows * cols) {}

  std::int64_t rows() const override { return rows_; }
  std::int64_t cols() const override { return cols_; }
  bool single() const override { return floats_.size() > 0; }
  std::int64_t bytes() const override { return single() ? floats_.bytes() + partial_.bytes() : doubles_.bytes(); }
  double* doubles() override { return doubles_.get(); }
  const double* doubles() const override { return doubles_.get(); }

  void round_to_single() override {
    auto lock = device_.lock();
    launch_round_to_single(rows_ * cols_, doubles_.get(), device_.stream());
    device_.check_launch("round_to_single");
  }

  void narrow() override {
    auto lock = device_.lock();
    DeviceArray<float> f(device_, rows_ * cols_);
    launch_narrow(rows_ * cols_, doubles_.get(), f.get(), device_.stream());
    device_.check_launch("narrow");
    device_.synchronize();
    floats_ = std::move(f);
    doubles_ = DeviceArray<double>();
    partial_ = DeviceArray<double>(device_, tall_transposed_chunks(rows_) * cols_);
  }

  void multiply_transposed(const double* a, double* t) const override {
    auto lock = device_.lock();
    if (single()) {
      launch_tall_multiply_transposed(floats_.get(), rows_, cols_, a, partial_.get(), t, device_.stream());
      device_.check_launch("tall_multiply_transposed");
    } else {
      // t = W^T a: W row-major is the column-major cols x rows matrix W^T, so t = (W^T) a is a plain gemv.
      device_.gemv(false, cols_, rows_, 1.0, doubles_.get(), cols_, a, 0.0, t);
    }
  }

  void subtract_product(const double* s, double* out) const override {
    auto lock = device_.lock();
    if (single()) {
      launch_tall_subtract_product(floats_.get(), rows_, cols_, s, out, device_.stream());
      device_.check_launch("tall_subtract_product");
    } else {
      device_.gemv(true, cols_, rows_, -1.0, doubles_.get(), cols_, s, 1.0, out);  // out -= (W^T)^T s
    }
  }

  void copy_rows(std::int64_t r0, std::int64_t count, double* dst) const override {
    auto lock = device_.lock();
    if (single()) {
      launch_widen_rows(floats_.get(), r0, count, cols_, dst, device_.stream());
      device_.check_launch("widen_rows");
    } else {
      device_.copy(dst, doubles_.get() + r0 * cols_, sizeof(double) * static_cast<std::size_t>(count * cols_));
    }
  }

 private:
  const Device& device_;
  std::int64_t rows_, cols_;
  DeviceArray<double> doubles_;
  DeviceArray<float> floats_;
  DeviceArray<double> partial_;  // chunk sums of multiply_transposed (float storage only)
};

void release(void* p) { Device::release(p); }

}  // namespace

Buffer CudaVectorSpace::allocate(std::int64_t n) const {
  auto lock = device_.lock();
  void* p = device_.allocate(sizeof(double) * static_cast<std::size_t>(std::max<std::int64_t>(n, 1)));
  return Buffer(static_cast<double*>(p), BufferFree{&release});
}

void CudaVectorSpace::fill(std::int64_t n, double value, double* x) const {
  auto lock = device_.lock();
  launch_fill(n, value, x, device_.stream());
  device_.check_launch("fill");
}

void CudaVectorSpace::copy(std::int64_t n, const double* x, double* y) const {
  auto lock = device_.lock();
  device_.copy(y, x, sizeof(double) * static_cast<std::size_t>(n));
}

void CudaVectorSpace::axpy(std::int64_t n, double a, const double* x, double* y) const {
  auto lock = device_.lock();
  device_.axpy(n, a, x, y);
}

void CudaVectorSpace::xpay(std::int64_t n, const double* x, double a, double* y) const {
  auto lock = device_.lock();
  launch_xpay(n, x, a, y, device_.stream());
  device_.check_launch("xpay");
}

void CudaVectorSpace::scale(std::int64_t n, double a, double* x) const {
  auto lock = device_.lock();
  device_.scal(n, a, x);
}

void CudaVectorSpace::multiply(std::int64_t n, const double* w, double* x) const {
  auto lock = device_.lock();
  launch_multiply(n, w, x, device_.stream());
  device_.check_launch("multiply");
}

double CudaVectorSpace::dot(std::int64_t n, const double* x, const double* y) const {
  auto lock = device_.lock();
  return device_.dot(n, x, y);
}

void CudaVectorSpace::to_host(std::int64_t n, const double* x, double* host) const {
  auto lock = device_.lock();
  device_.download(host, x, sizeof(double) * static_cast<std::size_t>(n));
}

void CudaVectorSpace::from_host(std::int64_t n, const double* host, double* x) const {
  auto lock = device_.lock();
  device_.upload(x, host, sizeof(double) * static_cast<std::size_t>(n));
}

std::unique_ptr<TallFactor> CudaDenseAlgebra::tall_factor(std::int64_t rows, std::int64_t cols) const {
  auto lock = device_.lock();
  return std::make_unique<CudaTallFactor>(device_, rows, cols);
}

void CudaDenseAlgebra::gemm(Op op_a, Op op_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                            const double* A, std::int64_t lda, const double* B, std::int64_t ldb, double beta,
                            double* C, std::int64_t ldc) const {
  // Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, where each stored matrix reads as its transpose.
  auto lock = device_.lock();
  device_.gemm(transposed(op_b), transposed(op_a), n, m, k, alpha, B, ldb, A, lda, beta, C, ldc);
}

void CudaDenseAlgebra::syrk_upper(std::int64_t m, std::int64_t n, const double* A, double beta, double* C) const {
  // A^T A for A row-major (m x n) = A' A'^T for the column-major n x m matrix A' = A^T.
  auto lock = device_.lock();
  device_.syrk(true, false, n, m, 1.0, A, n, beta, C, n);
}

int CudaDenseAlgebra::potrf_lower(std::int64_t n, double* A) const {
  auto lock = device_.lock();
  return device_.potrf(true, n, A, n);
}

int CudaDenseAlgebra::potrf_upper(std::int64_t n, double* A) const {
  auto lock = device_.lock();
  return device_.potrf(false, n, A, n);
}

void CudaDenseAlgebra::potrs_upper(std::int64_t n, const double* R, double* b) const {
  auto lock = device_.lock();
  device_.potrs(false, n, R, n, b);
}

void CudaDenseAlgebra::trsm_right(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B,
                                  std::int64_t ldb) const {
  // B inv(op(T)) (B row-major m x n) is, transposed, inv(op(T)^T) B' for the column-major n x m matrix B' = B^T.
  auto lock = device_.lock();
  device_.trsm(true, lower, !transposed(op_t), n, m, T, n, B, ldb);
}

void CudaDenseAlgebra::trsm_left(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B,
                                 std::int64_t ldb) const {
  // inv(op(T)) B (B row-major m x n) is, transposed, B' inv(op(T)^T).
  auto lock = device_.lock();
  device_.trsm(false, lower, !transposed(op_t), n, m, T, m, B, ldb);
}

void CudaDenseAlgebra::trsv(bool lower, Op op_t, std::int64_t n, const double* T, double* x) const {
  auto lock = device_.lock();
  device_.trsv(lower, transposed(op_t), n, T, n, x);
}

void CudaDenseAlgebra::qr_r_of_stacked_identity(std::int64_t m, std::int64_t n, const double* A, double* R) const {
  // Streamed like the CPU's: R = I, then for each block of rows the R of [R; block] by cuSOLVER's Householder QR,
  // so the work array is (n + block) x n, not (m + n) x n (60 GB for the largest Nyström factors).
  auto lock = device_.lock();
  const std::int64_t block = std::max<std::int64_t>(4096, n), ld = n + std::min(block, m);
  DeviceArray<double> S(device_, ld * n);
  device_.zero(R, sizeof(double) * static_cast<std::size_t>(n * n));
  launch_add_to_diagonal(n, 1.0, R, device_.stream());
  device_.check_launch("add_to_diagonal");
  for (std::int64_t r0 = 0; r0 < m; r0 += block) {
    const std::int64_t rows = std::min(block, m - r0), height = n + rows;
    // S (height x n, column-major, leading dimension ld) = [R; A[r0 : r0 + rows]]
    for (std::int64_t c = 0; c < n; ++c)
      device_.copy(S.get() + c * ld, R + c * n, sizeof(double) * static_cast<std::size_t>(n));
    launch_rows_to_column_major(A, r0, rows, n, S.get() + n, ld, device_.stream());
    device_.check_launch("rows_to_column_major");
    device_.geqrf(height, n, S.get(), ld);
    launch_copy_upper(n, S.get(), ld, R, device_.stream());
    device_.check_launch("copy_upper");
  }
}

void CudaDenseAlgebra::gather_rows(std::int64_t n, const double* A, const std::int64_t* rows_host, std::int64_t count,
                                   double* out) const {
  auto lock = device_.lock();
  if (count == 0) return;
  const DeviceArray<std::int64_t> rows = upload_array(device_, rows_host, count);
  launch_gather_rows(n, A, rows.get(), count, out, device_.stream());
  device_.check_launch("gather_rows");
  device_.synchronize();  // rows is freed on return
}

void CudaDenseAlgebra::row_squared_norms(std::int64_t m, std::int64_t n, const double* A, double* out) const {
  auto lock = device_.lock();
  launch_row_dots(A, A, m, n, out, device_.stream());
  device_.check_launch("row_dots");
}

void CudaDenseAlgebra::diagonal_to_host(std::int64_t n, const double* A, double* host) const {
  auto lock = device_.lock();
  DeviceArray<double> d(device_, n);
  launch_strided_copy(n, A, n + 1, d.get(), device_.stream());
  device_.check_launch("strided_copy");
  device_.download(host, d.get(), sizeof(double) * static_cast<std::size_t>(n));
}

void CudaDenseAlgebra::add_to_diagonal(std::int64_t n, double value, double* A) const {
  auto lock = device_.lock();
  launch_add_to_diagonal(n, value, A, device_.stream());
  device_.check_launch("add_to_diagonal");
}

}  // namespace fastgdml::cuda
