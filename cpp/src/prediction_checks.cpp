// The checks a prediction makes on its queries before it trusts them (prediction_checks.hpp): shared by every
// backend (the CUDA backend's shared object compiles this file in too).
#include "fastgdml/prediction_checks.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace fastgdml {

void refuse_close_contacts(const DescriptorLayout& layout, double min_distance, std::int64_t first, std::int64_t B,
                           const double* Xq) {
  // The descriptor holds inverse distances: one pass over it finds the closest kept pair of every query.
  const std::int64_t D = layout.size();
  const double limit = min_distance > 0.0 ? 1.0 / min_distance : 0.0;
  for (std::int64_t q = 0; q < B; ++q) {
    for (std::int64_t d = 0; d < D; ++d) {
      const double x = Xq[q * D + d];
      if (std::isfinite(x) && (limit == 0.0 || x <= limit)) continue;
      const double r = std::isfinite(x) ? 1.0 / x : 0.0;
      const std::string atoms = "geometry " + std::to_string(first + q) + ": atoms " +
                                std::to_string(layout.pair_b()[d]) + " and " + std::to_string(layout.pair_a()[d]);
      char dist[32], lim[32];
      std::snprintf(dist, sizeof dist, "%.3g", r);
      std::snprintf(lim, sizeof lim, "%.3g", 10.0 * min_distance);
      if (r < 1e-8)
        throw std::domain_error(atoms + " coincide (distance " + dist +
                                " < 1e-08); the inverse-distance descriptor is undefined there");
      throw std::domain_error(atoms + " are " + dist + " apart, closer than a tenth of the closest pair in the " +
                              "training data (" + lim + ", model length units); the model is meaningless there");
    }
  }
}

}  // namespace fastgdml
