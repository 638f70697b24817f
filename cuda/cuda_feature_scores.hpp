// The rGDML feature scores of a model on the GPU (Backend::feature_scores; feature_scores.hpp): the hand-written
// kernels of feature_score_kernels.cu and cuBLAS's two (orbits x n)(n x 3N) products per (query, permutation).
#pragma once

#include <cstdint>
#include <vector>

#include "cuda_compute.hpp"
#include "device.hpp"
#include "fastgdml/feature_scores.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml::cuda {

// A model's device arrays as the feature scores read them (the model state's; nothing is copied).
struct FeatureScoreModel {
  std::int64_t n = 0, D = 0;
  int n_atoms = 0, G = 1;
  double sigma = 1.0, std = 1.0;
  const double* X = nullptr;   // n x D
  const double* V = nullptr;   // n x D
  const double* b = nullptr;   // n or nullptr
  const int *perm = nullptr, *perm_inv = nullptr, *pair_a = nullptr, *pair_b = nullptr;  // G x D, G x D, D, D
  const std::int64_t *inc_start = nullptr, *inc_feature = nullptr;
  const double* inc_sign = nullptr;
  const double *lat = nullptr, *lat_inv = nullptr;  // 9 each, or nullptr
};

// Scores, energy and force changes at the B queries R (host, B x N x 3) for the orbits (host, D entries in
// 0 .. n_orbits - 1); host results, the CPU backend's definitions.
FeatureDeltas feature_score_deltas(const Device& device, const CudaDenseAlgebra& la, const FeatureScoreModel& m,
                                   const DescriptorLayout& layout, const std::vector<int>& orbit,
                                   std::int64_t n_orbits, std::int64_t B, const double* R, bool with_forces);

}  // namespace fastgdml::cuda
