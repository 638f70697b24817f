#include "fastgdml/solver/cg.hpp"

#include <cmath>

namespace fastgdml::solver {

std::string to_string(CgStatus status) {
  switch (status) {
    case CgStatus::kConverged: return "converged";
    case CgStatus::kStalled: return "stalled";
    case CgStatus::kMaxIterations: return "maximum number of iterations reached";
    case CgStatus::kInterrupted: return "interrupted";
  }
  return "unknown";
}

CgOutcome preconditioned_cg(const SolverContext& ctx, std::int64_t M, const LinearMap& A, const LinearMap& P,
                            const double* y, double* x, const CgOptions& options, const Monitor& monitor,
                            std::int64_t iteration_offset) {
  const VectorSpace& vs = ctx.vectors;
  Buffer r = vs.allocate(M), z = vs.allocate(M), p = vs.allocate(M), q = vs.allocate(M);
  const auto norm = [&](const double* v) { return std::sqrt(ctx.dot(M, v, v)); };
  const auto true_residual = [&]() {  // r = y - A x
    A(x, r.get());
    vs.xpay(M, y, -1.0, r.get());
  };
  const double y_norm = norm(y);
  if (y_norm == 0.0) {
    vs.fill(M, 0.0, x);
    return {CgStatus::kConverged, 0, 0.0};
  }
  true_residual();
  double rel = norm(r.get()) / y_norm;
  if (rel <= options.tol) return {CgStatus::kConverged, 0, rel};
  P(r.get(), z.get());
  vs.copy(M, z.get(), p.get());
  double rz = ctx.dot(M, r.get(), z.get());
  // Stall: no new best residual (by 10%) for stall_window iterations. CG residuals are not monotone and often
  // plateau before converging fast, so a fixed-rate test would restart runs that are about to converge.
  double mark = rel;
  std::int64_t mark_iteration = 0;
  // Past its attainable accuracy (~ eps cond(A)) CG wanders; a stalled solve returns the iterate with the
  // smallest residual. (Elsewhere the last iterate is kept: the residual is not monotone in CG, the A-norm
  // error is, so early on the smallest residual does not mark the best iterate.)
  Buffer best = vs.allocate(M);
  vs.copy(M, x, best.get());
  double best_rel = rel;
  const Iterate iterate{&vs, x, M};
  auto finish = [&](CgStatus status, std::int64_t it) {
    if (status == CgStatus::kStalled && best_rel < rel) {
      vs.copy(M, best.get(), x);
      true_residual();
      rel = norm(r.get()) / y_norm;
    }
    return CgOutcome{status, it, rel};
  };
  for (std::int64_t it = 1;; ++it) {
    A(p.get(), q.get());
    const double step = rz / ctx.dot(M, p.get(), q.get());
    vs.axpy(M, step, p.get(), x);
    vs.axpy(M, -step, q.get(), r.get());
    if (it % options.refresh_every == 0) true_residual();
    rel = norm(r.get()) / y_norm;
    if (rel <= options.tol && it % options.refresh_every != 0) {  // confirm with the true residual
      true_residual();
      rel = norm(r.get()) / y_norm;
    }
    const bool keep_going = !monitor || monitor(iteration_offset + it, rel, iterate);
    if (rel <= options.tol) return {CgStatus::kConverged, it, rel};
    if (rel < best_rel) {
      best_rel = rel;
      vs.copy(M, x, best.get());
    }
    if (!keep_going) return finish(CgStatus::kInterrupted, it);
    if (options.max_iterations > 0 && iteration_offset + it >= options.max_iterations)
      return finish(CgStatus::kMaxIterations, it);
    if (rel < 0.9 * mark) {
      mark = rel;
      mark_iteration = it;
    } else if (it - mark_iteration >= options.stall_window) {
      return finish(CgStatus::kStalled, it);
    }
    P(r.get(), z.get());
    const double rz_new = ctx.dot(M, r.get(), z.get());
    const double beta = rz_new / rz;
    rz = rz_new;
    vs.xpay(M, z.get(), beta, p.get());
  }
}

}  // namespace fastgdml::solver
