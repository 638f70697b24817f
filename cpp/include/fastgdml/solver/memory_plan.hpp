// The memory model of training, in one place: what the dense solve, the cached kernel weights of K v and the
// Nyström preconditioner take, and how a budget becomes a solver plan. Python (fastgdml.train) and (issue 14) the
// C ABI and C++ benchmarks size their solves with it; the CPU backend admits its cache with the same formula.
#pragma once

#include <cstdint>

namespace fastgdml::solver {

struct TrainingShape {
  std::int64_t n = 0;       // training points
  int n_atoms = 0;          // N
  int G = 1;                // permutations
  bool use_energy = false;  // energy rows and columns (n more unknowns)
};

std::int64_t unknowns(const TrainingShape& s);           // M = 3 N n (+ n)
std::int64_t closed_form_bytes(const TrainingShape& s);  // the dense M x M matrix, factored in place
// Cached data-only Matérn weights of K v: w1, w2 (and k with energy rows) for every (i, p, j).
std::int64_t weight_cache_bytes(std::int64_t n, int G, bool use_energy);

// Bytes per row of one inducing column: W is built in double and narrowed to float afterwards, so the build's
// peak is 8 bytes per entry, plus 15% for the factorisation's work arrays.
constexpr double kBytesPerInducingEntry = 8 * 1.15;

struct IterativePlan {
  std::int64_t cache_bytes = 0;   // weight cache admitted (0: K v recomputes the weights)
  std::int64_t fixed_bytes = 0;   // cache, CG vectors, block-Jacobi blocks
  std::int64_t max_columns = 0;   // inducing columns the rest of the budget holds
  std::int64_t inducing = 0;      // columns of the first preconditioner
  std::int64_t max_inducing = 0;  // after growth on stalls (two steps of 1.2x), within the budget
};

// The default count of inducing columns for M unknowns before the budget caps it: 4% of them, at least 1700.
std::int64_t default_inducing(std::int64_t M);

// The plan for preconditioned CG within `budget` bytes. inducing_request 0: the default, 4% of the unknowns and
// at least 1700 (measured, solver/iterative.hpp's callers), within the budget. The weight cache is admitted
// when it takes at most a quarter of the budget. Throws std::length_error when a requested column count does
// not fit.
IterativePlan plan_iterative(const TrainingShape& s, std::int64_t budget, std::int64_t inducing_request,
                             bool block_jacobi);

enum class SolverKind { kAuto, kClosedForm, kIterative };

// Estimated flops of the two solvers, for the auto rule. Closed form: the Cholesky factorisation (M^3 / 3) and
// the assembly of the n^2 G blocks of (3N)^2 entries (about 12 D 3N flops per block through the sparse Jacobians:
// measured 2.0 s for aspirin n 200 G 6, ~32 s for Ac-Ala3-NHMe n 100 G 81).
// CG: the Nyström build with the default inducing columns k (trsm and syrk, 4 M k^2) and 200 iterations of K v
// (6 n^2 G D) and the preconditioner (weighted 16 M k: two passes over the float W, memory-bound).
double closed_form_flops(const TrainingShape& s);
double iterative_flops(const TrainingShape& s);

// The solver of a training: kAuto takes kClosedForm when the dense matrix fits closed_form_budget, nothing is
// resumed and it is estimated cheaper than CG (closed_form_flops <= iterative_flops), else kIterative. Measured
// on aspirin (21 atoms, G 6, sigma 40): Cholesky 0.45 / 3.0 / 20 s at n 50 / 100 / 200, CG to tol 1e-3
// 1.0 / 2.6 / 11 s; the estimate switches between n 100 and 150. An explicit request is kept. Throws std::length_error naming the sizes and the fixes for a
// closed form that does not fit, std::invalid_argument for a closed form asked to resume.
SolverKind choose_solver(const TrainingShape& s, SolverKind requested, std::int64_t closed_form_budget,
                         bool resuming);

}  // namespace fastgdml::solver
