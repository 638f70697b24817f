#include "fastgdml/assignment.hpp"

#include <limits>
#include <vector>

namespace fastgdml {

void linear_assignment(std::int64_t n, const double* cost, std::int64_t* col) {
  // Rows are added one at a time; each addition grows an alternating tree from the new row by Dijkstra-like
  // steps on reduced costs (potentials u for rows, v for columns) until it reaches a free column, then flips
  // the path. Index 0 is a virtual column that holds the row being inserted.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> u(n + 1, 0.0), v(n + 1, 0.0), min_to(n + 1);
  std::vector<std::int64_t> row_of(n + 1, 0), way(n + 1, 0);
  std::vector<char> used(n + 1);
  for (std::int64_t r = 1; r <= n; ++r) {
    row_of[0] = r;
    std::int64_t c0 = 0;
    std::fill(min_to.begin(), min_to.end(), inf);
    std::fill(used.begin(), used.end(), 0);
    do {
      used[c0] = 1;
      const std::int64_t r0 = row_of[c0];
      double delta = inf;
      std::int64_t c1 = 0;
      for (std::int64_t c = 1; c <= n; ++c) {
        if (used[c]) continue;
        const double reduced = cost[(r0 - 1) * n + (c - 1)] - u[r0] - v[c];
        if (reduced < min_to[c]) {
          min_to[c] = reduced;
          way[c] = c0;
        }
        if (min_to[c] < delta) {
          delta = min_to[c];
          c1 = c;
        }
      }
      for (std::int64_t c = 0; c <= n; ++c) {
        if (used[c]) {
          u[row_of[c]] += delta;
          v[c] -= delta;
        } else {
          min_to[c] -= delta;
        }
      }
      c0 = c1;
    } while (row_of[c0] != 0);
    do {  // flip the augmenting path
      const std::int64_t c1 = way[c0];
      row_of[c0] = row_of[c1];
      c0 = c1;
    } while (c0 != 0);
  }
  for (std::int64_t c = 1; c <= n; ++c) col[row_of[c] - 1] = c - 1;
}

}  // namespace fastgdml
