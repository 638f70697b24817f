// Minimum-cost perfect matching of a square cost matrix (the linear assignment problem), used by the
// permutation search to match the atoms of one geometry to another's.
#pragma once

#include <cstdint>

namespace fastgdml {

// cost: n x n, row-major. Writes col[r] = the column assigned to row r (a permutation of 0..n-1) minimising
// sum_r cost[r][col[r]]. Shortest augmenting paths with potentials (Hungarian method), O(n^3).
void linear_assignment(std::int64_t n, const double* cost, std::int64_t* col);

}  // namespace fastgdml
