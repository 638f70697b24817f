#include "fastgdml/solver/cg.hpp"

#include <cmath>
#include <vector>

namespace fastgdml::solver {
namespace {

double dot(std::int64_t M, const double* a, const double* b) {
  double s = 0.0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (M > 65536)
  for (std::int64_t i = 0; i < M; ++i) s += a[i] * b[i];
  return s;
}

void true_residual(std::int64_t M, const LinearMap& A, const double* y, const double* x, double* r) {
  A(x, r);
  for (std::int64_t i = 0; i < M; ++i) r[i] = y[i] - r[i];
}

}  // namespace

std::string to_string(CgStatus status) {
  switch (status) {
    case CgStatus::kConverged: return "converged";
    case CgStatus::kStalled: return "stalled";
    case CgStatus::kMaxIterations: return "maximum number of iterations reached";
    case CgStatus::kInterrupted: return "interrupted";
  }
  return "unknown";
}

CgOutcome preconditioned_cg(std::int64_t M, const LinearMap& A, const LinearMap& P, const double* y, double* x,
                            const CgOptions& options, const Monitor& monitor, std::int64_t iteration_offset) {
  std::vector<double> r(M), z(M), p(M), q(M);
  const double y_norm = std::sqrt(dot(M, y, y));
  if (y_norm == 0.0) {
    std::fill(x, x + M, 0.0);
    return {CgStatus::kConverged, 0, 0.0};
  }
  true_residual(M, A, y, x, r.data());
  double rel = std::sqrt(dot(M, r.data(), r.data())) / y_norm;
  if (rel <= options.tol) return {CgStatus::kConverged, 0, rel};
  P(r.data(), z.data());
  p = z;
  double rz = dot(M, r.data(), z.data());
  // Stall: no new best residual (by 10%) for stall_window iterations. CG residuals are not monotone and often
  // plateau before converging fast, so a fixed-rate test would restart runs that are about to converge.
  double mark = rel;
  std::int64_t mark_iteration = 0;
  // Past its attainable accuracy (~ eps cond(A)) CG wanders; a stalled solve returns the iterate with the
  // smallest residual. (Elsewhere the last iterate is kept: the residual is not monotone in CG, the A-norm
  // error is, so early on the smallest residual does not mark the best iterate.)
  std::vector<double> best(x, x + M);
  double best_rel = rel;
  auto finish = [&](CgStatus status, std::int64_t it) {
    if (status == CgStatus::kStalled && best_rel < rel) {
      std::copy(best.begin(), best.end(), x);
      true_residual(M, A, y, x, r.data());
      rel = std::sqrt(dot(M, r.data(), r.data())) / y_norm;
    }
    return CgOutcome{status, it, rel};
  };
  for (std::int64_t it = 1;; ++it) {
    A(p.data(), q.data());
    const double step = rz / dot(M, p.data(), q.data());
    for (std::int64_t i = 0; i < M; ++i) {
      x[i] += step * p[i];
      r[i] -= step * q[i];
    }
    if (it % options.refresh_every == 0) true_residual(M, A, y, x, r.data());
    rel = std::sqrt(dot(M, r.data(), r.data())) / y_norm;
    if (rel <= options.tol && it % options.refresh_every != 0) {  // confirm with the true residual
      true_residual(M, A, y, x, r.data());
      rel = std::sqrt(dot(M, r.data(), r.data())) / y_norm;
    }
    const bool keep_going = !monitor || monitor(iteration_offset + it, rel, x);
    if (rel <= options.tol) return {CgStatus::kConverged, it, rel};
    if (rel < best_rel) {
      best_rel = rel;
      std::copy(x, x + M, best.begin());
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
    P(r.data(), z.data());
    const double rz_new = dot(M, r.data(), z.data());
    const double beta = rz_new / rz;
    rz = rz_new;
    for (std::int64_t i = 0; i < M; ++i) p[i] = z[i] + beta * p[i];
  }
}

}  // namespace fastgdml::solver
