// The CPU backend's numerical kernels (OpenMP loops + BLAS), on plain host arrays. cpu_backend.cpp wraps them in
// the Backend interface and owns their data in its states; nothing outside cpp/src/cpu calls them.
#pragma once

#include <cstdint>
#include <vector>

#include "fastgdml/feature_scores.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml::cpu {

// The training side of a kernel sum (DESIGN.md §2): descriptors X, coefficient rows U (u_j = J_j v_j),
// optional energy coefficients b, the descriptor maps delta_p of the permutation group and sigma.
struct KernelSumInput {
  std::int64_t n = 0;              // training points
  std::int64_t D = 0;              // descriptor length
  const double* X = nullptr;       // n x D, row-major
  const double* U = nullptr;       // n x D, row-major
  const double* b = nullptr;       // n, or nullptr without energy coefficients
  int G = 1;                       // permutations (identity included)
  const int* perm = nullptr;       // G x D maps delta_p
  const int* perm_inv = nullptr;   // G x D inverse maps
  double sigma = 1.0;
};

// [X; U] stacked (2n x D) so that one product gives S = A X^T and T = A U^T, and one gives
// sum_j W_x x_j + W_u u_j; |x_j|^2 and t_j = x_j.u_j.
struct StackedTraining {
  std::vector<double> XU;  // 2n x D; X first, then U
  std::vector<double> x2;  // n
  std::vector<double> t;   // n
};

// X, U (n x D each) into side.XU with their norms and dots. U may already be side.XU's second half.
void stack_training(std::int64_t n, std::int64_t D, const double* X, const double* U, StackedTraining& side);
// t_j = x_j.u_j of side.XU's halves (after U changed).
void update_dots(std::int64_t n, std::int64_t D, StackedTraining& side);

// Data-only Matérn weights of all (training row (i, p), training point j) triples: K v with the training points
// as queries reuses them every iteration.
struct WeightCache {
  std::vector<double> w1, w2, k;  // (n G) x n each; k only with energy rows
  bool empty() const { return w1.empty(); }
  std::int64_t bytes() const { return static_cast<std::int64_t>((w1.size() + w2.size() + k.size()) * sizeof(double)); }
};
WeightCache cache_weights(const KernelSumInput& in, const std::vector<double>& x2, bool with_energy);

// Temporaries of kernel_sums, kept between calls: a CG iteration reuses ~15 MB (aspirin, n=400) that would
// otherwise be reallocated and zeroed every time (4% of a K v).
struct SumWorkspace {
  std::vector<double> A, W, Zp, row_sum, row_energy, q2;
};

// For B queries with descriptors Xq (B x D), in the covariance convention of K = Cov([F; -E]):
//   Z[q] = sum_p P_p sum_j [ H(P_p^T x_q, x_j) u_j + grad_x k(P_p^T x_q, x_j) b_j ]        (B x D)
//   E[q] = sum_{j,p} [ w1 (P_p^T x_q - x_j).u_j + k b_j ]                                    (B)
// side: [X; U] of in (in.U must be side.XU's second half), cache: optional weights (then the queries must be
// the training points).
void kernel_sums(const KernelSumInput& in, const StackedTraining& side, const WeightCache* cache, std::int64_t B,
                 const double* Xq, SumWorkspace& ws, double* Z, double* E);

// The row points [first, first + count) whose rows of K a call computes (all points: {0, n}).
struct PointRange {
  std::int64_t first = 0, count = 0;
};

// Dense K (M x M, both triangles); the diagonal blocks of the range's points; and the range's rows of the columns
// K[:, cols] (its force rows, then its energy rows; x count columns): see backend.hpp.
void assemble_kernel(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, bool with_energy,
                     double* K);
void diagonal_blocks(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, bool with_energy,
                     PointRange rows, double* blocks, double* energy_diagonal);
void kernel_columns(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, bool with_energy,
                    PointRange rows, const std::int64_t* cols, std::int64_t count, double* out);

// A model as feature_deltas reads it.
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
FeatureDeltas feature_deltas(const DescriptorLayout& layout, const Lattice& lattice, const FeatureModel& model,
                             std::int64_t B, const double* R, bool with_forces);

}  // namespace fastgdml::cpu
