// Test-only: runs the CUDA C++ kernels of cuda/ on the CPU, so that the CPU tests (and ThreadSanitizer and
// AddressSanitizer builds) check the code the GPU runs, on a machine without a GPU.
//
// A launch runs the blocks one after another; the threads of a block run as std::threads (a pool reused by all
// launches) that meet at a barrier for __syncthreads(); __shared__ variables become function statics (one copy, shared by the threads of the block
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

// The emulated threads: one pool of std::threads, grown to the largest block seen and reused by every launch
// (creating a team per launch made the tests spend most of their time in the kernel). A launch gives the job to
// the first block-size workers; each runs the blocks in order and waits at a barrier after each, so that no
// thread starts a block (and writes its __shared__ arrays) before all have finished the previous one.
class Team {
 public:
  static Team& instance() {
    static Team team;  // test-only process-wide pool
    return team;
  }
  ~Team() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }

  void run(dim3 grid, dim3 block, const std::function<void()>& body) {
    std::lock_guard<std::mutex> one_launch(launch_mutex_);
    const unsigned threads = block.x * block.y * block.z;
    Barrier barrier(threads);
    std::vector<std::exception_ptr> errors(threads);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      while (workers_.size() < threads) {
        const unsigned id = static_cast<unsigned>(workers_.size());
        workers_.emplace_back([this, id] { work(id); });
      }
      job_ = {&body, grid, block, threads, &barrier, &errors};
      done_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&] { return done_ == threads; });
    job_ = {};
    for (const std::exception_ptr& e : errors)
      if (e) std::rethrow_exception(e);
  }

 private:
  struct Job {
    const std::function<void()>* body = nullptr;
    dim3 grid, block;
    unsigned threads = 0;
    Barrier* barrier = nullptr;
    std::vector<std::exception_ptr>* errors = nullptr;
  };

  void work(unsigned id) {
    unsigned long seen = 0;
    for (;;) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || (generation_ != seen && id < job_.threads); });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      const dim3 block = job.block, grid = job.grid;
      threadIdx = dim3(id % block.x, (id / block.x) % block.y, id / (block.x * block.y));
      blockDim = block;
      gridDim = grid;
      block_barrier = job.barrier;
      std::exception_ptr& error = (*job.errors)[id];
      for (unsigned by = 0; by < grid.y; ++by)
        for (unsigned bx = 0; bx < grid.x; ++bx) {
          blockIdx = dim3(bx, by, 0);
          try {
            if (!error) (*job.body)();
          } catch (...) {
            error = std::current_exception();  // keeps meeting the barrier so that the others finish
          }
          job.barrier->wait();
        }
      {
        std::lock_guard<std::mutex> lock(mutex_);
        ++done_;
      }
      finished_.notify_one();
    }
  }

  std::mutex launch_mutex_, mutex_;
  std::condition_variable wake_, finished_;
  std::vector<std::thread> workers_;
  Job job_;
  unsigned long generation_ = 0;
  unsigned done_ = 0;
  bool stop_ = false;
};

// Runs body on grid x block emulated threads (1-D and 2-D grids and blocks; z is 1).
inline void launch(dim3 grid, dim3 block, const std::function<void()>& body) { Team::instance().run(grid, block, body); }

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
