// Test-only Device (device.hpp) on the host: memory is host memory and the cuBLAS/cuSOLVER calls are written out
// from their definitions (column-major, cuBLAS's argument meanings), plainly, for the small problems of the tests.
// With it the CUDA backend's own code (cuda_compute.cu, cuda_backend.cu) and its kernels (through
// cuda_on_cpu.hpp) run on a machine without a GPU and are checked against the CPU backend. Never built by nvcc.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#include "../device.hpp"

namespace fastgdml::cuda {

struct Device::Handles {};

Device::Device() : handles_(std::make_unique<Handles>()) {
  info_.name = "CUDA-on-CPU emulation (tests)";
  info_.major = 9;
  info_.memory_bytes = std::int64_t{1} << 32;
}
Device::~Device() = default;

const DeviceInfo& Device::info() const { return info_; }
cudaStream_t Device::stream() const { return nullptr; }

void* Device::allocate(std::size_t bytes) const {
  void* p = std::calloc(bytes > 0 ? bytes : 1, 1);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void Device::release(void* p) { std::free(p); }
void Device::upload(void* dst, const void* src, std::size_t bytes) const { std::memcpy(dst, src, bytes); }
void Device::download(void* dst, const void* src, std::size_t bytes) const { std::memcpy(dst, src, bytes); }
void Device::copy(void* dst, const void* src, std::size_t bytes) const {
  if (dst != src) std::memmove(dst, src, bytes);
}
void Device::zero(void* dst, std::size_t bytes) const { std::memset(dst, 0, bytes); }
void Device::check_launch(const char*) const {}
void Device::synchronize() const {}

namespace {
// Entry (i, j) of op(X) for a column-major X with leading dimension ld.
double at(const double* X, std::int64_t ld, bool trans, std::int64_t i, std::int64_t j) {
  return trans ? X[j + i * ld] : X[i + j * ld];
}
}  // namespace

void Device::gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* A, std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C,
                  std::int64_t ldc) const {
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = 0; i < m; ++i) {
      double s = 0.0;
      for (std::int64_t l = 0; l < k; ++l) s += at(A, lda, trans_a, i, l) * at(B, ldb, trans_b, l, j);
      double& c = C[i + j * ldc];
      c = alpha * s + (beta == 0.0 ? 0.0 : beta * c);  // beta 0: C is not read (BLAS)
    }
}

void Device::gemv(bool trans, std::int64_t m, std::int64_t n, double alpha, const double* A, std::int64_t lda,
                  const double* x, double beta, double* y) const {
  const std::int64_t rows = trans ? n : m, cols = trans ? m : n;
  std::vector<double> out(rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    double s = 0.0;
    for (std::int64_t l = 0; l < cols; ++l) s += at(A, lda, trans, i, l) * x[l];
    out[i] = alpha * s + (beta == 0.0 ? 0.0 : beta * y[i]);
  }
  std::copy(out.begin(), out.end(), y);
}

void Device::syrk(bool upper, bool trans, std::int64_t n, std::int64_t k, double alpha, const double* A,
                  std::int64_t lda, double beta, double* C, std::int64_t ldc) const {
  // op(A) is n x k: op(A) = A (n x k) without trans, A^T (A k x n) with it.
  for (std::int64_t j = 0; j < n; ++j)
    for (std::int64_t i = upper ? 0 : j; i < (upper ? j + 1 : n); ++i) {
      double s = 0.0;
      for (std::int64_t l = 0; l < k; ++l) s += at(A, lda, trans, i, l) * at(A, lda, trans, j, l);
      double& c = C[i + j * ldc];
      c = alpha * s + (beta == 0.0 ? 0.0 : beta * c);
    }
}

void Device::trsv(bool lower, bool trans, std::int64_t n, const double* T, std::int64_t ldt, double* x) const {
  // Solve op(T) y = x: forward substitution when op(T) is lower triangular, backward otherwise.
  const bool forward = lower != trans;
  for (std::int64_t s = 0; s < n; ++s) {
    const std::int64_t i = forward ? s : n - 1 - s;
    double v = x[i];
    for (std::int64_t t = 0; t < s; ++t) {
      const std::int64_t j = forward ? t : n - 1 - t;
      v -= at(T, ldt, trans, i, j) * x[j];
    }
    x[i] = v / at(T, ldt, trans, i, i);
  }
}

void Device::trsm(bool left, bool lower, bool trans, std::int64_t m, std::int64_t n, const double* T,
                  std::int64_t ldt, double* B, std::int64_t ldb) const {
  if (left) {  // each column of B: op(T) x = b
    for (std::int64_t j = 0; j < n; ++j) trsv(lower, trans, m, T, ldt, B + j * ldb);
    return;
  }
  // B inv(op(T)): each row b of B solves x op(T) = b, i.e. op(T)^T x^T = b^T
  std::vector<double> row(n);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) row[j] = B[i + j * ldb];
    trsv(lower, !trans, n, T, ldt, row.data());
    for (std::int64_t j = 0; j < n; ++j) B[i + j * ldb] = row[j];
  }
}

double Device::dot(std::int64_t n, const double* x, const double* y) const {
  double s = 0.0;
  for (std::int64_t i = 0; i < n; ++i) s += x[i] * y[i];
  return s;
}

void Device::axpy(std::int64_t n, double a, const double* x, double* y) const {
  for (std::int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void Device::scal(std::int64_t n, double a, double* x) const {
  for (std::int64_t i = 0; i < n; ++i) x[i] *= a;
}

int Device::potrf(bool lower, std::int64_t n, double* A, std::int64_t lda) const {
  // A = L L^T (lower) or R^T R (upper), only that triangle read and written. e(i, j) is the entry of the factor
  // in its stored triangle: L(i, j) = A[i + j lda] for i >= j; R(j, i) = A[j + i lda] holds L(i, j) = R(j, i).
  auto e = [&](std::int64_t i, std::int64_t j) -> double& { return lower ? A[i + j * lda] : A[j + i * lda]; };
  for (std::int64_t j = 0; j < n; ++j) {
    double d = e(j, j);
    for (std::int64_t l = 0; l < j; ++l) d -= e(j, l) * e(j, l);
    if (!(d > 0.0)) return static_cast<int>(j + 1);
    d = std::sqrt(d);
    e(j, j) = d;
    for (std::int64_t i = j + 1; i < n; ++i) {
      double v = e(i, j);
      for (std::int64_t l = 0; l < j; ++l) v -= e(i, l) * e(j, l);
      e(i, j) = v / d;
    }
  }
  return 0;
}

void Device::potrs(bool lower, std::int64_t n, const double* A, std::int64_t lda, double* b) const {
  if (lower) {  // L L^T x = b
    trsv(true, false, n, A, lda, b);
    trsv(true, true, n, A, lda, b);
  } else {  // R^T R x = b
    trsv(false, true, n, A, lda, b);
    trsv(false, false, n, A, lda, b);
  }
}

void Device::geqrf(std::int64_t m, std::int64_t n, double* A, std::int64_t lda) const {
  // Householder QR; the reflectors are not kept (the backend reads R only, and clears below the diagonal).
  std::vector<double> v(m);
  for (std::int64_t j = 0; j < n && j < m; ++j) {
    double norm = 0.0;
    for (std::int64_t i = j; i < m; ++i) norm += A[i + j * lda] * A[i + j * lda];
    norm = std::sqrt(norm);
    if (norm == 0.0) continue;
    const double alpha = A[j + j * lda] > 0.0 ? -norm : norm;  // LAPACK's sign: beta = -sign(a_jj) |x|
    for (std::int64_t i = j; i < m; ++i) v[i] = A[i + j * lda];
    v[j] -= alpha;
    double vv = 0.0;
    for (std::int64_t i = j; i < m; ++i) vv += v[i] * v[i];
    for (std::int64_t c = j; c < n; ++c) {
      double s = 0.0;
      for (std::int64_t i = j; i < m; ++i) s += v[i] * A[i + c * lda];
      s *= 2.0 / vv;
      for (std::int64_t i = j; i < m; ++i) A[i + c * lda] -= s * v[i];
    }
  }
}

}  // namespace fastgdml::cuda
