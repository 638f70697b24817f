// Requested columns of K grouped by their training point: every column of K = Cov([F; -E]) belongs to one point
// j (force column j 3N + 3a + c, or energy column n 3N + j), and the work of a column group shares the O(D)
// distance step of each (row point, j, permutation). Used by the CPU's and the CUDA kernel columns alike.
#pragma once

#include <cstdint>
#include <vector>

namespace fastgdml {

struct ColumnGroups {
  std::vector<std::int64_t> point;        // per group: its training point j
  std::vector<std::int64_t> start;        // per group g: its force columns are [start[g], start[g + 1])
  std::vector<std::int64_t> force_col;    // 3a + c of each force column
  std::vector<std::int64_t> force_slot;   // its position among the requested columns (the output column)
  std::vector<std::int64_t> energy_slot;  // per group: output column of its energy column, -1 if not requested

  std::int64_t size() const { return static_cast<std::int64_t>(point.size()); }
};

// cols (count distinct indices in [0, n 3N (+ n)), any order; slot s is cols[s]) grouped by point in order of first
// appearance. std::invalid_argument naming the offending index otherwise.
ColumnGroups group_columns(const std::int64_t* cols, std::int64_t count, std::int64_t n, int n_atoms,
                           bool with_energy);

}  // namespace fastgdml
