// Launchers of the rGDML feature-score kernels (feature_score_kernels.cu); the algorithm is feature_scores.hpp's
// and the CPU's (cpu/cpu_feature_scores.cpp), one (query q, permutation p) at a time. Device pointers (host
// pointers in the CPU emulation of the tests); row-major.
#pragma once

#include <cstdint>

#include "launch.cuh"

namespace fastgdml::cuda {

// The model and the orbits as the kernels read them.
struct FeatureScoreData {
  std::int64_t n = 0, D = 0, O = 0;   // training points, descriptor entries, orbits
  int n_atoms = 0;
  double sigma = 1.0;
  const double* X = nullptr;          // n x D
  const double* V = nullptr;          // n x D rows v_j
  const double* b = nullptr;          // n, or nullptr
  const int* orbit = nullptr;         // D: orbit of each entry
  const std::int64_t* orbit_start = nullptr;   // O + 1: members of orbit o are orbit_member[start[o] .. start[o+1])
  const std::int64_t* orbit_member = nullptr;  // D
  const std::int64_t* inc_start = nullptr;     // atom incidence (layout.hpp): N + 1
  const std::int64_t* inc_feature = nullptr;   // 2 D
  const double* inc_sign = nullptr;            // 2 D
};

// Per training point j, for the permuted query A = P_p^T x (D): d_j = A - x_j into Dd (n x D); the full model's
// weights wu[j], wx[j]; and per orbit o the differences full - masked of the two weights and of the energy term
// (dW1, dW2, dEn: n x O).
void launch_feature_point_terms(const FeatureScoreData& m, const double* A, double* Dd, double* wu, double* wx,
                                double* dW1, double* dW2, double* dEn, cudaStream_t stream);
// VJ[j] = J^T (P_p v_j) and DJ[j] = J^T (P_p d_j) (n x 3N) with the query's Jacobian gq (D x 3) and the map
// fwd = delta_p (D).
void launch_feature_atom_rows(const FeatureScoreData& m, const double* gq, const int* fwd, const double* Dd,
                              double* VJ, double* DJ, cudaStream_t stream);
// own[k] += sum_j dW1[j, o_k] v_j[fwd k] + dW2[j, o_k] d_j[fwd k];  g[k] += sum_j (wx_j d_j[fwd k] - wu_j v_j[fwd k]);
// dE[o] += sum_j dEn[j, o].
void launch_feature_accumulate(const FeatureScoreData& m, const int* fwd, const double* Dd, const double* wu,
                               const double* wx, const double* dW1, const double* dW2, const double* dEn,
                               double* own, double* g, double* dE, cudaStream_t stream);
// After all permutations: dF[o, 3a + t] += sum over the entries k of orbit o touching atom a of
// sign (g[k] - own[k]) gq[k, t] (the removed entries take the full force); then dE *= std, scores[o] += std^2
// |dF[o]|^2 and, when dF_out is not nullptr, dF_out = std dF (O x 3N).
void launch_feature_finish(const FeatureScoreData& m, const double* gq, const double* g, const double* own,
                           double* dF, cudaStream_t stream);
void launch_feature_scores(const FeatureScoreData& m, double std_, double* dF, double* dE, double* scores,
                           double* dF_out, cudaStream_t stream);

}  // namespace fastgdml::cuda
