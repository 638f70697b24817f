// Per-geometry derivative of a prediction's energy under a homogeneous strain of positions and cell, shared by
// the CPU backend and the CUDA kernels.
//
// E depends on the pair vectors d_k only, and a strain e maps d_k to (I + e) d_k, so with the descriptor
// x_k = 1/|d_k| and its compressed Jacobian g_k = d_k / |d_k|^3 = d_k x_k^3:
//   dE/de_ab = sum_k dE/dx_k dx_k/dd_k,a d_k,b = sum_k dE/dx_k (-g_k,a) (g_k,b / x_k^3)
// With the descriptor-space force z (F = scale J^T z, dE/dx = -scale z):
//   dE/de_ab = scale sum_k z_k g_k,a g_k,b / x_k^3.
#pragma once

#include <cstdint>

#include "fastgdml/math/macros.hpp"

namespace fastgdml {

// S (3 x 3, row-major) <- dE/de for one geometry: descriptor x (D), Jacobian g (D x 3), descriptor-space force z
// (D) and the factor `scale` with F = scale J^T z.
FASTGDML_HD void strain_derivative(std::int64_t D, const double* x, const double* g, const double* z, double scale,
                                   double* S) {
  for (int t = 0; t < 9; ++t) S[t] = 0.0;
  for (std::int64_t k = 0; k < D; ++k) {
    const double w = scale * z[k] / (x[k] * x[k] * x[k]);
    for (int a = 0; a < 3; ++a)
      for (int c = 0; c < 3; ++c) S[3 * a + c] += w * g[3 * k + a] * g[3 * k + c];
  }
}

}  // namespace fastgdml
