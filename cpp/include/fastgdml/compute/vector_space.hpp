// The vectors the solvers work on, in a backend's memory (host memory for "cpu", device memory for "cuda").
//
// CG, Nyström and Woodbury (solver/) are written once against this interface and DenseAlgebra: they never touch
// an element of a vector themselves, so a CUDA backend runs them with every vector resident on the device (no
// PCIe copy per iteration) and an MPI run keeps each rank's rows local. Pointers passed to these functions point
// into the backend's memory (from allocate, or offsets into such a buffer); only to_host/from_host cross over.
// Vector operations are parallel (OpenMP on the CPU).
#pragma once

#include <cstdint>
#include <memory>

namespace fastgdml {

// An owning pointer to `size` doubles in a backend's memory, released by that backend's free function.
struct BufferFree {
  void (*release)(void*) = nullptr;
  void operator()(double* p) const {
    if (p != nullptr && release != nullptr) release(p);
  }
};
using Buffer = std::unique_ptr<double[], BufferFree>;

class VectorSpace {
 public:
  virtual ~VectorSpace() = default;

  // True when the backend's memory is the host's: callers may then pass host arrays directly, without staging.
  virtual bool host_memory() const = 0;

  virtual Buffer allocate(std::int64_t n) const = 0;  // n zeros; std::bad_alloc when it does not fit
  virtual void fill(std::int64_t n, double value, double* x) const = 0;
  virtual void copy(std::int64_t n, const double* x, double* y) const = 0;               // y = x
  virtual void axpy(std::int64_t n, double a, const double* x, double* y) const = 0;     // y += a x
  virtual void xpay(std::int64_t n, const double* x, double a, double* y) const = 0;     // y = x + a y
  virtual void scale(std::int64_t n, double a, double* x) const = 0;                     // x *= a
  virtual void multiply(std::int64_t n, const double* w, double* x) const = 0;           // x_i *= w_i
  virtual double dot(std::int64_t n, const double* x, const double* y) const = 0;        // this rank's part
  virtual void to_host(std::int64_t n, const double* x, double* host) const = 0;
  virtual void from_host(std::int64_t n, const double* host, double* x) const = 0;
};

}  // namespace fastgdml
