// Test-only: runs the CUDA C++ kernels of cuda/ on the CPU, so that the CPU tests (and ThreadSanitizer and
// AddressSanitizer builds) check the code the GPU runs, on a machine without a GPU.
//
// A launch runs the blocks one after another; the threads of a block run as std::threads (one team reused for all
// blocks) that meet at a barrier for __syncthreads(); __shared__ variables become function statics (one copy, shared by the threads of the block
// that is running); threadIdx, blockIdx, blockDim and gridDim are thread-locals. Not emulated: warp shuffles and
// votes (kernels keep block-level fallbacks for those), streams (work runs at once), cuBLAS (tests use host
// GEMMs). Never included by nvcc builds.
#pragma once

#if defined(__CUDACC__)
#error "cuda_on_cpu.hpp is for host compilers; nvcc compiles the kernels for the GPU"
#endif

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static
#define __restrict__ __restrict

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
using cudaStream_t = void*;

inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace fastgdml::emulation {

// A reusable barrier for the threads of one block (generation count, so that a fast thread cannot pass the next
// __syncthreads before the slow ones left this one).
class Barrier {
 public:
  explicit Barrier(unsigned count) : count_(count) {}
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const unsigned long generation = generation_;
    if (++arrived_ == count_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
  }

 private:
  unsigned count_, arrived_ = 0;
  unsigned long generation_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
};

inline thread_local Barrier* block_barrier = nullptr;

// Runs body on grid x block emulated threads (1-D and 2-D grids and blocks; z is 1). One std::thread per thread
// of a block, reused for every block: each runs the blocks in order and waits at a barrier after each, so that
// no thread starts a block (and writes its __shared__ arrays) before all have finished the previous one.
inline void launch(dim3 grid, dim3 block, const std::function<void()>& body) {
  const unsigned threads = block.x * block.y * block.z;
  Barrier barrier(threads);
  std::vector<std::thread> team;
  std::vector<std::exception_ptr> errors(threads);
  team.reserve(threads);
  for (unsigned t = 0; t < threads; ++t)
    team.emplace_back([&, t] {
      threadIdx = dim3(t % block.x, (t / block.x) % block.y, t / (block.x * block.y));
      blockDim = block;
      gridDim = grid;
      block_barrier = &barrier;
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          blockIdx = dim3(bx, by, 0);
          try {
            if (!errors[t]) body();
          } catch (...) {
            errors[t] = std::current_exception();  // keeps meeting the barrier so that the others finish
          }
          barrier.wait();
        }
    });
  for (std::thread& t : team) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

inline std::mutex& atomic_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace fastgdml::emulation

inline void __syncthreads() { fastgdml::emulation::block_barrier->wait(); }

inline double atomicAdd(double* address, double value) {
  std::lock_guard<std::mutex> lock(fastgdml::emulation::atomic_mutex());
  const double old = *address;
  *address = old + value;
  return old;
}
