// rGDML feature importance (Kabylda et al., Nat. Commun. 14, 3562 (2023)) in the GEMM formulation of DESIGN.md §2.
//
// Removing descriptor feature k (with symmetries: its whole orbit of pairs under the permutation group) from
// every descriptor, with the model's coefficients kept, changes each (query, training point j, permutation p)
// term only through two scalars: r^2 = |d_jp|^2 loses the orbit's part sum_{k in o} d_jpk^2 and s = d_jp . v_j
// loses sum_{k in o} d_jpk v_jk. So the masked descriptor-space forces of all orbits follow from the full
// query by, per permutation, two (orbits x n)(n x D) GEMMs of weight differences:
//   dZ_p = dW1^T V + dW2^T (A_p - X),   A_p = P_p^T x
// and the force change of orbit o is dF_o = std J^T dg_o with dg_o = sum_p P_p dZ_p[o] (the orbit's own
// entries taking the full force: they drop out of the masked model entirely). J is never formed.
#pragma once

#include <cstdint>
#include <vector>

#include "fastgdml/layout.hpp"

namespace fastgdml {

struct FeatureModel {
  std::int64_t n = 0, D = 0;       // training points, (masked) descriptor entries
  const double* X = nullptr;       // n x D training descriptors
  const double* V = nullptr;       // n x D rows v_j (R_d_desc_alpha)
  const double* b = nullptr;       // n energy coefficients, or null
  double sigma = 1.0, std = 1.0;
  const int* perm = nullptr;       // G x D permutation maps (layout.permutation_maps)
  const int* perm_inv = nullptr;   // their inverses
  int G = 1;
  const int* orbit = nullptr;      // D: orbit of each entry (0 .. n_orbits - 1)
  std::int64_t n_orbits = 0;
};

struct FeatureDeltas {
  std::vector<double> scores;  // n_orbits: sum over queries of |F - F_without orbit|^2
  std::vector<double> dE;      // B x n_orbits: E - E_without orbit, per query (model units)
  std::vector<double> g;       // B x D: force in descriptor space of the full model (F = std J^T g)
  std::vector<double> dF;      // B x n_orbits x 3N: F - F_without orbit (model units), only when asked for
};

// Queries R (B x N x 3). Runs on the CPU (OpenMP loops, BLAS GEMMs).
FeatureDeltas feature_deltas(const DescriptorLayout& layout, const Lattice& lattice, const FeatureModel& model,
                             std::int64_t B, const double* R, bool with_forces = false);

}  // namespace fastgdml
