// Launcher of the descriptor kernel (descriptor_kernels.cu). Device pointers (host pointers in the CPU emulation).
#pragma once

#include <cstdint>

#include "launch.cuh"

namespace fastgdml::cuda {

// X (M x D) and compressed Jacobians g (M x D x 3) of M geometries R (M x N x 3); lat/lat_inv nullptr without a
// cell.
void launch_descriptors(const double* R, std::int64_t M, int n_atoms, std::int64_t D, const int* pair_a,
                        const int* pair_b, const double* lat, const double* lat_inv, double* X, double* g,
                        cudaStream_t stream);

}  // namespace fastgdml::cuda
