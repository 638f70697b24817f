#include "fastgdml/layout.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

#include "fastgdml/math/descriptor.hpp"

namespace fastgdml {

DescriptorLayout::DescriptorLayout(int n_atoms, const std::vector<std::int64_t>& mask)
    : n_atoms_(n_atoms), masked_(!mask.empty()) {
  if (n_atoms < 2) throw std::invalid_argument("a molecule needs at least 2 atoms, got " + std::to_string(n_atoms));
  const std::int64_t full = static_cast<std::int64_t>(n_atoms) * (n_atoms - 1) / 2;
  feature_of_pair_.assign(full, -1);
  auto add = [&](int a, int b) {
    feature_of_pair_[pair_index(a, b)] = static_cast<std::int64_t>(pair_a_.size());
    pair_a_.push_back(a);
    pair_b_.push_back(b);
  };
  if (!masked_) {
    for (int a = 1; a < n_atoms; ++a)
      for (int b = 0; b < a; ++b) add(a, b);
    return;
  }
  std::int64_t prev = -1;
  for (std::int64_t k : mask) {
    if (k <= prev || k >= full)
      throw std::invalid_argument("feature mask must be strictly increasing indices in [0, " + std::to_string(full) +
                                  "), got " + std::to_string(k) + " after " + std::to_string(prev));
    prev = k;
    // invert k = a(a-1)/2 + b
    int a = static_cast<int>((1.0 + std::sqrt(1.0 + 8.0 * static_cast<double>(k))) / 2.0);
    while (static_cast<std::int64_t>(a) * (a - 1) / 2 > k) --a;
    while (static_cast<std::int64_t>(a + 1) * a / 2 <= k) ++a;
    add(a, static_cast<int>(k - static_cast<std::int64_t>(a) * (a - 1) / 2));
  }
}

std::vector<int> DescriptorLayout::permutation_maps(const std::vector<std::int64_t>& perms) const {
  const std::int64_t N = n_atoms_, D = size();
  if (perms.empty() || perms.size() % N != 0)
    throw std::invalid_argument("perms must have shape (G, " + std::to_string(N) + "), got " +
                                std::to_string(perms.size()) + " entries");
  const std::int64_t G = static_cast<std::int64_t>(perms.size()) / N;
  std::vector<int> maps(G * D);
  std::vector<char> seen(N);
  for (std::int64_t p = 0; p < G; ++p) {
    const std::int64_t* pi = perms.data() + p * N;
    std::fill(seen.begin(), seen.end(), 0);
    for (std::int64_t a = 0; a < N; ++a) {
      if (pi[a] < 0 || pi[a] >= N || seen[pi[a]])
        throw std::invalid_argument("perms[" + std::to_string(p) + "] is not a permutation of 0.." +
                                    std::to_string(N - 1));
      seen[pi[a]] = 1;
    }
    for (std::int64_t k = 0; k < D; ++k) {
      const std::int64_t f = feature_of_pair_[pair_index(pi[pair_a_[k]], pi[pair_b_[k]])];
      if (f < 0)
        throw std::invalid_argument("feature mask is not closed under perms[" + std::to_string(p) +
                                    "]: it keeps pair (" + std::to_string(pair_a_[k]) + ", " +
                                    std::to_string(pair_b_[k]) + ") but not its image; keep whole orbits");
      maps[p * D + k] = static_cast<int>(f);
    }
  }
  return maps;
}

std::vector<int> invert_permutation_maps(const std::vector<int>& maps, std::int64_t D) {
  std::vector<int> inv(maps.size());
  const std::int64_t G = static_cast<std::int64_t>(maps.size()) / D;
  for (std::int64_t p = 0; p < G; ++p)
    for (std::int64_t k = 0; k < D; ++k) inv[p * D + maps[p * D + k]] = static_cast<int>(k);
  return inv;
}

Lattice Lattice::from_matrix(const double* L) {
  Lattice lat;
  lat.present = true;
  for (int i = 0; i < 9; ++i) lat.L[i] = L[i];
  const double a = L[0], b = L[1], c = L[2], d = L[3], e = L[4], f = L[5], g = L[6], h = L[7], i = L[8];
  const double det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  double scale = 0.0;
  for (int k = 0; k < 9; ++k) scale = std::max(scale, std::abs(L[k]));
  if (!(std::abs(det) > 1e-12 * scale * scale * scale))
    throw std::invalid_argument("lattice is singular (det = " + std::to_string(det) + "); its columns must be 3 independent cell vectors");
  const double inv[9] = {e * i - f * h, c * h - b * i, b * f - c * e, f * g - d * i, a * i - c * g,
                         c * d - a * f, d * h - e * g, b * g - a * h, a * e - b * d};
  for (int k = 0; k < 9; ++k) lat.L_inv[k] = inv[k] / det;
  return lat;
}

AtomIncidence atom_incidence(const DescriptorLayout& layout) {
  const int N = layout.n_atoms();
  const std::int64_t D = layout.size();
  std::vector<std::vector<std::pair<std::int64_t, double>>> lists(N);
  for (std::int64_t m = 0; m < D; ++m) {
    lists[layout.pair_a()[m]].push_back({m, -1.0});
    lists[layout.pair_b()[m]].push_back({m, +1.0});
  }
  AtomIncidence inc;
  inc.start.push_back(0);
  for (const auto& l : lists) {
    for (const auto& [m, s] : l) {
      inc.feature.push_back(m);
      inc.sign.push_back(s);
    }
    inc.start.push_back(static_cast<std::int64_t>(inc.feature.size()));
  }
  return inc;
}

}  // namespace fastgdml
