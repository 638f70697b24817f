// The CPU backend (OpenMP + BLAS): its factory, called by the registry (backend.cpp).
#pragma once

#include <memory>

#include "fastgdml/backend.hpp"

namespace fastgdml::cpu {

std::unique_ptr<Backend> make_cpu_backend();

}  // namespace fastgdml::cpu
