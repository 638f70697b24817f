#include "fastgdml/kernel_operator.hpp"

#include <stdexcept>
#include <string>

#include "fastgdml/math/descriptor.hpp"
#include "fastgdml/solver/memory_plan.hpp"

namespace fastgdml {

KernelOperator::KernelOperator(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t n,
                               const double* R, const std::vector<std::int64_t>& perms, const KernelOptions& options)
    : layout_(layout), n_(n), D_(layout.size()), options_(options), backend_(make_backend(options.backend)) {
  if (n < 1) throw std::invalid_argument("a kernel needs at least one training geometry");
  if (!(options.sigma > 0.0)) throw std::invalid_argument("sigma must be > 0, got " + std::to_string(options.sigma));
  perm_ = layout.permutation_maps(perms);
  perm_inv_ = invert_permutation_maps(perm_, D_);
  G_ = static_cast<int>(perm_.size() / D_);
  X_.resize(n * D_);
  g_.resize(n * D_ * 3);
  backend_->descriptors(layout, lattice, n, R, X_.data(), g_.data());
  const std::int64_t cache_need = solver::weight_cache_bytes(n, G_, options.use_energy);
  if (cache_need <= options.cache_bytes) {
    PrepareOptions prepare;
    prepare.cache_weights = true;
    prepare.with_energy = options.use_energy;
    cache_ = backend_->prepare(input(nullptr, nullptr), prepare);
  }
}

std::int64_t KernelOperator::size() const { return n_ * 3 * layout_.n_atoms() + (options_.use_energy ? n_ : 0); }

KernelSumInput KernelOperator::input(const double* U, const double* b) const {
  KernelSumInput in;
  in.n = n_;
  in.D = D_;
  in.X = X_.data();
  in.U = U;
  in.b = b;
  in.G = G_;
  in.perm = perm_.data();
  in.perm_inv = perm_inv_.data();
  in.sigma = options_.sigma;
  return in;
}

void KernelOperator::jacobian_rows(const double* a, double* out) const {
  const int N = layout_.n_atoms();
#pragma omp parallel for schedule(static) if (n_ * D_ > 32768)
  for (std::int64_t j = 0; j < n_; ++j)
    jacobian_dot(g_.data() + j * D_ * 3, D_, layout_.pair_a(), layout_.pair_b(), a + j * 3 * N, out + j * D_);
}

void KernelOperator::matvec(const double* v, double* out) const {
  const int N = layout_.n_atoms();
  const std::int64_t nF = n_ * 3 * N;
  std::vector<double> U(n_ * D_), Z(n_ * D_), E(n_);
  jacobian_rows(v, U.data());
  backend_->kernel_sums(input(U.data(), options_.use_energy ? v + nF : nullptr), n_, X_.data(), cache_.get(),
                        Z.data(), E.data());
#pragma omp parallel for schedule(static) if (n_ * D_ > 32768)
  for (std::int64_t i = 0; i < n_; ++i)
    jacobian_t_dot(g_.data() + i * D_ * 3, D_, layout_.pair_a(), layout_.pair_b(), Z.data() + i * D_, N,
                   out + i * 3 * N);
  if (options_.use_energy)
    for (std::int64_t i = 0; i < n_; ++i) out[nF + i] = E[i];
}

void KernelOperator::columns(const std::vector<std::int64_t>& cols, double* out) const {
  KernelColumnsRequest request;
  request.cols = cols.data();
  request.count = static_cast<std::int64_t>(cols.size());
  backend_->kernel_columns(layout_, input(nullptr, nullptr), g_.data(), options_.use_energy, request, out);
}

void KernelOperator::diagonal_blocks(double* blocks, double* energy_diagonal) const {
  backend_->diagonal_blocks(layout_, input(nullptr, nullptr), g_.data(), options_.use_energy, blocks, energy_diagonal);
}

void KernelOperator::assemble(double* K) const {
  backend_->assemble_kernel(layout_, input(nullptr, nullptr), g_.data(), options_.use_energy, K);
}

}  // namespace fastgdml
