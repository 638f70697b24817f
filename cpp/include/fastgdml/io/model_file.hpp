// sGDML and fastgdml model files (.npz, FORMATS.md §2.2) read in C++, with the checks of the Python loader
// (python/fastgdml/model.py): shapes, finite values, a permutation group with the identity, a feature mask that
// is increasing and closed under the group, sigma, std, c, lambda, alphas_E and lattice. Only the keys prediction
// needs are read; the pickled object keys are never decompressed. Errors are io::NpzError naming file and key.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fastgdml/backend.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml::io {

struct ModelFile {
  DescriptorLayout layout{2};
  Lattice lattice;
  ModelData data;                 // X (n x D), V, b, perms (identity first), sigma, std, c, min_distance
  std::vector<int> z;             // atomic numbers (N)
  std::string energy_unit;        // "e_unit" (empty when the file has none: sGDML's kcal/mol convention)
  std::string length_unit;        // "r_unit" (empty: Angstrom)
};

// Memory a file's arrays may take while being read and derived from: 80% of what this process can still
// allocate (MemAvailable, capped by an address-space limit), as the Python loader's file_budget().
std::int64_t file_budget();

// Reads and checks the model at `path` (budget: bytes for its arrays, file_budget() by default).
ModelFile read_model(const std::string& path, std::int64_t budget = -1);

}  // namespace fastgdml::io
