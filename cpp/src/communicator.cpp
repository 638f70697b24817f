#include "fastgdml/compute/communicator.hpp"

namespace fastgdml {
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
