#include "fastgdml/solver/nystrom.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>


namespace fastgdml::solver {
namespace {

constexpr std::int64_t kRowBlock = 4096;  // rows of W per block of the leverage scores

// Largest estimated rounding error of the formed I + W^T W (whose eigenvalues are >= 1) for which its Cholesky
// factor is used instead of the QR's. The estimate eps sqrt(M) trace(W^T W) is the statistical size of the
// error of M-term sums; measured errors are far below it (aspirin n=400, k=2000: 6e-6 against 8e-3).
constexpr double kMaxGramError = 0.5;

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

std::string format(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

NystromPreconditioner::NystromPreconditioner(const SolverContext& ctx, std::int64_t M, double lambda,
                                             std::vector<std::int64_t> cols, const ColumnsFn& columns,
                                             const LogFn& log, const NystromOptions& options)
    : ctx_(ctx), M_(M), k_(static_cast<std::int64_t>(cols.size())), lambda_(lambda), cols_(std::move(cols)) {
  if (k_ < 1) throw std::invalid_argument("a Nyström preconditioner needs at least one inducing column");
  if (!(lambda > 0.0)) throw std::invalid_argument("the Nyström preconditioner needs lambda > 0");
  ctx_.check_rows(M);
  const VectorSpace& vs = ctx_.vectors;
  const DenseAlgebra& la = ctx_.algebra;
  const std::int64_t k = k_;
  const auto start = std::chrono::steady_clock::now();
  W_ = la.tall_factor(M, k);
  double* W = W_->doubles();
  columns(cols_, W);
  t_ = vs.allocate(k);
  const double t_columns = seconds_since(start);

  // K_CC = R_CC^T R_CC (+ jitter I); K_CC are the rows cols of K[:, C] (symmetric), gathered row-major. Read as a
  // column-major matrix that is K_CC^T, whose upper triangle holds K[cols[a], cols[b]] for a >= b: the triangle
  // kernel_columns computes as the lower one. Row-sharded, each rank holds some of those rows: the sum over ranks
  // of the zero-padded gathers is K_CC. A failed factorisation is retried on a fresh gather (W is unchanged).
  Buffer L = vs.allocate(k * k);  // R_CC (upper, column-major), the transpose of L_CC
  std::vector<std::int64_t> local_rows(k);
  for (std::int64_t a = 0; a < k; ++a) {
    const std::int64_t r = cols_[a] - ctx_.rows.first_row;
    local_rows[a] = r >= 0 && r < M ? r : -1;
  }
  const auto gather = [&] {
    vs.fill(k * k, 0.0, L.get());
    la.gather_rows(k, W, local_rows.data(), k, L.get());
    allreduce(L.get(), k * k);
  };
  gather();
  std::vector<double> diagonal(k);
  la.diagonal_to_host(k, L.get(), diagonal.data());
  const double max_diag = *std::max_element(diagonal.begin(), diagonal.end());
  for (;;) {
    la.add_to_diagonal(k, jitter_, L.get());
    const int info = la.potrf_upper(k, L.get());
    if (info == 0) break;
    const double next = jitter_ == 0.0 ? std::numeric_limits<double>::epsilon() * max_diag : jitter_ * 10.0;
    if (next > 1e-2 * max_diag)
      throw std::runtime_error("Nyström preconditioner: K_CC of the " + std::to_string(k) +
                               " inducing columns is not positive definite even with jitter " + format(jitter_) +
                               " (max diagonal " + format(max_diag) + "); duplicate training geometries? Remove "
                               "them or use fewer inducing columns");
    if (log)
      log("K_CC not positive definite at its leading minor " + std::to_string(info) + "; adding jitter " +
          format(next) + " (max diagonal " + format(max_diag) + ")");
    jitter_ = next;
    gather();
  }
  la.trsm_right(false, Op::kNoTrans, M, k, L.get(), W, k);  // Kbar = K[:, C] L_CC^-T = K[:, C] R_CC^-1
  L.reset();

  if (options.diagonal == nullptr) {
    vs.scale(M * k, 1.0 / std::sqrt(lambda), W);  // W = Kbar / sqrt(lambda)
  } else {
    apply_block_jacobi(*options.diagonal, log);
  }
  if (options.single_precision) W_->round_to_single();  // R must belong to the W that is stored
  factor_inner(options.always_qr, log);
  if (options.single_precision) W_->narrow();
  if (log)
    log("preconditioner: " + std::to_string(k) + " columns in " + format(t_columns) + " s, factor in " +
        format(seconds_since(start) - t_columns) + " s (" + (used_qr_ ? "streamed QR" : "Cholesky of I + W^T W") +
        ", W in " + (W_->single() ? "float" : "double") + ", " + format(W_->bytes() / 1073741824.0) + " GiB)");
}

void NystromPreconditioner::allreduce(double* x, std::int64_t count) const {
  if (ctx_.comm.size() == 1) return;
  if (static_cast<std::int64_t>(host_.size()) < count) host_.resize(count);  // kept: apply reduces every iteration
  ctx_.vectors.to_host(count, x, host_.data());
  ctx_.comm.allreduce_sum(host_.data(), count);
  ctx_.vectors.from_host(count, host_.data(), x);
}

void NystromPreconditioner::apply_block_jacobi(const DiagonalBlocks& diagonal, const LogFn& log) {
  // D_i = K_ii - Kbar_i Kbar_i^T + lambda I (PSD in exact arithmetic), L_i = chol(D_i), W_i = L_i^-1 Kbar_i.
  const VectorSpace& vs = ctx_.vectors;
  const DenseAlgebra& la = ctx_.algebra;
  const std::int64_t k = k_, b = diagonal.block;
  if (diagonal.count < 0 || b < 1 || diagonal.count * b > M_ ||
      diagonal.count * b + static_cast<std::int64_t>(diagonal.scalars.size()) != M_ ||
      static_cast<std::int64_t>(diagonal.blocks.size()) != diagonal.count * b * b)
    throw std::invalid_argument("block-Jacobi diagonal: " + std::to_string(diagonal.count) + " blocks of " +
                                std::to_string(b) + " and " + std::to_string(diagonal.scalars.size()) +
                                " single entries do not cover the " + std::to_string(M_) + " rows");
  double* W = W_->doubles();
  block_ = b;
  blocks_ = diagonal.count;
  L_ = vs.allocate(std::max<std::int64_t>(blocks_ * b * b, 1));
  Buffer Di = vs.allocate(b * b);
  std::vector<double> Di_diagonal(b);
  for (std::int64_t i = 0; i < blocks_; ++i) {
    double* Wi = W + i * b * k;
    double* Li = L_.get() + i * b * b;
    vs.from_host(b * b, diagonal.blocks.data() + i * b * b, Di.get());
    la.gemm(Op::kNoTrans, Op::kTrans, b, b, k, -1.0, Wi, k, Wi, k, 1.0, Di.get(), b);
    double block_jitter = 0.0;
    for (;;) {
      vs.copy(b * b, Di.get(), Li);  // symmetric: row- and column-major agree
      la.add_to_diagonal(b, lambda_ + block_jitter, Li);
      if (la.potrf_lower(b, Li) == 0) break;
      la.diagonal_to_host(b, Di.get(), Di_diagonal.data());
      double scale = 0.0;
      for (double d : Di_diagonal) scale = std::max(scale, std::abs(d));
      block_jitter = block_jitter == 0.0 ? std::numeric_limits<double>::epsilon() * scale : 10.0 * block_jitter;
      if (log)
        log("diagonal block " + std::to_string(i) + " of the block-Jacobi part is not positive definite; adding "
            "jitter " + format(block_jitter));
    }
    la.trsm_left(true, Op::kNoTrans, b, k, Li, Wi, k);
  }
  // The remaining single entries (energy rows): D_e = K_ee - |Kbar_e|^2 + lambda, W_e = Kbar_e / sqrt(D_e).
  scalars_ = M_ - blocks_ * b;
  if (scalars_ == 0) return;
  double* rest = W + blocks_ * b * k;
  Buffer norms = vs.allocate(scalars_);
  la.row_squared_norms(scalars_, k, rest, norms.get());
  std::vector<double> inv(scalars_);
  vs.to_host(scalars_, norms.get(), inv.data());
  for (std::int64_t e = 0; e < scalars_; ++e)
    inv[e] = 1.0 / std::sqrt(std::max(diagonal.scalars[e] - inv[e], 0.0) + lambda_);
  L_scalar_inv_ = vs.allocate(scalars_);
  vs.from_host(scalars_, inv.data(), L_scalar_inv_.get());
  for (std::int64_t e = 0; e < scalars_; ++e) vs.scale(k, inv[e], rest + e * k);
}

void NystromPreconditioner::factor_inner(bool always_qr, const LogFn& log) {
  const DenseAlgebra& la = ctx_.algebra;
  const std::int64_t M = M_, k = k_;
  const double* W = W_->doubles();
  R_ = ctx_.vectors.allocate(k * k);
  if (!always_qr) {
    la.syrk_upper(M, k, W, 0.0, R_.get());  // W^T W, upper triangle
    allreduce(R_.get(), k * k);
    std::vector<double> diagonal(k);
    la.diagonal_to_host(k, R_.get(), diagonal.data());
    double trace = 0.0;
    for (double d : diagonal) trace += d;
    la.add_to_diagonal(k, 1.0, R_.get());
    // With the global row count, so that every rank takes the same branch.
    const double rows = static_cast<double>(ctx_.global_rows(M));
    const double gram_error = std::numeric_limits<double>::epsilon() * std::sqrt(rows) * trace;
    if (gram_error < kMaxGramError && la.potrf_upper(k, R_.get()) == 0) return;
    if (log)
      log("preconditioner: I + W^T W too ill-conditioned for Cholesky (rounding error estimate " +
          format(gram_error) + "); using the streamed QR of [W; I]");
  }
  // Row-sharded, the QR needs a reduction of the ranks' R factors (TSQR); the MPI issue adds it.
  if (ctx_.comm.size() > 1) throw std::runtime_error("the streamed QR of the Nyström factor is not sharded yet");
  used_qr_ = true;
  la.qr_r_of_stacked_identity(M, k, W, R_.get());
}

void NystromPreconditioner::solve_L(double* x, bool transposed) const {
  const VectorSpace& vs = ctx_.vectors;
  if (!L_) {
    vs.scale(M_, 1.0 / std::sqrt(lambda_), x);
    return;
  }
  const Op op = transposed ? Op::kTrans : Op::kNoTrans;
  for (std::int64_t i = 0; i < blocks_; ++i)
    ctx_.algebra.trsv(true, op, block_, L_.get() + i * block_ * block_, x + i * block_);
  if (scalars_ > 0) vs.multiply(scalars_, L_scalar_inv_.get(), x + blocks_ * block_);
}

void NystromPreconditioner::apply(const double* v, double* out) const {
  const DenseAlgebra& la = ctx_.algebra;
  double* t = t_.get();
  ctx_.vectors.copy(M_, v, out);
  solve_L(out, false);                                // a = L^-1 v
  W_->multiply_transposed(out, t);                    // W^T a
  allreduce(t, k_);
  la.trsv(false, Op::kTrans, k_, R_.get(), t);        // R^-T
  la.trsv(false, Op::kNoTrans, k_, R_.get(), t);      // R^-1
  W_->subtract_product(t, out);                       // a - W t
  solve_L(out, true);                                 // L^-T
}

std::vector<double> NystromPreconditioner::leverage_scores() const {
  const VectorSpace& vs = ctx_.vectors;
  const DenseAlgebra& la = ctx_.algebra;
  Buffer scores = vs.allocate(M_), block = vs.allocate(std::min(kRowBlock, M_) * k_);
  for (std::int64_t r0 = 0; r0 < M_; r0 += kRowBlock) {
    const std::int64_t rows = std::min(kRowBlock, M_ - r0);
    W_->copy_rows(r0, rows, block.get());
    la.trsm_right(false, Op::kNoTrans, rows, k_, R_.get(), block.get(), k_);  // W R^-1
    la.row_squared_norms(rows, k_, block.get(), scores.get() + r0);
  }
  // Every rank samples the same columns: the scores of all rows (this rank's placed, the rest summed in).
  std::vector<double> host(ctx_.global_rows(M_), 0.0);
  vs.to_host(M_, scores.get(), host.data() + ctx_.rows.first_row);
  if (ctx_.comm.size() > 1) ctx_.comm.allreduce_sum(host.data(), static_cast<std::int64_t>(host.size()));
  return host;
}

std::vector<std::int64_t> sample_uniform(std::int64_t M, std::int64_t k, std::uint64_t seed) {
  std::vector<std::int64_t> all(M);
  std::iota(all.begin(), all.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(std::min(k, M));
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<std::int64_t> sample_by_scores(const std::vector<double>& scores, std::int64_t k, std::uint64_t seed) {
  // Efraimidis–Spirakis: the k largest keys log(u)/w are a weighted sample without replacement.
  const std::int64_t M = static_cast<std::int64_t>(scores.size());
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<std::pair<double, std::int64_t>> keys(M);
  for (std::int64_t i = 0; i < M; ++i) {
    const double u = std::max(uniform(rng), std::numeric_limits<double>::min());
    keys[i] = {scores[i] > 0.0 ? std::log(u) / scores[i] : -std::numeric_limits<double>::infinity(), i};
  }
  k = std::min(k, M);
  std::partial_sort(keys.begin(), keys.begin() + k, keys.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::int64_t> out(k);
  for (std::int64_t i = 0; i < k; ++i) out[i] = keys[i].second;
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace fastgdml::solver
