// Which descriptor features exist (all atom pairs, or those a feature mask keeps), and how the molecule's
// permutation group acts on them (FORMATS.md §3.3): for atom permutation pi, delta_pi(k) is the feature of
// pair {pi(a_k), pi(b_k)}, so that desc(R[pi]) = desc(R)[delta_pi] and P_p x := x[delta_p].
#pragma once

#include <cstdint>
#include <vector>

namespace fastgdml {

class DescriptorLayout {
 public:
  // All N(N-1)/2 pairs when mask is empty; otherwise the full-descriptor indices listed (strictly increasing).
  DescriptorLayout(int n_atoms, const std::vector<std::int64_t>& mask = {});

  int n_atoms() const { return n_atoms_; }
  std::int64_t size() const { return static_cast<std::int64_t>(pair_a_.size()); }
  const int* pair_a() const { return pair_a_.data(); }
  const int* pair_b() const { return pair_b_.data(); }
  bool masked() const { return masked_; }

  // Descriptor maps delta_p (G x D) of atom permutations perms (G x N, row-major). Throws
  // std::invalid_argument when a row is not a permutation of 0..N-1 or the mask is not closed under it.
  std::vector<int> permutation_maps(const std::vector<std::int64_t>& perms) const;

 private:
  int n_atoms_;
  bool masked_;
  std::vector<int> pair_a_, pair_b_;
  std::vector<std::int64_t> feature_of_pair_;  // full pair index -> feature index, -1 when masked out
};

// The features touching each atom, in increasing feature order, with the sign of that atom's block in J
// (-1 on a_k, +1 on b_k): J^T w of one atom is sum_e sign[e] w[feature[e]] g[feature[e]] over
// e in [start[atom], start[atom + 1]). Kernel columns (CPU) and J^T (CUDA) walk J by atom with them.
struct AtomIncidence {
  std::vector<std::int64_t> start;    // n_atoms + 1
  std::vector<std::int64_t> feature;  // 2 D
  std::vector<double> sign;           // 2 D
};
AtomIncidence atom_incidence(const DescriptorLayout& layout);

// Inverse maps: inv[p][delta_p[k]] = k, so (P_p^T x)[m] = x[inv_p[m]].
std::vector<int> invert_permutation_maps(const std::vector<int>& maps, std::int64_t D);

// Optional periodic cell: lattice vectors as columns of L (row-major 3x3 storage of L), and L^-1.
struct Lattice {
  bool present = false;
  double L[9] = {0};
  double L_inv[9] = {0};
  const double* lat() const { return present ? L : nullptr; }
  const double* lat_inv() const { return present ? L_inv : nullptr; }
  static Lattice from_matrix(const double* L);  // throws std::invalid_argument when singular
};

}  // namespace fastgdml
