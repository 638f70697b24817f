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
// Computed by Backend::feature_scores (cpu/cpu_feature_scores.cpp on the CPU).
#pragma once

#include <cstdint>
#include <vector>


namespace fastgdml {

struct FeatureDeltas {
  std::vector<double> scores;  // n_orbits: sum over queries of |F - F_without orbit|^2
  std::vector<double> dE;      // B x n_orbits: E - E_without orbit, per query (model units)
  std::vector<double> g;       // B x D: force in descriptor space of the full model (F = std J^T g)
  std::vector<double> dF;      // B x n_orbits x 3N: F - F_without orbit (model units), only when asked for
};

}  // namespace fastgdml
