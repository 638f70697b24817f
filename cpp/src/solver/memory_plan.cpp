#include "fastgdml/solver/memory_plan.hpp"

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace fastgdml::solver {

std::int64_t unknowns(const TrainingShape& s) { return s.n * 3 * s.n_atoms + (s.use_energy ? s.n : 0); }

std::int64_t closed_form_bytes(const TrainingShape& s) { return 8 * unknowns(s) * unknowns(s); }

std::int64_t weight_cache_bytes(std::int64_t n, int G, bool use_energy) {
  return 8 * n * n * G * (use_energy ? 3 : 2);
}

std::int64_t default_inducing(std::int64_t M) {
  return std::max<std::int64_t>(1700, static_cast<std::int64_t>(0.04 * M));
}

IterativePlan plan_iterative(const TrainingShape& s, std::int64_t budget, std::int64_t inducing_request,
                             bool block_jacobi) {
  const std::int64_t M = unknowns(s);
  IterativePlan plan;
  const std::int64_t cache = weight_cache_bytes(s.n, s.G, s.use_energy);
  plan.cache_bytes = cache <= budget / 4 ? cache : 0;
  plan.fixed_bytes = plan.cache_bytes + 8 * 8 * M;  // CG's vectors and the preconditioner's work vectors
  if (block_jacobi) {  // K's diagonal blocks and their Cholesky factors
    const std::int64_t block = 3 * static_cast<std::int64_t>(s.n_atoms);
    plan.fixed_bytes += 2 * 8 * s.n * block * block;
  }
  plan.max_columns = std::min<std::int64_t>(
      M, static_cast<std::int64_t>(std::max<std::int64_t>(0, budget - plan.fixed_bytes) / (kBytesPerInducingEntry * M)));
  if (inducing_request > 0) {
    if (inducing_request > plan.max_columns) {
      char need[32];
      std::snprintf(need, sizeof need, "%.1f", inducing_request * M * kBytesPerInducingEntry / double(1 << 30));
      throw std::length_error(std::to_string(inducing_request) + " inducing columns need " + need +
                              " GiB but the memory budget leaves room for " + std::to_string(plan.max_columns) +
                              "; raise max_memory or lower inducing");
    }
    plan.inducing = inducing_request;
  } else {
    plan.inducing = std::min(plan.max_columns, default_inducing(M));
  }
  const std::int64_t grown = std::min(plan.max_columns, static_cast<std::int64_t>(plan.inducing * 1.2 * 1.2));
  plan.max_inducing = std::max(plan.inducing, grown);
  return plan;
}

namespace {
double descriptor_length(const TrainingShape& s) { return 0.5 * s.n_atoms * (s.n_atoms - 1.0); }
}  // namespace

double closed_form_flops(const TrainingShape& s) {
  const double M = static_cast<double>(unknowns(s)), n = static_cast<double>(s.n), b = 3.0 * s.n_atoms;
  return M * M * M / 3.0 + n * n * s.G * 12.0 * descriptor_length(s) * b;
}

double iterative_flops(const TrainingShape& s) {
  const double M = static_cast<double>(unknowns(s)), n = static_cast<double>(s.n);
  const double k = static_cast<double>(std::min(unknowns(s), default_inducing(unknowns(s))));
  return 4.0 * M * k * k + 200.0 * (6.0 * n * n * s.G * descriptor_length(s) + 16.0 * M * k);
}

SolverKind choose_solver(const TrainingShape& s, SolverKind requested, std::int64_t closed_form_budget,
                         bool resuming) {
  const std::int64_t need = closed_form_bytes(s), M = unknowns(s);
  if (requested == SolverKind::kAuto)
    return need <= closed_form_budget && !resuming && closed_form_flops(s) <= iterative_flops(s)
               ? SolverKind::kClosedForm
               : SolverKind::kIterative;
  if (requested == SolverKind::kClosedForm) {
    if (resuming) throw std::invalid_argument("resume continues an iterative (CG) solve; use solver='cg' or 'auto'");
    if (need > closed_form_budget) {
      char text[64];
      std::snprintf(text, sizeof text, "%.1f GiB for the %lld x %lld", need / double(1 << 30),
                    static_cast<long long>(M), static_cast<long long>(M));
      char have[32];
      std::snprintf(have, sizeof have, "%.1f", closed_form_budget / double(1 << 30));
      throw std::length_error(std::string("the closed-form solver needs ") + text + " kernel matrix but only " +
                              have + " GiB are allowed; use fewer training points (n_train) or solver='cg'");
    }
  }
  return requested;
}

}  // namespace fastgdml::solver
