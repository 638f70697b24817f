#include "fastgdml/backend.hpp"

#include <stdexcept>

#include "fastgdml/cpu_backend.hpp"

namespace fastgdml {

std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return std::make_unique<cpu::CpuBackend>();
  throw std::invalid_argument("unknown backend '" + name + "'; available: cpu (the CUDA backend is not built yet)");
}

}  // namespace fastgdml
