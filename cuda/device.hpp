// The GPU the CUDA backend runs on: its memory, one stream, and the cuBLAS/cuSOLVER calls the backend makes.
//
// Two implementations with this one interface: device_cuda.cu (the CUDA runtime, cuBLAS and cuSOLVER, every call
// through one checking macro) and, for the tests on machines without a GPU, emulation/device_on_cpu.cpp (host
// memory, the same calls written out from their definitions in cuBLAS's column-major conventions). The backend's
// own code (cuda_compute.cu, cuda_backend.cu) is the same in both builds, so the CPU tests check how it maps
// the row-major backend interface onto column-major cuBLAS, which buffers it keeps and which kernels it launches.
//
// Threads: one device, one stream, one cuBLAS and one cuSOLVER handle. Every operation of the backend takes
// `lock()` first (recursive: operations call one another), so concurrent callers are serialised; the GPU runs
// one stream's work in order anyway.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "launch.cuh"

namespace fastgdml::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;                // "NVIDIA H200"
  int major = 0, minor = 0;        // compute capability
  std::int64_t memory_bytes = 0;   // total device memory
};

class Device {
 public:
  // The current CUDA device (cudaGetDevice; CUDA_VISIBLE_DEVICES selects it). std::runtime_error when the process
  // sees no device, naming the cause and the fix.
  Device();
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const DeviceInfo& info() const;
  cudaStream_t stream() const;
  std::unique_lock<std::recursive_mutex> lock() const { return std::unique_lock<std::recursive_mutex>(mutex_); }

  // Device memory, zeroed; std::bad_alloc (with the bytes asked for in what()) when it does not fit.
  void* allocate(std::size_t bytes) const;
  static void release(void* p);
  // Copies: host <-> device and device -> device; they return when the data is usable (the host side may be reused).
  void upload(void* device_dst, const void* host_src, std::size_t bytes) const;
  void download(void* host_dst, const void* device_src, std::size_t bytes) const;
  void copy(void* device_dst, const void* device_src, std::size_t bytes) const;
  void zero(void* device_dst, std::size_t bytes) const;
  // After kernel launches: a launch error (std::runtime_error naming `what`) is reported here.
  void check_launch(const char* what) const;
  void synchronize() const;

  // cuBLAS, column-major, cuBLAS's own argument meanings (trans: op(X) = X^T).
  void gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
            const double* A, std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C,
            std::int64_t ldc) const;
  void gemv(bool trans, std::int64_t m, std::int64_t n, double alpha, const double* A, std::int64_t lda,
            const double* x, double beta, double* y) const;
  // C (n x n) <- alpha op(A) op(A)^T + beta C on the `upper` triangle; op(A) is n x k.
  void syrk(bool upper, bool trans, std::int64_t n, std::int64_t k, double alpha, const double* A, std::int64_t lda,
            double beta, double* C, std::int64_t ldc) const;
  // B (m x n) <- inv(op(T)) B (left) or B inv(op(T)) (right), T triangular.
  void trsm(bool left, bool lower, bool trans, std::int64_t m, std::int64_t n, const double* T, std::int64_t ldt,
            double* B, std::int64_t ldb) const;
  void trsv(bool lower, bool trans, std::int64_t n, const double* T, std::int64_t ldt, double* x) const;
  double dot(std::int64_t n, const double* x, const double* y) const;  // waits for the result
  void axpy(std::int64_t n, double a, const double* x, double* y) const;
  void scal(std::int64_t n, double a, double* x) const;

  // cuSOLVER: Cholesky of the `lower` or upper triangle in place (returns LAPACK's info), solve with it for one
  // right-hand side, and Householder QR in place (A m x n, m >= n; R is A's upper triangle afterwards).
  int potrf(bool lower, std::int64_t n, double* A, std::int64_t lda) const;
  void potrs(bool lower, std::int64_t n, const double* A, std::int64_t lda, double* b) const;
  void geqrf(std::int64_t m, std::int64_t n, double* A, std::int64_t lda) const;

 private:
  struct Handles;
  std::unique_ptr<Handles> handles_;
  DeviceInfo info_;
  mutable std::recursive_mutex mutex_;
};

// An owning device array of T (count elements, zeroed).
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(const Device& device, std::int64_t count)
      : data_(static_cast<T*>(device.allocate(sizeof(T) * static_cast<std::size_t>(count > 0 ? count : 1)))),
        count_(count) {}
  ~DeviceArray() { Device::release(data_); }
  DeviceArray(DeviceArray&& o) noexcept : data_(o.data_), count_(o.count_) { o.data_ = nullptr, o.count_ = 0; }
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(count_, o.count_);
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;

  T* get() const { return data_; }
  std::int64_t size() const { return count_; }
  std::int64_t bytes() const { return count_ * static_cast<std::int64_t>(sizeof(T)); }

 private:
  T* data_ = nullptr;
  std::int64_t count_ = 0;
};

// A host array copied to a new device array.
template <class T>
DeviceArray<T> upload_array(const Device& device, const T* host, std::int64_t count) {
  DeviceArray<T> a(device, count);
  if (count > 0) device.upload(a.get(), host, sizeof(T) * static_cast<std::size_t>(count));
  return a;
}

}  // namespace fastgdml::cuda
