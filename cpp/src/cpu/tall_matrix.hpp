// The CPU backend's TallFactor (compute/dense_algebra.hpp): a tall row-major matrix (rows x cols) for the Nyström
// factor W in host memory, stored in double while it is built and optionally narrowed to float afterwards.
//
// Why float: each CG iteration reads W twice (W^T a, then W t) and those two products are memory-bound, so
// float storage halves the preconditioner's time per iteration and its memory. The products accumulate in
// double and the Woodbury inner factor is computed from the float-rounded values (round_to_single before the
// Gram/QR), so the preconditioner stays the exact inverse of lambda (I + W W^T) for the stored W: symmetric
// positive definite, just built from a W perturbed by 6e-8 relative (measured: aspirin n=200, 1388 columns,
// 110 CG iterations instead of 100).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <utility>

#include "fastgdml/compute/dense_algebra.hpp"

namespace fastgdml::cpu {

class TallMatrix final : public TallFactor {
 public:
  TallMatrix() = default;
  TallMatrix(std::int64_t rows, std::int64_t cols);  // double storage, zeroed
  ~TallMatrix() override { std::free(data_); }
  TallMatrix(const TallMatrix&) = delete;
  TallMatrix& operator=(const TallMatrix&) = delete;
  TallMatrix(TallMatrix&& o) noexcept { *this = std::move(o); }
  TallMatrix& operator=(TallMatrix&& o) noexcept {
    std::swap(rows_, o.rows_);
    std::swap(cols_, o.cols_);
    std::swap(single_, o.single_);
    std::swap(data_, o.data_);
    return *this;
  }

  std::int64_t rows() const override { return rows_; }
  std::int64_t cols() const override { return cols_; }
  bool single() const override { return single_; }
  std::int64_t bytes() const override { return rows_ * cols_ * (single_ ? 4 : 8); }

  double* doubles() override;  // only before narrow()
  const double* doubles() const override;

  void round_to_single() override;  // entries <- float(entry), still stored as double
  void narrow() override;           // float storage, in place (the buffer shrinks to half)

  // t = W^T a (a: rows, t: cols) and out -= W s (s: cols, out: rows); double accumulation, OpenMP.
  void multiply_transposed(const double* a, double* t) const override;
  void subtract_product(const double* s, double* out) const override;
  // Rows [r0, r0 + count) as doubles into dst (count x cols, row-major).
  void copy_rows(std::int64_t r0, std::int64_t count, double* dst) const override;

 private:
  std::int64_t rows_ = 0, cols_ = 0;
  bool single_ = false;
  void* data_ = nullptr;
};

}  // namespace fastgdml::cpu
