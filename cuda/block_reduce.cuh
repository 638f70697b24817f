// Block-wide sums for the hand-written kernels: a shared-memory tree (no warp shuffles, so the CPU emulation of the
// tests runs the same code; cuda/emulation/cuda_on_cpu.hpp).
#pragma once

#include "launch.cuh"

namespace fastgdml::cuda {

// a and b summed over the threads of the block, returned to every thread. blockDim.x must be a power of two and
// at most the length of the shared arrays sa and sb; all threads of the block must call it. The arrays may be
// reused as soon as it returns.
__device__ inline void block_sum2(double& a, double& b, double* sa, double* sb) {
  sa[threadIdx.x] = a;
  sb[threadIdx.x] = b;
  __syncthreads();
  for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
    if (threadIdx.x < half) {
      sa[threadIdx.x] += sa[threadIdx.x + half];
      sb[threadIdx.x] += sb[threadIdx.x + half];
    }
    __syncthreads();
  }
  a = sa[0];
  b = sb[0];
  __syncthreads();
}

}  // namespace fastgdml::cuda
