// Dense kernel blocks on the CPU: the whole K (closed-form training) and its diagonal blocks (block-Jacobi), per
// (i, j) pair of training points with the sparse Jacobians (two atoms per descriptor row).
#include <algorithm>
#include <vector>

#include "cpu_kernels.hpp"
#include "fastgdml/math/descriptor.hpp"
#include "fastgdml/math/matern52.hpp"
#include "permuted_difference.hpp"

namespace fastgdml::cpu {
namespace {

// K[c][r] = K[r][c] for r > c, in square tiles so that reads and writes both stay in cache.
void mirror_lower_triangle(std::int64_t M, double* K) {
  constexpr std::int64_t kTile = 64;
  const std::int64_t tiles = (M + kTile - 1) / kTile;
#pragma omp parallel for schedule(dynamic, 1)
  for (std::int64_t tr = 0; tr < tiles; ++tr)
    for (std::int64_t tc = 0; tc <= tr; ++tc)
      for (std::int64_t r = tr * kTile; r < std::min(M, (tr + 1) * kTile); ++r)
        for (std::int64_t c = tc * kTile; c < std::min(r, (tc + 1) * kTile); ++c) K[c * M + r] = K[r * M + c];
}


// Scratch and results of one (i, j) pair of training points: the 3N x 3N force block K[F_i, F_j], the energy
// couplings fe = Cov(F_i, -E_j), ef = Cov(-E_i, F_j) and ee = Cov(-E_i, -E_j).
struct PairBlock {
  explicit PairBlock(std::int64_t D, std::int64_t dim)
      : d(D), pd(D), alpha(dim), beta(dim), block(dim * dim), fe(dim), ef(dim) {}
  std::vector<double> d, pd, alpha, beta, block, fe, ef;
  double ee = 0.0;
};

void pair_block(const DescriptorLayout& layout, const KernelSumInput& in, const double* g, const Matern52& kernel,
                std::int64_t i, std::int64_t j, bool with_energy, PairBlock& s) {
  const std::int64_t D = in.D, G = in.G, N = layout.n_atoms(), dim = 3 * N;
  const int* pa = layout.pair_a();
  const int* pb = layout.pair_b();
  const double* xi = in.X + i * D;
  const double* gi = g + i * D * 3;
  const double* xj = in.X + j * D;
  const double* gj = g + j * D * 3;
  std::fill(s.block.begin(), s.block.end(), 0.0);
  std::fill(s.fe.begin(), s.fe.end(), 0.0);
  std::fill(s.ef.begin(), s.ef.end(), 0.0);
  s.ee = 0.0;
  for (std::int64_t p = 0; p < G; ++p) {
    const int* inv = in.perm_inv + p * D;
    const Matern52Weights w = permuted_difference(xi, xj, in.perm + p * D, inv, D, kernel, s.d.data(), s.pd.data());
    // alpha = J_i^T (P_p d~), beta = J_j^T d~
    jacobian_t_dot(gi, D, pa, pb, s.pd.data(), static_cast<int>(N), s.alpha.data());
    jacobian_t_dot(gj, D, pa, pb, s.d.data(), static_cast<int>(N), s.beta.data());
    // w1 (P_p^T J_i)^T J_j: row m of P_p^T J_i is row inv[m] of J_i; 4 signed 3x3 outer products per row
    for (std::int64_t m = 0; m < D; ++m) {
      const std::int64_t k = inv[m];
      const double a0 = w.w1 * gi[3 * k], a1 = w.w1 * gi[3 * k + 1], a2 = w.w1 * gi[3 * k + 2];
      const double* h = gj + 3 * m;
      const double o[9] = {a0 * h[0], a0 * h[1], a0 * h[2], a1 * h[0], a1 * h[1],
                           a1 * h[2], a2 * h[0], a2 * h[1], a2 * h[2]};
      const std::int64_t ra = 3 * pa[k], rb = 3 * pb[k], ca = 3 * pa[m], cb = 3 * pb[m];
      for (int c = 0; c < 3; ++c)
        for (int c2 = 0; c2 < 3; ++c2) {
          const double v = o[3 * c + c2];
          s.block[(rb + c) * dim + cb + c2] += v;
          s.block[(ra + c) * dim + ca + c2] += v;
          s.block[(rb + c) * dim + ca + c2] -= v;
          s.block[(ra + c) * dim + cb + c2] -= v;
        }
    }
    for (std::int64_t r = 0; r < dim; ++r)
      for (std::int64_t c = 0; c < dim; ++c) s.block[r * dim + c] -= w.w2 * s.alpha[r] * s.beta[c];
    if (with_energy) {
      for (std::int64_t r = 0; r < dim; ++r) {
        s.fe[r] -= w.w1 * s.alpha[r];  // Cov(F_i, -E_j) = J_i^T grad_x k_sym
        s.ef[r] += w.w1 * s.beta[r];   // Cov(-E_i, F_j)
      }
      s.ee += w.k;
    }
  }
}

}  // namespace

void assemble_kernel(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                     bool with_energy, double* K) {
  const std::int64_t n = in.n, D = in.D, dim = 3 * layout.n_atoms();
  const std::int64_t nF = n * dim, M = nF + (with_energy ? n : 0);
  const Matern52 kernel(in.sigma);
#pragma omp parallel
  {
    PairBlock s(D, dim);
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t i = n - 1; i >= 0; --i) {  // longest rows first
      for (std::int64_t j = 0; j <= i; ++j) {
        pair_block(layout, in, g, kernel, i, j, with_energy, s);
        // Lower triangle only (row-major, rows >= columns); mirrored below in cache-friendly tiles.
        for (std::int64_t r = 0; r < dim; ++r)
          std::copy(s.block.begin() + r * dim, s.block.begin() + (r + 1) * dim, K + (i * dim + r) * M + j * dim);
        if (with_energy) {
          std::copy(s.ef.begin(), s.ef.end(), K + (nF + i) * M + j * dim);  // Cov(-E_i, F_j)
          if (i != j) std::copy(s.fe.begin(), s.fe.end(), K + (nF + j) * M + i * dim);  // Cov(F_i, -E_j)^T
          K[(nF + i) * M + nF + j] = s.ee;
        }
      }
    }
  }
  mirror_lower_triangle(M, K);
}

void diagonal_blocks(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                     bool with_energy, PointRange rows, double* blocks, double* energy_diagonal) {
  const std::int64_t D = in.D, dim = 3 * layout.n_atoms();
  const Matern52 kernel(in.sigma);
#pragma omp parallel
  {
    PairBlock s(D, dim);
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t l = 0; l < rows.count; ++l) {
      const std::int64_t i = rows.first + l;
      pair_block(layout, in, g, kernel, i, i, with_energy, s);
      std::copy(s.block.begin(), s.block.end(), blocks + l * dim * dim);
      if (with_energy) energy_diagonal[l] = s.ee;
    }
  }
}

}  // namespace fastgdml::cpu
