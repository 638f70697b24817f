// pybind11 bindings: check shapes, convert arrays, release the GIL and call the core. No logic here.
#include <omp.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastgdml/assignment.hpp"
#include "fastgdml/feature_scores.hpp"
#include "fastgdml/fork_safety.hpp"
#include "fastgdml/kernel_operator.hpp"
#include "fastgdml/layout.hpp"
#include "fastgdml/linalg.hpp"
#include "fastgdml/predictor.hpp"
#include "fastgdml/solver/closed_form.hpp"
#include "fastgdml/solver/iterative.hpp"
#include "fastgdml/solver/nystrom.hpp"

namespace py = pybind11;
using namespace fastgdml;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IntArray = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;

void require(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

std::string shape_of(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

std::vector<std::int64_t> to_vector(const std::optional<IntArray>& a) {
  if (!a) return {};
  return std::vector<std::int64_t>(a->data(), a->data() + a->size());
}

Lattice to_lattice(const std::optional<Array>& lattice) {
  if (!lattice) return {};
  require(lattice->ndim() == 2 && lattice->shape(0) == 3 && lattice->shape(1) == 3,
          "lattice must have shape (3, 3), got " + shape_of(*lattice));
  return Lattice::from_matrix(lattice->data());
}

// R as (M, N, 3) with M >= 1.
void check_geometries(const Array& R, int n_atoms, const char* name) {
  require(R.ndim() == 3 && R.shape(2) == 3 && (n_atoms < 0 || R.shape(1) == n_atoms),
          std::string(name) + " must have shape (M, " + (n_atoms < 0 ? "N" : std::to_string(n_atoms)) +
              ", 3), got " + shape_of(R));
}

std::vector<std::int64_t> check_perms(const IntArray& perms, int n_atoms) {
  require(perms.ndim() == 2 && perms.shape(1) == n_atoms && perms.shape(0) >= 1,
          "perms must have shape (G, " + std::to_string(n_atoms) + "), got " + shape_of(perms));
  return std::vector<std::int64_t>(perms.data(), perms.data() + perms.size());
}

solver::ColumnsFn columns_of(const KernelOperator& op) {
  return [&op](const std::vector<std::int64_t>& cols, double* out) { op.columns(cols, out); };
}

solver::DiagonalBlocks diagonal_of(const KernelOperator& op) {
  solver::DiagonalBlocks d;
  d.block = 3 * op.n_atoms();
  d.count = op.n();
  d.blocks.resize(d.count * d.block * d.block);
  d.scalars.resize(op.use_energy() ? op.n() : 0);
  op.diagonal_blocks(d.blocks.data(), d.scalars.data());
  return d;
}

class PyKernelOperator {
 public:
  PyKernelOperator(const Array& R, const IntArray& perms, double sigma, bool use_energy,
                   const std::optional<IntArray>& mask, const std::optional<Array>& lattice, std::int64_t cache_bytes,
                   const std::string& backend) {
    check_geometries(R, -1, "R");
    const int N = static_cast<int>(R.shape(1));
    n_atoms_ = N;
    const std::vector<std::int64_t> p = check_perms(perms, N);
    KernelOptions options;
    options.sigma = sigma;
    options.use_energy = use_energy;
    options.cache_bytes = cache_bytes;
    options.backend = backend;
    const DescriptorLayout layout(N, to_vector(mask));
    const Lattice lat = to_lattice(lattice);
    py::gil_scoped_release release;
    op_ = std::make_unique<KernelOperator>(layout, lat, R.shape(0), R.data(), p, options);
  }

  Array matvec(const Array& v) const {
    require(v.ndim() == 1 && v.shape(0) == op_->size(),
            "v must have shape (" + std::to_string(op_->size()) + ",), got " + shape_of(v));
    Array out(op_->size());
    double* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      op_->matvec(v.data(), o);
    }
    return out;
  }

  Array assemble() const {
    const std::int64_t M = op_->size();
    Array K({M, M});
    double* k = K.mutable_data();
    {
      py::gil_scoped_release release;
      op_->assemble(k);
    }
    return K;
  }

  Array jacobian_rows(const Array& a) const {
    const std::int64_t n = op_->n(), D = op_->descriptor_size();
    require(a.size() == n * 3 * n_atoms_, "per-point vectors must hold n * 3N = " + std::to_string(n * 3 * n_atoms_) +
                                              " values, got " + std::to_string(a.size()));
    Array out({n, D});
    double* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      op_->jacobian_rows(a.data(), o);
    }
    return out;
  }

  Array columns(const IntArray& cols) const {
    const std::vector<std::int64_t> c(cols.data(), cols.data() + cols.size());
    Array out({op_->size(), static_cast<std::int64_t>(c.size())});
    double* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      op_->columns(c, o);
    }
    return out;
  }

  const KernelOperator& op() const { return *op_; }

  py::tuple diagonal_blocks() const {
    const solver::DiagonalBlocks d = diagonal_of(*op_);
    Array blocks({d.count, d.block, d.block}), scalars(static_cast<py::ssize_t>(d.scalars.size()));
    std::copy(d.blocks.begin(), d.blocks.end(), blocks.mutable_data());
    std::copy(d.scalars.begin(), d.scalars.end(), scalars.mutable_data());
    return py::make_tuple(blocks, scalars);
  }

  Array X() const {
    const std::int64_t n = op_->n(), D = op_->descriptor_size();
    Array out({n, D});
    std::copy(op_->X().begin(), op_->X().end(), out.mutable_data());
    return out;
  }

  std::int64_t size() const { return op_->size(); }
  std::string backend() const { return op_->backend_name(); }
  std::int64_t cache_bytes() const { return op_->cache_bytes(); }

 private:
  std::int64_t n_atoms_;
  std::unique_ptr<KernelOperator> op_;
};

// Calls a Python log function (or nothing) from C++ code that runs without the GIL.
solver::LogFn python_log(const py::object& log) {
  if (log.is_none()) return nullptr;
  return [log](const std::string& message) {
    py::gil_scoped_acquire acquire;
    log(message);
  };
}

class PyNystrom {
 public:
  PyNystrom(const PyKernelOperator& op, double lam, const IntArray& cols, const py::object& log, bool block_jacobi,
            bool single_precision, bool always_qr)
      : M_(op.size()) {
    std::vector<std::int64_t> c(cols.data(), cols.data() + cols.size());
    const solver::LogFn log_fn = python_log(log);
    py::gil_scoped_release release;
    solver::DiagonalBlocks d;
    if (block_jacobi) d = diagonal_of(op.op());
    solver::NystromOptions options;
    options.diagonal = block_jacobi ? &d : nullptr;
    options.single_precision = single_precision;
    options.always_qr = always_qr;
    p_ = std::make_unique<solver::NystromPreconditioner>(M_, lam, std::move(c), columns_of(op.op()), log_fn, options);
  }
  Array apply(const Array& v) const {
    require(v.ndim() == 1 && v.shape(0) == M_, "v must have shape (" + std::to_string(M_) + ",)");
    Array out(M_);
    double* o = out.mutable_data();
    py::gil_scoped_release release;
    p_->apply(v.data(), o);
    return out;
  }
  Array leverage_scores() const {
    std::vector<double> s;
    {
      py::gil_scoped_release release;
      s = p_->leverage_scores();
    }
    Array out(static_cast<py::ssize_t>(s.size()));
    std::copy(s.begin(), s.end(), out.mutable_data());
    return out;
  }
  double jitter() const { return p_->jitter(); }
  bool used_qr() const { return p_->used_qr(); }
  Array W() const {
    const solver::TallMatrix& W = p_->W();
    Array out({W.rows(), W.cols()});
    W.copy_rows(0, W.rows(), out.mutable_data());
    return out;
  }

 private:
  std::int64_t M_;
  std::unique_ptr<solver::NystromPreconditioner> p_;
};

// Solves (K + lam I) x = y by preconditioned CG; x0 is the start iterate. monitor(iteration, residual, x) may
// return False to stop; exceptions it raises (KeyboardInterrupt) propagate.
py::tuple solve_iterative(const PyKernelOperator& op, const Array& y, const Array& x0,
                          const solver::IterativeOptions& options, const py::object& monitor, const py::object& log,
                          const py::object& on_preconditioner) {
  const std::int64_t M = op.size();
  require(y.ndim() == 1 && y.shape(0) == M && x0.ndim() == 1 && x0.shape(0) == M,
          "y and x0 must have shape (" + std::to_string(M) + ",)");
  Array x(M);
  std::copy(x0.data(), x0.data() + M, x.mutable_data());
  double* xp = x.mutable_data();
  solver::Monitor monitor_fn = nullptr;
  if (!monitor.is_none())
    monitor_fn = [monitor, M](std::int64_t it, double rel, const double* xi) {
      py::gil_scoped_acquire acquire;
      Array copy(M);
      std::copy(xi, xi + M, copy.mutable_data());
      py::object keep = monitor(it, rel, copy);
      return keep.is_none() || keep.cast<bool>();
    };
  const solver::LogFn log_fn = python_log(log);
  solver::PreconditionerFn built_fn = nullptr;
  if (!on_preconditioner.is_none())
    built_fn = [on_preconditioner](const std::vector<std::int64_t>& cols) {
      py::gil_scoped_acquire acquire;
      IntArray copy(static_cast<py::ssize_t>(cols.size()));
      std::copy(cols.begin(), cols.end(), copy.mutable_data());
      on_preconditioner(copy);
    };
  solver::IterativeResult result;
  {
    py::gil_scoped_release release;
    result = solver::solve_iterative(
        M, [&op](const double* v, double* out) { op.op().matvec(v, out); }, columns_of(op.op()),
        [&op]() { return diagonal_of(op.op()); }, y.data(), xp, options, monitor_fn, log_fn, built_fn);
  }
  py::dict info;
  info["converged"] = result.converged;
  info["status"] = result.status;
  info["iterations"] = result.iterations;
  info["relative_residual"] = result.relative_residual;
  info["restarts"] = result.restarts;
  IntArray cols(static_cast<py::ssize_t>(result.columns.size()));
  std::copy(result.columns.begin(), result.columns.end(), cols.mutable_data());
  info["columns"] = cols;
  return py::make_tuple(x, info);
}

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
    predictor_ = std::make_unique<Predictor>(layout, to_lattice(lattice), std::move(m), backend);
  }

  py::tuple predict(const Array& R) const {
    check_geometries(R, n_atoms_, "R");
    const std::int64_t B = R.shape(0);
    Array E(B), F({B, static_cast<std::int64_t>(n_atoms_), std::int64_t{3}});
    double* e = E.mutable_data();
    double* f = F.mutable_data();
    {
      py::gil_scoped_release release;
      predictor_->predict(B, R.data(), e, f);
    }
    return py::make_tuple(E, F);
  }

  std::string backend() const { return predictor_->backend_name(); }

 private:
  int n_atoms_;
  std::unique_ptr<Predictor> predictor_;
};

// rGDML feature scores of a model for queries R (B, N, 3): dict with scores (n_orbits,), dE (B, n_orbits) and
// g (B, D) (feature_scores.hpp). orbit: the orbit of each (masked) descriptor entry.
py::dict py_feature_deltas(int n_atoms, const Array& X, const Array& V, const std::optional<Array>& alphas_E,
                        const IntArray& perms, const std::optional<IntArray>& mask,
                        const std::optional<Array>& lattice, double sigma, double std, const IntArray& orbit,
                        const Array& R, bool forces) {
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
  const std::vector<int> maps = layout.permutation_maps(check_perms(perms, n_atoms));
  const std::vector<int> maps_inv = invert_permutation_maps(maps, D);
  FeatureModel m;
  m.n = X.shape(0);
  m.D = D;
  m.X = X.data();
  m.V = V.data();
  m.b = alphas_E ? alphas_E->data() : nullptr;
  m.sigma = sigma;
  m.std = std;
  m.perm = maps.data();
  m.perm_inv = maps_inv.data();
  m.G = static_cast<int>(maps.size() / D);
  m.orbit = orbits.data();
  m.n_orbits = n_orbits;
  const std::int64_t B = R.shape(0);
  const Lattice lat = to_lattice(lattice);
  FeatureDeltas out;
  {
    py::gil_scoped_release release;
    out = fastgdml::feature_deltas(layout, lat, m, B, R.data(), forces);
  }
  Array scores(n_orbits), dE({B, n_orbits}), g({B, D});
  std::copy(out.scores.begin(), out.scores.end(), scores.mutable_data());
  std::copy(out.dE.begin(), out.dE.end(), dE.mutable_data());
  std::copy(out.g.begin(), out.g.end(), g.mutable_data());
  py::dict result;
  result["scores"] = scores;
  result["dE"] = dE;
  result["g"] = g;
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

// Closed-form training solve x = (K + lam I)^-1 y (solver/closed_form.hpp).
Array solve_closed_form(const PyKernelOperator& op, const Array& y, double lam) {
  const std::int64_t M = op.size();
  require(y.ndim() == 1 && y.shape(0) == M, "y must have shape (" + std::to_string(M) + ",)");
  require(lam >= 0.0 && std::isfinite(lam), "lam must be a finite number >= 0");
  Array x(M);
  double* xp = x.mutable_data();
  {
    py::gil_scoped_release release;
    solver::solve_closed_form(op.op(), lam, y.data(), xp);
  }
  return x;
}

// C = A B^T through the core's own BLAS, so benchmarks measure the DGEMM rate of the library the core uses.
Array gemm_abt(const Array& A, const Array& B) {
  require(A.ndim() == 2 && B.ndim() == 2 && A.shape(1) == B.shape(1), "gemm_abt needs A (m, k) and B (n, k)");
  const std::int64_t m = A.shape(0), n = B.shape(0), k = A.shape(1);
  Array C({m, n});
  double* c = C.mutable_data();
  {
    py::gil_scoped_release release;
    linalg::gemm(linalg::Op::kNoTrans, linalg::Op::kTrans, m, n, k, 1.0, A.data(), k, B.data(), k, 0.0, c, n);
  }
  return C;
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

void set_num_threads(int n) {
  require(n >= 1, "number of threads must be >= 1");
  // The thread that forked this process keeps one OpenMP thread (fork_safety.hpp); BLAS still gets n.
  omp_set_num_threads(threads::openmp_pool_is_stale() ? 1 : n);
  linalg::set_blas_threads(n);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastgdml C++ core (CPU backend: OpenMP + BLAS)";
  linalg::share_threads_with_openmp();
  threads::install_fork_handlers();
  m.def("descriptors", &descriptors, py::arg("R"), py::arg("mask") = py::none(), py::arg("lattice") = py::none(),
        "Descriptors X (M, D) and compressed Jacobians g (M, D, 3) of geometries R (M, N, 3).");
  m.def("feature_deltas", &py_feature_deltas, py::arg("n_atoms"), py::arg("X"), py::arg("V"), py::arg("alphas_E"),
        py::arg("perms"), py::arg("mask"), py::arg("lattice"), py::arg("sigma"), py::arg("std"), py::arg("orbit"),
        py::arg("R"), py::arg("forces") = false,
        "rGDML feature deltas of a model at geometries R: dict(scores (n_orbits,) = sum over R of |F - F_without "
        "orbit|^2, dE (B, n_orbits) = E - E_without orbit, g (B, D) = full force in descriptor space, and with "
        "forces=True dF (B, n_orbits, N, 3) = F - F_without orbit).");
  m.def("permutation_maps", &permutation_maps, py::arg("n_atoms"), py::arg("perms"), py::arg("mask") = py::none(),
        "Descriptor index maps delta_p (G, D) of atom permutations (G, N).");
  m.def("solve_closed_form", &solve_closed_form, py::arg("op"), py::arg("y"), py::arg("lam"),
        "Closed-form training: (K + lam I)^-1 y by a dense Cholesky factorisation (RuntimeError naming the fixes "
        "when K + lam I is not positive definite).");
  m.def("linear_assignment", &assign_batch, py::arg("costs"),
        "Minimum-cost assignment: for costs (n, n) or (B, n, n), the column of each row, (n,) or (B, n).");
  m.def("gemm_abt", &gemm_abt, py::arg("A"), py::arg("B"), "A B^T with the core's BLAS (for benchmarks).");
  m.def("set_num_threads", &set_num_threads, py::arg("n"), "Threads for the OpenMP loops and BLAS.");
  m.def("get_num_threads", []() { return omp_get_max_threads(); });
  m.def("backends", &backend_names, "Names of the compute backends this build can use (registered), sorted.");
  m.def("blas_threads", &linalg::blas_threads);
  m.def("blas_name", &linalg::blas_name);

  py::class_<PyKernelOperator>(m, "KernelOperator")
      .def(py::init<const Array&, const IntArray&, double, bool, const std::optional<IntArray>&,
                    const std::optional<Array>&, std::int64_t, const std::string&>(),
           py::arg("R"), py::arg("perms"), py::arg("sigma"), py::arg("use_energy") = false,
           py::arg("mask") = py::none(), py::arg("lattice") = py::none(), py::arg("cache_bytes") = 1LL << 30,
           py::arg("backend") = "cpu")
      .def("matvec", &PyKernelOperator::matvec, py::arg("v"))
      .def("assemble", &PyKernelOperator::assemble)
      .def("jacobian_rows", &PyKernelOperator::jacobian_rows, py::arg("a"))
      .def("columns", &PyKernelOperator::columns, py::arg("cols"), "K[:, cols] without forming K.")
      .def("diagonal_blocks", &PyKernelOperator::diagonal_blocks, "(K[F_i, F_i] (n, 3N, 3N), K[E_i, E_i] (n or 0,))")
      .def_property_readonly("X", &PyKernelOperator::X)
      .def_property_readonly("size", &PyKernelOperator::size)
      .def_property_readonly("backend", &PyKernelOperator::backend)
      .def_property_readonly("cache_bytes", &PyKernelOperator::cache_bytes);

  py::class_<PyNystrom>(m, "NystromPreconditioner")
      .def(py::init<const PyKernelOperator&, double, const IntArray&, const py::object&, bool, bool, bool>(),
           py::arg("op"), py::arg("lam"), py::arg("cols"), py::arg("log") = py::none(), py::arg("block_jacobi") = false,
           py::arg("single_precision") = true, py::arg("always_qr") = false)
      .def("apply", &PyNystrom::apply, py::arg("v"), "(K~ + lam I)^-1 v")
      .def("leverage_scores", &PyNystrom::leverage_scores)
      .def_property_readonly("jitter", &PyNystrom::jitter)
      .def_property_readonly("used_qr", &PyNystrom::used_qr, "R from the streamed QR instead of Cholesky")
      .def_property_readonly("W", &PyNystrom::W, "the stored factor W (M, k) as float64");

  py::class_<solver::IterativeOptions>(m, "IterativeOptions")
      .def(py::init<>())
      .def_readwrite("lam", &solver::IterativeOptions::lambda)
      .def_readwrite("tol", &solver::IterativeOptions::tol)
      .def_readwrite("inducing", &solver::IterativeOptions::inducing)
      .def_readwrite("max_inducing", &solver::IterativeOptions::max_inducing)
      .def_readwrite("score_columns", &solver::IterativeOptions::score_columns)
      .def_readwrite("growth", &solver::IterativeOptions::growth)
      .def_readwrite("max_restarts", &solver::IterativeOptions::max_restarts)
      .def_readwrite("max_iterations", &solver::IterativeOptions::max_iterations)
      .def_readwrite("refresh_every", &solver::IterativeOptions::refresh_every)
      .def_readwrite("stall_window", &solver::IterativeOptions::stall_window)
      .def_readwrite("seed", &solver::IterativeOptions::seed)
      .def_readwrite("columns", &solver::IterativeOptions::columns)
      .def_readwrite("iteration_offset", &solver::IterativeOptions::iteration_offset)
      .def_readwrite("block_jacobi", &solver::IterativeOptions::block_jacobi)
      .def_readwrite("single_precision", &solver::IterativeOptions::single_precision);

  m.def("solve_iterative", &solve_iterative, py::arg("op"), py::arg("y"), py::arg("x0"), py::arg("options"),
        py::arg("monitor") = py::none(), py::arg("log") = py::none(), py::arg("on_preconditioner") = py::none(),
        "Preconditioned CG on (K + lam I) x = y -> (x, info dict). on_preconditioner(columns) is called with the "
        "inducing columns of every preconditioner built (checkpoints store them).");

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
      .def("predict", &PyPredictor::predict, py::arg("R"))
      .def_property_readonly("backend", &PyPredictor::backend);
}
