// Shared step of the dense assembly and the kernel columns (CPU backend internals).
#pragma once

#include <cstdint>

#include "fastgdml/math/matern52.hpp"

namespace fastgdml::cpu {

// For row point x_i, column point x_j and permutation p (maps delta, inverse inv): the query-side difference
// d~ = P_p^T x_i - x_j into d, its image P_p d~ = x_i - P_p x_j into pd, and the Matérn weights of |d~|^2.
inline Matern52Weights permuted_difference(const double* xi, const double* xj, const int* delta, const int* inv,
                                           std::int64_t D, const Matern52& kernel, double* d, double* pd) {
  double r2 = 0.0;
  for (std::int64_t m = 0; m < D; ++m) {
    d[m] = xi[inv[m]] - xj[m];
    r2 += d[m] * d[m];
  }
  for (std::int64_t k = 0; k < D; ++k) pd[k] = d[delta[k]];
  return kernel.weights_from_r2(r2);
}

}  // namespace fastgdml::cpu
