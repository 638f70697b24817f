// CPU backend: OpenMP loops for the O(n^2 G) elementwise work and the O(n D) gathers, BLAS for the
// O(n^2 G D) products. BLAS is called between the OpenMP loops, never inside them, and runs its jobs on the
// same OpenMP team (linalg::share_threads_with_openmp), so one thread pool serves both.
#include "fastgdml/cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "fastgdml/linalg.hpp"
#include "fastgdml/math/descriptor.hpp"
#include "fastgdml/math/kernel_sum.hpp"
#include "fastgdml/math/matern52.hpp"
#include "permuted_difference.hpp"

namespace fastgdml::cpu {
namespace {

using linalg::Op;

class CpuPrepared : public PreparedTraining {
 public:
  std::int64_t bytes() const override {
    return static_cast<std::int64_t>((x2.size() + XU.size() + t.size() + w1.size() + w2.size() + k.size()) *
                                     sizeof(double));
  }
  bool has_weights() const override { return !w1.empty(); }
  std::vector<double> x2;         // |x_j|^2 (n)
  std::vector<double> XU, t;      // [X; U] (2n x D) and x_j.u_j (n), only with fixed coefficients
  std::vector<double> w1, w2, k;  // (n G) x n Matérn weights of rows r = (i, p); k only with energy rows
};

// |x_j|^2 and x_j.u_j of the training side; [X; U] stacked (2n x D) so that one product gives S = A X^T and
// T = A U^T, and one gives sum_j W_x x_j + W_u u_j.
void stack_training(const KernelSumInput& in, std::vector<double>& XU, std::vector<double>& x2,
                    std::vector<double>& t) {
  const std::int64_t n = in.n, D = in.D;
  XU.resize(2 * n * D);
  x2.resize(n);
  t.resize(n);
  std::copy(in.X, in.X + n * D, XU.begin());
  std::copy(in.U, in.U + n * D, XU.begin() + n * D);
#pragma omp parallel for schedule(static) if (n * D > 32768)
  for (std::int64_t j = 0; j < n; ++j) {
    double a = 0.0, b = 0.0;
    for (std::int64_t m = 0; m < D; ++m) {
      a += in.X[j * D + m] * in.X[j * D + m];
      b += in.X[j * D + m] * in.U[j * D + m];
    }
    x2[j] = a;
    t[j] = b;
  }
}

// |row|^2 of a rows x D matrix.
std::vector<double> row_squared_norms(const double* X, std::int64_t rows, std::int64_t D) {
  std::vector<double> out(rows);
  for (std::int64_t j = 0; j < rows; ++j) {
    double s = 0.0;
    for (std::int64_t m = 0; m < D; ++m) s += X[j * D + m] * X[j * D + m];
    out[j] = s;
  }
  return out;
}

// Rows of one tile in [r0, r0 + rows): A[r] = P_p^T x_q = x_q[inv_p], r = q G + p.
void gather_permuted_queries(const KernelSumInput& in, const double* Xq, std::int64_t r0, std::int64_t rows,
                             double* A) {
  const std::int64_t D = in.D, G = in.G;
#pragma omp parallel for schedule(static) if (rows * D > 32768)
  for (std::int64_t r = 0; r < rows; ++r) {
    const std::int64_t q = (r0 + r) / G, p = (r0 + r) % G;
    const double* x = Xq + q * D;
    const int* inv = in.perm_inv + p * D;
    double* a = A + r * D;
    for (std::int64_t m = 0; m < D; ++m) a[m] = x[inv[m]];
  }
}

// Query rows per tile: bounded temporaries (rows x 2n weights, rows x D products) of about 64 MB.
std::int64_t tile_queries(std::int64_t B, std::int64_t n, std::int64_t D, std::int64_t G) {
  const std::int64_t per_query = G * (2 * n + 2 * D);
  return std::max<std::int64_t>(1, std::min<std::int64_t>(B, (std::int64_t(8) << 20) / per_query));
}

// Temporaries of kernel_sums, kept per thread between calls: a CG iteration reuses ~15 MB (aspirin, n=400)
// that would otherwise be reallocated and zeroed every time (4% of a K v). Per thread so that concurrent
// predictions stay independent.
struct SumWorkspace {
  std::vector<double> A, W, Zp, row_sum, row_energy;
};

double* at_least(std::vector<double>& v, std::int64_t size) {
  if (static_cast<std::int64_t>(v.size()) < size) v.resize(size);
  return v.data();
}

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

}  // namespace

std::string CpuBackend::name() const { return "cpu"; }

void CpuBackend::descriptors(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t M,
                             const double* R, double* X, double* g) const {
  const std::int64_t N = layout.n_atoms(), D = layout.size();
#pragma omp parallel for schedule(static) if (M * D > 4096)
  for (std::int64_t m = 0; m < M; ++m)
    descriptor(R + m * 3 * N, D, layout.pair_a(), layout.pair_b(), lattice.lat(), lattice.lat_inv(), X + m * D,
               g + m * D * 3);
}

std::unique_ptr<PreparedTraining> CpuBackend::prepare(const KernelSumInput& in, const PrepareOptions& options) const {
  const std::int64_t n = in.n, D = in.D, G = in.G;
  auto prep = std::make_unique<CpuPrepared>();
  if (options.fixed_coefficients) {
    stack_training(in, prep->XU, prep->x2, prep->t);
  } else {
    prep->x2 = row_squared_norms(in.X, n, D);
  }
  if (!options.cache_weights) return prep;
  prep->w1.resize(n * G * n);
  prep->w2.resize(n * G * n);
  if (options.with_energy) prep->k.resize(n * G * n);
  const Matern52 kernel(in.sigma);
  const std::int64_t qt = tile_queries(n, n, D, G);
  std::vector<double> A(qt * G * D), S(qt * G * n);
  for (std::int64_t q0 = 0; q0 < n; q0 += qt) {
    const std::int64_t rows = std::min(qt, n - q0) * G, r0 = q0 * G;
    gather_permuted_queries(in, in.X, r0, rows, A.data());
    linalg::gemm(Op::kNoTrans, Op::kTrans, rows, n, D, 1.0, A.data(), D, in.X, D, 0.0, S.data(), n);
#pragma omp parallel for schedule(static) if (rows * n > 16384)
    for (std::int64_t r = 0; r < rows; ++r) {
      const double q2 = prep->x2[(r0 + r) / G];  // |P_p^T x_q| = |x_q|
      for (std::int64_t j = 0; j < n; ++j) {
        const Matern52Weights w = kernel.weights_from_r2(q2 + prep->x2[j] - 2.0 * S[r * n + j]);
        const std::int64_t at = (r0 + r) * n + j;
        prep->w1[at] = w.w1;
        prep->w2[at] = w.w2;
        if (options.with_energy) prep->k[at] = w.k;
      }
    }
  }
  return prep;
}

void CpuBackend::kernel_sums(const KernelSumInput& in, std::int64_t B, const double* Xq,
                             const PreparedTraining* prepared, double* Z, double* E) const {
  const std::int64_t n = in.n, D = in.D, G = in.G;
  const auto* prep = static_cast<const CpuPrepared*>(prepared);
  const CpuPrepared* cached = prep != nullptr && prep->has_weights() ? prep : nullptr;
  const bool has_b = in.b != nullptr;
  if (cached != nullptr && has_b && cached->k.empty())
    throw std::invalid_argument("kernel weights were cached without energy rows but energy coefficients were given");

  std::vector<double> XU_local, x2_local, t_local;
  if (prep == nullptr || prep->XU.empty()) stack_training(in, XU_local, x2_local, t_local);
  const bool fixed = prep != nullptr && !prep->XU.empty();
  const std::vector<double>& XU = fixed ? prep->XU : XU_local;
  const std::vector<double>& x2 = fixed ? prep->x2 : x2_local;
  const std::vector<double>& t = fixed ? prep->t : t_local;
  const std::vector<double> q2 = row_squared_norms(Xq, B, D);

  const Matern52 kernel(in.sigma);
  const std::int64_t qt = tile_queries(B, n, D, G);
  thread_local SumWorkspace ws;
  double* A = at_least(ws.A, qt * G * D);
  double* W = at_least(ws.W, qt * G * 2 * n);
  double* Zp = at_least(ws.Zp, qt * G * D);
  double* row_sum = at_least(ws.row_sum, qt * G);
  double* row_energy = at_least(ws.row_energy, qt * G);
  for (std::int64_t q0 = 0; q0 < B; q0 += qt) {
    const std::int64_t nq = std::min(qt, B - q0), rows = nq * G, r0 = q0 * G;
    gather_permuted_queries(in, Xq, r0, rows, A);
    if (cached != nullptr)  // only T, into the second half of each row
      linalg::gemm(Op::kNoTrans, Op::kTrans, rows, n, D, 1.0, A, D, in.U, D, 0.0, W + n, 2 * n);
    else
      linalg::gemm(Op::kNoTrans, Op::kTrans, rows, 2 * n, D, 1.0, A, D, XU.data(), D, 0.0, W, 2 * n);

#pragma omp parallel for schedule(static) if (rows * n > 16384)
    for (std::int64_t r = 0; r < rows; ++r) {
      double* w_row = W + r * 2 * n;
      const std::int64_t q = (r0 + r) / G;
      double sum = 0.0, energy = 0.0;
      for (std::int64_t j = 0; j < n; ++j) {
        Matern52Weights w;
        if (cached != nullptr) {
          const std::int64_t at = (r0 + r) * n + j;
          w = {cached->w1[at], cached->w2[at], has_b ? cached->k[at] : 0.0};
        } else {
          w = kernel.weights_from_r2(q2[q] + x2[j] - 2.0 * w_row[j]);
        }
        const KernelSumTerms terms = kernel_sum_terms(w, w_row[n + j] - t[j], has_b ? in.b[j] : 0.0);
        w_row[j] = terms.w_x;
        w_row[n + j] = terms.w_u;
        sum -= terms.w_x;
        energy += terms.energy;
      }
      row_sum[r] = sum;
      row_energy[r] = energy;
    }

    linalg::gemm(Op::kNoTrans, Op::kNoTrans, rows, D, 2 * n, 1.0, W, 2 * n, XU.data(), D, 0.0, Zp, D);

    // Z[q] = sum_p P_p (Zp[r] + row_sum[r] A[r]); P_p A[r] = x_q, so the diagonal term needs no gather.
#pragma omp parallel for schedule(static) if (rows * D > 32768)
    for (std::int64_t qi = 0; qi < nq; ++qi) {
      const std::int64_t q = q0 + qi;
      double* z = Z + q * D;
      const double* x = Xq + q * D;
      double total_sum = 0.0, energy = 0.0;
      for (std::int64_t m = 0; m < D; ++m) z[m] = 0.0;
      for (std::int64_t p = 0; p < G; ++p) {
        const std::int64_t r = qi * G + p;
        const int* delta = in.perm + p * D;
        const double* zp = Zp + r * D;
        for (std::int64_t m = 0; m < D; ++m) z[m] += zp[delta[m]];
        total_sum += row_sum[r];
        energy += row_energy[r];
      }
      for (std::int64_t m = 0; m < D; ++m) z[m] += total_sum * x[m];
      E[q] = energy;
    }
  }
}

namespace {

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

void CpuBackend::assemble_kernel(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                                 bool with_energy, double* K) const {
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

void CpuBackend::diagonal_blocks(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                                 bool with_energy, double* blocks, double* energy_diagonal) const {
  const std::int64_t n = in.n, D = in.D, dim = 3 * layout.n_atoms();
  const Matern52 kernel(in.sigma);
#pragma omp parallel
  {
    PairBlock s(D, dim);
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t i = 0; i < n; ++i) {
      pair_block(layout, in, g, kernel, i, i, with_energy, s);
      std::copy(s.block.begin(), s.block.end(), blocks + i * dim * dim);
      if (with_energy) energy_diagonal[i] = s.ee;
    }
  }
}

}  // namespace fastgdml::cpu
