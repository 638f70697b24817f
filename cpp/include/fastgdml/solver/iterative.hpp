// Iterative training: preconditioned CG on (K + lambda I) x = y with restarts (DESIGN.md §3).
//
//   scores  <- ridge leverage scores of a cheap Nyström factor on uniformly sampled columns
//   C       <- k columns sampled by the scores;  P <- Nyström(C)
//   repeat: CG from the current iterate until converged, stalled or out of iterations;
//           on a stall: k <- min(ceil(growth k), max_inducing), resample C from the same scores, rebuild P,
//           restart CG from the current iterate (at most max_restarts times)
// Non-convergence is returned in the result, never hidden.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "fastgdml/kernel_operator.hpp"
#include "fastgdml/solver/cg.hpp"
#include "fastgdml/solver/nystrom.hpp"
#include "fastgdml/solver/shards.hpp"

namespace fastgdml::solver {

struct IterativeOptions {
  double lambda = 1e-10;                 // ridge regulariser
  double tol = 1e-4;                     // stop at |r| <= tol |y|
  std::int64_t inducing = 0;             // k inducing columns (0: none, plain CG)
  std::int64_t max_inducing = 0;         // memory cap on k after growth (0: k)
  std::int64_t score_columns = 0;        // uniform columns of the leverage-score factor (0: min(k, max(100, k/10)))
  double growth = 1.2;                   // k growth factor on a stall
  int max_restarts = 6;                  // preconditioner rebuilds after stalls
  std::int64_t max_iterations = 0;       // over all restarts (0: 20 M^(1/2) + 1000)
  std::int64_t refresh_every = 50;       // true-residual recomputation interval
  std::int64_t stall_window = 200;       // see CgOptions
  std::uint64_t seed = 0;                // column sampling
  std::vector<std::int64_t> columns;     // start from these inducing columns (resume) instead of sampling
  std::int64_t iteration_offset = 0;     // iterations already done (resume)
  bool block_jacobi = false;             // add blockdiag(K - K~) to the Nyström preconditioner
  bool single_precision = true;          // store the Nyström factor W in float (see compute/dense_algebra.hpp)
};

// K's diagonal blocks for the block-Jacobi correction (called once, when options.block_jacobi).
using DiagonalFn = std::function<DiagonalBlocks()>;

struct IterativeResult {
  bool converged = false;
  std::string status;                    // converged / stalled / maximum ... / interrupted
  std::int64_t iterations = 0;           // cumulative, including iteration_offset
  double relative_residual = 0.0;        // true |y - (K + lambda I) x| / |y|
  int restarts = 0;
  std::vector<std::int64_t> columns;     // inducing columns of the last preconditioner
};

// Told the inducing columns of every preconditioner built (the first one and each restart's): what a checkpoint
// must store so that a resume rebuilds the preconditioner in use.
using PreconditionerFn = std::function<void(const std::vector<std::int64_t>& columns)>;

// x: start iterate on entry (zeros for a fresh solve), solution on exit; y and x in backend memory (this rank's
// rows). K_apply computes K v (without lambda) on backend memory. A resume passes options.columns (the
// checkpoint's) and continues growing k from their count.
IterativeResult solve_iterative(const SolverContext& ctx, std::int64_t M, const LinearMap& K_apply,
                                const ColumnsFn& columns, const DiagonalFn& diagonal, const double* y, double* x,
                                const IterativeOptions& options, const Monitor& monitor, const LogFn& log,
                                const PreconditionerFn& on_preconditioner = nullptr);

// The same solve on K's backend, with y and x as host arrays of this rank's rows (K.local_size() each, in K's local
// order [force rows; energy rows] of its points; x holds the start iterate), staged into the backend's memory when
// that is not the host's. Row-sharded over comm's ranks (each with its KernelOperator of its points, shards.hpp):
// K v gathers the whole v first (comm.allgather), the inducing columns (options.columns and the result's)
// are solver-order indices, the same on every rank. One rank with an unsharded K: the plain solve.
IterativeResult solve_iterative(const KernelOperator& K, const double* y, double* x, const IterativeOptions& options,
                                const Monitor& monitor, const LogFn& log,
                                const PreconditionerFn& on_preconditioner = nullptr,
                                const Communicator& comm = serial_communicator());

// The shard layout of K's rows over comm's ranks (collective: every rank calls it).
ShardLayout shards_of(const KernelOperator& K, const Communicator& comm);

// K's columns and diagonal blocks as the solvers take them (backend memory / host blocks), unsharded.
ColumnsFn columns_of(const KernelOperator& K);
DiagonalBlocks diagonal_of(const KernelOperator& K);

}  // namespace fastgdml::solver
