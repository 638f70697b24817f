// Bindings of prediction (a trained model's Predictor): check shapes, convert arrays, release the GIL and call the core. No logic here.
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "fastgdml/predictor.hpp"
#include "python/common.hpp"

namespace fastgdml::bindings {
namespace {

class PyPredictor {
 public:
  PyPredictor(int n_atoms, const Array& X, const Array& V, const IntArray& perms, double sigma, double std, double c,
              const std::optional<Array>& alphas_E, const std::optional<IntArray>& mask,
              const std::optional<Array>& lattice, const std::string& backend, double min_distance,
              std::int64_t work_bytes)
      : n_atoms_(n_atoms) {
    const DescriptorLayout layout(n_atoms, to_vector(mask));
    require(X.ndim() == 2 && X.shape(1) == layout.size(),
            "training descriptors must have shape (n, " + std::to_string(layout.size()) + "), got " + shape_of(X));
    require(V.ndim() == 2 && V.shape(0) == X.shape(0) && V.shape(1) == X.shape(1),
            "R_d_desc_alpha must have shape " + shape_of(X) + ", got " + shape_of(V));
    ModelData m;
    m.X.assign(X.data(), X.data() + X.size());
    m.V.assign(V.data(), V.data() + V.size());
    if (alphas_E) {
      require(alphas_E->ndim() == 1 && alphas_E->shape(0) == X.shape(0),
              "alphas_E must have shape (" + std::to_string(X.shape(0)) + ",), got " + shape_of(*alphas_E));
      m.b.assign(alphas_E->data(), alphas_E->data() + alphas_E->size());
    }
    m.perms = check_perms(perms, n_atoms);
    m.sigma = sigma;
    m.std = std;
    m.c = c;
    require(min_distance >= 0.0 && std::isfinite(min_distance), "min_distance must be a finite length >= 0");
    m.min_distance = min_distance;
    require(work_bytes > 0, "work_bytes must be > 0");
    m.work_bytes = work_bytes;
    predictor_ = std::make_unique<Predictor>(layout, to_lattice(lattice), m, backend);
  }

  py::tuple predict(const Array& R, bool strain) const {
    check_geometries(R, n_atoms_, "R");
    const std::int64_t B = R.shape(0);
    Array E(B), F({B, static_cast<std::int64_t>(n_atoms_), std::int64_t{3}});
    Array S(strain ? std::vector<py::ssize_t>{B, 3, 3} : std::vector<py::ssize_t>{0});
    double* e = E.mutable_data();
    double* f = F.mutable_data();
    double* st = strain ? S.mutable_data() : nullptr;
    {
      py::gil_scoped_release release;
      predictor_->predict(B, R.data(), e, f, st);
    }
    if (strain) return py::make_tuple(E, F, S);
    return py::make_tuple(E, F);
  }

  std::string backend() const { return predictor_->backend_name(); }

 private:
  int n_atoms_;
  std::unique_ptr<Predictor> predictor_;
};

}  // namespace

void bind_prediction(py::module_& m) {
  py::class_<PyPredictor>(m, "Predictor")
      .def(py::init<int, const Array&, const Array&, const IntArray&, double, double, double,
                    const std::optional<Array>&, const std::optional<IntArray>&, const std::optional<Array>&,
                    const std::string&, double, std::int64_t>(),
           py::arg("n_atoms"), py::arg("X"), py::arg("V"), py::arg("perms"), py::arg("sigma"), py::arg("std"),
           py::arg("c"), py::arg("alphas_E") = py::none(), py::arg("mask") = py::none(),
           py::arg("lattice") = py::none(), py::arg("backend") = "cpu", py::arg("min_distance") = 0.0,
           py::arg("work_bytes") = std::int64_t{1} << 28,
           "Prediction of a trained model; queries with a kept pair of atoms closer than min_distance (model "
           "length units; 0: only coincident atoms) raise ValueError naming the geometry and the atoms; batches "
           "are predicted in chunks whose work arrays stay below work_bytes.")
      .def("predict", &PyPredictor::predict, py::arg("R"), py::arg("strain") = false,
           "(E, F), or with strain=True (E, F, dE/dstrain (B, 3, 3)) for stress and virial.")
      .def_property_readonly("backend", &PyPredictor::backend);
}

}  // namespace fastgdml::bindings
