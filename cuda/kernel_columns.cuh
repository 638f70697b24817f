// Launchers of the kernel-column and diagonal-block kernels (kernel_columns.cu). Device pointers (host pointers
// in the CPU emulation of the tests); the column groups come from fastgdml::group_columns (column_groups.hpp).
#pragma once

#include <cstdint>

#include "launch.cuh"

namespace fastgdml::cuda {

// Molecules up to this many atoms (the 3N vector J_i^T P_p d~ of a block lives in shared memory).
constexpr int kMaxColumnAtoms = 256;

// The training side as the kernels read it.
struct TrainingKernelData {
  std::int64_t D = 0;
  int n_atoms = 0, G = 1;
  double sigma = 1.0;
  const double* X = nullptr;                 // n x D descriptors
  const double* g = nullptr;                 // n x D x 3 compressed Jacobians
  const int* perm = nullptr;                 // G x D maps delta_p
  const int* perm_inv = nullptr;             // G x D inverses
  const int* pair_a = nullptr;               // D
  const int* pair_b = nullptr;               // D
  const std::int64_t* inc_start = nullptr;   // atom_incidence: N + 1
  const std::int64_t* inc_feature = nullptr; // 2 D
  const double* inc_sign = nullptr;          // 2 D
};

// The rows of K[:, C] of the row points [row_first, row_first + rows) (their force rows, then their energy rows;
// x C, row-major) for the grouped columns (n_groups groups). All points: row_first 0, rows n.
void launch_kernel_columns(const TrainingKernelData& t, std::int64_t row_first, std::int64_t rows, bool with_energy,
                           std::int64_t n_groups, const std::int64_t* group_point, const std::int64_t* group_start,
                           const std::int64_t* force_col, const std::int64_t* force_slot,
                           const std::int64_t* energy_slot, std::int64_t C, double* out, cudaStream_t stream);

// K[F_i, F_i] (rows x 3N x 3N) and K[E_i, E_i] (rows, or energy_diagonal nullptr) of the row points
// [row_first, row_first + rows); all_cols: 0 .. 3N - 1.
void launch_diagonal_blocks(const TrainingKernelData& t, std::int64_t row_first, std::int64_t rows,
                            const std::int64_t* all_cols, double* blocks, double* energy_diagonal,
                            cudaStream_t stream);

}  // namespace fastgdml::cuda
