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
                                        const TrainingCallbacks& callbacks) {
  const std::int64_t M = K.size();
  IterativeTrainingResult out;
  IterativeOptions solver = options.solver;
  if (options.memory_budget > 0) {
    TrainingShape shape;
    shape.n = K.n();
    shape.n_atoms = K.n_atoms();
    shape.G = K.state().n_permutations();
    shape.use_energy = K.use_energy();
    out.plan = plan_iterative(shape, options.memory_budget, options.inducing_request, solver.block_jacobi);
    solver.inducing = out.plan.inducing;
    solver.max_inducing = out.plan.max_inducing;
  }
  if (resume != nullptr) {
    check_resume(*resume, M);
    std::copy(resume->x.begin(), resume->x.end(), x);
    solver.iteration_offset = resume->iterations;
    solver.columns = resume->columns;
  }

  using Clock = std::chrono::steady_clock;
  auto last_write = Clock::now();
  Checkpoint state;
  state.columns = solver.columns;
  const auto write = [&](std::int64_t iterations, const Iterate* iterate) {
    state.iterations = iterations;
    state.x.resize(M);
    if (iterate != nullptr) iterate->to_host(state.x.data());
    else std::copy(x, x + M, state.x.begin());
    callbacks.write_checkpoint(state);
    ++out.checkpoints_written;
    last_write = Clock::now();
  };
  const auto stop = [&] { return callbacks.stop_requested && callbacks.stop_requested(); };
  const Monitor monitor = [&](std::int64_t it, double rel, const Iterate& iterate) {
    if (callbacks.progress) callbacks.progress(it, rel);
    if (stop()) return false;  // the final checkpoint is written below
    if (callbacks.write_checkpoint &&
        std::chrono::duration<double>(Clock::now() - last_write).count() >= options.checkpoint_interval)
      write(it, &iterate);
    return !stop();  // a request during that write
  };
  // Every preconditioner built (the first and each restart's): checkpoints hold the one in use.
  const PreconditionerFn on_preconditioner = [&](const std::vector<std::int64_t>& cols) { state.columns = cols; };

  out.solve = solve_iterative(K, y, x, solver, monitor, callbacks.log, on_preconditioner);
  out.stopped = out.solve.status == to_string(CgStatus::kInterrupted);
  state.columns = out.solve.columns;
  if (callbacks.write_checkpoint && (out.stopped || !out.solve.converged)) write(out.solve.iterations, nullptr);
  return out;
}

}  // namespace fastgdml::solver
