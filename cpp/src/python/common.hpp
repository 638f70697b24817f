// Shared by the binding files: array types and the checks every entry point makes before calling the core.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastgdml/layout.hpp"

namespace fastgdml::bindings {

namespace py = pybind11;

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

inline void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

inline std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

inline std::vector<std::int64_t> to_vector(const std::optional<IntArray>& a) {
  if (!a) return {};
  return std::vector<std::int64_t>(a->data(), a->data() + a->size());
}

inline Lattice to_lattice(const std::optional<Array>& lattice) {
  if (!lattice) return {};
  require(lattice->ndim() == 2 && lattice->shape(0) == 3 && lattice->shape(1) == 3,
          "lattice must have shape (3, 3), got " + shape_of(*lattice));
  return Lattice::from_matrix(lattice->data());
}

// R as (M, N, 3) with M >= 1.
inline void check_geometries(const Array& R, int n_atoms, const char* name) {
  require(R.ndim() == 3 && R.shape(2) == 3 && (n_atoms < 0 || R.shape(1) == n_atoms),
          std::string(name) + " must have shape (M, " + (n_atoms < 0 ? "N" : std::to_string(n_atoms)) +
              ", 3), got " + shape_of(R));
}

inline std::vector<std::int64_t> check_perms(const IntArray& perms, int n_atoms) {
  require(perms.ndim() == 2 && perms.shape(1) == n_atoms && perms.shape(0) >= 1,
          "perms must have shape (G, " + std::to_string(n_atoms) + "), got " + shape_of(perms));
  return std::vector<std::int64_t>(perms.data(), perms.data() + perms.size());
}

// One binder per subsystem (cpp/src/python/*.cpp), called by the module definition (python_module.cpp).
void bind_descriptors(py::module_& m);
void bind_training(py::module_& m);
void bind_prediction(py::module_& m);

}  // namespace fastgdml::bindings
