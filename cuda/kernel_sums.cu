// The hand-written steps of the CUDA kernel sums (DESIGN.md §2) around the two GEMMs cuBLAS runs:
//
//   U = J v                      jacobian_rows          (n x D)        one thread per (point, feature)
//   |x_j|^2, x_j.u_j             row_dots               (n)            one thread per row
//   A = rows P_p^T x_q           gather_permuted        (BG x D)       one thread per entry
//   [S | T] = A [X; U]^T         cuBLAS DGEMM
//   [S | T] -> [W_x | W_u], rho  kernel_weights         (BG x 2n)      one block per row, a shared-memory reduction
//   Zp = [W_x | W_u] [X; U]      cuBLAS DGEMM
//   Z, E = scatter over p        scatter_permutations   (B x D)        one thread per entry
//   out = J^T Z                  jacobian_t             (n x 3N)       one thread per (point, atom)
//   E, F, dE/dstrain of a model  finish_prediction      (B)            one thread per query
//
// The per-element math is the shared headers' (math/matern52.hpp, kernel_sum.hpp, descriptor.hpp): the code the
// CPU backend runs. Compiled by nvcc for the GPU and, in the tests, as C++ on the CPU (launch.cuh). All pointers
// are device pointers; arrays are row-major float64.
#include <cstdint>

#include "fastgdml/math/descriptor.hpp"
#include "fastgdml/math/kernel_sum.hpp"
#include "fastgdml/math/matern52.hpp"
#include "fastgdml/math/strain.hpp"
#include "block_reduce.cuh"
#include "kernel_sums.cuh"

namespace fastgdml::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kRowThreads = 128;  // threads of one kernel_weights block (a power of two: tree reduction)

__global__ void jacobian_rows_kernel(const double* __restrict__ g, std::int64_t n, std::int64_t D, int n_atoms,
                                     const int* __restrict__ pair_a, const int* __restrict__ pair_b,
                                     const double* __restrict__ v, double* __restrict__ U) {
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < n * D;
       t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t j = t / D, k = t % D;
    const double* vj = v + j * 3 * n_atoms;
    U[t] = jacobian_entry(g + 3 * t, vj + 3 * pair_a[k], vj + 3 * pair_b[k]);
  }
}

__global__ void gather_permuted_kernel(const double* __restrict__ Xq, std::int64_t D, int G,
                                       const int* __restrict__ perm_inv, std::int64_t r0, std::int64_t rows,
                                       double* __restrict__ A) {
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < rows * D;
       t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t r = t / D, m = t % D, q = (r0 + r) / G, p = (r0 + r) % G;
    A[t] = Xq[q * D + perm_inv[p * D + m]];
  }
}

__global__ void row_dots_kernel(const double* __restrict__ X, const double* __restrict__ Y, std::int64_t rows,
                                std::int64_t D, double* __restrict__ out) {
  for (std::int64_t r = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; r < rows;
       r += std::int64_t(gridDim.x) * blockDim.x) {
    double s = 0.0;
    for (std::int64_t m = 0; m < D; ++m) s += X[r * D + m] * Y[r * D + m];
    out[r] = s;
  }
}

// Row r (query q = (r0 + r) / G): W[r] = [S | T] on entry, [W_x | W_u] on exit; row_sum[r] = -sum_j W_x,
// row_energy[r] = sum_j (w1 s + k b_j). Each thread takes every kRowThreads-th j; the block adds the partial sums
// in shared memory.
__global__ void kernel_weights_kernel(std::int64_t rows, std::int64_t r0, int G, std::int64_t n, double sigma,
                                      const double* __restrict__ q2, const double* __restrict__ x2,
                                      const double* __restrict__ t, const double* __restrict__ b,
                                      double* __restrict__ W, double* __restrict__ row_sum,
                                      double* __restrict__ row_energy) {
  __shared__ double sums[kRowThreads], energies[kRowThreads];
  const Matern52 kernel(sigma);
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    double* w_row = W + r * 2 * n;
    const double qq = q2[(r0 + r) / G];
    double sum = 0.0, energy = 0.0;
    for (std::int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const Matern52Weights w = kernel.weights_from_r2(qq + x2[j] - 2.0 * w_row[j]);
      const KernelSumTerms terms = kernel_sum_terms(w, w_row[n + j] - t[j], b != nullptr ? b[j] : 0.0);
      w_row[j] = terms.w_x;
      w_row[n + j] = terms.w_u;
      sum -= terms.w_x;
      energy += terms.energy;
    }
    block_sum2(sum, energy, sums, energies);
    if (threadIdx.x == 0) {
      row_sum[r] = sum;
      row_energy[r] = energy;
    }
  }
}

// Z[q] = sum_p P_p Zp[r] + (sum_p row_sum[r]) x_q with (P_p z)[m] = z[delta_p[m]], r = (q - q0) G + p;
// E[q] = sum_p row_energy[r].
__global__ void scatter_permutations_kernel(std::int64_t q0, std::int64_t nq, std::int64_t D, int G,
                                            const int* __restrict__ perm, const double* __restrict__ Zp,
                                            const double* __restrict__ row_sum, const double* __restrict__ row_energy,
                                            const double* __restrict__ Xq, double* __restrict__ Z,
                                            double* __restrict__ E) {
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < nq * D;
       t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t qi = t / D, m = t % D, q = q0 + qi;
    double z = 0.0, total = 0.0, energy = 0.0;
    for (int p = 0; p < G; ++p) {
      const std::int64_t r = qi * G + p;
      z += Zp[r * D + perm[p * D + m]];
      total += row_sum[r];
      energy += row_energy[r];
    }
    Z[q * D + m] = z + total * Xq[q * D + m];
    if (m == 0) E[q] = energy;
  }
}

// out[i, a] = sum over the features k touching atom a of sign * Z[i, k] g[i, k] (sign -1 on a_k, +1 on b_k):
// J_i^T Z_i, one thread per (point, atom), the features of an atom in increasing k (the CPU's order).
__global__ void jacobian_t_kernel(const double* __restrict__ g, std::int64_t n, std::int64_t D, int n_atoms,
                                  const std::int64_t* __restrict__ start, const std::int64_t* __restrict__ feature,
                                  const double* __restrict__ sign, const double* __restrict__ Z,
                                  double* __restrict__ out) {
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < n * n_atoms;
       t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t i = t / n_atoms, a = t % n_atoms;
    double o[3] = {0.0, 0.0, 0.0};
    for (std::int64_t e = start[a]; e < start[a + 1]; ++e) {
      const std::int64_t k = feature[e];
      const double w = sign[e] * Z[i * D + k];
      for (int c = 0; c < 3; ++c) o[c] += w * g[(i * D + k) * 3 + c];
    }
    for (int c = 0; c < 3; ++c) out[i * 3 * n_atoms + 3 * a + c] = o[c];
  }
}

// A prediction from its kernel sums: F = scale J^T Z is jacobian_t's output times scale (= -std), E = std E + c,
// and optionally dE/dstrain (B x 9) from the descriptors, Jacobians and Z (math/strain.hpp).
__global__ void finish_prediction_kernel(std::int64_t B, std::int64_t D, int n_atoms, double std_, double c,
                                         const double* __restrict__ Xq, const double* __restrict__ gq,
                                         const double* __restrict__ Z, double* __restrict__ E, double* __restrict__ F,
                                         double* __restrict__ dE_dstrain) {
  for (std::int64_t q = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; q < B;
       q += std::int64_t(gridDim.x) * blockDim.x) {
    for (int k = 0; k < 3 * n_atoms; ++k) F[q * 3 * n_atoms + k] *= -std_;
    E[q] = std_ * E[q] + c;
    if (dE_dstrain != nullptr) strain_derivative(D, Xq + q * D, gq + q * D * 3, Z + q * D, -std_, dE_dstrain + q * 9);
  }
}

}  // namespace

void launch_finish_prediction(std::int64_t B, std::int64_t D, int n_atoms, double std_, double c, const double* Xq,
                              const double* gq, const double* Z, double* E, double* F, double* dE_dstrain,
                              cudaStream_t stream) {
  FASTGDML_LAUNCH(finish_prediction_kernel, blocks_for(B, 64), 64, stream, B, D, n_atoms, std_, c, Xq, gq, Z, E, F,
                  dE_dstrain);
}

void launch_jacobian_rows(const double* g, std::int64_t n, std::int64_t D, int n_atoms, const int* pair_a,
                          const int* pair_b, const double* v, double* U, cudaStream_t stream) {
  FASTGDML_LAUNCH(jacobian_rows_kernel, blocks_for(n * D, kThreads), kThreads, stream, g, n, D, n_atoms, pair_a,
                  pair_b, v, U);
}

void launch_gather_permuted(const double* Xq, std::int64_t D, int G, const int* perm_inv, std::int64_t r0,
                            std::int64_t rows, double* A, cudaStream_t stream) {
  FASTGDML_LAUNCH(gather_permuted_kernel, blocks_for(rows * D, kThreads), kThreads, stream, Xq, D, G, perm_inv, r0,
                  rows, A);
}

void launch_row_dots(const double* X, const double* Y, std::int64_t rows, std::int64_t D, double* out,
                     cudaStream_t stream) {
  FASTGDML_LAUNCH(row_dots_kernel, blocks_for(rows, kThreads), kThreads, stream, X, Y, rows, D, out);
}

void launch_kernel_weights(std::int64_t rows, std::int64_t r0, int G, std::int64_t n, double sigma, const double* q2,
                           const double* x2, const double* t, const double* b, double* W, double* row_sum,
                           double* row_energy, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? (rows < 1 ? 1 : rows) : 65535);
  FASTGDML_LAUNCH(kernel_weights_kernel, blocks, kRowThreads, stream, rows, r0, G, n, sigma, q2, x2, t, b, W,
                  row_sum, row_energy);
}

void launch_scatter_permutations(std::int64_t q0, std::int64_t nq, std::int64_t D, int G, const int* perm,
                                 const double* Zp, const double* row_sum, const double* row_energy, const double* Xq,
                                 double* Z, double* E, cudaStream_t stream) {
  FASTGDML_LAUNCH(scatter_permutations_kernel, blocks_for(nq * D, kThreads), kThreads, stream, q0, nq, D, G, perm,
                  Zp, row_sum, row_energy, Xq, Z, E);
}

void launch_jacobian_t(const double* g, std::int64_t n, std::int64_t D, int n_atoms, const std::int64_t* start,
                       const std::int64_t* feature, const double* sign, const double* Z, double* out,
                       cudaStream_t stream) {
  FASTGDML_LAUNCH(jacobian_t_kernel, blocks_for(n * n_atoms, kThreads), kThreads, stream, g, n, D, n_atoms, start,
                  feature, sign, Z, out);
}

}  // namespace fastgdml::cuda
