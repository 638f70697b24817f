#include "fastgdml/compute/communicator.hpp"

#include <algorithm>

namespace fastgdml {

void Communicator::allgather(const double* local, const std::int64_t* counts, double* all) const {
  std::int64_t offset = 0, total = 0;
  for (int r = 0; r < size(); ++r) {
    if (r == rank()) offset = total;
    total += counts[r];
  }
  std::fill(all, all + total, 0.0);
  std::copy(local, local + counts[rank()], all + offset);
  if (size() > 1) allreduce_sum(all, total);
}

namespace {

class SerialCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void allreduce_sum(double*, std::int64_t) const override {}
};

}  // namespace

const Communicator& serial_communicator() {
  static const SerialCommunicator serial;  // stateless: sharing it is safe
  return serial;
}

}  // namespace fastgdml
