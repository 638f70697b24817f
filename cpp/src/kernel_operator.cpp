#include "fastgdml/kernel_operator.hpp"

namespace fastgdml {
namespace {

// Runs op(in, out) on backend memory: host arrays directly when the backend's memory is the host's, else
// through staging buffers of the given sizes.
template <class Op>
void on_backend(const VectorSpace& vs, const double* in, std::int64_t in_size, double* out, std::int64_t out_size,
                const Op& op) {
  if (vs.host_memory()) {
    op(in, out);
    return;
  }
  Buffer in_dev = vs.allocate(in_size), out_dev = vs.allocate(out_size);
  if (in != nullptr) vs.from_host(in_size, in, in_dev.get());
  op(in_dev.get(), out_dev.get());
  vs.to_host(out_size, out_dev.get(), out);
}

}  // namespace

KernelOperator::KernelOperator(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t n,
                               const double* R, const std::vector<std::int64_t>& perms, const KernelOptions& options)
    : backend_(make_backend(options.backend)) {
  TrainingSetup setup;
  setup.layout = layout;
  setup.lattice = lattice;
  setup.n = n;
  setup.R = R;
  setup.perms = perms;
  setup.sigma = options.sigma;
  setup.use_energy = options.use_energy;
  setup.cache_budget = options.cache_bytes;
  setup.first_point = options.first_point;
  setup.local_points = options.local_points;
  state_ = backend_->prepare_training(setup);
}

std::vector<double> KernelOperator::X() const {
  std::vector<double> X(n() * descriptor_size());
  backend_->training_descriptors(*state_, X.data());
  return X;
}

void KernelOperator::matvec(const double* v, double* out) const {
  on_backend(backend_->vectors(), v, size(), out, local_size(),
             [this](const double* a, double* b) { backend_->kernel_matvec(*state_, a, b); });
}

void KernelOperator::columns(const std::vector<std::int64_t>& cols, double* out) const {
  on_backend(backend_->vectors(), nullptr, 0, out, local_size() * static_cast<std::int64_t>(cols.size()),
             [&](const double*, double* b) { backend_->kernel_columns(*state_, cols, b); });
}

void KernelOperator::assemble(double* K) const {
  on_backend(backend_->vectors(), nullptr, 0, K, size() * size(),
             [this](const double*, double* b) { backend_->assemble(*state_, b); });
}

void KernelOperator::diagonal_blocks(double* blocks, double* energy_diagonal) const {
  backend_->diagonal_blocks(*state_, blocks, energy_diagonal);
}

void KernelOperator::jacobian_rows(const double* a, double* out) const { backend_->jacobian_rows(*state_, a, out); }

}  // namespace fastgdml
