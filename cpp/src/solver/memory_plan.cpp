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
    plan.inducing = std::min(plan.max_columns, std::max<std::int64_t>(1700, static_cast<std::int64_t>(0.04 * M)));
  }
  const std::int64_t grown = std::min(plan.max_columns, static_cast<std::int64_t>(plan.inducing * 1.2 * 1.2));
  plan.max_inducing = std::max(plan.inducing, grown);
  return plan;
}

}  // namespace fastgdml::solver
