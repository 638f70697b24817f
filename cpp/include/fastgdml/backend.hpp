// One declaration of each device operation; cpp/src/cpu implements them with OpenMP + BLAS, cuda/ will
// implement them with CUDA kernels + cuBLAS. Device-independent code (KernelOperator, Predictor, the
// solvers) holds a Backend and never branches on the device.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

// What to precompute about the training side of repeated kernel sums (Backend::prepare).
struct PrepareOptions {
  bool fixed_coefficients = false;  // U and b never change (prediction): keep [X; U] and x_j.u_j
  bool cache_weights = false;       // queries are the training points (K v): keep the data-only Matérn weights
  bool with_energy = false;         // with cache_weights: keep the kernel values k too (energy rows)
};

// Training-side data kept across kernel sums: norms, the stacked [X; U] when U is fixed, and the Matérn
// weights of all (training row, permutation, training point) triples when they fit the memory budget.
// Opaque: each backend keeps them where its kernels need them.
class PreparedTraining {
 public:
  virtual ~PreparedTraining() = default;
  virtual std::int64_t bytes() const = 0;
  virtual bool has_weights() const = 0;
};

// Columns of K (inducing columns of the Nyström preconditioner).
struct KernelColumnsRequest {
  const std::int64_t* cols = nullptr;  // column indices into K, strictly increasing
  std::int64_t count = 0;
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
  // prepared (optional) comes from prepare() on the same training side; with cached weights the queries must be
  // the training points.
  virtual void kernel_sums(const KernelSumInput& in, std::int64_t B, const double* Xq,
                           const PreparedTraining* prepared, double* Z, double* E) const = 0;

  virtual std::unique_ptr<PreparedTraining> prepare(const KernelSumInput& in, const PrepareOptions& options) const = 0;

  // Dense K = Cov([F; -E]) of n training points (FORMATS.md §4.3), size M = n*3N (+ n with energy rows),
  // written row-major into K (M x M), both triangles.
  virtual void assemble_kernel(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                               bool with_energy, double* K) const = 0;

  // Diagonal blocks K[F_i, F_i] (n x 3N x 3N) and, with energy rows, the energy diagonal K[E_i, E_i] (n).
  virtual void diagonal_blocks(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                               bool with_energy, double* blocks, double* energy_diagonal) const = 0;

  // K[:, cols] (M x count, row-major) without forming K: per (row point, column point, permutation) O(D)
  // distance work plus O(N + 3N) per requested column, using the two-atoms-per-row sparsity of J.
  virtual void kernel_columns(const DescriptorLayout& layout, const KernelSumInput& in, const double* g,
                              bool with_energy, const KernelColumnsRequest& request, double* out) const = 0;
};

// The backend registry: "cpu" is always there; a backend built into another shared object (CUDA) registers its
// factory when that object is loaded. Thread-safe. The factory may throw (e.g. no device) with a message naming
// the cause; registering a name twice replaces the factory.
using BackendFactory = std::function<std::unique_ptr<Backend>()>;
void register_backend(const std::string& name, BackendFactory factory);
std::vector<std::string> backend_names();  // registered names, sorted

// A new instance of the named backend. Throws std::invalid_argument naming the registered backends for an
// unknown name.
std::unique_ptr<Backend> make_backend(const std::string& name);

}  // namespace fastgdml
