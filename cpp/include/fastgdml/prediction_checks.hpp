// The input and output checks of prediction that every backend makes the same way (predictor.cpp).
#pragma once

#include <cstdint>

#include "fastgdml/layout.hpp"

namespace fastgdml {

// Queries first .. first + B - 1 with descriptors Xq (B x D, host): std::domain_error naming the geometry and
// the atoms for a kept pair closer than min_distance (0: only coincident atoms) and for coincident atoms.
void refuse_close_contacts(const DescriptorLayout& layout, double min_distance, std::int64_t first, std::int64_t B,
                           const double* Xq);

}  // namespace fastgdml
