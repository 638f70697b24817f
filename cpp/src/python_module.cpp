// The module fastgdml._core: threads, BLAS and backends here; each subsystem's bindings in cpp/src/python/.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>
#include <cmath>

#include "fastgdml/backend.hpp"
#include "fastgdml/fork_safety.hpp"
#include "fastgdml/linalg.hpp"
#include "python/common.hpp"

using namespace fastgdml;
using namespace fastgdml::bindings;

namespace {

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

// Seconds of each of `repeats` products C (m x n) = A (m x k) B^T on a backend's own memory and DenseAlgebra (cuBLAS
// for "cuda"), each waited for: the DGEMM baseline a GPU benchmark compares its kernels with, in the same run.
std::vector<double> backend_gemm_seconds(const std::string& name, std::int64_t m, std::int64_t n, std::int64_t k,
                                         int repeats) {
  require(m > 0 && n > 0 && k > 0 && repeats > 0, "backend_gemm_seconds needs positive m, n, k and repeats");
  const std::unique_ptr<Backend> backend = make_backend(name);
  py::gil_scoped_release release;
  const VectorSpace& vs = backend->vectors();
  Buffer A = vs.allocate(m * k), B = vs.allocate(n * k), C = vs.allocate(m * n);
  vs.fill(m * k, 0.5, A.get());
  vs.fill(n * k, 0.25, B.get());
  double sink = 0.0;
  std::vector<double> seconds;
  for (int r = 0; r < repeats + 1; ++r) {  // the first is a warm-up (cuBLAS picks its kernel, the clocks rise)
    const auto start = std::chrono::steady_clock::now();
    backend->algebra().gemm(Op::kNoTrans, Op::kTrans, m, n, k, 1.0, A.get(), k, B.get(), k, 0.0, C.get(), n);
    vs.to_host(1, C.get(), &sink);  // waits for the product
    if (r > 0) seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return seconds;
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
  m.def("gemm_abt", &gemm_abt, py::arg("A"), py::arg("B"), "A B^T with the core's BLAS (for benchmarks).");
  bind_descriptors(m);
  bind_training(m);
  bind_prediction(m);
  m.def("set_num_threads", &set_num_threads, py::arg("n"), "Threads for the OpenMP loops and BLAS.");
  m.def("get_num_threads", []() { return omp_get_max_threads(); });
  m.def("backends", &backend_names,
        "Names of the compute backends this build can use (registered; backend libraries found are loaded), sorted.");
  m.def(
      "describe_backend", [](const std::string& name) { return make_backend(name)->description(); }, py::arg("name"),
      "One line on what backend `name` computes with; ValueError for an unknown name, RuntimeError when it cannot "
      "be used here (its library or device is missing), naming the cause.");
  m.def(
      "backend_status",
      [] {
        py::list out;
        for (const BackendStatus& s : backend_status()) out.append(py::make_tuple(s.name, s.usable, s.detail));
        return out;
      },
      "(name, usable, description or reason) of every backend known to this build, 'cuda' included.");
  m.def("backend_gemm_seconds", &backend_gemm_seconds, py::arg("backend"), py::arg("m"), py::arg("n"), py::arg("k"),
        py::arg("repeats") = 5, "Seconds of each of `repeats` DGEMMs A B^T (m x k, n x k) on the backend's memory.");
  m.def("load_backend_library", &load_backend_library, py::arg("path"),
        "Load a backend library (libfastgdml_<name>.so of this fastgdml version) and register it; its name.");
  m.def("blas_threads", &linalg::blas_threads);
  m.def("blas_name", &linalg::blas_name);
}
