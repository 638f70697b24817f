// The kernel matrix K = Cov([F; -E]) of a training set, as an operator (K v without storing K, for the
// iterative solver) and as a dense matrix (for the closed-form solver).
//
// K v, DESIGN.md §2: u_j = J_j v_j; for each permutation p, with A_p = rows P_p^T x_i,
//   S_p = A_p X^T, T_p = A_p U^T        -> r^2, s = T - x_j.u_j      (S_p only once: kept in a cache)
//   Z_p = W1 U - W2 X + diag(W2 1) A_p  -> (K v)_i = J_i^T sum_p P_p Z_p[i]
// Energy rows/columns (energy constraints) reuse the same weights.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fastgdml/backend.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml {

struct KernelOptions {
  double sigma = 1.0;                       // Matérn length scale in descriptor space
  bool use_energy = false;                  // add the n energy rows/columns (use_E_cstr)
  std::int64_t cache_bytes = 1LL << 30;     // data-only weights are cached when they fit in this budget
  std::string backend = "cpu";              // which Backend computes
};

class KernelOperator {
 public:
  // R: n x N x 3 training geometries; perms: G x N atom permutations (identity included).
  KernelOperator(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t n, const double* R,
                 const std::vector<std::int64_t>& perms, const KernelOptions& options);

  std::int64_t n() const { return n_; }
  std::int64_t size() const;                 // rows of K: n*3N (+ n)
  std::int64_t descriptor_size() const { return D_; }
  const std::vector<double>& X() const { return X_; }        // n x D
  const std::vector<double>& jacobians() const { return g_; }  // n x D x 3
  const std::string backend_name() const { return backend_->name(); }
  std::int64_t cache_bytes() const { return cache_ ? cache_->bytes() : 0; }

  void matvec(const double* v, double* out) const;           // out = K v
  void assemble(double* K) const;                            // dense K, size() x size()
  void columns(const std::vector<std::int64_t>& cols, double* out) const;  // K[:, cols], size() x cols.size()
  // Force diagonal blocks (n x 3N x 3N) and energy diagonal (n, with energy rows) of K.
  void diagonal_blocks(double* blocks, double* energy_diagonal) const;
  int n_atoms() const { return layout_.n_atoms(); }
  bool use_energy() const { return options_.use_energy; }
  // Rows J_j a_j (n x D) for per-point Cartesian vectors a (n x 3N).
  void jacobian_rows(const double* a, double* out) const;

 private:
  KernelSumInput input(const double* U, const double* b) const;

  DescriptorLayout layout_;
  std::int64_t n_, D_;
  int G_;
  KernelOptions options_;
  std::unique_ptr<Backend> backend_;
  std::vector<double> X_, g_;
  std::vector<int> perm_, perm_inv_;
  std::unique_ptr<PreparedTraining> cache_;  // cached Matérn weights, when they fit options.cache_bytes
};

}  // namespace fastgdml
