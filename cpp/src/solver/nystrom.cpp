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

#include "fastgdml/linalg.hpp"

namespace fastgdml::solver {
namespace {

using linalg::Op;

constexpr std::int64_t kRowBlock = 4096;  // rows of W per streamed QR block (dtpqrt ran ~1.7x faster than at 2048)

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

NystromPreconditioner::NystromPreconditioner(std::int64_t M, double lambda, std::vector<std::int64_t> cols,
                                             const ColumnsFn& columns, const LogFn& log,
                                             const NystromOptions& options)
    : M_(M), k_(static_cast<std::int64_t>(cols.size())), lambda_(lambda), cols_(std::move(cols)) {
  if (k_ < 1) throw std::invalid_argument("a Nyström preconditioner needs at least one inducing column");
  if (!(lambda > 0.0)) throw std::invalid_argument("the Nyström preconditioner needs lambda > 0");
  const std::int64_t k = k_;
  const auto start = std::chrono::steady_clock::now();
  W_ = TallMatrix(M, k);
  double* W = W_.doubles();
  columns(cols_, W);
  const double t_columns = seconds_since(start);

  // L_CC = chol(K_CC + jitter I), column-major; K_CC are the rows cols of K[:, C] (symmetric).
  std::vector<double> L(k * k);
  double max_diag = 0.0;
  for (std::int64_t a = 0; a < k; ++a) max_diag = std::max(max_diag, W[cols_[a] * k + a]);
  for (;;) {
    for (std::int64_t a = 0; a < k; ++a)
      for (std::int64_t b = 0; b < k; ++b) L[b * k + a] = W[cols_[a] * k + b];
    for (std::int64_t a = 0; a < k; ++a) L[a * k + a] += jitter_;
    const int info = linalg::cholesky_lower_colmajor(k, L.data());
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
  }
  linalg::trsm_right(true, Op::kTrans, M, k, L.data(), W, k);  // Kbar = K[:, C] L_CC^-T

  if (options.diagonal == nullptr) {
    const double s = 1.0 / std::sqrt(lambda);  // W = Kbar / sqrt(lambda)
    for (std::int64_t i = 0; i < M * k; ++i) W[i] *= s;
  } else {
    apply_block_jacobi(*options.diagonal, log);
  }
  if (options.single_precision) W_.round_to_single();  // R must belong to the W that is stored
  factor_inner(options.always_qr, log);
  if (options.single_precision) W_.narrow();
  if (log)
    log("preconditioner: " + std::to_string(k) + " columns in " + format(t_columns) + " s, factor in " +
        format(seconds_since(start) - t_columns) + " s (" + (used_qr_ ? "streamed QR" : "Cholesky of I + W^T W") +
        ", W in " + (W_.single() ? "float" : "double") + ", " + format(W_.bytes() / 1073741824.0) + " GiB)");
}

void NystromPreconditioner::apply_block_jacobi(const DiagonalBlocks& diagonal, const LogFn& log) {
  // D_i = K_ii - Kbar_i Kbar_i^T + lambda I (PSD in exact arithmetic), L_i = chol(D_i), W_i = L_i^-1 Kbar_i.
  const std::int64_t k = k_, b = diagonal.block;
  double* W = W_.doubles();
  block_ = b;
  blocks_ = diagonal.count;
  L_.resize(blocks_ * b * b);
  std::vector<double> Di(b * b);
  for (std::int64_t i = 0; i < blocks_; ++i) {
    double* Wi = W + i * b * k;
    std::copy(diagonal.blocks.begin() + i * b * b, diagonal.blocks.begin() + (i + 1) * b * b, Di.begin());
    linalg::gemm(Op::kNoTrans, Op::kTrans, b, b, k, -1.0, Wi, k, Wi, k, 1.0, Di.data(), b);
    double block_jitter = 0.0;
    for (;;) {
      double* Li = L_.data() + i * b * b;
      std::copy(Di.begin(), Di.end(), Li);  // symmetric: row- and column-major agree
      for (std::int64_t a = 0; a < b; ++a) Li[a * b + a] += lambda_ + block_jitter;
      if (linalg::cholesky_lower_colmajor(b, Li) == 0) break;
      double scale = 0.0;
      for (std::int64_t a = 0; a < b; ++a) scale = std::max(scale, std::abs(Di[a * b + a]));
      block_jitter = block_jitter == 0.0 ? std::numeric_limits<double>::epsilon() * scale : 10.0 * block_jitter;
      if (log)
        log("diagonal block " + std::to_string(i) + " of the block-Jacobi part is not positive definite; adding "
            "jitter " + format(block_jitter));
    }
    linalg::trsm_left(true, Op::kNoTrans, b, k, L_.data() + i * b * b, Wi, k);
  }
  const std::int64_t rest = M_ - blocks_ * b;
  L_scalar_.resize(rest);
  for (std::int64_t e = 0; e < rest; ++e) {
    double* We = W + (blocks_ * b + e) * k;
    double residual = diagonal.scalars[e];
    for (std::int64_t c = 0; c < k; ++c) residual -= We[c] * We[c];
    L_scalar_[e] = std::sqrt(std::max(residual, 0.0) + lambda_);
    for (std::int64_t c = 0; c < k; ++c) We[c] /= L_scalar_[e];
  }
}

void NystromPreconditioner::factor_inner(bool always_qr, const LogFn& log) {
  const std::int64_t M = M_, k = k_;
  const double* W = W_.doubles();
  if (always_qr) {
    streamed_qr();
    return;
  }
  R_.assign(k * k, 0.0);
  linalg::gram_upper(M, k, W, 0.0, R_.data());  // W^T W, upper triangle
  double trace = 0.0;
  for (std::int64_t a = 0; a < k; ++a) {
    trace += R_[a * k + a];
    R_[a * k + a] += 1.0;
  }
  const double gram_error = std::numeric_limits<double>::epsilon() * std::sqrt(double(M)) * trace;
  if (gram_error < kMaxGramError && linalg::cholesky_upper_colmajor(k, R_.data()) == 0) return;
  if (log)
    log("preconditioner: I + W^T W too ill-conditioned for Cholesky (rounding error estimate " + format(gram_error) +
        "); using the streamed QR of [W; I]");
  streamed_qr();
}

void NystromPreconditioner::streamed_qr() {
  // R of [W; I], streamed: start from R = I, append row blocks of W.
  const std::int64_t M = M_, k = k_;
  const double* W = W_.doubles();
  used_qr_ = true;
  R_.assign(k * k, 0.0);
  for (std::int64_t a = 0; a < k; ++a) R_[a * k + a] = 1.0;
  std::vector<double> block(std::min(kRowBlock, M) * k);
  for (std::int64_t r0 = 0; r0 < M; r0 += kRowBlock) {
    const std::int64_t rows = std::min(kRowBlock, M - r0);
    for (std::int64_t r = 0; r < rows; ++r)  // row-major rows -> column-major (rows x k)
      for (std::int64_t c = 0; c < k; ++c) block[c * rows + r] = W[(r0 + r) * k + c];
    linalg::qr_append_rows(k, R_.data(), rows, block.data());
  }
}

void NystromPreconditioner::solve_L(double* x, bool transposed) const {
  if (L_.empty()) {
    const double s = 1.0 / std::sqrt(lambda_);
    for (std::int64_t i = 0; i < M_; ++i) x[i] *= s;
    return;
  }
  const Op op = transposed ? Op::kTrans : Op::kNoTrans;
  for (std::int64_t i = 0; i < blocks_; ++i) linalg::trsv(true, op, block_, L_.data() + i * block_ * block_, x + i * block_);
  for (std::size_t e = 0; e < L_scalar_.size(); ++e) x[blocks_ * block_ + e] /= L_scalar_[e];
}

void NystromPreconditioner::apply(const double* v, double* out) const {
  std::vector<double> t(k_);
  std::copy(v, v + M_, out);
  solve_L(out, false);                                                          // a = L^-1 v
  W_.multiply_transposed(out, t.data());                                        // W^T a
  linalg::trsv(false, Op::kTrans, k_, R_.data(), t.data());                    // R^-T
  linalg::trsv(false, Op::kNoTrans, k_, R_.data(), t.data());                  // R^-1
  W_.subtract_product(t.data(), out);                                           // a - W t
  solve_L(out, true);                                                           // L^-T
}

std::vector<double> NystromPreconditioner::leverage_scores() const {
  std::vector<double> scores(M_), block(std::min(kRowBlock, M_) * k_);
  for (std::int64_t r0 = 0; r0 < M_; r0 += kRowBlock) {
    const std::int64_t rows = std::min(kRowBlock, M_ - r0);
    W_.copy_rows(r0, rows, block.data());
    linalg::trsm_right(false, Op::kNoTrans, rows, k_, R_.data(), block.data(), k_);  // W R^-1
    for (std::int64_t r = 0; r < rows; ++r) {
      double s = 0.0;
      for (std::int64_t c = 0; c < k_; ++c) s += block[r * k_ + c] * block[r * k_ + c];
      scores[r0 + r] = s;
    }
  }
  return scores;
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
