// Nyström preconditioner P = K~ + lambda I, K~ = K[:,C] K_CC^-1 K[C,:], applied through Woodbury (DESIGN.md §3):
//
//   L = chol(K_CC + jitter I)                  (jitter escalates from 0, with a logged warning, when K_CC is
//                                               numerically singular; never a process exit)
//   Kbar = K[:,C] L^-T                          (M x k, the only large array kept)
//   R    = qr([Kbar; sqrt(lambda) I]).R         so R^T R = Kbar^T Kbar + lambda I without forming Kbar^T Kbar,
//                                               which would square its condition number; streamed over row
//                                               blocks of Kbar with LAPACK dtpqrt, Q never stored
//   P^-1 v = (v - Kbar R^-1 R^-T Kbar^T v) / lambda
//
// Ridge leverage scores l_i = diag(K~ (K~ + lambda I)^-1) = |row i of Kbar R^-1|^2 rank how much each column
// matters; inducing columns are sampled with probability proportional to them (seeded).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fastgdml::solver {

// Fills out (M x cols.size(), row-major) with K[:, cols]; cols strictly increasing.
using ColumnsFn = std::function<void(const std::vector<std::int64_t>& cols, double* out)>;
using LogFn = std::function<void(const std::string& message)>;

class NystromPreconditioner {
 public:
  NystromPreconditioner(std::int64_t M, double lambda, std::vector<std::int64_t> cols, const ColumnsFn& columns,
                        const LogFn& log = nullptr);

  void apply(const double* v, double* out) const;  // out = (K~ + lambda I)^-1 v
  std::vector<double> leverage_scores() const;     // l (M)
  const std::vector<std::int64_t>& columns() const { return cols_; }
  std::int64_t rank() const { return k_; }
  double jitter() const { return jitter_; }

  // Bytes needed for k columns of an M-row problem (Kbar plus work arrays).
  static std::int64_t bytes_needed(std::int64_t M, std::int64_t k);

 private:
  std::int64_t M_, k_;
  double lambda_, jitter_ = 0.0;
  std::vector<std::int64_t> cols_;
  std::vector<double> Kbar_;  // M x k, row-major
  std::vector<double> R_;     // k x k upper triangular, column-major
};

// k distinct indices in [0, M), uniformly (sorted).
std::vector<std::int64_t> sample_uniform(std::int64_t M, std::int64_t k, std::uint64_t seed);
// k distinct indices drawn with probability proportional to scores, without replacement (sorted).
std::vector<std::int64_t> sample_by_scores(const std::vector<double>& scores, std::int64_t k, std::uint64_t seed);

}  // namespace fastgdml::solver
