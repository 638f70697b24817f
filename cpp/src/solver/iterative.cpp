#include "fastgdml/solver/iterative.hpp"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace fastgdml::solver {

IterativeResult solve_iterative(const SolverContext& ctx, std::int64_t M, const LinearMap& K_apply,
                                const ColumnsFn& columns, const DiagonalFn& diagonal, const double* y, double* x,
                                const IterativeOptions& options, const Monitor& monitor, const LogFn& log,
                                const PreconditionerFn& on_preconditioner) {
  const double lambda = options.lambda;
  const LinearMap A = [&](const double* v, double* out) {
    K_apply(v, out);
    ctx.vectors.axpy(M, lambda, v, out);
  };
  // Columns are indices into all ranks' rows; every rank samples the same ones (same scores, same seed).
  ctx.check_rows(M);
  const std::int64_t M_all = ctx.global_rows(M);
  // A resume continues with the checkpoint's columns, which may be more than options.inducing after growth.
  std::int64_t k = std::min(std::max<std::int64_t>(options.inducing, options.columns.size()), M_all);
  const std::int64_t k_max = std::max(k, std::min(options.max_inducing > 0 ? options.max_inducing : k, M_all));

  std::vector<double> scores;
  auto sample = [&](std::int64_t count, std::uint64_t seed) {
    if (scores.empty()) {
      // The scores barely change which preconditioner CG gets (aspirin n=400, k=1388: 150-156 iterations with
      // 100, 200 or 500 score columns, 0.24 / 0.53 / 1.08 s to compute them), so the factor stays small.
      const std::int64_t k0 = std::min(options.score_columns > 0 ? options.score_columns
                                                                 : std::min<std::int64_t>(k, std::max<std::int64_t>(100, k / 10)),
                                       M_all);
      if (log) log("leverage scores from " + std::to_string(k0) + " uniformly sampled columns");
      NystromOptions plain;
      plain.single_precision = options.single_precision;
      scores = NystromPreconditioner(ctx, M, lambda, sample_uniform(M_all, k0, options.seed), columns, log, plain)
                   .leverage_scores();
    }
    std::vector<std::int64_t> cols = sample_by_scores(scores, count, seed);
    if (ctx.comm.size() > 1) {  // rank 0's draw for all: scores summed in another order could differ in a last bit
      std::vector<double> shared(cols.size(), 0.0);
      if (ctx.comm.rank() == 0) std::copy(cols.begin(), cols.end(), shared.begin());  // exact below 2^53
      ctx.comm.allreduce_sum(shared.data(), static_cast<std::int64_t>(shared.size()));
      for (std::size_t a = 0; a < cols.size(); ++a) cols[a] = static_cast<std::int64_t>(shared[a]);
    }
    return cols;
  };

  std::unique_ptr<NystromPreconditioner> P;
  DiagonalBlocks blocks;
  if (options.block_jacobi && k > 0) {  // k > 0 also when only a resume's columns are given
    if (!diagonal) throw std::invalid_argument("block_jacobi needs the kernel's diagonal blocks");
    blocks = diagonal();
  }
  auto build = [&](std::vector<std::int64_t> cols) {
    P.reset();  // free the old factor before building the next
    if (log)
      log("building the Nyström preconditioner with " + std::to_string(cols.size()) + " inducing columns" +
          (options.block_jacobi ? " and block-Jacobi correction" : ""));
    NystromOptions nystrom;
    nystrom.diagonal = options.block_jacobi ? &blocks : nullptr;
    nystrom.single_precision = options.single_precision;
    P = std::make_unique<NystromPreconditioner>(ctx, M, lambda, std::move(cols), columns, log, nystrom);
    if (on_preconditioner) on_preconditioner(P->columns());
  };
  const LinearMap identity = [&](const double* v, double* out) { ctx.vectors.copy(M, v, out); };
  const LinearMap precondition = [&](const double* v, double* out) { P->apply(v, out); };

  if (k > 0) build(options.columns.empty() ? sample(k, options.seed) : options.columns);

  CgOptions cg;
  cg.tol = options.tol;
  cg.max_iterations =
      options.max_iterations > 0 ? options.max_iterations : 20 * static_cast<std::int64_t>(std::sqrt(double(M_all))) + 1000;
  cg.refresh_every = options.refresh_every;
  cg.stall_window = options.stall_window;

  IterativeResult result;
  std::int64_t done = options.iteration_offset;
  for (;;) {
    const CgOutcome out = preconditioned_cg(ctx, M, A, P ? precondition : identity, y, x, cg, monitor, done);
    done += out.iterations;
    result.status = to_string(out.status);
    result.relative_residual = out.relative_residual;
    if (out.status != CgStatus::kStalled || result.restarts >= options.max_restarts || k == 0) break;
    if (k >= k_max) {
      if (log) log("CG stalled at relative residual " + std::to_string(out.relative_residual) +
                   " with the largest preconditioner the memory budget allows (" + std::to_string(k) + " columns)");
      break;
    }
    k = std::min(k_max, static_cast<std::int64_t>(std::ceil(options.growth * k)));
    ++result.restarts;
    if (log) log("CG stalled at relative residual " + std::to_string(out.relative_residual) + "; restart " +
                 std::to_string(result.restarts) + " with " + std::to_string(k) + " inducing columns");
    build(sample(k, options.seed + result.restarts));
  }
  result.converged = result.status == "converged";
  result.iterations = done;
  if (P) result.columns = P->columns();
  return result;
}

ColumnsFn columns_of(const KernelOperator& K) {
  return [&K](const std::vector<std::int64_t>& cols, double* out) { K.backend().kernel_columns(K.state(), cols, out); };
}

DiagonalBlocks diagonal_of(const KernelOperator& K) {
  DiagonalBlocks d;
  d.block = 3 * K.n_atoms();
  d.count = K.local_points();  // this rank's points: its rows are [their force rows; their energy rows]
  d.blocks.resize(d.count * d.block * d.block);
  d.scalars.resize(K.use_energy() ? d.count : 0);
  K.diagonal_blocks(d.blocks.data(), d.scalars.data());
  return d;
}

ShardLayout shards_of(const KernelOperator& K, const Communicator& comm) {
  return exchange_shards(K.n(), 3 * static_cast<std::int64_t>(K.n_atoms()), K.use_energy(), K.first_point(),
                         K.local_points(), comm);
}

IterativeResult solve_iterative(const KernelOperator& K, const double* y, double* x, const IterativeOptions& options,
                                const Monitor& monitor, const LogFn& log, const PreconditionerFn& on_preconditioner,
                                const Communicator& comm) {
  SolverContext ctx = context_of(K.backend(), comm);
  const VectorSpace& vs = ctx.vectors;
  const std::int64_t M = K.local_size();
  const ShardLayout shards = shards_of(K, comm);
  const bool sharded = shards.ranks() > 1;
  if (sharded) ctx.rows = {shards.offset(shards.rank), shards.total_rows()};

  // K v of this rank's rows needs all of v: the ranks' rows are gathered (an allgather) and put in K's order first.
  std::vector<double> local_host(sharded ? M : 0), gathered(sharded ? shards.total_rows() : 0),
      full_host(sharded ? shards.total_rows() : 0);
  Buffer full_device;
  if (sharded && !vs.host_memory()) full_device = vs.allocate(shards.total_rows());
  const LinearMap K_apply = [&](const double* v, double* out) {
    if (!sharded) return K.backend().kernel_matvec(K.state(), v, out);
    vs.to_host(M, v, local_host.data());
    gather_natural(shards, local_host.data(), comm, gathered.data(), full_host.data());
    const double* v_all = full_host.data();
    if (full_device) {
      vs.from_host(shards.total_rows(), full_host.data(), full_device.get());
      v_all = full_device.get();
    }
    K.backend().kernel_matvec(K.state(), v_all, out);
  };
  // Inducing columns are solver-order indices; the backend takes K's own (any order: column s stays column s).
  const ColumnsFn columns = [&](const std::vector<std::int64_t>& cols, double* out) {
    if (!sharded) return K.backend().kernel_columns(K.state(), cols, out);
    std::vector<std::int64_t> natural(cols.size());
    for (std::size_t a = 0; a < cols.size(); ++a) natural[a] = shards.natural(cols[a]);
    K.backend().kernel_columns(K.state(), natural, out);
  };
  const auto solve = [&](const double* y_b, double* x_b) {
    return solve_iterative(ctx, M, K_apply, columns, [&K]() { return diagonal_of(K); }, y_b, x_b, options, monitor,
                           log, on_preconditioner);
  };
  if (vs.host_memory()) return solve(y, x);
  Buffer y_dev = vs.allocate(M), x_dev = vs.allocate(M);
  vs.from_host(M, y, y_dev.get());
  vs.from_host(M, x, x_dev.get());
  IterativeResult result = solve(y_dev.get(), x_dev.get());
  vs.to_host(M, x_dev.get(), x);
  return result;
}

}  // namespace fastgdml::solver
