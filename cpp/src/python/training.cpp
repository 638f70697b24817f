// Bindings of training: the kernel operator, the Nyström preconditioner, the closed-form and iterative solvers: check shapes, convert arrays, release the GIL and call the core. No logic here.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <mutex>

#include "fastgdml/kernel_operator.hpp"
#include "fastgdml/solver/closed_form.hpp"
#include "fastgdml/solver/iterative.hpp"
#include "fastgdml/solver/iterative_training.hpp"
#include "fastgdml/solver/memory_plan.hpp"
#include "fastgdml/solver/nystrom.hpp"
#include "python/common.hpp"

namespace fastgdml::bindings {
namespace {

class PyKernelOperator {
 public:
  PyKernelOperator(const Array& R, const IntArray& perms, double sigma, bool use_energy,
                   const std::optional<IntArray>& mask, const std::optional<Array>& lattice, std::int64_t cache_bytes,
                   const std::string& backend, std::int64_t first_point, std::int64_t local_points) {
    check_geometries(R, -1, "R");
    const int N = static_cast<int>(R.shape(1));
    n_atoms_ = N;
    const std::vector<std::int64_t> p = check_perms(perms, N);
    KernelOptions options;
    options.sigma = sigma;
    options.use_energy = use_energy;
    options.cache_bytes = cache_bytes;
    options.backend = backend;
    options.first_point = first_point;
    options.local_points = local_points;
    const DescriptorLayout layout(N, to_vector(mask));
    const Lattice lat = to_lattice(lattice);
    py::gil_scoped_release release;
    op_ = std::make_unique<KernelOperator>(layout, lat, R.shape(0), R.data(), p, options);
  }

  Array matvec(const Array& v) const {
    require(v.ndim() == 1 && v.shape(0) == op_->size(),
            "v must have shape (" + std::to_string(op_->size()) + ",), got " + shape_of(v));
    Array out(op_->local_size());
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
    Array out({op_->local_size(), static_cast<std::int64_t>(c.size())});
    double* o = out.mutable_data();
    {
      py::gil_scoped_release release;
      op_->columns(c, o);
    }
    return out;
  }

  const KernelOperator& op() const { return *op_; }

  py::tuple diagonal_blocks() const {
    const solver::DiagonalBlocks d = solver::diagonal_of(*op_);
    Array blocks({d.count, d.block, d.block}), scalars(static_cast<py::ssize_t>(d.scalars.size()));
    std::copy(d.blocks.begin(), d.blocks.end(), blocks.mutable_data());
    std::copy(d.scalars.begin(), d.scalars.end(), scalars.mutable_data());
    return py::make_tuple(blocks, scalars);
  }

  Array X() const {
    const std::int64_t n = op_->n(), D = op_->descriptor_size();
    Array out({n, D});
    const std::vector<double> X = op_->X();
    std::copy(X.begin(), X.end(), out.mutable_data());
    return out;
  }

  std::int64_t size() const { return op_->size(); }
  std::int64_t local_size() const { return op_->local_size(); }
  std::int64_t first_point() const { return op_->first_point(); }
  std::int64_t local_points() const { return op_->local_points(); }
  std::string backend() const { return op_->backend_name(); }
  std::int64_t cache_bytes() const { return op_->cache_bytes(); }

 private:
  std::int64_t n_atoms_;
  std::unique_ptr<KernelOperator> op_;
};

// A Python communicator (fastgdml.parallel.MpiCommunicator, or any object with rank, size and
// allreduce_sum(array) summing a float64 array in place over the ranks, and optionally allgather(local, all,
// counts) concatenating the ranks' arrays into `all`) as the core's Communicator: the buffers
// are handed over as zero-copy array views, the GIL taken for the call (the solvers run without it).
class PyCommunicator final : public Communicator {
 public:
  explicit PyCommunicator(const py::object& comm)
      : comm_(comm), rank_(comm.attr("rank").cast<int>()), size_(comm.attr("size").cast<int>()),
        has_allgather_(py::hasattr(comm, "allgather")) {
    require(size_ >= 1 && rank_ >= 0 && rank_ < size_, "communicator: rank " + std::to_string(rank_) +
                                                            " of size " + std::to_string(size_) + " is impossible");
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void allreduce_sum(double* host, std::int64_t count) const override {
    py::gil_scoped_acquire acquire;
    const py::capsule no_owner(host, [](void*) {});  // a view: the core owns the buffer
    py::array_t<double> view({static_cast<py::ssize_t>(count)}, {static_cast<py::ssize_t>(sizeof(double))}, host,
                             no_owner);
    comm_.attr("allreduce_sum")(view);
  }
  void allgather(const double* local, const std::int64_t* counts, double* all) const override {
    if (!has_allgather_) return Communicator::allgather(local, counts, all);
    py::gil_scoped_acquire acquire;
    std::int64_t total = 0;
    py::list sizes;
    for (int r = 0; r < size_; ++r) {
      total += counts[r];
      sizes.append(counts[r]);
    }
    const py::capsule no_owner(all, [](void*) {});
    py::array_t<double> in({static_cast<py::ssize_t>(counts[rank_])}, {static_cast<py::ssize_t>(sizeof(double))},
                           local, no_owner);
    py::array_t<double> out({static_cast<py::ssize_t>(total)}, {static_cast<py::ssize_t>(sizeof(double))}, all,
                            no_owner);
    comm_.attr("allgather")(in, out, sizes);
  }

 private:
  py::object comm_;
  int rank_, size_;
  bool has_allgather_;
};

// The core's communicator of a Python one (None: serial).
std::unique_ptr<Communicator> communicator_of(const py::object& comm) {
  if (comm.is_none()) return nullptr;
  return std::make_unique<PyCommunicator>(comm);
}

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
    require(op.op().backend().vectors().host_memory(),
            "NystromPreconditioner: the Python object needs a host-memory backend, got '" + op.backend() + "'");
    require(!op.op().state().sharded(),
            "NystromPreconditioner: this operator holds a shard of K's rows; row-sharded solves run in "
            "train_iterative(..., comm=...)");
    std::vector<std::int64_t> c(cols.data(), cols.data() + cols.size());
    const solver::LogFn log_fn = python_log(log);
    py::gil_scoped_release release;
    solver::DiagonalBlocks d;
    if (block_jacobi) d = solver::diagonal_of(op.op());
    solver::NystromOptions options;
    options.diagonal = block_jacobi ? &d : nullptr;
    options.single_precision = single_precision;
    options.always_qr = always_qr;
    p_ = std::make_unique<solver::NystromPreconditioner>(solver::context_of(op.op().backend()), M_, lam, std::move(c),
                                                         solver::columns_of(op.op()), log_fn, options);
  }
  Array apply(const Array& v) const {
    require(v.ndim() == 1 && v.shape(0) == M_, "v must have shape (" + std::to_string(M_) + ",)");
    Array out(M_);
    double* o = out.mutable_data();
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(busy_);  // apply's workspace is the preconditioner's
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
    const TallFactor& W = p_->W();
    Array out({W.rows(), W.cols()});
    W.copy_rows(0, W.rows(), out.mutable_data());
    return out;
  }

 private:
  std::int64_t M_;
  std::unique_ptr<solver::NystromPreconditioner> p_;
  mutable std::mutex busy_;
};

IntArray int_array(const std::vector<std::int64_t>& v) {
  IntArray out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// What a solve reports, as the Python dict of solve_iterative / train_iterative.
py::dict iterative_info(const solver::IterativeResult& result) {
  py::dict info;
  info["converged"] = result.converged;
  info["status"] = result.status;
  info["iterations"] = result.iterations;
  info["relative_residual"] = result.relative_residual;
  info["restarts"] = result.restarts;
  info["columns"] = int_array(result.columns);
  return info;
}

// y, x0 and the solution as Python sees them: all rows, in K's order. A row-sharded operator's rank solves for its
// own rows (ShardLayout::take_local) and the solution is gathered back (gather_natural), so that the shard layout
// lives in the core alone. Construction and gather are collective over comm's ranks.
class ShardedVectors {
 public:
  ShardedVectors(const PyKernelOperator& op, const Array& y, const Array& x0, const Communicator& comm)
      : comm_(comm), shards_(solver::shards_of(op.op(), comm)), y_(op.local_size()), x_(op.local_size()) {
    const std::int64_t M = op.size();
    require(y.ndim() == 1 && y.shape(0) == M && x0.ndim() == 1 && x0.shape(0) == M,
            "y and x0 must have shape (" + std::to_string(M) + ",): all rows of K, in its order");
    shards_.take_local(y.data(), y_.data());
    shards_.take_local(x0.data(), x_.data());
  }
  std::int64_t local_size() const { return static_cast<std::int64_t>(x_.size()); }
  const double* y() const { return y_.data(); }
  double* x() { return x_.data(); }
  Array gathered_x() const {
    Array out(shards_.total_rows());
    std::vector<double> scratch(shards_.total_rows());
    solver::gather_natural(shards_, x_.data(), comm_, scratch.data(), out.mutable_data());
    return out;
  }

 private:
  const Communicator& comm_;
  solver::ShardLayout shards_;
  std::vector<double> y_, x_;
};

// Solves (K + lam I) x = y by preconditioned CG; x0 is the start iterate. monitor(iteration, residual, x) may
// return False to stop; exceptions it raises (KeyboardInterrupt) propagate.
py::tuple solve_iterative(const PyKernelOperator& op, const Array& y, const Array& x0,
                          const solver::IterativeOptions& options, const py::object& monitor, const py::object& log,
                          const py::object& on_preconditioner, const py::object& comm) {
  const std::unique_ptr<Communicator> communicator = communicator_of(comm);
  const Communicator& world = communicator ? *communicator : serial_communicator();
  ShardedVectors v(op, y, x0, world);
  const std::int64_t M = v.local_size();  // the monitor sees this rank's rows of the iterate
  solver::Monitor monitor_fn = nullptr;
  if (!monitor.is_none())
    monitor_fn = [monitor, M](std::int64_t it, double rel, const solver::Iterate& xi) {
      py::gil_scoped_acquire acquire;
      Array copy(M);
      xi.to_host(copy.mutable_data());
      py::object keep = monitor(it, rel, copy);
      return keep.is_none() || keep.cast<bool>();
    };
  const solver::LogFn log_fn = python_log(log);
  solver::PreconditionerFn built_fn = nullptr;
  if (!on_preconditioner.is_none())
    built_fn = [on_preconditioner](const std::vector<std::int64_t>& cols) {
      py::gil_scoped_acquire acquire;
      on_preconditioner(int_array(cols));
    };
  solver::IterativeResult result;
  {
    py::gil_scoped_release release;
    result = solver::solve_iterative(op.op(), v.y(), v.x(), options, monitor_fn, log_fn, built_fn, world);
  }
  return py::make_tuple(v.gathered_x(), iterative_info(result));
}


// Iterative training with the core's checkpoint state (solver/iterative_training.hpp). resume: (x, iterations,
// columns) or None; write_checkpoint(x, iterations, columns), stop_requested() -> bool, progress(iteration,
// residual) and log(message) are Python callables or None. Exceptions they raise propagate.
py::tuple train_iterative(const PyKernelOperator& op, const Array& y, const Array& x0,
                          const solver::IterativeOptions& options, std::int64_t budget, std::int64_t inducing_request,
                          double checkpoint_interval, const py::object& resume, const py::object& write_checkpoint,
                          const py::object& stop_requested, const py::object& progress, const py::object& log,
                          const py::object& comm) {
  const std::unique_ptr<Communicator> communicator = communicator_of(comm);
  const Communicator& world = communicator ? *communicator : serial_communicator();
  ShardedVectors v(op, y, x0, world);
  require(budget >= 0 && inducing_request >= 0, "budget and inducing_request must be >= 0");
  require(checkpoint_interval >= 0.0, "checkpoint_interval must be >= 0 seconds");
  solver::IterativeTrainingOptions o;
  o.solver = options;
  o.memory_budget = budget;
  o.inducing_request = inducing_request;
  o.checkpoint_interval = checkpoint_interval;
  std::unique_ptr<solver::Checkpoint> ck;
  if (!resume.is_none()) {
    const auto t = resume.cast<py::tuple>();
    require(t.size() == 3, "resume must be (x, iterations, columns)");
    const Array rx = t[0].cast<Array>();
    const IntArray rc = t[2].cast<IntArray>();
    ck = std::make_unique<solver::Checkpoint>();
    ck->x.assign(rx.data(), rx.data() + rx.size());
    ck->iterations = t[1].cast<std::int64_t>();
    ck->columns.assign(rc.data(), rc.data() + rc.size());
  }
  solver::TrainingCallbacks cb;
  if (!write_checkpoint.is_none())
    cb.write_checkpoint = [write_checkpoint](const solver::Checkpoint& c) {
      py::gil_scoped_acquire acquire;
      Array x(static_cast<py::ssize_t>(c.x.size()));
      std::copy(c.x.begin(), c.x.end(), x.mutable_data());
      write_checkpoint(x, c.iterations, int_array(c.columns));
    };
  if (!stop_requested.is_none())
    cb.stop_requested = [stop_requested]() {
      py::gil_scoped_acquire acquire;
      return stop_requested().cast<bool>();
    };
  if (!progress.is_none())
    cb.progress = [progress](std::int64_t it, double rel) {
      py::gil_scoped_acquire acquire;
      progress(it, rel);
    };
  cb.log = python_log(log);
  solver::IterativeTrainingResult r;
  {
    py::gil_scoped_release release;
    r = solver::train_iterative(op.op(), v.y(), v.x(), o, ck.get(), cb, world);
  }
  py::dict info = iterative_info(r.solve);
  info["stopped"] = r.stopped;
  info["checkpoints_written"] = r.checkpoints_written;
  info["inducing"] = options.inducing;
  if (budget > 0) {
    info["inducing"] = r.plan.inducing;
    info["max_inducing"] = r.plan.max_inducing;
    info["cache_bytes"] = r.plan.cache_bytes;
    info["fixed_bytes"] = r.plan.fixed_bytes;
  }
  return py::make_tuple(v.gathered_x(), info);
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

solver::TrainingShape training_shape(std::int64_t n, int n_atoms, int G, bool use_energy) {
  require(n >= 1 && n_atoms >= 2 && G >= 1, "a training shape needs n >= 1, n_atoms >= 2 and G >= 1");
  solver::TrainingShape s;
  s.n = n;
  s.n_atoms = n_atoms;
  s.G = G;
  s.use_energy = use_energy;
  return s;
}

py::dict plan_iterative(std::int64_t n, int n_atoms, int G, bool use_energy, std::int64_t budget,
                        std::int64_t inducing, bool block_jacobi) {
  require(budget > 0 && inducing >= 0, "budget must be > 0 and inducing >= 0");
  const solver::IterativePlan p =
      solver::plan_iterative(training_shape(n, n_atoms, G, use_energy), budget, inducing, block_jacobi);
  py::dict out;
  out["cache_bytes"] = p.cache_bytes;
  out["fixed_bytes"] = p.fixed_bytes;
  out["max_columns"] = p.max_columns;
  out["inducing"] = p.inducing;
  out["max_inducing"] = p.max_inducing;
  out["bytes_per_column"] = solver::kBytesPerInducingEntry * solver::unknowns(training_shape(n, n_atoms, G, use_energy));
  return out;
}

}  // namespace

void bind_training(py::module_& m) {
  m.def("closed_form_bytes",
        [](std::int64_t n, int n_atoms, int G, bool use_energy) {
          return solver::closed_form_bytes(training_shape(n, n_atoms, G, use_energy));
        },
        py::arg("n"), py::arg("n_atoms"), py::arg("G"), py::arg("use_energy"),
        "Bytes of the closed-form solve (the dense kernel matrix).");
  m.def("choose_solver",
        [](std::int64_t n, int n_atoms, int G, bool use_energy, const std::string& requested,
           std::int64_t closed_form_budget, bool resuming) {
          solver::SolverKind kind = solver::SolverKind::kAuto;
          if (requested == "cholesky") kind = solver::SolverKind::kClosedForm;
          else if (requested == "cg") kind = solver::SolverKind::kIterative;
          else require(requested == "auto", "solver must be 'auto', 'cholesky' or 'cg', got '" + requested + "'");
          const solver::SolverKind chosen =
              solver::choose_solver(training_shape(n, n_atoms, G, use_energy), kind, closed_form_budget, resuming);
          return std::string(chosen == solver::SolverKind::kClosedForm ? "cholesky" : "cg");
        },
        py::arg("n"), py::arg("n_atoms"), py::arg("G"), py::arg("use_energy"), py::arg("requested"),
        py::arg("closed_form_budget"), py::arg("resuming") = false,
        "'cholesky' or 'cg' for a training of this shape (solver/memory_plan.hpp: auto takes the closed form when it fits "
        "the budget and is estimated cheaper than CG); ValueError when an explicit "
        "'cholesky' does not fit closed_form_budget bytes or is asked to resume.");
  m.def("plan_iterative", &plan_iterative, py::arg("n"), py::arg("n_atoms"), py::arg("G"), py::arg("use_energy"),
        py::arg("budget"), py::arg("inducing") = 0, py::arg("block_jacobi") = false,
        "The CG plan within budget bytes: dict(cache_bytes, fixed_bytes, max_columns, inducing, max_inducing, "
        "bytes_per_column); inducing 0 = the default. ValueError when the requested columns do not fit.");
  py::class_<PyKernelOperator>(m, "KernelOperator")
      .def(py::init<const Array&, const IntArray&, double, bool, const std::optional<IntArray>&,
                    const std::optional<Array>&, std::int64_t, const std::string&, std::int64_t, std::int64_t>(),
           py::arg("R"), py::arg("perms"), py::arg("sigma"), py::arg("use_energy") = false,
           py::arg("mask") = py::none(), py::arg("lattice") = py::none(), py::arg("cache_bytes") = 1LL << 30,
           py::arg("backend") = "cpu", py::arg("first_point") = 0, py::arg("local_points") = 0)
      .def("matvec", &PyKernelOperator::matvec, py::arg("v"))
      .def("assemble", &PyKernelOperator::assemble)
      .def("jacobian_rows", &PyKernelOperator::jacobian_rows, py::arg("a"))
      .def("columns", &PyKernelOperator::columns, py::arg("cols"), "K[:, cols] without forming K.")
      .def("diagonal_blocks", &PyKernelOperator::diagonal_blocks, "(K[F_i, F_i] (n, 3N, 3N), K[E_i, E_i] (n or 0,))")
      .def_property_readonly("X", &PyKernelOperator::X)
      .def_property_readonly("size", &PyKernelOperator::size, "rows (= columns) of K")
      .def_property_readonly("local_size", &PyKernelOperator::local_size,
                             "rows this operator computes: its points' force rows, then their energy rows")
      .def_property_readonly("first_point", &PyKernelOperator::first_point)
      .def_property_readonly("local_points", &PyKernelOperator::local_points)
      .def_property_readonly("backend", &PyKernelOperator::backend)
      .def_property_readonly("cache_bytes", &PyKernelOperator::cache_bytes);

  py::class_<PyNystrom>(m, "NystromPreconditioner")
      .def(py::init<const PyKernelOperator&, double, const IntArray&, const py::object&, bool, bool, bool>(),
           py::arg("op"), py::arg("lam"), py::arg("cols"), py::arg("log") = py::none(), py::arg("block_jacobi") = false,
           py::arg("single_precision") = true, py::arg("always_qr") = false,
           py::keep_alive<1, 2>())  // the preconditioner computes on the operator's backend: keep it alive
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
        py::arg("comm") = py::none(),
        "Preconditioned CG on (K + lam I) x = y -> (x, info dict). on_preconditioner(columns) is called with the "
        "inducing columns of every preconditioner built (checkpoints store them).");

  m.def("train_iterative", &train_iterative, py::arg("op"), py::arg("y"), py::arg("x0"), py::arg("options"),
        py::arg("budget") = 0, py::arg("inducing_request") = 0, py::arg("checkpoint_interval") = 300.0,
        py::arg("resume") = py::none(), py::arg("write_checkpoint") = py::none(),
        py::arg("stop_requested") = py::none(), py::arg("progress") = py::none(), py::arg("log") = py::none(),
        py::arg("comm") = py::none(),
        "Iterative training with the core's checkpoint state -> (x, info dict). budget > 0: the memory plan "
        "chooses the inducing columns (inducing_request 0 = default); resume = (x, iterations, columns); "
        "write_checkpoint(x, iterations, columns) is called every checkpoint_interval seconds, on a stop request "
        "and when CG ends unconverged; stop_requested() is polled after every iteration. comm (an object with rank, "
        "size and allreduce_sum(array), e.g. fastgdml.parallel.MpiCommunicator): the solve is row-sharded over its "
        "ranks, each with its KernelOperator(first_point, local_points). y, x0, the returned x, resume and the "
        "checkpoints hold all rows in K's order on every rank.");
  m.def("solve_closed_form", &solve_closed_form, py::arg("op"), py::arg("y"), py::arg("lam"),
        "Closed-form training: (K + lam I)^-1 y by a dense Cholesky factorisation (RuntimeError naming the fixes "
        "when K + lam I is not positive definite).");
}

}  // namespace fastgdml::bindings
