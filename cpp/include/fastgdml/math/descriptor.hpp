// Inverse-distance descriptor and its Jacobian, per geometry (FORMATS.md §3).
//
// Feature k is an atom pair (a_k, b_k), a_k > b_k; the full layout lists all pairs in numpy
// tril_indices(N, -1) order (k = a(a-1)/2 + b), a feature mask keeps a subset in the same order.
//   x_k = 1/|r_a - r_b|,   g_k = (r_a - r_b)/|r_a - r_b|^3,
//   J row k: -g_k on atom a, +g_k on atom b  (J is never formed; J.v and J^T.w are O(D) loops).
// With a lattice L (vectors as columns) the pair difference is wrapped to the minimum image
// d <- d - L round(L^-1 d), rounding half to even like numpy.around.
#pragma once

#include <cmath>
#include <cstdint>

#include "fastgdml/math/macros.hpp"

namespace fastgdml {

// Flat index of the unordered pair {a, b}, a != b, in the full descriptor.
FASTGDML_HD std::int64_t pair_index(std::int64_t a, std::int64_t b) {
  const std::int64_t hi = a > b ? a : b, lo = a > b ? b : a;
  return hi * (hi - 1) / 2 + lo;
}

// d = r_a - r_b (minimum image when lat, lat_inv are given; both 3x3 row-major, L's columns = vectors).
FASTGDML_HD void pair_difference(const double* R, int a, int b, const double* lat, const double* lat_inv,
                                 double d[3]) {
  for (int c = 0; c < 3; ++c) d[c] = R[3 * a + c] - R[3 * b + c];
  if (lat != nullptr) {
    double f[3];
    for (int r = 0; r < 3; ++r)
      f[r] = rint(lat_inv[3 * r + 0] * d[0] + lat_inv[3 * r + 1] * d[1] + lat_inv[3 * r + 2] * d[2]);
    for (int r = 0; r < 3; ++r) d[r] -= lat[3 * r + 0] * f[0] + lat[3 * r + 1] * f[1] + lat[3 * r + 2] * f[2];
  }
}

// x_k and g_k of one pair from its difference vector.
FASTGDML_HD double descriptor_entry(const double d[3], double g[3]) {
  const double inv_r = 1.0 / sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  const double inv_r3 = inv_r * inv_r * inv_r;
  for (int c = 0; c < 3; ++c) g[c] = d[c] * inv_r3;
  return inv_r;
}

// Descriptor x (D) and compressed Jacobian g (D x 3) of one geometry R (N x 3).
FASTGDML_HD void descriptor(const double* R, std::int64_t D, const int* pair_a, const int* pair_b,
                            const double* lat, const double* lat_inv, double* x, double* g) {
  for (std::int64_t k = 0; k < D; ++k) {
    double d[3];
    pair_difference(R, pair_a[k], pair_b[k], lat, lat_inv, d);
    x[k] = descriptor_entry(d, g + 3 * k);
  }
}

// One entry of J v: g_k . (v_b - v_a) for the pair's compressed Jacobian g_k (3) and its atoms' vectors.
FASTGDML_HD double jacobian_entry(const double* g_k, const double* va, const double* vb) {
  return g_k[0] * (vb[0] - va[0]) + g_k[1] * (vb[1] - va[1]) + g_k[2] * (vb[2] - va[2]);
}

// (J v)_k = g_k . (v_b - v_a), v of length 3N.
FASTGDML_HD void jacobian_dot(const double* g, std::int64_t D, const int* pair_a, const int* pair_b,
                              const double* v, double* out) {
  for (std::int64_t k = 0; k < D; ++k) out[k] = jacobian_entry(g + 3 * k, v + 3 * pair_a[k], v + 3 * pair_b[k]);
}

// out (3N) = J^T w, overwritten.
FASTGDML_HD void jacobian_t_dot(const double* g, std::int64_t D, const int* pair_a, const int* pair_b,
                                const double* w, int n_atoms, double* out) {
  for (int i = 0; i < 3 * n_atoms; ++i) out[i] = 0.0;
  for (std::int64_t k = 0; k < D; ++k) {
    double* oa = out + 3 * pair_a[k];
    double* ob = out + 3 * pair_b[k];
    for (int c = 0; c < 3; ++c) {
      const double t = w[k] * g[3 * k + c];
      ob[c] += t;
      oa[c] -= t;
    }
  }
}

}  // namespace fastgdml
