// Descriptors and compressed Jacobians of M geometries on the GPU: the first kernel of the CUDA backend.
//
// Layout: R (M x N x 3), X (M x D), g (M x D x 3), all row-major float64; pair_a/pair_b (D) from
// DescriptorLayout. One thread per (geometry m, feature k), grid-stride over M*D. lat/lat_inv are nullptr
// without a periodic cell. The per-pair math is fastgdml::pair_difference/descriptor_entry, the code the CPU
// backend runs.
#include <cstdint>

#include "descriptor_kernels.cuh"
#include "fastgdml/math/descriptor.hpp"

namespace fastgdml::cuda {
namespace {

__global__ void descriptor_kernel(const double* __restrict__ R, std::int64_t M, int n_atoms, std::int64_t D,
                                  const int* __restrict__ pair_a, const int* __restrict__ pair_b,
                                  const double* lat, const double* lat_inv, double* __restrict__ X,
                                  double* __restrict__ g) {
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < M * D;
       t += std::int64_t(gridDim.x) * blockDim.x) {
    const std::int64_t m = t / D, k = t % D;
    double d[3];
    pair_difference(R + m * 3 * n_atoms, pair_a[k], pair_b[k], lat, lat_inv, d);
    X[t] = descriptor_entry(d, g + 3 * t);
  }
}

}  // namespace

void launch_descriptors(const double* R, std::int64_t M, int n_atoms, std::int64_t D, const int* pair_a,
                        const int* pair_b, const double* lat, const double* lat_inv, double* X, double* g,
                        cudaStream_t stream) {
  const unsigned threads = 256;
  FASTGDML_LAUNCH(descriptor_kernel, blocks_for(M * D, threads), threads, stream, R, M, n_atoms, D, pair_a, pair_b,
                  lat, lat_inv, X, g);
}

}  // namespace fastgdml::cuda
