#include "fastgdml/solver/shards.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace fastgdml::solver {

void ShardLayout::to_natural(const double* solver_order, double* full) const {
  const double* block = solver_order;
  for (int r = 0; r < ranks(); ++r) {
    const std::int64_t f = first[r], c = count[r];
    std::copy(block, block + c * dim, full + f * dim);
    if (energy) std::copy(block + c * dim, block + c * dim + c, full + n * dim + f);
    block += local_rows(r);
  }
}

std::int64_t ShardLayout::offset(int r) const {
  std::int64_t o = 0;
  for (int s = 0; s < r; ++s) o += local_rows(s);
  return o;
}

std::int64_t ShardLayout::natural(std::int64_t g) const {
  for (int r = 0; r < ranks(); ++r) {
    const std::int64_t rows = local_rows(r);
    if (g < rows) {
      const std::int64_t force = count[r] * dim;
      return g < force ? first[r] * dim + g : n * dim + first[r] + (g - force);
    }
    g -= rows;
  }
  throw std::out_of_range("solver row " + std::to_string(g) + " is beyond the " + std::to_string(total_rows()) +
                          " rows of the training");
}

std::int64_t ShardLayout::solver_index(std::int64_t c) const {
  const bool is_force = c < n * dim;
  const std::int64_t point = is_force ? c / dim : c - n * dim;
  if (c < 0 || point >= n) throw std::out_of_range("column " + std::to_string(c) + " is outside K");
  std::int64_t o = 0;
  for (int r = 0; r < ranks(); ++r) {
    if (point >= first[r] && point < first[r] + count[r])
      return o + (is_force ? c - first[r] * dim : count[r] * dim + (point - first[r]));
    o += local_rows(r);
  }
  throw std::out_of_range("point " + std::to_string(point) + " belongs to no rank");
}

void ShardLayout::take_local(const double* full, double* local) const {
  const std::int64_t f = first[rank], c = count[rank];
  std::copy(full + f * dim, full + (f + c) * dim, local);
  if (energy) std::copy(full + n * dim + f, full + n * dim + f + c, local + c * dim);
}

ShardLayout exchange_shards(std::int64_t n, std::int64_t dim, bool energy, std::int64_t first, std::int64_t count,
                            const Communicator& comm) {
  ShardLayout s;
  s.n = n;
  s.dim = dim;
  s.energy = energy;
  s.rank = comm.rank();
  const int P = comm.size();
  std::vector<double> shares(2 * P, 0.0);  // exact in double far beyond any training set
  shares[2 * s.rank] = static_cast<double>(first);
  shares[2 * s.rank + 1] = static_cast<double>(count);
  if (P > 1) comm.allreduce_sum(shares.data(), 2 * P);
  std::int64_t next = 0;
  for (int r = 0; r < P; ++r) {
    s.first.push_back(static_cast<std::int64_t>(shares[2 * r]));
    s.count.push_back(static_cast<std::int64_t>(shares[2 * r + 1]));
    if (s.first[r] != next || s.count[r] < 1)
      throw std::invalid_argument("row shards: rank " + std::to_string(r) + " owns points [" +
                                  std::to_string(s.first[r]) + ", " + std::to_string(s.first[r] + s.count[r]) +
                                  "), but the ranks' shares must tile [0, " + std::to_string(n) +
                                  ") in rank order, each non-empty");
    next += s.count[r];
  }
  if (next != n)
    throw std::invalid_argument("row shards cover " + std::to_string(next) + " of the " + std::to_string(n) +
                                " training points");
  return s;
}

void gather_natural(const ShardLayout& layout, const double* local, const Communicator& comm, double* solver_order,
                    double* natural_full) {
  std::vector<std::int64_t> counts(layout.ranks());
  for (int r = 0; r < layout.ranks(); ++r) counts[r] = layout.local_rows(r);
  comm.allgather(local, counts.data(), solver_order);
  layout.to_natural(solver_order, natural_full);
}

std::vector<double> gather_natural(const ShardLayout& layout, const double* local, const Communicator& comm) {
  std::vector<double> scratch(layout.total_rows()), full(layout.total_rows());
  gather_natural(layout, local, comm, scratch.data(), full.data());
  return full;
}

}  // namespace fastgdml::solver
