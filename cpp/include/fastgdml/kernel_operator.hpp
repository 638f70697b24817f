// The kernel matrix K = Cov([F; -E]) of a training set on one backend: the backend's training state plus the
// host-facing operations that Python and the C++ drivers call. The solvers use backend() and state() to run K v
// on the backend's own vectors; the host methods here stage through the backend's VectorSpace when its memory
// is not the host's (and pass host arrays straight through when it is).
//
// K v, DESIGN.md §2: u_j = J_j v_j; for each permutation p, with A_p = rows P_p^T x_i,
//   S_p = A_p X^T, T_p = A_p U^T        -> r^2, s = T - x_j.u_j      (S_p only once: kept in a cache)
//   Z_p = W1 U - W2 X + diag(W2 1) A_p  -> (K v)_i = J_i^T sum_p P_p Z_p[i]
// Energy rows/columns (energy constraints) reuse the same weights.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fastgdml/backend.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml {

struct KernelOptions {
  double sigma = 1.0;                       // Matérn length scale in descriptor space
  bool use_energy = false;                  // add the n energy rows/columns (use_E_cstr)
  std::int64_t cache_bytes = 1LL << 30;     // memory the backend may use for K v caches (TrainingSetup)
  std::string backend = "cpu";              // which Backend computes (make_backend)
  // Row sharding (TrainingSetup): only the rows of the points [first_point, first_point + local_points); 0: all.
  std::int64_t first_point = 0;
  std::int64_t local_points = 0;
};

class KernelOperator {
 public:
  // R: n x N x 3 training geometries; perms: G x N atom permutations (identity included).
  KernelOperator(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t n, const double* R,
                 const std::vector<std::int64_t>& perms, const KernelOptions& options);

  const Backend& backend() const { return *backend_; }
  const TrainingState& state() const { return *state_; }
  std::string backend_name() const { return state_->backend(); }  // who serves the calls

  std::int64_t n() const { return state_->n(); }
  std::int64_t size() const { return state_->size(); }  // rows (= columns) of K: n*3N (+ n)
  std::int64_t local_size() const { return state_->local_size(); }  // rows this operator computes (size() unsharded)
  std::int64_t first_point() const { return state_->first_point(); }
  std::int64_t local_points() const { return state_->local_points(); }
  std::int64_t descriptor_size() const { return state_->descriptor_size(); }
  int n_atoms() const { return state_->n_atoms(); }
  bool use_energy() const { return state_->use_energy(); }
  std::int64_t cache_bytes() const { return state_->cache_bytes(); }

  // Host arrays from here on.
  std::vector<double> X() const;                              // n x D training descriptors
  void matvec(const double* v, double* out) const;            // out = K v (v: size(), out: local_size())
  void assemble(double* K) const;                             // dense K, size() x size()
  void columns(const std::vector<std::int64_t>& cols, double* out) const;  // K[:, cols], local_size() x cols.size()
  // Force diagonal blocks (local_points x 3N x 3N) and energy diagonal (local_points, with energy rows) of K.
  void diagonal_blocks(double* blocks, double* energy_diagonal) const;
  // Rows J_j a_j (n x D) for per-point Cartesian vectors a (n x 3N).
  void jacobian_rows(const double* a, double* out) const;

 private:
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<TrainingState> state_;
};

}  // namespace fastgdml
