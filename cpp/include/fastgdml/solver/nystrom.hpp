// Nyström preconditioner (DESIGN.md §3), optionally with a block-Jacobi correction:
//
//   P = K~ + D,   K~ = K[:,C] K_CC^-1 K[C,:] = Kbar Kbar^T,   Kbar = K[:,C] L_CC^-T,  L_CC = chol(K_CC + jitter I)
//   D = lambda I                                  (plain Nyström)
//   D = blockdiag(K_ii - K~_ii) + lambda I         (block-Jacobi: the diagonal 3N x 3N blocks of what the
//                                                   low-rank part misses; energy rows as 1 x 1 blocks)
// Applied through Woodbury with D = L L^T, W = L^-1 Kbar and R^T R = I + W^T W:
//   P^-1 v = L^-T (a - W R^-1 R^-T W^T a),   a = L^-1 v
// With D = lambda I this is the Woodbury form of DESIGN.md §3 scaled by lambda (W = Kbar / sqrt(lambda)).
//
// R: DESIGN.md §3 asks for a thin QR of [W; I] because forming Kbar^T Kbar squares the condition number. In the
// scaled form the inner matrix I + W^T W has all eigenvalues >= 1, so forming it costs only an absolute
// rounding error of about eps sqrt(M) trace(W^T W), harmless (the preconditioner stays positive definite) while
// below 1; measured errors are far smaller (aspirin n=400, k=2000: 6e-6, estimate 8e-3). R is therefore the
// Cholesky factor of I + W^T W from BLAS syrk (M k^2 flops at the DGEMM rate) when that estimate is below 0.5,
// else the R factor of [W; I] from a streamed LAPACK dtpqrt (2 M k^2 flops at a third of the rate; Q never
// stored).
//
// W is stored in float by default (TallFactor): the CG's two products with it are memory-bound.
// Everything (W, R, the block factors) lives in the backend's memory and is computed with its DenseAlgebra;
// the reductions a row-sharded W needs (K_CC, W^T W, W^T a, the scores) go through the context's communicator.
// jitter escalates from 0 with a logged warning when K_CC (or a block of D) is numerically singular; never a
// process exit.
//
// Ridge leverage scores l_i = diag(K~ (K~ + lambda I)^-1) = |row i of W R^-1|^2 (plain Nyström) rank how much
// each column matters; inducing columns are sampled with probability proportional to them (seeded).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fastgdml/solver/context.hpp"

namespace fastgdml::solver {

// Fills out (M x cols.size(), row-major, backend memory) with K[:, cols]; cols strictly increasing.
using ColumnsFn = std::function<void(const std::vector<std::int64_t>& cols, double* out)>;
using LogFn = std::function<void(const std::string& message)>;

// Diagonal of K in blocks (host): `count` blocks of size `block` (rows [0, count*block)), then single entries.
struct DiagonalBlocks {
  std::int64_t block = 0;
  std::int64_t count = 0;
  std::vector<double> blocks;   // count x block x block, row-major
  std::vector<double> scalars;  // remaining diagonal entries (energy rows)
};

struct NystromOptions {
  const DiagonalBlocks* diagonal = nullptr;  // K's diagonal blocks for the block-Jacobi correction, or plain
  bool single_precision = true;              // store W in float (products still accumulate in double)
  bool always_qr = false;                    // R from the streamed QR even when the Cholesky would do
};

// Computes on the backend that ctx's vector space and algebra belong to: it must not outlive that backend.
class NystromPreconditioner {
 public:
  // M: this rank's rows (ctx.rows); cols: global column indices; columns() fills this rank's rows of K[:, cols].
  NystromPreconditioner(const SolverContext& ctx, std::int64_t M, double lambda, std::vector<std::int64_t> cols,
                        const ColumnsFn& columns, const LogFn& log = nullptr, const NystromOptions& options = {});

  // out = P^-1 v (backend memory). Uses a workspace of the preconditioner: not for concurrent calls.
  void apply(const double* v, double* out) const;
  // |rows of W R^-1|^2 (ridge leverage scores without blocks), host, all ranks' rows (ctx.global_rows(M)).
  std::vector<double> leverage_scores() const;
  const std::vector<std::int64_t>& columns() const { return cols_; }
  std::int64_t rank() const { return k_; }
  double jitter() const { return jitter_; }
  bool used_qr() const { return used_qr_; }  // R from the streamed QR (Gram error estimate too large)
  const TallFactor& W() const { return *W_; }

 private:
  void solve_L(double* x, bool transposed) const;  // x <- L^-1 x or L^-T x
  void apply_block_jacobi(const DiagonalBlocks& diagonal, const LogFn& log);  // W <- L^-1 Kbar
  void factor_inner(bool always_qr, const LogFn& log);                         // R^T R = I + W^T W
  void allreduce(double* x, std::int64_t count) const;                         // sum over ranks (backend memory)

  SolverContext ctx_;
  std::int64_t M_, k_;
  double lambda_, jitter_ = 0.0;
  bool used_qr_ = false;
  std::vector<std::int64_t> cols_;
  std::unique_ptr<TallFactor> W_;  // M x k, row-major
  Buffer R_;                       // k x k upper triangular, column-major
  std::int64_t block_ = 0, blocks_ = 0;
  Buffer L_;                       // blocks_ x block_ x block_ lower Cholesky factors (column-major), if any
  Buffer L_scalar_inv_;            // 1 / sqrt of the remaining diagonal entries of D, if blocks are used
  std::int64_t scalars_ = 0;
  Buffer t_;                       // k: apply's workspace
  mutable std::vector<double> host_;  // host staging of the reductions (several ranks only)
};

// k distinct indices in [0, M), uniformly (sorted).
std::vector<std::int64_t> sample_uniform(std::int64_t M, std::int64_t k, std::uint64_t seed);
// k distinct indices drawn with probability proportional to scores, without replacement (sorted).
std::vector<std::int64_t> sample_by_scores(const std::vector<double>& scores, std::int64_t k, std::uint64_t seed);

}  // namespace fastgdml::solver
