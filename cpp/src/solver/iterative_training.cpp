#include "fastgdml/solver/iterative_training.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string>

namespace fastgdml::solver {
namespace {

void check_resume(const Checkpoint& ck, std::int64_t M) {
  if (static_cast<std::int64_t>(ck.x.size()) != M)
    throw std::invalid_argument("checkpoint iterate has " + std::to_string(ck.x.size()) + " entries, this training " +
                                std::to_string(M) + " unknowns; it belongs to another task");
  if (ck.iterations < 0) throw std::invalid_argument("checkpoint iteration count must be >= 0");
  for (std::size_t i = 0; i < ck.columns.size(); ++i)
    if (ck.columns[i] < 0 || ck.columns[i] >= M || (i > 0 && ck.columns[i] <= ck.columns[i - 1]))
      throw std::invalid_argument("checkpoint inducing columns must be strictly increasing indices in [0, " +
                                  std::to_string(M) + ")");
}

}  // namespace

IterativeTrainingResult train_iterative(const KernelOperator& K, const double* y, double* x,
                                        const IterativeTrainingOptions& options, const Checkpoint* resume,
                                        const TrainingCallbacks& callbacks, const Communicator& comm) {
  const ShardLayout shards = shards_of(K, comm);
  const bool sharded = shards.ranks() > 1;
  const std::int64_t M = K.local_size(), M_all = K.size();
  // Solver-order columns <-> K's (the same on one rank).
  const auto to_natural = [&](std::vector<std::int64_t> cols) {
    for (std::int64_t& c : cols) c = shards.natural(c);
    std::sort(cols.begin(), cols.end());
    return cols;
  };
  const auto to_solver = [&](std::vector<std::int64_t> cols) {
    for (std::int64_t& c : cols) c = shards.solver_index(c);
    std::sort(cols.begin(), cols.end());
    return cols;
  };
  IterativeTrainingResult out;
  IterativeOptions solver = options.solver;
  if (options.memory_budget > 0) {
    TrainingShape shape;
    shape.n = *std::max_element(shards.count.begin(), shards.count.end());  // the largest shard: k is one for all
    shape.n_atoms = K.n_atoms();
    shape.G = K.state().n_permutations();
    shape.use_energy = K.use_energy();
    out.plan = plan_iterative(shape, options.memory_budget, options.inducing_request, solver.block_jacobi);
    solver.inducing = out.plan.inducing;
    solver.max_inducing = out.plan.max_inducing;
  }
  if (resume != nullptr) {
    check_resume(*resume, M_all);
    shards.take_local(resume->x.data(), x);
    solver.iteration_offset = resume->iterations;
    solver.columns = to_solver(resume->columns);
  }

  using Clock = std::chrono::steady_clock;
  auto last_write = Clock::now();
  Checkpoint state;
  state.columns = resume != nullptr ? resume->columns : std::vector<std::int64_t>{};
  std::vector<double> local(M);
  // Collective on several ranks: every rank gathers the iterate, and calls the writer.
  const auto write = [&](std::int64_t iterations, const Iterate* iterate) {
    state.iterations = iterations;
    if (iterate != nullptr) iterate->to_host(local.data());
    else std::copy(x, x + M, local.begin());
    state.x = gather_natural(shards, local.data(), comm);
    callbacks.write_checkpoint(state);
    ++out.checkpoints_written;
    last_write = Clock::now();
  };
  // Stop requests and the checkpoint clock, agreed by all ranks every iteration (one allreduce of two numbers):
  // a rank that stopped or wrote alone would leave the others waiting in a collective.
  const auto agree = [&](bool stop_here, bool write_due) {
    double flags[2] = {stop_here ? 1.0 : 0.0, write_due && shards.rank == 0 ? 1.0 : 0.0};
    if (sharded) comm.allreduce_sum(flags, 2);
    return std::make_pair(flags[0] > 0.0, flags[1] > 0.0);
  };
  const auto stop_local = [&] { return callbacks.stop_requested && callbacks.stop_requested(); };
  bool stopped = false;
  const Monitor monitor = [&](std::int64_t it, double rel, const Iterate& iterate) {
    if (callbacks.progress) callbacks.progress(it, rel);
    const bool due = callbacks.write_checkpoint &&
                     std::chrono::duration<double>(Clock::now() - last_write).count() >= options.checkpoint_interval;
    const auto [stop, write_now] = agree(stop_local(), due);
    if (stop) {
      stopped = true;
      return false;  // the final checkpoint is written below
    }
    if (write_now) {
      write(it, &iterate);
      if (agree(stop_local(), false).first) stopped = true;  // a request during that write
    }
    return !stopped;
  };
  // Every preconditioner built (the first and each restart's): checkpoints hold the one in use.
  const PreconditionerFn on_preconditioner = [&](const std::vector<std::int64_t>& cols) {
    state.columns = to_natural(cols);
  };

  out.solve = solve_iterative(K, y, x, solver, monitor, callbacks.log, on_preconditioner, comm);
  out.stopped = out.solve.status == to_string(CgStatus::kInterrupted);
  state.columns = to_natural(out.solve.columns);
  out.solve.columns = state.columns;  // K's indices for the caller, like the checkpoint's
  if (callbacks.write_checkpoint && (out.stopped || !out.solve.converged)) write(out.solve.iterations, nullptr);
  return out;
}

}  // namespace fastgdml::solver
