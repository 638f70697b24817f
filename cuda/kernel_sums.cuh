// Launchers of the hand-written kernel-sum steps (kernel_sums.cu); what each computes is documented there.
// All pointers are device pointers (host pointers in the CPU emulation of the tests).
#pragma once

#include <cstdint>

#include "launch.cuh"

namespace fastgdml::cuda {

void launch_jacobian_rows(const double* g, std::int64_t n, std::int64_t D, int n_atoms, const int* pair_a,
                          const int* pair_b, const double* v, double* U, cudaStream_t stream);
void launch_gather_permuted(const double* Xq, std::int64_t D, int G, const int* perm_inv, std::int64_t r0,
                            std::int64_t rows, double* A, cudaStream_t stream);
// out[r] = X[r] . Y[r] (Y = X: squared norms)
void launch_row_dots(const double* X, const double* Y, std::int64_t rows, std::int64_t D, double* out,
                     cudaStream_t stream);
void launch_kernel_weights(std::int64_t rows, std::int64_t r0, int G, std::int64_t n, double sigma, const double* q2,
                           const double* x2, const double* t, const double* b, double* W, double* row_sum,
                           double* row_energy, cudaStream_t stream);
void launch_scatter_permutations(std::int64_t q0, std::int64_t nq, std::int64_t D, int G, const int* perm,
                                 const double* Zp, const double* row_sum, const double* row_energy, const double* Xq,
                                 double* Z, double* E, cudaStream_t stream);
void launch_jacobian_t(const double* g, std::int64_t n, std::int64_t D, int n_atoms, const std::int64_t* start,
                       const std::int64_t* feature, const double* sign, const double* Z, double* out,
                       cudaStream_t stream);

// F (B x 3N, jacobian_t's J^T Z on entry) *= -std, E = std E + c, dE_dstrain (B x 9, or nullptr) of a model's
// prediction (FORMATS.md §5.1 sign convention).
void launch_finish_prediction(std::int64_t B, std::int64_t D, int n_atoms, double std_, double c, const double* Xq,
                              const double* gq, const double* Z, double* E, double* F, double* dE_dstrain,
                              cudaStream_t stream);

}  // namespace fastgdml::cuda
