// The CUDA backend (cuda_backend.cu). The core reaches it through the backend registry (backend.hpp): the shared
// object libfastgdml_cuda.so exports fastgdml_backend_entry_v1, which the core's loader calls. Tests that build the
// backend into their own program (the CPU emulation) make it directly.
#pragma once

#include <memory>

#include "fastgdml/backend.hpp"

namespace fastgdml::cuda {

// std::runtime_error naming the cause when the process sees no usable CUDA device.
std::unique_ptr<Backend> make_cuda_backend();

}  // namespace fastgdml::cuda
