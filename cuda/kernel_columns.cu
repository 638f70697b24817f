// Columns of K (the Nyström preconditioner's K[:, C]) and its diagonal blocks (block-Jacobi) on the GPU, from the
// sparse Jacobians, never forming K (DESIGN.md §2, "Kernel columns"). The formulas are the CPU's
// (cpp/src/cpu/cpu_kernel_columns.cpp): for row point i, column point j and permutation p, with
// d~ = P_p^T x_i - x_j and weights w of |d~|^2,
//   force rows of i, force column (a, c):  w1 (P_p^T J_i)^T J_j e_c - w2 (J_i^T P_p d~) (J_j^T d~)_c
//   energy row of i, force column:         w1 (J_j^T d~)_c
//   force rows of i, energy column:        -w1 J_i^T P_p d~
//   energy row of i, energy column:        k
// One block per (row point i, column group of point j). Nothing of length D is stored: d~ and P_p d~ are
// recomputed where they are read, so the block's shared memory is O(N) (the 3N vector J_i^T P_p d~) for any D.
#include <cstdint>
#include <stdexcept>
#include <string>

#include "kernel_columns.cuh"
#include "fastgdml/math/matern52.hpp"

namespace fastgdml::cuda {
namespace {

constexpr unsigned kColumnThreads = 128;  // a power of two: tree reduction of |d~|^2

struct PairInput {
  std::int64_t D;
  int n_atoms, G;
  double sigma;
  const double* X;        // n x D
  const double* g;        // n x D x 3
  const int* perm;        // G x D
  const int* perm_inv;    // G x D
  const int* pair_a;      // D
  const int* pair_b;      // D
  const std::int64_t* inc_start;    // N + 1
  const std::int64_t* inc_feature;  // 2 D
  const double* inc_sign;           // 2 D
};

// |P_p^T x_i - x_j|^2 = sum_m (x_i[inv_m] - x_j[m])^2 by a block reduction in partial (blockDim.x doubles, a power
// of two); every thread gets the sum. Called by all threads of a block.
__device__ double permuted_distance2(const double* xi, const double* xj, const int* inv, std::int64_t D,
                                     double* partial) {
  double r2 = 0.0;
  for (std::int64_t m = threadIdx.x; m < D; m += blockDim.x) {
    const double d = xi[inv[m]] - xj[m];
    r2 += d * d;
  }
  partial[threadIdx.x] = r2;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  const double total = partial[0];
  __syncthreads();  // partial may be rewritten by the caller's next reduction
  return total;
}

// The contributions of column point j to the rows of point i, for the force columns force_col[0..count) (3a + c)
// written at out_force[r * stride + slot[t]] (r over the 3N force rows of i) and out_energy[slot[t]] (the energy
// row of i, or nullptr), and the energy column at energy_slot (-1: none). Called by all threads of a block.
__device__ void accumulate_pair(const PairInput& in, std::int64_t i, std::int64_t j, const std::int64_t* force_col,
                                const std::int64_t* slot, std::int64_t count, std::int64_t energy_slot,
                                double* out_force, std::int64_t stride, double* out_energy, double* alpha,
                                double* partial) {
  const std::int64_t D = in.D, dim = 3 * in.n_atoms;
  const double* xi = in.X + i * D;
  const double* xj = in.X + j * D;
  const double* gi = in.g + i * D * 3;
  const double* gj = in.g + j * D * 3;
  const Matern52 kernel(in.sigma);
  for (int p = 0; p < in.G; ++p) {
    const int* delta = in.perm + std::int64_t(p) * D;
    const int* inv = in.perm_inv + std::int64_t(p) * D;
    const Matern52Weights w = kernel.weights_from_r2(permuted_distance2(xi, xj, inv, D, partial));
    // alpha = J_i^T P_p d~, (P_p d~)_k = x_i[k] - x_j[delta_k], by atom through the incidence lists
    for (std::int64_t atom = threadIdx.x; atom < in.n_atoms; atom += blockDim.x) {
      double o[3] = {0.0, 0.0, 0.0};
      for (std::int64_t e = in.inc_start[atom]; e < in.inc_start[atom + 1]; ++e) {
        const std::int64_t k = in.inc_feature[e];
        const double v = in.inc_sign[e] * (xi[k] - xj[delta[k]]);
        for (int c = 0; c < 3; ++c) o[c] += v * gi[3 * k + c];
      }
      for (int c = 0; c < 3; ++c) alpha[3 * atom + c] = o[c];
    }
    __syncthreads();
    // one thread per requested force column, one more for the energy column
    for (std::int64_t t = threadIdx.x; t < count + (energy_slot >= 0 ? 1 : 0); t += blockDim.x) {
      if (t == count) {
        for (std::int64_t r = 0; r < dim; ++r) out_force[r * stride + energy_slot] -= w.w1 * alpha[r];
        if (out_energy != nullptr) out_energy[energy_slot] += w.k;
        continue;
      }
      const std::int64_t a = force_col[t] / 3, comp = force_col[t] % 3, s = slot[t];
      double beta = 0.0;  // (J_j^T d~)_c
      for (std::int64_t e = in.inc_start[a]; e < in.inc_start[a + 1]; ++e) {
        const std::int64_t m = in.inc_feature[e];
        const double jv = in.inc_sign[e] * gj[3 * m + comp];  // (J_j e_c)_m
        beta += jv * (xi[inv[m]] - xj[m]);
        // row m of P_p^T J_i is row k = inv_m of J_i: -g_i[k] on atom a_k, +g_i[k] on atom b_k
        const std::int64_t k = inv[m];
        const double coef = w.w1 * jv;
        for (int q = 0; q < 3; ++q) {
          out_force[(3 * in.pair_a[k] + q) * stride + s] -= coef * gi[3 * k + q];
          out_force[(3 * in.pair_b[k] + q) * stride + s] += coef * gi[3 * k + q];
        }
      }
      for (std::int64_t r = 0; r < dim; ++r) out_force[r * stride + s] -= w.w2 * alpha[r] * beta;
      if (out_energy != nullptr) out_energy[s] += w.w1 * beta;
    }
    __syncthreads();  // alpha and partial are rewritten for the next permutation
  }
}

// Block (row point i = row_first + blockIdx.y, group = blockIdx.x) of the rows of K[:, C] of the gridDim.y row
// points (their force rows, then their energy rows; x C): zero the group's columns in i's rows, then accumulate
// every permutation.
__global__ void kernel_columns_kernel(PairInput in, std::int64_t row_first, bool with_energy,
                                      const std::int64_t* group_point, const std::int64_t* group_start,
                                      const std::int64_t* force_col, const std::int64_t* force_slot,
                                      const std::int64_t* energy_slot, std::int64_t C, double* out) {
  __shared__ double alpha[3 * kMaxColumnAtoms], partial[kColumnThreads];
  const std::int64_t grp = blockIdx.x, l = blockIdx.y, i = row_first + l, dim = 3 * in.n_atoms;
  const std::int64_t local_nF = std::int64_t(gridDim.y) * dim;
  const std::int64_t first = group_start[grp], count = group_start[grp + 1] - first, es = energy_slot[grp];
  double* out_force = out + l * dim * C;
  double* out_energy = with_energy ? out + (local_nF + l) * C : nullptr;
  for (std::int64_t t = threadIdx.x; t < count + 1; t += blockDim.x) {
    const std::int64_t s = t < count ? force_slot[first + t] : es;
    if (s < 0) continue;
    for (std::int64_t r = 0; r < dim; ++r) out_force[r * C + s] = 0.0;
    if (out_energy != nullptr) out_energy[s] = 0.0;
  }
  __syncthreads();
  accumulate_pair(in, i, group_point[grp], force_col + first, force_slot + first, count, es, out_force, C, out_energy,
                  alpha, partial);
}

// Block l (row point i = row_first + l): K[F_i, F_i] (3N x 3N) into blocks[l] and K[E_i, E_i] into
// energy_diagonal[l] (if not nullptr).
__global__ void diagonal_blocks_kernel(PairInput in, std::int64_t row_first, const std::int64_t* all_cols,
                                       double* blocks, double* energy_diagonal) {
  __shared__ double alpha[3 * kMaxColumnAtoms], partial[kColumnThreads];
  const std::int64_t l = blockIdx.x, i = row_first + l, dim = 3 * in.n_atoms;
  double* out = blocks + l * dim * dim;
  __shared__ double energy[1];
  for (std::int64_t t = threadIdx.x; t < dim * dim; t += blockDim.x) out[t] = 0.0;
  if (threadIdx.x == 0) energy[0] = 0.0;
  __syncthreads();
  // the 3N force columns of point i into its own rows (slot = column); the energy rows and columns apart below
  accumulate_pair(in, i, i, all_cols, all_cols, dim, -1, out, dim, nullptr, alpha, partial);
  if (energy_diagonal != nullptr) {
    const Matern52 kernel(in.sigma);
    // K[E_i, E_i] = sum_p k(|P_p^T x_i - x_i|): the same reduction, kept apart from the force columns
    for (int p = 0; p < in.G; ++p) {
      const double* xi = in.X + i * in.D;
      const double r2 = permuted_distance2(xi, xi, in.perm_inv + std::int64_t(p) * in.D, in.D, partial);
      if (threadIdx.x == 0) energy[0] += kernel.weights_from_r2(r2).k;
      __syncthreads();
    }
    if (threadIdx.x == 0) energy_diagonal[l] = energy[0];
  }
}

PairInput pair_input(const TrainingKernelData& t) {
  if (t.n_atoms > kMaxColumnAtoms)
    throw std::invalid_argument("CUDA kernel columns: " + std::to_string(t.n_atoms) + " atoms, at most " +
                                std::to_string(kMaxColumnAtoms) + " are supported (shared memory per block)");
  return {t.D, t.n_atoms, t.G, t.sigma, t.X, t.g, t.perm, t.perm_inv, t.pair_a, t.pair_b, t.inc_start,
          t.inc_feature, t.inc_sign};
}

}  // namespace

void launch_kernel_columns(const TrainingKernelData& t, std::int64_t row_first, std::int64_t rows, bool with_energy,
                           std::int64_t n_groups, const std::int64_t* group_point, const std::int64_t* group_start,
                           const std::int64_t* force_col, const std::int64_t* force_slot,
                           const std::int64_t* energy_slot, std::int64_t C, double* out, cudaStream_t stream) {
  if (rows > 65535)
    throw std::invalid_argument("CUDA kernel columns: " + std::to_string(rows) + " row points in one call, at most "
                                "65535 (the grid's y dimension); shard the training set over more ranks");
  const dim3 grid(static_cast<unsigned>(n_groups), static_cast<unsigned>(rows));
  FASTGDML_LAUNCH(kernel_columns_kernel, grid, kColumnThreads, stream, pair_input(t), row_first, with_energy,
                  group_point, group_start, force_col, force_slot, energy_slot, C, out);
}

void launch_diagonal_blocks(const TrainingKernelData& t, std::int64_t row_first, std::int64_t rows,
                            const std::int64_t* all_cols, double* blocks, double* energy_diagonal,
                            cudaStream_t stream) {
  FASTGDML_LAUNCH(diagonal_blocks_kernel, static_cast<unsigned>(rows), kColumnThreads, stream, pair_input(t),
                  row_first, all_cols, blocks, energy_diagonal);
}

}  // namespace fastgdml::cuda
