// The CPU implementation of Backend (OpenMP + BLAS). See backend.hpp for what each operation computes.
#pragma once

#include "fastgdml/backend.hpp"

namespace fastgdml::cpu {

class CpuBackend final : public Backend {
 public:
  std::string name() const override;
  void descriptors(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t M, const double* R,
                   double* X, double* g) const override;
  void kernel_sums(const KernelSumInput& in, std::int64_t B, const double* Xq, const PreparedTraining* prepared,
                   double* Z, double* E) const override;
  std::unique_ptr<PreparedTraining> prepare(const KernelSumInput& in, const PrepareOptions& options) const override;
  void assemble_kernel(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, bool with_energy,
                       double* K) const override;
  void diagonal_blocks(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, bool with_energy,
                       double* blocks, double* energy_diagonal) const override;
  void kernel_columns(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, bool with_energy,
                      const KernelColumnsRequest& request, double* out) const override;
};

}  // namespace fastgdml::cpu
