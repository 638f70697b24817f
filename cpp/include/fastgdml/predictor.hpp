// Energies and forces of a trained model at query geometries (FORMATS.md §5.1), batched and GEMM-shaped
// (DESIGN.md §2), on one backend. With the stored sign convention (v_j = R_d_desc_alpha[j], b_j = alphas_E[j]):
//   E = std * sum_{j,p} [ w1 s_jp + b_j k ] + c,       F = -std * J^T Z
// where Z, w1, s, k are the covariance-convention kernel sums of the model's training side.
//
// Immutable after construction; predict() is safe to call from several threads at once, and on the CPU the calls
// run concurrently (per-thread work arrays) except where BLAS itself runs a product on several threads: those
// multi-job BLAS calls take turns on one process-wide lock (linalg.cpp: OpenBLAS's job buffers are shared). Small
// batches (one geometry, as in MD) use single-job BLAS and never wait on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastgdml/backend.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml {

class Predictor {
 public:
  // Throws std::invalid_argument for inconsistent model arrays (naming the key) and unknown backends.
  Predictor(const DescriptorLayout& layout, const Lattice& lattice, const ModelData& model,
            const std::string& backend = "cpu");

  // R: B x N x 3 -> E (B), F (B x N x 3), host arrays, model units. Throws std::invalid_argument for non-finite
  // positions and std::domain_error for close contacts or non-finite results (never returns NaN).
  // dE_dstrain (B x 3 x 3, optional): the derivative of E under a homogeneous strain of positions and cell,
  // dE/de_ab (energy units); stress = dE_dstrain / volume, virial = -dE_dstrain. Meaningful for periodic models.
  void predict(std::int64_t B, const double* R, double* E, double* F, double* dE_dstrain = nullptr) const;

  // rGDML feature scores at R (B x N x 3) for the orbit of each descriptor entry (feature_scores.hpp).
  FeatureDeltas feature_scores(const std::vector<int>& orbit, std::int64_t n_orbits, std::int64_t B, const double* R,
                               bool with_forces) const;

  std::string backend_name() const { return state_->backend(); }  // who serves the calls
  int n_atoms() const { return state_->n_atoms(); }

 private:
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ModelState> state_;
  double sigma_, std_, c_;  // named in errors
};

}  // namespace fastgdml
