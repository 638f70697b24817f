// What the solvers run on: a backend's vectors and dense algebra, and the communicator of the ranks that share
// the problem (serial by default). CG, Nyström and the training drivers take one and never touch an element of
// a vector themselves, so they run unchanged on the CPU, on a GPU and over MPI ranks.
#pragma once

#include <stdexcept>
#include <string>

#include "fastgdml/backend.hpp"
#include "fastgdml/compute/communicator.hpp"
#include "fastgdml/compute/dense_algebra.hpp"
#include "fastgdml/compute/vector_space.hpp"

namespace fastgdml::solver {

// This rank's rows of every vector and of the Nyström factor: [first_row, first_row + M) of total_rows
// (total_rows < 0: not sharded, this rank has all M rows).
struct RowShare {
  std::int64_t first_row = 0;
  std::int64_t total_rows = -1;
};

struct SolverContext {
  const VectorSpace& vectors;
  const DenseAlgebra& algebra;
  const Communicator& comm;
  RowShare rows{};

  std::int64_t global_rows(std::int64_t local) const { return rows.total_rows < 0 ? local : rows.total_rows; }

  // std::invalid_argument unless this rank's `local` rows lie inside the total (and the total is given exactly
  // when there are several ranks).
  void check_rows(std::int64_t local) const {
    const bool sharded = rows.total_rows >= 0;
    if ((comm.size() > 1 && !sharded) ||
        (sharded && (rows.first_row < 0 || local < 0 || rows.first_row + local > rows.total_rows)))
      throw std::invalid_argument("solver rows: " + std::to_string(local) + " rows from row " +
                                  std::to_string(rows.first_row) + " do not fit the " +
                                  std::to_string(rows.total_rows) + " rows of " + std::to_string(comm.size()) +
                                  " rank(s); give each rank its RowShare");
  }

  // This rank's part of a dot product summed over all ranks.
  double dot(std::int64_t n, const double* x, const double* y) const {
    double s = vectors.dot(n, x, y);
    if (comm.size() > 1) comm.allreduce_sum(&s, 1);
    return s;
  }
};

inline SolverContext context_of(const Backend& backend, const Communicator& comm = serial_communicator()) {
  return {backend.vectors(), backend.algebra(), comm};
}

}  // namespace fastgdml::solver
