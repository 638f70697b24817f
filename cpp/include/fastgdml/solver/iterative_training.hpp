// Iterative training in one entry (DESIGN.md §3), for Python and (issue 14) the C ABI and C++ benchmarks: the memory
// plan from a budget (memory_plan.hpp), the preconditioned CG with restarts (iterative.hpp) and the checkpoint
// state — what a checkpoint holds (the iterate, the cumulative iterations, the inducing columns of the
// preconditioner in use), when one is written (every checkpoint_interval seconds, on a stop request, when the
// solve ends unconverged) and how a resume continues (same iterate, iteration count and columns, so the
// preconditioner is rebuilt exactly). Callers supply the file format (write_checkpoint) and the stop signal.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "fastgdml/kernel_operator.hpp"
#include "fastgdml/solver/iterative.hpp"
#include "fastgdml/solver/memory_plan.hpp"

namespace fastgdml::solver {

// In K's own (natural) order whatever the rank count, so that a resume may use another one.
struct Checkpoint {
  std::vector<double> x;                // the CG iterate (K.size(), all ranks' rows), host
  std::int64_t iterations = 0;          // cumulative CG iterations
  std::vector<std::int64_t> columns;    // inducing columns of the preconditioner in use, K's indices (empty: plain CG)
};

struct IterativeTrainingOptions {
  IterativeOptions solver;              // lambda, tol, seed, block_jacobi, ...; inducing/max_inducing from the plan
  // Bytes for the solve: the plan (plan_iterative) chooses the inducing columns and their growth within it.
  // 0: solver.inducing and solver.max_inducing are used as given.
  std::int64_t memory_budget = 0;
  std::int64_t inducing_request = 0;    // with a budget: columns asked for (0: the plan's default)
  double checkpoint_interval = 300.0;   // seconds between checkpoints while CG runs
};

struct TrainingCallbacks {
  std::function<void(const Checkpoint&)> write_checkpoint;       // null: no checkpoints
  std::function<bool()> stop_requested;                          // polled after every iteration (signals)
  std::function<void(std::int64_t iteration, double relative_residual)> progress;
  LogFn log;
};

struct IterativeTrainingResult {
  IterativeResult solve;
  IterativePlan plan;                   // the plan used (zeros without a budget)
  bool stopped = false;                 // a stop was requested and CG ended early
  int checkpoints_written = 0;
};

// Solves (K + lambda I) x = y. x (host, K.size()) holds the start iterate; with `resume` the checkpoint's iterate,
// iteration count and columns are used instead (std::invalid_argument when it does not fit K). Throws
// std::length_error when the budget cannot hold the requested columns.
// y, x: this rank's rows (K.local_size(), host; all rows on one rank). Row-sharded over comm (every rank calls it
// with its KernelOperator): the budget is per rank; every rank gets the same checkpoints (write_checkpoint is called
// on all ranks, with the whole iterate: the caller lets one of them write) and stops together (a stop request or
// the checkpoint clock of rank 0, exchanged every iteration).
IterativeTrainingResult train_iterative(const KernelOperator& K, const double* y, double* x,
                                        const IterativeTrainingOptions& options, const Checkpoint* resume,
                                        const TrainingCallbacks& callbacks,
                                        const Communicator& comm = serial_communicator());

}  // namespace fastgdml::solver
