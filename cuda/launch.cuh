// One way to launch a kernel, for nvcc and for the CPU emulation of the tests (emulation/cuda_on_cpu.hpp):
//   FASTGDML_LAUNCH(kernel, grid, block, stream, args...)
// expands to kernel<<<grid, block, 0, stream>>>(args...) under nvcc and to an emulated launch otherwise.
#pragma once

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#define FASTGDML_LAUNCH(kernel, grid, block, stream, ...) kernel<<<(grid), (block), 0, (stream)>>>(__VA_ARGS__)
#else
#include "emulation/cuda_on_cpu.hpp"
#define FASTGDML_LAUNCH(kernel, grid, block, stream, ...) \
  ::fastgdml::emulation::launch((grid), (block), [&] { kernel(__VA_ARGS__); })
#endif

#include <cstdint>

namespace fastgdml::cuda {

// Blocks of `threads` for a grid-stride loop over `work` items, capped where more blocks stop helping.
inline unsigned blocks_for(std::int64_t work, unsigned threads, unsigned cap = 65535) {
  const std::int64_t b = (work + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

}  // namespace fastgdml::cuda
