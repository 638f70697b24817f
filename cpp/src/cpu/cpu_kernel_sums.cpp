// Kernel sums on the CPU (DESIGN.md §2): OpenMP loops for the O(n^2 G) elementwise work and the O(n D) gathers,
// BLAS for the O(n^2 G D) products. BLAS is called between the OpenMP loops, never inside them, and runs its jobs
// on the same OpenMP team (linalg::share_threads_with_openmp), so one thread pool serves both.
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "cpu_kernels.hpp"
#include "fastgdml/linalg.hpp"
#include "fastgdml/math/kernel_sum.hpp"
#include "fastgdml/math/matern52.hpp"

namespace fastgdml::cpu {
namespace {

using linalg::Op;

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

double* at_least(std::vector<double>& v, std::int64_t size) {
  if (static_cast<std::int64_t>(v.size()) < size) v.resize(size);
  return v.data();
}

// |row|^2 of a rows x D matrix.
void row_squared_norms(const double* X, std::int64_t rows, std::int64_t D, double* out) {
#pragma omp parallel for schedule(static) if (rows * D > 32768)
  for (std::int64_t j = 0; j < rows; ++j) {
    double s = 0.0;
    for (std::int64_t m = 0; m < D; ++m) s += X[j * D + m] * X[j * D + m];
    out[j] = s;
  }
}

}  // namespace

void stack_training(std::int64_t n, std::int64_t D, const double* X, const double* U, StackedTraining& side) {
  side.XU.resize(2 * n * D);
  side.x2.resize(n);
  side.t.resize(n);
  if (X != side.XU.data()) std::copy(X, X + n * D, side.XU.begin());
  if (U != side.XU.data() + n * D) std::copy(U, U + n * D, side.XU.begin() + n * D);
  row_squared_norms(side.XU.data(), n, D, side.x2.data());
  update_dots(n, D, side);
}

void update_dots(std::int64_t n, std::int64_t D, StackedTraining& side) {
  const double* X = side.XU.data();
  const double* U = X + n * D;
#pragma omp parallel for schedule(static) if (n * D > 32768)
  for (std::int64_t j = 0; j < n; ++j) {
    double b = 0.0;
    for (std::int64_t m = 0; m < D; ++m) b += X[j * D + m] * U[j * D + m];
    side.t[j] = b;
  }
}

WeightCache cache_weights(const KernelSumInput& in, const std::vector<double>& x2, bool with_energy) {
  const std::int64_t n = in.n, D = in.D, G = in.G;
  WeightCache cache;
  cache.w1.resize(n * G * n);
  cache.w2.resize(n * G * n);
  if (with_energy) cache.k.resize(n * G * n);
  const Matern52 kernel(in.sigma);
  const std::int64_t qt = tile_queries(n, n, D, G);
  std::vector<double> A(qt * G * D), S(qt * G * n);
  for (std::int64_t q0 = 0; q0 < n; q0 += qt) {
    const std::int64_t rows = std::min(qt, n - q0) * G, r0 = q0 * G;
    gather_permuted_queries(in, in.X, r0, rows, A.data());
    linalg::gemm(Op::kNoTrans, Op::kTrans, rows, n, D, 1.0, A.data(), D, in.X, D, 0.0, S.data(), n);
#pragma omp parallel for schedule(static) if (rows * n > 16384)
    for (std::int64_t r = 0; r < rows; ++r) {
      const double q2 = x2[(r0 + r) / G];  // |P_p^T x_q| = |x_q|
      for (std::int64_t j = 0; j < n; ++j) {
        const Matern52Weights w = kernel.weights_from_r2(q2 + x2[j] - 2.0 * S[r * n + j]);
        const std::int64_t at = (r0 + r) * n + j;
        cache.w1[at] = w.w1;
        cache.w2[at] = w.w2;
        if (with_energy) cache.k[at] = w.k;
      }
    }
  }
  return cache;
}

void kernel_sums(const KernelSumInput& in, const StackedTraining& side, const WeightCache* cache, std::int64_t B,
                 const double* Xq, SumWorkspace& ws, double* Z, double* E) {
  const std::int64_t n = in.n, D = in.D, G = in.G;
  const WeightCache* cached = cache != nullptr && !cache->empty() ? cache : nullptr;
  const bool has_b = in.b != nullptr;
  if (cached != nullptr && has_b && cached->k.empty())
    throw std::invalid_argument("kernel weights were cached without energy rows but energy coefficients were given");
  const double* XU = side.XU.data();
  const std::vector<double>& x2 = side.x2;
  const std::vector<double>& t = side.t;

  const Matern52 kernel(in.sigma);
  const std::int64_t qt = tile_queries(B, n, D, G);
  double* q2 = at_least(ws.q2, B);
  row_squared_norms(Xq, B, D, q2);
  double* A = at_least(ws.A, qt * G * D);
  double* W = at_least(ws.W, qt * G * 2 * n);
  double* Zp = at_least(ws.Zp, qt * G * D);
  double* row_sum = at_least(ws.row_sum, qt * G);
  double* row_energy = at_least(ws.row_energy, qt * G);
  for (std::int64_t q0 = 0; q0 < B; q0 += qt) {
    const std::int64_t nq = std::min(qt, B - q0), rows = nq * G, r0 = q0 * G;
    gather_permuted_queries(in, Xq, r0, rows, A);
    if (cached != nullptr)  // only T, into the second half of each row
      linalg::gemm(Op::kNoTrans, Op::kTrans, rows, n, D, 1.0, A, D, XU + n * D, D, 0.0, W + n, 2 * n);
    else
      linalg::gemm(Op::kNoTrans, Op::kTrans, rows, 2 * n, D, 1.0, A, D, XU, D, 0.0, W, 2 * n);

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

    linalg::gemm(Op::kNoTrans, Op::kNoTrans, rows, D, 2 * n, 1.0, W, 2 * n, XU, D, 0.0, Zp, D);

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

}  // namespace fastgdml::cpu
