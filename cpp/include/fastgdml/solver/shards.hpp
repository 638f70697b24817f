// Row-sharded training (MPI): which training points each rank owns and where its rows sit in the solver's order.
//
// Rank r owns the contiguous points [first_r, first_r + count_r) (block edges on whole geometries) and computes
// their rows of K: their force rows, then their energy rows (TrainingSetup::first_point/local_points). The solver
// sees one global vector made of the ranks' row blocks in rank order, so each rank's rows are contiguous there
// (solver::RowShare); K's own order is [all force rows; all energy rows] ("natural"). The two orders coincide on
// one rank. Inducing columns are solver-order indices; checkpoints store the natural order, so that a resume may
// use another rank count.
#pragma once

#include <cstdint>
#include <vector>

#include "fastgdml/compute/communicator.hpp"

namespace fastgdml::solver {

struct ShardLayout {
  std::int64_t n = 0;            // training points
  std::int64_t dim = 0;          // force rows per point (3N)
  bool energy = false;           // one energy row per point
  int rank = 0;
  std::vector<std::int64_t> first, count;  // per rank: its points

  int ranks() const { return static_cast<int>(first.size()); }
  std::int64_t rows_per_point() const { return dim + (energy ? 1 : 0); }
  std::int64_t total_rows() const { return n * rows_per_point(); }
  std::int64_t local_rows(int r) const { return count[r] * rows_per_point(); }
  std::int64_t offset(int r) const;  // first solver-order row of rank r
  // K's (natural) index of solver-order row g, and back.
  std::int64_t natural(std::int64_t g) const;
  std::int64_t solver_index(std::int64_t natural_index) const;
  // Rank `rank`'s rows of a natural-order vector (host) in local order [force rows; energy rows].
  void take_local(const double* natural_full, double* local) const;
  // A whole vector from the solver's order (every rank's rows, rank after rank) into K's order.
  void to_natural(const double* solver_order, double* natural_full) const;
};

// The layout of all ranks from each rank's (first, count), exchanged through comm (an allreduce); std::invalid_argument
// unless the shares tile [0, n) in rank order.
ShardLayout exchange_shards(std::int64_t n, std::int64_t dim, bool energy, std::int64_t first, std::int64_t count,
                            const Communicator& comm);

// The natural-order full vector (host, total_rows) from every rank's local rows (host): comm.allgather into
// `solver_order` (total_rows, scratch), then reordered into `natural_full`. Collective.
void gather_natural(const ShardLayout& layout, const double* local, const Communicator& comm, double* solver_order,
                    double* natural_full);
std::vector<double> gather_natural(const ShardLayout& layout, const double* local, const Communicator& comm);

}  // namespace fastgdml::solver
