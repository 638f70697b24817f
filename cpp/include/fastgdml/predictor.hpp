// Energies and forces of a trained model at query geometries (FORMATS.md §5.1), batched and GEMM-shaped
// (DESIGN.md §2). With the stored sign convention (v_j = R_d_desc_alpha[j], b_j = alphas_E[j]):
//   E = std * sum_{j,p} [ w1 s_jp + b_j k ] + c,       F = -std * J^T Z
// where Z, w1, s, k are the covariance-convention kernel sums of Backend::kernel_sums.
// Immutable after construction; predict() is safe to call from several threads at once, and the calls run
// concurrently (per-call work arrays, per-thread kernel-sum workspaces) except where BLAS itself runs a product on
// several threads: those multi-job BLAS calls take turns on one process-wide lock (linalg.cpp: OpenBLAS's job
// buffers are shared). Small batches (one geometry, as in MD) use single-job BLAS and never wait on it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fastgdml/backend.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml {

struct ModelData {
  std::vector<double> X;                 // n x D training descriptors (R_desc transposed)
  std::vector<double> V;                 // n x D rows J_j a_j (R_d_desc_alpha)
  std::vector<double> b;                 // n energy coefficients (alphas_E), empty without
  std::vector<std::int64_t> perms;       // G x N atom permutations
  double sigma = 1.0;
  double std = 1.0;                      // label scale sigma_y
  double c = 0.0;                        // energy integration constant
  // Queries with a pair of (kept) atoms closer than this are refused (std::domain_error naming the geometry and
  // the atoms): far closer than any training pair the model is meaningless, and at 0 the descriptor is undefined.
  double min_distance = 0.0;
  // Bound on predict's work arrays (descriptors, Jacobians, kernel sums: 5 doubles per entry and geometry).
  std::int64_t work_bytes = std::int64_t{1} << 28;
};

class Predictor {
 public:
  Predictor(const DescriptorLayout& layout, const Lattice& lattice, ModelData model,
            const std::string& backend = "cpu");

  // R: B x N x 3 -> E (B), F (B x N x 3), in chunks of bounded memory. Throws std::invalid_argument for
  // non-finite positions and std::domain_error for close contacts or non-finite results (never returns NaN).
  // dE_dstrain (B x 3 x 3, optional): the derivative of E under a homogeneous strain of positions and cell,
  // dE/de_ab (energy units); stress = dE_dstrain / volume, virial = -dE_dstrain. Meaningful for periodic models.
  void predict(std::int64_t B, const double* R, double* E, double* F, double* dE_dstrain = nullptr) const;
  std::string backend_name() const { return backend_->name(); }

 private:
  KernelSumInput input() const;
  // Queries first .. first + B - 1 (their descriptors Xq): std::domain_error for a pair closer than min_distance.
  void refuse_close_contacts(std::int64_t first, std::int64_t B, const double* Xq) const;

  DescriptorLayout layout_;
  Lattice lattice_;
  ModelData model_;
  std::int64_t n_, D_;
  int G_;
  std::vector<int> perm_, perm_inv_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<PreparedTraining> prepared_;  // [X; V], |x_j|^2, x_j.v_j: constants of the model
};

}  // namespace fastgdml
