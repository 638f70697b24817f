// The CUDA kernels of cuda/ run on the CPU (cuda/emulation/cuda_on_cpu.hpp) against independent references:
// descriptors and Jacobians against the shared math run serially, each kernel-sum step against a direct loop, and
// the whole pipeline (descriptors, J v, gathers, the weights step with its shared-memory reduction, the scatter
// over permutations, J^T) with host GEMMs in place of cuBLAS against a direct evaluation of the kernel sums:
//   Z[q] = sum_p P_p sum_j [w1 u_j - (w2 s + w1 b_j)(P_p^T x_q - x_j)],  E[q] = sum_{j,p} (w1 s + k b_j).
// With FASTGDML_WITH_CORE the pipeline's K v is also compared with the CPU backend's. Built three ways by CMake
// (plain, -fsanitize=thread, -fsanitize=address): the sanitizer builds need no OpenMP or BLAS (layout.cpp only).
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "../../cuda/descriptor_kernels.cu"
#include "../../cuda/kernel_columns.cu"
#include "../../cuda/kernel_sums.cu"
#include "checks.hpp"
#include "fastgdml/column_groups.hpp"
#include "fastgdml/layout.hpp"
#ifdef FASTGDML_WITH_CORE
#include "fastgdml/kernel_operator.hpp"
#include "fastgdml/predictor.hpp"
#endif

namespace {

using namespace fastgdml;

using testing::check_close;

// C (m x n) = A (m x k) B^T (n x k) or A B (k x n): the host stand-ins of cuBLAS.
void gemm_abt(std::int64_t m, std::int64_t n, std::int64_t k, const double* A, const double* B, double* C) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::int64_t l = 0; l < k; ++l) s += A[i * k + l] * B[j * k + l];
      C[i * n + j] = s;
    }
}
void gemm_ab(std::int64_t m, std::int64_t n, std::int64_t k, const double* A, const double* B, double* C) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (std::int64_t l = 0; l < k; ++l) s += A[i * k + l] * B[l * n + j];
      C[i * n + j] = s;
    }
}

struct Case {
  std::string name;
  int N;
  std::vector<std::int64_t> mask;   // empty: all pairs
  std::vector<std::int64_t> perms;  // G x N
  std::int64_t n, B;                // training points, queries
  bool energy;
};

std::vector<double> geometries(std::int64_t M, int N, std::uint64_t seed) {
  return testing::chain_geometries(M, N, seed, 1.2, 0.8, 3, 0.15);
}

void run_case(const Case& cs) {
  const DescriptorLayout layout(cs.N, cs.mask);
  const std::int64_t D = layout.size(), n = cs.n, B = cs.B, N = cs.N;
  const std::vector<int> perm = layout.permutation_maps(cs.perms), perm_inv = invert_permutation_maps(perm, D);
  const int G = static_cast<int>(perm.size() / D);
  const double sigma = 1.3;
  std::mt19937_64 rng(7);
  std::normal_distribution<double> normal;

  // Descriptors of the training points and the queries, against the serial math.
  const std::vector<double> R = geometries(n, cs.N, 1), Rq = geometries(B, cs.N, 2);
  std::vector<double> X(n * D), g(n * D * 3), Xq(B * D), gq(B * D * 3);
  cuda::launch_descriptors(R.data(), n, cs.N, D, layout.pair_a(), layout.pair_b(), nullptr, nullptr, X.data(),
                           g.data(), nullptr);
  cuda::launch_descriptors(Rq.data(), B, cs.N, D, layout.pair_a(), layout.pair_b(), nullptr, nullptr, Xq.data(),
                           gq.data(), nullptr);
  std::vector<double> X_ref(n * D), g_ref(n * D * 3);
  for (std::int64_t m = 0; m < n; ++m)
    descriptor(R.data() + m * 3 * N, D, layout.pair_a(), layout.pair_b(), nullptr, nullptr, X_ref.data() + m * D,
               g_ref.data() + m * D * 3);
  check_close(X, X_ref, 0.0, cs.name + ": descriptors");
  check_close(g, g_ref, 0.0, cs.name + ": Jacobians");

  // U = J v of per-point Cartesian vectors, and the energy coefficients b.
  std::vector<double> v(n * 3 * N), b(cs.energy ? n : 0), U(n * D), U_ref(n * D);
  for (double& x : v) x = normal(rng);
  for (double& x : b) x = normal(rng);
  cuda::launch_jacobian_rows(g.data(), n, D, cs.N, layout.pair_a(), layout.pair_b(), v.data(), U.data(), nullptr);
  for (std::int64_t j = 0; j < n; ++j)
    jacobian_dot(g_ref.data() + j * D * 3, D, layout.pair_a(), layout.pair_b(), v.data() + j * 3 * N,
                 U_ref.data() + j * D);
  check_close(U, U_ref, 0.0, cs.name + ": J v");

  // The pipeline for queries Xq: [X; U] stacked, norms and dots, gather, GEMM, weights, GEMM, scatter.
  std::vector<double> XU(2 * n * D), x2(n), t(n), q2(B);
  std::copy(X.begin(), X.end(), XU.begin());
  std::copy(U.begin(), U.end(), XU.begin() + n * D);
  cuda::launch_row_dots(X.data(), X.data(), n, D, x2.data(), nullptr);
  cuda::launch_row_dots(X.data(), U.data(), n, D, t.data(), nullptr);
  cuda::launch_row_dots(Xq.data(), Xq.data(), B, D, q2.data(), nullptr);
  const std::int64_t rows = B * G;
  std::vector<double> A(rows * D), W(rows * 2 * n), row_sum(rows), row_energy(rows), Zp(rows * D), Z(B * D), E(B);
  cuda::launch_gather_permuted(Xq.data(), D, G, perm_inv.data(), 0, rows, A.data(), nullptr);
  gemm_abt(rows, 2 * n, D, A.data(), XU.data(), W.data());
  cuda::launch_kernel_weights(rows, 0, G, n, sigma, q2.data(), x2.data(), t.data(), cs.energy ? b.data() : nullptr,
                              W.data(), row_sum.data(), row_energy.data(), nullptr);
  gemm_ab(rows, D, 2 * n, W.data(), XU.data(), Zp.data());
  cuda::launch_scatter_permutations(0, B, D, G, perm.data(), Zp.data(), row_sum.data(), row_energy.data(), Xq.data(),
                                    Z.data(), E.data(), nullptr);

  // Direct evaluation of the same sums.
  std::vector<double> Z_ref(B * D, 0.0), E_ref(B, 0.0), a(D);
  const Matern52 kernel(sigma);
  for (std::int64_t q = 0; q < B; ++q)
    for (int p = 0; p < G; ++p) {
      for (std::int64_t m = 0; m < D; ++m) a[m] = Xq[q * D + perm_inv[p * D + m]];  // P_p^T x_q
      std::vector<double> zp(D, 0.0);
      for (std::int64_t j = 0; j < n; ++j) {
        double r2 = 0.0, s = 0.0;
        for (std::int64_t m = 0; m < D; ++m) {
          const double d = a[m] - X[j * D + m];
          r2 += d * d;
          s += d * U[j * D + m];
        }
        const Matern52Weights w = kernel.weights_from_r2(r2);
        const double bj = cs.energy ? b[j] : 0.0;
        for (std::int64_t m = 0; m < D; ++m)
          zp[m] += w.w1 * U[j * D + m] - (w.w2 * s + w.w1 * bj) * (a[m] - X[j * D + m]);
        E_ref[q] += w.w1 * s + w.k * bj;
      }
      for (std::int64_t m = 0; m < D; ++m) Z_ref[q * D + m] += zp[perm[p * D + m]];  // P_p zp
    }
  check_close(Z, Z_ref, 1e-11, cs.name + ": kernel sums Z (G = " + std::to_string(G) + ")");
  check_close(E, E_ref, 1e-11, cs.name + ": kernel sums E");

  // J^T Z through the atom incidence lists, against jacobian_t_dot.
  const AtomIncidence inc = atom_incidence(layout);
  std::vector<double> F(B * 3 * N), F_ref(B * 3 * N);
  cuda::launch_jacobian_t(gq.data(), B, D, cs.N, inc.start.data(), inc.feature.data(), inc.sign.data(), Z.data(),
                          F.data(), nullptr);
  for (std::int64_t q = 0; q < B; ++q)
    jacobian_t_dot(gq.data() + q * D * 3, D, layout.pair_a(), layout.pair_b(), Z.data() + q * D, cs.N,
                   F_ref.data() + q * 3 * N);
  check_close(F, F_ref, 0.0, cs.name + ": J^T Z");

  // K v of the emulated pipeline (queries = training points, b = the energy part of v): the reference for the
  // kernel columns (K e_c is column c) in every build.
  const std::int64_t M = n * 3 * N + (cs.energy ? n : 0);
  auto emulated_matvec = [&](const std::vector<double>& vin) {
    std::vector<double> Uv(n * D), XUv(2 * n * D), tv(n), out(M, 0.0);
    cuda::launch_jacobian_rows(g.data(), n, D, cs.N, layout.pair_a(), layout.pair_b(), vin.data(), Uv.data(), nullptr);
    std::copy(X.begin(), X.end(), XUv.begin());
    std::copy(Uv.begin(), Uv.end(), XUv.begin() + n * D);
    cuda::launch_row_dots(X.data(), Uv.data(), n, D, tv.data(), nullptr);
    const std::int64_t rn = n * G;
    std::vector<double> An(rn * D), Wn(rn * 2 * n), rs(rn), re(rn), Zpn(rn * D), Zn(n * D), En(n);
    cuda::launch_gather_permuted(X.data(), D, G, perm_inv.data(), 0, rn, An.data(), nullptr);
    gemm_abt(rn, 2 * n, D, An.data(), XUv.data(), Wn.data());
    cuda::launch_kernel_weights(rn, 0, G, n, sigma, x2.data(), x2.data(), tv.data(),
                                cs.energy ? vin.data() + n * 3 * N : nullptr, Wn.data(), rs.data(), re.data(), nullptr);
    gemm_ab(rn, D, 2 * n, Wn.data(), XUv.data(), Zpn.data());
    cuda::launch_scatter_permutations(0, n, D, G, perm.data(), Zpn.data(), rs.data(), re.data(), X.data(), Zn.data(),
                                      En.data(), nullptr);
    cuda::launch_jacobian_t(g.data(), n, D, cs.N, inc.start.data(), inc.feature.data(), inc.sign.data(), Zn.data(),
                            out.data(), nullptr);
    if (cs.energy) std::copy(En.begin(), En.end(), out.begin() + n * 3 * N);
    return out;
  };
  if (n <= 12) {  // without the core each reference column is one emulated K v: the small cases only
    // columns of two points (one with its energy column), not contiguous
    std::vector<std::int64_t> cols = {1, 3, 4, 3 * N * 2 + 5, 3 * N * 2 + 3 * N - 1};
    if (cs.energy) cols.push_back(n * 3 * N + 2);
    const ColumnGroups groups = group_columns(cols.data(), static_cast<std::int64_t>(cols.size()), n, cs.N, cs.energy);
    cuda::TrainingKernelData td;
    td.D = D;
    td.n_atoms = cs.N;
    td.G = G;
    td.sigma = sigma;
    td.X = X.data();
    td.g = g.data();
    td.perm = perm.data();
    td.perm_inv = perm_inv.data();
    td.pair_a = layout.pair_a();
    td.pair_b = layout.pair_b();
    td.inc_start = inc.start.data();
    td.inc_feature = inc.feature.data();
    td.inc_sign = inc.sign.data();
    const std::int64_t C = static_cast<std::int64_t>(cols.size());
    std::vector<double> KC(M * C, 7.0), KC_ref(M * C);  // 7: every entry must be overwritten
    cuda::launch_kernel_columns(td, 0, n, cs.energy, groups.size(), groups.point.data(), groups.start.data(),
                                groups.force_col.data(), groups.force_slot.data(), groups.energy_slot.data(), C,
                                KC.data(), nullptr);
#ifdef FASTGDML_WITH_CORE
    {  // the CPU backend's columns
      KernelOptions options;
      options.sigma = sigma;
      options.use_energy = cs.energy;
      const KernelOperator K(layout, Lattice{}, n, R.data(), cs.perms, options);
      K.columns(cols, KC_ref.data());
    }
#else
    for (std::int64_t s = 0; s < C; ++s) {  // K e_c of the emulated kernel sums
      std::vector<double> e(M, 0.0);
      e[cols[s]] = 1.0;
      const std::vector<double> col = emulated_matvec(e);
      for (std::int64_t r = 0; r < M; ++r) KC_ref[r * C + s] = col[r];
    }
#endif
    check_close(KC, KC_ref, 1e-11, cs.name + ": kernel columns (reference: " +
#ifdef FASTGDML_WITH_CORE
                "the CPU backend's)");
#else
                "K e_c of the emulated kernel sums)");
#endif
    // diagonal blocks: K[F_i, F_i] and K[E_i, E_i] from the same columns of every point
    const std::int64_t dim = 3 * N;
    std::vector<std::int64_t> all(dim);
    for (std::int64_t c = 0; c < dim; ++c) all[c] = c;
    std::vector<double> blocks(n * dim * dim, 7.0), ediag(n, 7.0), blocks_ref(n * dim * dim), ediag_ref(n);
    cuda::launch_diagonal_blocks(td, 0, n, all.data(), blocks.data(), cs.energy ? ediag.data() : nullptr, nullptr);
    // reference: the kernel-column kernel (checked above) for all columns of point i, read in i's rows
    for (std::int64_t i = 0; i < std::min<std::int64_t>(n, 3); ++i) {
      std::vector<std::int64_t> own(dim);
      for (std::int64_t c = 0; c < dim; ++c) own[c] = i * dim + c;
      if (cs.energy) own.push_back(n * dim + i);
      const ColumnGroups gi = group_columns(own.data(), static_cast<std::int64_t>(own.size()), n, cs.N, cs.energy);
      const std::int64_t Ci = static_cast<std::int64_t>(own.size());
      std::vector<double> Ki(M * Ci);
      cuda::launch_kernel_columns(td, 0, n, cs.energy, gi.size(), gi.point.data(), gi.start.data(), gi.force_col.data(),
                                  gi.force_slot.data(), gi.energy_slot.data(), Ci, Ki.data(), nullptr);
      for (std::int64_t r = 0; r < dim; ++r)
        for (std::int64_t c = 0; c < dim; ++c) blocks_ref[(i * dim + r) * dim + c] = Ki[(i * dim + r) * Ci + c];
      if (cs.energy) ediag_ref[i] = Ki[(n * dim + i) * Ci + dim];
    }
    const std::int64_t checked = std::min<std::int64_t>(n, 3);
    check_close(std::vector<double>(blocks.begin(), blocks.begin() + checked * dim * dim),
                std::vector<double>(blocks_ref.begin(), blocks_ref.begin() + checked * dim * dim), 1e-11,
                cs.name + ": diagonal blocks K[F_i, F_i]");
    if (cs.energy)
      check_close(std::vector<double>(ediag.begin(), ediag.begin() + checked),
                  std::vector<double>(ediag_ref.begin(), ediag_ref.begin() + checked), 1e-11,
                  cs.name + ": energy diagonal K[E_i, E_i]");
  }

#ifdef FASTGDML_WITH_CORE
  // The pipeline as K v (queries = training points, b = the energy part of v) against the CPU backend.
  {
    std::vector<double> vv(n * 3 * N + (cs.energy ? n : 0));
    std::copy(v.begin(), v.end(), vv.begin());
    std::copy(b.begin(), b.end(), vv.begin() + n * 3 * N);
    KernelOptions options;
    options.sigma = sigma;
    options.use_energy = cs.energy;
    const KernelOperator K(layout, Lattice{}, n, R.data(), cs.perms, options);
    std::vector<double> Kv(K.size());
    K.matvec(vv.data(), Kv.data());
    // the emulated pipeline on the training points
    const std::int64_t rows_n = n * G;
    std::vector<double> An(rows_n * D), Wn(rows_n * 2 * n), rs(rows_n), re(rows_n), Zpn(rows_n * D), Zn(n * D), En(n);
    cuda::launch_gather_permuted(X.data(), D, G, perm_inv.data(), 0, rows_n, An.data(), nullptr);
    gemm_abt(rows_n, 2 * n, D, An.data(), XU.data(), Wn.data());
    cuda::launch_kernel_weights(rows_n, 0, G, n, sigma, x2.data(), x2.data(), t.data(), cs.energy ? b.data() : nullptr,
                                Wn.data(), rs.data(), re.data(), nullptr);
    gemm_ab(rows_n, D, 2 * n, Wn.data(), XU.data(), Zpn.data());
    cuda::launch_scatter_permutations(0, n, D, G, perm.data(), Zpn.data(), rs.data(), re.data(), X.data(), Zn.data(),
                                      En.data(), nullptr);
    std::vector<double> Kv_cuda(K.size());
    cuda::launch_jacobian_t(g.data(), n, D, cs.N, inc.start.data(), inc.feature.data(), inc.sign.data(), Zn.data(),
                            Kv_cuda.data(), nullptr);
    if (cs.energy) std::copy(En.begin(), En.end(), Kv_cuda.begin() + n * 3 * N);
    check_close(Kv_cuda, Kv, 1e-11, cs.name + ": K v of the emulated kernels = the CPU backend's");
  }
  // A model with coefficients V = U, b: the emulated prediction (E, F, dE/dstrain) against the CPU backend's.
  {
    ModelData model;
    model.X = X;
    model.V = U;
    model.b = b;
    model.perms = cs.perms;
    model.sigma = sigma;
    model.std = 1.7;
    model.c = -3.0;
    const Predictor cpu(layout, Lattice{}, model, "cpu");
    std::vector<double> E_cpu(B), F_cpu(B * 3 * N), S_cpu(B * 9);
    cpu.predict(B, Rq.data(), E_cpu.data(), F_cpu.data(), S_cpu.data());
    std::vector<double> E_gpu = E, F_gpu = F, S_gpu(B * 9);  // Z, E of the queries and F = J^T Z from above
    cuda::launch_finish_prediction(B, D, cs.N, model.std, model.c, Xq.data(), gq.data(), Z.data(), E_gpu.data(),
                                   F_gpu.data(), S_gpu.data(), nullptr);
    check_close(E_gpu, E_cpu, 1e-11, cs.name + ": predicted energies = the CPU backend's");
    check_close(F_gpu, F_cpu, 1e-11, cs.name + ": predicted forces = the CPU backend's");
    check_close(S_gpu, S_cpu, 1e-11, cs.name + ": dE/dstrain = the CPU backend's");
  }
#endif
}

}  // namespace

int main() {
  // Toy molecule of 6 atoms; the group swaps atoms 4 and 5 (G = 2) or also 1 and 2 (G = 4).
  const std::vector<std::int64_t> id = {0, 1, 2, 3, 4, 5}, swap45 = {0, 1, 2, 3, 5, 4}, swap12 = {0, 2, 1, 3, 4, 5},
                                   both = {0, 2, 1, 3, 5, 4};
  std::vector<std::int64_t> g2 = id, g4 = id;
  g2.insert(g2.end(), swap45.begin(), swap45.end());
  for (const auto* p : {&swap45, &swap12, &both}) g4.insert(g4.end(), p->begin(), p->end());
  // a mask closed under the G = 2 group: drop pair (5, 4) and the orbit {(1, 0)}
  const std::vector<std::int64_t> mask = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};
  const std::vector<Case> cases = {
      {"identity", 6, {}, id, 9, 5, false},
      {"G=2 with energies", 6, {}, g2, 7, 4, true},
      {"G=4, 150 training points (several blocks, rows longer than a block)", 6, {}, g4, 150, 3, true},
      {"masked, G=2", 6, mask, g2, 6, 3, true},
  };
  try {
    for (const Case& c : cases) run_case(c);
  } catch (const std::exception& e) {
    std::printf("FAIL uncaught exception: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %d failure(s)\n", testing::failures == 0 ? "passed" : "FAILED", testing::failures);
  return testing::failures == 0 ? 0 : 1;
}
