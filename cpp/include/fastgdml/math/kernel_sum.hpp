// Per-element step of the GEMM-shaped kernel sums (DESIGN.md §2), shared by the CPU loops and CUDA kernels.
//
// For one (query row r = (q, p), training point j) with Matérn weights w (of r^2 = |P_p^T x_q - x_j|^2),
// s = (P_p^T x_q - x_j).u_j and energy coefficient b_j (0 without energy constraints):
//   H u_j + grad_x k b_j = w1 u_j - (w2 s + w1 b_j) (P_p^T x_q - x_j)
// so the row's product is Z_p[r] = sum_j W_u[r,j] u_j + W_x[r,j] x_j + rowsum[r] * P_p^T x_q with
//   W_u = w1,  W_x = w2 s + w1 b_j,  rowsum = -sum_j W_x,    and the energy row gains w1 s + k b_j.
#pragma once

#include "fastgdml/math/macros.hpp"
#include "fastgdml/math/matern52.hpp"

namespace fastgdml {

struct KernelSumTerms {
  double w_u;     // weight of u_j in Z_p[r]
  double w_x;     // weight of x_j in Z_p[r]; -w_x goes into the row sum
  double energy;  // contribution to E[q]
};

FASTGDML_HD KernelSumTerms kernel_sum_terms(const Matern52Weights& w, double s, double b_j) {
  return {w.w1, w.w2 * s + w.w1 * b_j, w.w1 * s + w.k * b_j};
}

}  // namespace fastgdml
