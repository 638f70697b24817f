// Bindings of descriptors, permutation maps, the assignment solver and rGDML feature scores: check shapes, convert arrays, release the GIL and call the core. No logic here.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "fastgdml/assignment.hpp"
#include "fastgdml/backend.hpp"
#include "fastgdml/feature_scores.hpp"
#include "fastgdml/predictor.hpp"
#include "python/common.hpp"

namespace fastgdml::bindings {
namespace {

// rGDML feature scores of a model for queries R (B, N, 3): dict with scores (n_orbits,), dE (B, n_orbits) and
// g (B, D) (feature_scores.hpp). orbit: the orbit of each (masked) descriptor entry.
py::dict py_feature_deltas(int n_atoms, const Array& X, const Array& V, const std::optional<Array>& alphas_E,
                        const IntArray& perms, const std::optional<IntArray>& mask,
                        const std::optional<Array>& lattice, double sigma, double std, const IntArray& orbit,
                        const Array& R, bool forces, const std::string& backend) {
  const DescriptorLayout layout(n_atoms, to_vector(mask));
  const std::int64_t D = layout.size();
  require(X.ndim() == 2 && X.shape(1) == D && X.shape(0) >= 1,
          "training descriptors must have shape (n, " + std::to_string(D) + "), got " + shape_of(X));
  require(V.ndim() == 2 && V.shape(0) == X.shape(0) && V.shape(1) == D, "R_d_desc_alpha must have shape " +
          shape_of(X) + ", got " + shape_of(V));
  require(!alphas_E || (alphas_E->ndim() == 1 && alphas_E->shape(0) == X.shape(0)),
          "alphas_E must have one entry per training point");
  require(orbit.ndim() == 1 && orbit.shape(0) == D, "orbit must have shape (" + std::to_string(D) + ",)");
  require(sigma > 0.0 && std::isfinite(sigma) && std::isfinite(std), "sigma must be > 0 and std finite");
  check_geometries(R, n_atoms, "R");
  std::int64_t n_orbits = 0;
  std::vector<int> orbits(D);
  for (std::int64_t k = 0; k < D; ++k) {
    require(orbit.data()[k] >= 0 && orbit.data()[k] < D, "orbit indices must lie in [0, D)");
    orbits[k] = static_cast<int>(orbit.data()[k]);
    n_orbits = std::max<std::int64_t>(n_orbits, orbits[k] + 1);
  }
  ModelData m;
  m.X.assign(X.data(), X.data() + X.size());
  m.V.assign(V.data(), V.data() + V.size());
  if (alphas_E) m.b.assign(alphas_E->data(), alphas_E->data() + alphas_E->size());
  m.perms = check_perms(perms, n_atoms);
  m.sigma = sigma;
  m.std = std;
  const std::int64_t B = R.shape(0);
  FeatureDeltas out;
  {
    py::gil_scoped_release release;
    const Predictor model(layout, to_lattice(lattice), m, backend);
    out = model.feature_scores(orbits, n_orbits, B, R.data(), forces);
  }
  Array scores(n_orbits), dE({B, n_orbits}), g({B, D});
  std::copy(out.scores.begin(), out.scores.end(), scores.mutable_data());
  std::copy(out.dE.begin(), out.dE.end(), dE.mutable_data());
  std::copy(out.g.begin(), out.g.end(), g.mutable_data());
  py::dict result;
  result["scores"] = scores;
  result["dE"] = dE;
  result["g"] = g;
  result["backend"] = backend;  // the model state was prepared and served there (the backend checks it: state_of)
  if (forces) {
    Array dF({B, n_orbits, static_cast<std::int64_t>(n_atoms), std::int64_t{3}});
    std::copy(out.dF.begin(), out.dF.end(), dF.mutable_data());
    result["dF"] = dF;
  }
  return result;
}

py::tuple descriptors(const Array& R, const std::optional<IntArray>& mask, const std::optional<Array>& lattice) {
  check_geometries(R, -1, "R");
  const DescriptorLayout layout(static_cast<int>(R.shape(1)), to_vector(mask));
  const Lattice lat = to_lattice(lattice);
  const std::int64_t M = R.shape(0), D = layout.size();
  Array X({M, D}), g({M, D, std::int64_t{3}});
  double* x = X.mutable_data();
  double* gg = g.mutable_data();
  {
    py::gil_scoped_release release;
    make_backend("cpu")->descriptors(layout, lat, M, R.data(), x, gg);
  }
  return py::make_tuple(X, g);
}

py::array_t<int> permutation_maps(int n_atoms, const IntArray& perms, const std::optional<IntArray>& mask) {
  const DescriptorLayout layout(n_atoms, to_vector(mask));
  const std::vector<int> maps = layout.permutation_maps(check_perms(perms, n_atoms));
  py::array_t<int> out({static_cast<py::ssize_t>(maps.size() / layout.size()), static_cast<py::ssize_t>(layout.size())});
  std::copy(maps.begin(), maps.end(), out.mutable_data());
  return out;
}

// Minimum-cost assignment of each (n, n) cost matrix in costs (n, n) or (B, n, n): col[r] per matrix.
IntArray assign_batch(const Array& costs) {
  require((costs.ndim() == 2 || costs.ndim() == 3) && costs.shape(costs.ndim() - 1) == costs.shape(costs.ndim() - 2),
          "costs must have shape (n, n) or (B, n, n)");
  const std::int64_t n = costs.shape(costs.ndim() - 1), B = costs.ndim() == 3 ? costs.shape(0) : 1;
  const double* c = costs.data();
  for (std::int64_t i = 0; i < B * n * n; ++i)
    require(std::isfinite(c[i]), "linear_assignment: costs must be finite (use a large penalty, not inf)");
  IntArray out(costs.ndim() == 3 ? std::vector<py::ssize_t>{B, n} : std::vector<py::ssize_t>{n});
  std::int64_t* o = out.mutable_data();
  {
    py::gil_scoped_release release;
#pragma omp parallel for schedule(dynamic, 8) if (B > 16)
    for (std::int64_t b = 0; b < B; ++b) fastgdml::linear_assignment(n, c + b * n * n, o + b * n);
  }
  return out;
}

}  // namespace

void bind_descriptors(py::module_& m) {
  m.def("descriptors", &descriptors, py::arg("R"), py::arg("mask") = py::none(), py::arg("lattice") = py::none(),
        "Descriptors X (M, D) and compressed Jacobians g (M, D, 3) of geometries R (M, N, 3).");
  m.def("feature_deltas", &py_feature_deltas, py::arg("n_atoms"), py::arg("X"), py::arg("V"), py::arg("alphas_E"),
        py::arg("perms"), py::arg("mask"), py::arg("lattice"), py::arg("sigma"), py::arg("std"), py::arg("orbit"),
        py::arg("R"), py::arg("forces") = false, py::arg("backend") = "cpu",
        "rGDML feature deltas of a model at geometries R: dict(scores (n_orbits,) = sum over R of |F - F_without "
        "orbit|^2, dE (B, n_orbits) = E - E_without orbit, g (B, D) = full force in descriptor space, and with "
        "forces=True dF (B, n_orbits, N, 3) = F - F_without orbit).");
  m.def("permutation_maps", &permutation_maps, py::arg("n_atoms"), py::arg("perms"), py::arg("mask") = py::none(),
        "Descriptor index maps delta_p (G, D) of atom permutations (G, N).");
  m.def("linear_assignment", &assign_batch, py::arg("costs"),
        "Minimum-cost assignment: for costs (n, n) or (B, n, n), the column of each row, (n,) or (B, n).");
}

}  // namespace fastgdml::bindings
