// Preconditioned conjugate gradient for (K + lambda I) x = y with K applied on the fly (DESIGN.md §3), on a
// SolverContext: every vector lives in the backend's memory and every reduction goes through its communicator.
//
//   r = y - A x, z = P r, p = z
//   repeat: q = A p; a = r.z / p.q; x += a p; r -= a q; z = P r; b = r_new.z_new / r.z; p = z + b p
// Stops when |r| <= tol |y|. Every refresh_every iterations r is recomputed as y - A x: the recursively updated
// residual drifts from the true one in floating point, and the stopping test must use the true one. A stall is
// declared when the residual has not reached a new best (by 10%) for stall_window iterations.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fastgdml/solver/context.hpp"

namespace fastgdml::solver {

// v -> out on vectors of the solver's length, both in backend memory.
using LinearMap = std::function<void(const double* v, double* out)>;

// The current iterate, in backend memory: copied to the host only when a caller needs it (a checkpoint).
struct Iterate {
  const VectorSpace* vectors;
  const double* data;
  std::int64_t size;
  void to_host(double* host) const { vectors->to_host(size, data, host); }
};

// Called after every iteration with the cumulative iteration count, |r| / |y| and the current iterate.
// Returning false stops the solve (status kInterrupted).
using Monitor = std::function<bool(std::int64_t iteration, double relative_residual, const Iterate& x)>;

struct CgOptions {
  double tol = 1e-4;                  // stop at |r| <= tol |y|
  std::int64_t max_iterations = 0;    // 0: no limit besides stalls
  std::int64_t refresh_every = 50;    // recompute the true residual this often
  std::int64_t stall_window = 200;    // iterations without a 10% better residual that count as a stall
};

enum class CgStatus { kConverged, kStalled, kMaxIterations, kInterrupted };
std::string to_string(CgStatus status);

struct CgOutcome {
  CgStatus status;
  std::int64_t iterations;        // performed in this call
  double relative_residual;       // true |y - A x| / |y| at exit
};

// x holds the start iterate on entry and the result on exit; A and P act on vectors of length M (this rank's
// rows); y and x are backend memory.
CgOutcome preconditioned_cg(const SolverContext& ctx, std::int64_t M, const LinearMap& A, const LinearMap& P,
                            const double* y, double* x, const CgOptions& options, const Monitor& monitor,
                            std::int64_t iteration_offset = 0);

}  // namespace fastgdml::solver
