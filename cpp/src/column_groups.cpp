#include "fastgdml/column_groups.hpp"

#include <stdexcept>
#include <string>

namespace fastgdml {

ColumnGroups group_columns(const std::int64_t* cols, std::int64_t count, std::int64_t n, int n_atoms,
                           bool with_energy) {
  const std::int64_t dim = 3 * static_cast<std::int64_t>(n_atoms), nF = n * dim, M = nF + (with_energy ? n : 0);
  std::vector<std::int64_t> group_of_point(n, -1);
  std::vector<char> seen(M, 0);
  std::vector<std::vector<std::int64_t>> cols_of, slots_of;
  ColumnGroups out;
  for (std::int64_t s = 0; s < count; ++s) {
    const std::int64_t c = cols[s];
    if (c < 0 || c >= M || seen[c])
      throw std::invalid_argument("kernel columns must be distinct indices in [0, " + std::to_string(M) + "), got " +
                                  std::to_string(c) + (c >= 0 && c < M ? " twice" : ""));
    seen[c] = 1;
    const std::int64_t j = c < nF ? c / dim : c - nF;
    if (group_of_point[j] < 0) {
      group_of_point[j] = out.size();
      out.point.push_back(j);
      out.energy_slot.push_back(-1);
      cols_of.emplace_back();
      slots_of.emplace_back();
    }
    const std::int64_t g = group_of_point[j];
    if (c < nF) {
      cols_of[g].push_back(c % dim);
      slots_of[g].push_back(s);
    } else {
      out.energy_slot[g] = s;
    }
  }
  out.start.push_back(0);
  for (std::int64_t g = 0; g < out.size(); ++g) {
    out.force_col.insert(out.force_col.end(), cols_of[g].begin(), cols_of[g].end());
    out.force_slot.insert(out.force_slot.end(), slots_of[g].begin(), slots_of[g].end());
    out.start.push_back(static_cast<std::int64_t>(out.force_col.size()));
  }
  return out;
}

}  // namespace fastgdml
