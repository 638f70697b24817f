#include "fastgdml/solver/closed_form.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include "fastgdml/linalg.hpp"

namespace fastgdml::solver {

void solve_closed_form(const KernelOperator& K, double lambda, const double* y, double* x) {
  if (!(lambda >= 0.0)) throw std::invalid_argument("lambda must be >= 0");
  const std::int64_t M = K.size();
  // Not value-initialised: assemble writes every entry, and zeroing gigabytes first would touch them twice.
  std::unique_ptr<double[]> A(new double[static_cast<std::size_t>(M) * M]);
  K.assemble(A.get());
  for (std::int64_t i = 0; i < M; ++i) A[i * M + i] += lambda;
  const int info = linalg::cholesky_factor(M, A.get());
  if (info != 0)
    throw std::runtime_error("Cholesky factorisation failed: the leading minor of order " + std::to_string(info) +
                             " of K + lambda I (size " + std::to_string(M) +
                             ") is not positive definite; increase lambda (e.g. 1e-8), change sigma, or remove "
                             "duplicate training geometries");
  std::copy(y, y + M, x);
  linalg::cholesky_solve(M, A.get(), 1, x);
}

}  // namespace fastgdml::solver
