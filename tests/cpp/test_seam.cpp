// Tests of the device-neutral seam (backend.hpp, compute/, solver/) from C++, without Python:
//   - the registry and the state check: a state made by one backend is refused by another, naming both;
//   - the communicator hook: CG, the Nyström preconditioner and the whole iterative driver run row-sharded over
//     two "ranks" (threads with a barrier-based allreduce) and give the serial results.
// Built with -DFASTGDML_CPP_TESTS=ON and run by ctest (.ci/run). Exit status 0 when every check passes.
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "checks.hpp"
#include "fastgdml/backend.hpp"
#include "fastgdml/compute/communicator.hpp"
#include "fastgdml/solver/cg.hpp"
#include "fastgdml/solver/iterative.hpp"
#include "fastgdml/solver/nystrom.hpp"

namespace {

using namespace fastgdml;

using testing::check;
using testing::format_e;

double relative_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num += (a[i] - b[i]) * (a[i] - b[i]);
    den += b[i] * b[i];
  }
  return std::sqrt(num / den);
}

// ---- registry and state checks ---------------------------------------------------------------------------

class FakeState final : public TrainingState {
 public:
  FakeState() : TrainingState("fake") {}
  std::int64_t bytes() const override { return 0; }
  std::int64_t n() const override { return 1; }
  int n_atoms() const override { return 2; }
  std::int64_t descriptor_size() const override { return 1; }
  int n_permutations() const override { return 1; }
  bool use_energy() const override { return false; }
  std::int64_t cache_bytes() const override { return 0; }
  std::int64_t first_point() const override { return 0; }
  std::int64_t local_points() const override { return 1; }
};

void test_a_state_of_another_backend_is_refused() {
  register_backend("fake", [] { return make_backend("cpu"); });  // a factory another shared object would add
  const std::vector<std::string> names = backend_names();
  check(names.size() == 2 && names[0] == "cpu" && names[1] == "fake", "a registered backend is listed");
  const std::unique_ptr<Backend> cpu = make_backend("cpu");
  const FakeState fake;
  std::vector<double> v(6, 1.0), out(6);
  try {
    cpu->kernel_matvec(fake, v.data(), out.data());
    check(false, "a state of backend 'fake' given to 'cpu' throws");
  } catch (const std::invalid_argument& e) {
    const std::string m = e.what();
    check(m.find("'fake'") != std::string::npos && m.find("'cpu'") != std::string::npos,
          "a state of backend 'fake' given to 'cpu' throws, naming both: " + m);
  }
  try {
    make_backend("nope");
    check(false, "an unknown backend throws");
  } catch (const std::invalid_argument& e) {
    check(std::string(e.what()).find("available: cpu, fake") != std::string::npos,
          std::string("an unknown backend names the registered ones: ") + e.what());
  }
}

// ---- two ranks in one process -----------------------------------------------------------------------------

class ThreadTeam {
 public:
  explicit ThreadTeam(int size) : size_(size), slots_(size) {}
  int size() const { return size_; }

  void barrier() {
    std::unique_lock<std::mutex> lock(mutex_);
    const long generation = generation_;
    if (++arrived_ == size_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
  }

  void allreduce_sum(int rank, double* x, std::int64_t count) {
    slots_[rank].assign(x, x + count);
    barrier();
    for (std::int64_t i = 0; i < count; ++i) {
      double s = 0.0;
      for (int r = 0; r < size_; ++r) s += slots_[r][i];  // same order on every rank: identical results
      x[i] = s;
    }
    barrier();  // nobody overwrites a slot before everyone has read it
  }

 private:
  int size_, arrived_ = 0;
  long generation_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::vector<double>> slots_;
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(ThreadTeam& team, int rank) : team_(team), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return team_.size(); }
  void allreduce_sum(double* host, std::int64_t count) const override { team_.allreduce_sum(rank_, host, count); }

 private:
  ThreadTeam& team_;
  int rank_;
};

// Runs body(rank) on `ranks` threads; rethrows the first exception.
void on_ranks(int ranks, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(ranks);
  for (int r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      try {
        body(r);
      } catch (...) {
        errors[r] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// A dense SPD matrix with a decaying spectrum (like a kernel matrix): A = Q diag(d) Q^T + small ridge.
std::vector<double> spd_matrix(std::int64_t M, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<double> G(M * M), A(M * M, 0.0);
  for (double& g : G) g = normal(rng);
  for (std::int64_t i = 0; i < M; ++i)
    for (std::int64_t j = 0; j < M; ++j) {
      double s = 0.0;
      for (std::int64_t c = 0; c < M; ++c) s += G[i * M + c] * G[j * M + c] * std::pow(0.7, double(c));
      A[i * M + j] = s;
    }
  return A;
}

struct ShardedProblem {
  std::int64_t M;
  std::vector<double> A, y;
};

// This rank's rows of A v, with v gathered from all ranks (zero-padded local parts summed).
void sharded_matvec(const ShardedProblem& p, const Communicator& comm, std::int64_t first, std::int64_t m,
                    const double* v_local, double* out) {
  std::vector<double> v(p.M, 0.0);
  for (std::int64_t i = 0; i < m; ++i) v[first + i] = v_local[i];
  comm.allreduce_sum(v.data(), p.M);
  for (std::int64_t i = 0; i < m; ++i) {
    double s = 0.0;
    for (std::int64_t j = 0; j < p.M; ++j) s += p.A[(first + i) * p.M + j] * v[j];
    out[i] = s;
  }
}

void test_sharded_solvers_equal_the_serial_ones() {
  const std::unique_ptr<Backend> cpu = make_backend("cpu");
  ShardedProblem p{90, spd_matrix(90, 7), std::vector<double>(90)};
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  for (double& v : p.y) v = normal(rng);
  const int ranks = 2;
  const std::int64_t rows_of[2] = {50, 40};  // unequal shards: every rank must still take the same branches
  const std::int64_t first_of[2] = {0, 50};

  solver::IterativeOptions options;
  options.lambda = 1e-3;
  options.tol = 1e-10;
  options.inducing = 20;
  options.seed = 11;
  auto columns_rows = [&p](std::int64_t first, std::int64_t rows) {
    return [&p, first, rows](const std::vector<std::int64_t>& cols, double* out) {
      for (std::int64_t i = 0; i < rows; ++i)
        for (std::size_t c = 0; c < cols.size(); ++c) out[i * cols.size() + c] = p.A[(first + i) * p.M + cols[c]];
    };
  };

  // Serial reference: CG with the preconditioner, and the preconditioner alone on a vector.
  const solver::SolverContext serial = solver::context_of(*cpu);
  std::vector<double> x_serial(p.M, 0.0);
  const solver::LinearMap K_serial = [&](const double* v, double* out) {
    sharded_matvec(p, serial_communicator(), 0, p.M, v, out);
  };
  const solver::IterativeResult r_serial = solver::solve_iterative(
      serial, p.M, K_serial, columns_rows(0, p.M), nullptr, p.y.data(), x_serial.data(), options, nullptr, nullptr);
  const solver::NystromPreconditioner P_serial(serial, p.M, options.lambda, r_serial.columns, columns_rows(0, p.M));
  std::vector<double> Pv_serial(p.M);
  P_serial.apply(p.y.data(), Pv_serial.data());
  const std::vector<double> scores_serial = P_serial.leverage_scores();

  ThreadTeam team(ranks);
  std::vector<double> x_sharded(p.M, 0.0), Pv_sharded(p.M), scores_rank1;
  std::vector<std::int64_t> columns_rank1;
  bool converged_everywhere = true;
  on_ranks(ranks, [&](int rank) {
    const ThreadCommunicator comm(team, rank);
    solver::SolverContext ctx = solver::context_of(*cpu, comm);
    const std::int64_t first = first_of[rank], m = rows_of[rank];
    ctx.rows = {first, p.M};
    std::vector<double> x(m, 0.0);
    const solver::LinearMap K = [&](const double* v, double* out) { sharded_matvec(p, comm, first, m, v, out); };
    const solver::IterativeResult r = solver::solve_iterative(ctx, m, K, columns_rows(first, m), nullptr,
                                                              p.y.data() + first, x.data(), options, nullptr, nullptr);
    const solver::NystromPreconditioner P(ctx, m, options.lambda, r.columns, columns_rows(first, m));
    std::vector<double> Pv(m);
    P.apply(p.y.data() + first, Pv.data());
    const std::vector<double> scores = P.leverage_scores();
    team.barrier();
    std::copy(x.begin(), x.end(), x_sharded.begin() + first);
    std::copy(Pv.begin(), Pv.end(), Pv_sharded.begin() + first);
    if (!r.converged) converged_everywhere = false;
    if (rank == 1) {
      scores_rank1 = scores;
      columns_rank1 = r.columns;
    }
  });
  check(r_serial.converged && converged_everywhere, "serial and sharded CG converge (tol 1e-10)");
  check(columns_rank1 == r_serial.columns, "every rank samples the serial run's inducing columns");
  check(relative_difference(scores_rank1, scores_serial) < 1e-10, "sharded leverage scores equal the serial ones");
  const double dP = relative_difference(Pv_sharded, Pv_serial);
  check(dP < 1e-10, "sharded Nystrom apply equals the serial one (rel. difference " + format_e(dP) + ")");
  const double dx = relative_difference(x_sharded, x_serial);
  check(dx < 1e-8, "sharded CG solution equals the serial one (rel. difference " + format_e(dx) + ")");

  // What the sharded solvers refuse rather than compute wrongly: rows outside the total, a missing RowShare with
  // several ranks, and the (not yet sharded) block-Jacobi correction.
  ThreadTeam pair(2);
  std::vector<std::string> errors(2);
  on_ranks(2, [&](int rank) {
    const ThreadCommunicator comm(pair, rank);
    solver::SolverContext ctx = solver::context_of(*cpu, comm);
    const auto refused = [&](const std::function<void()>& f) {
      try {
        f();
      } catch (const std::invalid_argument& e) {
        return std::string(e.what());
      }
      return std::string();
    };
    ctx.rows = {60, p.M};  // 60 + 45 > 90
    const std::string outside = refused([&] {
      solver::NystromPreconditioner(ctx, 45, 1e-3, {0, 1}, columns_rows(60, 45));
    });
    ctx.rows = {};
    const std::string missing = refused([&] {
      solver::NystromPreconditioner(ctx, 45, 1e-3, {0, 1}, columns_rows(0, 45));
    });
    ctx.rows = {rank * 45, p.M};
    solver::DiagonalBlocks blocks;
    solver::NystromOptions with_blocks;
    with_blocks.diagonal = &blocks;
    const std::string block_jacobi = refused([&] {
      solver::NystromPreconditioner(ctx, 45, 1e-3, {0, 1}, columns_rows(rank * 45, 45), nullptr, with_blocks);
    });
    errors[rank] = outside.empty() || missing.empty() || block_jacobi.find("block-Jacobi") == std::string::npos
                       ? "not refused: '" + outside + "' '" + missing + "' '" + block_jacobi + "'"
                       : "";
  });
  check(errors[0].empty() && errors[1].empty(),
        "bad row shares and sharded block-Jacobi are refused on every rank " + errors[0] + errors[1]);
}

// A diagonal that does not cover the rows is refused (it used to be read out of bounds when a resume gave
// columns without inducing columns).
void test_a_diagonal_that_does_not_cover_the_rows_is_refused() {
  const std::unique_ptr<Backend> cpu = make_backend("cpu");
  const std::int64_t M = 12;
  const std::vector<double> A = spd_matrix(M, 5);
  const solver::ColumnsFn columns = [&](const std::vector<std::int64_t>& cols, double* out) {
    for (std::int64_t i = 0; i < M; ++i)
      for (std::size_t c = 0; c < cols.size(); ++c) out[i * cols.size() + c] = A[i * M + cols[c]];
  };
  solver::DiagonalBlocks empty;
  solver::NystromOptions options;
  options.diagonal = &empty;
  try {
    solver::NystromPreconditioner(solver::context_of(*cpu), M, 1e-3, {1, 4}, columns, nullptr, options);
    check(false, "an empty block-Jacobi diagonal is refused");
  } catch (const std::invalid_argument& e) {
    check(std::string(e.what()).find("do not cover the 12 rows") != std::string::npos,
          std::string("an empty block-Jacobi diagonal is refused: ") + e.what());
  }
}

}  // namespace

int main() {
  try {
    test_a_state_of_another_backend_is_refused();
    test_sharded_solvers_equal_the_serial_ones();
    test_a_diagonal_that_does_not_cover_the_rows_is_refused();
  } catch (const std::exception& e) {
    std::printf("FAIL uncaught exception: %s\n", e.what());
    return 1;
  }
  std::printf("%s: %d failure(s)\n", testing::failures == 0 ? "passed" : "FAILED", testing::failures);
  return testing::failures == 0 ? 0 : 1;
}
