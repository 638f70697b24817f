// The checks every backend's prepare_training makes first (backend.hpp); compiled into the core and into each
// backend library (cuda/CMakeLists.txt).
#include <stdexcept>
#include <string>

#include "fastgdml/backend.hpp"

namespace fastgdml {

void check_training_setup(const TrainingSetup& s) {
  if (s.n < 1) throw std::invalid_argument("a kernel needs at least one training geometry");
  if (!(s.sigma > 0.0)) throw std::invalid_argument("sigma must be > 0, got " + std::to_string(s.sigma));
  if (s.local_points < 0 || s.first_point < 0 || s.first_point + s.local_points > s.n ||
      (s.local_points == 0 && s.first_point != 0))
    throw std::invalid_argument("the shard of training points [" + std::to_string(s.first_point) + ", " +
                                std::to_string(s.first_point + s.local_points) + ") is not inside the " +
                                std::to_string(s.n) + " points");
}

}  // namespace fastgdml
