#include "fastgdml/solver/closed_form.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>


namespace fastgdml::solver {

void solve_closed_form(const KernelOperator& K, double lambda, const double* y, double* x) {
  if (!(lambda >= 0.0)) throw std::invalid_argument("lambda must be >= 0");
  const VectorSpace& vs = K.backend().vectors();
  const DenseAlgebra& la = K.backend().algebra();
  const std::int64_t M = K.size();
  // allocate's zeros come from fresh pages (calloc / cudaMalloc + memset): assembly writes every entry anyway.
  Buffer A = vs.allocate(M * M);
  K.backend().assemble(K.state(), A.get());
  la.add_to_diagonal(M, lambda, A.get());
  const int info = la.potrf_upper(M, A.get());
  if (info != 0)
    throw std::runtime_error("Cholesky factorisation failed: the leading minor of order " + std::to_string(info) +
                             " of K + lambda I (size " + std::to_string(M) +
                             ") is not positive definite; increase lambda (e.g. 1e-8), change sigma, or remove "
                             "duplicate training geometries");
  Buffer b = vs.allocate(M);
  vs.from_host(M, y, b.get());
  la.potrs_upper(M, A.get(), b.get());
  vs.to_host(M, b.get(), x);
}

}  // namespace fastgdml::solver
