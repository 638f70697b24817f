// One declaration of each device operation; cpp/src/cpu implements them with OpenMP + BLAS, cuda/ will
// implement them with CUDA kernels + cuBLAS. Device-independent code (KernelOperator, Predictor, the
// solvers) holds a Backend and never branches on the device.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fastgdml/layout.hpp"

namespace fastgdml {

// The training side of a kernel sum (DESIGN.md §2): descriptors X, coefficient rows U (u_j = J_j v_j),
// optional energy coefficients b, the descriptor maps delta_p of the permutation group and sigma.
struct KernelSumInput {
  std::int64_t n = 0;              // training points
  std::int64_t D = 0;              // descriptor length
  const double* X = nullptr;       // n x D, row-major
  const double* U = nullptr;       // n x D, row-major
  const double* b = nullptr;       // n, or nullptr without energy coefficients
  int G = 1;                       // permutations (identity included)
  const int* perm = nullptr;       // G x D maps delta_p
  const int* perm_inv = nullptr;   // G x D inverse maps
  double sigma = 1.0;
};

// Weights that depend on the data only (distances between training points), kept across the kernel-vector
// products of one solve. Opaque: each backend keeps them where its kernels need them.
class KernelCache {
 public:
  virtual ~KernelCache() = default;
  virtual std::int64_t bytes() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // X (M x D) and compressed Jacobians g (M x D x 3) of M geometries R (M x N x 3).
  virtual void descriptors(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t M,
                           const double* R, double* X, double* g) const = 0;

  // For B queries with descriptors Xq (B x D), in the covariance convention of K = Cov([F; -E]):
  //   Z[q] = sum_p P_p sum_j [ H(P_p^T x_q, x_j) u_j + grad_x k(P_p^T x_q, x_j) b_j ]        (B x D)
  //   E[q] = sum_{j,p} [ w1 (P_p^T x_q - x_j).u_j + k b_j ]                                    (B)
  // With cache (from make_cache on the same input), the queries must be the training points.
  virtual void kernel_sums(const KernelSumInput& in, std::int64_t B, const double* Xq, const KernelCache* cache,
                           double* Z, double* E) const = 0;

  virtual std::unique_ptr<KernelCache> make_cache(const KernelSumInput& in, bool with_energy) const = 0;

  // Dense K = Cov([F; -E]) of n training points (FORMATS.md §4.3), size M = n*3N (+ n with energy rows),
  // written row-major into K (M x M), both triangles.
  virtual void assemble_kernel(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                               bool with_energy, double* K) const = 0;
};

// "cpu" (always available) or "cuda" (when built with CUDA and a device is present). Throws
// std::invalid_argument naming the available backends otherwise.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace fastgdml
