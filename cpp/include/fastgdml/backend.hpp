// The seam every device plugs into (DESIGN.md §4). A Backend owns its state: prepare_training and prepare_model
// copy what the kernels need into the backend's memory (descriptors, Jacobian data, permutation maps, cached
// weights, workspaces), and every operation takes that state. Device-independent code (KernelOperator,
// Predictor, the solvers, the training drivers) holds a Backend and never branches on the device.
//
// cpp/src/cpu implements it with OpenMP + BLAS; cuda/ will implement it with CUDA kernels + cuBLAS. The solvers
// run on the backend's VectorSpace and DenseAlgebra, so their vectors stay in the backend's memory too.
//
// Memory: pointers documented as "backend memory" point into VectorSpace buffers (host memory on the CPU);
// "host" pointers are ordinary host arrays (inputs and outputs of prediction, the diagonal blocks).
// States are checked on use: a state made by another backend is an std::invalid_argument, never a bad cast.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastgdml/compute/dense_algebra.hpp"
#include "fastgdml/compute/vector_space.hpp"
#include "fastgdml/feature_scores.hpp"
#include "fastgdml/layout.hpp"

namespace fastgdml {

// What every prepared state says about itself: which backend made it and what it holds.
class BackendState {
 public:
  explicit BackendState(std::string backend) : backend_(std::move(backend)) {}
  virtual ~BackendState() = default;
  BackendState(const BackendState&) = delete;
  BackendState& operator=(const BackendState&) = delete;
  const std::string& backend() const { return backend_; }
  virtual std::int64_t bytes() const = 0;  // backend memory held

 private:
  std::string backend_;
};

// The training side of a kernel matrix K = Cov([F; -E]) (FORMATS.md §4.3).
struct TrainingSetup {
  DescriptorLayout layout{2};
  Lattice lattice;
  std::int64_t n = 0;                 // training geometries
  const double* R = nullptr;          // host, n x N x 3
  std::vector<std::int64_t> perms;    // G x N atom permutations (identity included)
  double sigma = 1.0;                 // Matérn length scale in descriptor space
  bool use_energy = false;            // the n energy rows/columns (use_E_cstr)
  // Backend memory the state may use beyond its fixed data (descriptors, Jacobians, workspaces) for caches that
  // speed up K v; the backend decides what to keep within it (the CPU caches the data-only Matérn weights when
  // solver::weight_cache_bytes fits).
  std::int64_t cache_budget = std::int64_t{1} << 30;
  // Row sharding (MPI, one state per rank): this state computes only the rows of K that belong to the training
  // points [first_point, first_point + local_points) (their force rows, then their energy rows); every point is
  // still a column. local_points 0: all points (no sharding).
  std::int64_t first_point = 0;
  std::int64_t local_points = 0;
};

class TrainingState : public BackendState {
 public:
  using BackendState::BackendState;
  virtual std::int64_t n() const = 0;
  virtual int n_atoms() const = 0;
  virtual std::int64_t descriptor_size() const = 0;
  virtual int n_permutations() const = 0;
  virtual bool use_energy() const = 0;
  virtual std::int64_t cache_bytes() const = 0;  // bytes of K v caches admitted within the budget (0: none)
  virtual std::int64_t first_point() const = 0;   // the rows this state computes: see TrainingSetup
  virtual std::int64_t local_points() const = 0;
  std::int64_t size() const { return n() * 3 * n_atoms() + (use_energy() ? n() : 0); }  // rows (= columns) of K
  // Rows this state computes: the force rows of its points, then their energy rows (size() when not sharded).
  std::int64_t local_size() const { return local_points() * (3 * n_atoms() + (use_energy() ? 1 : 0)); }
  bool sharded() const { return local_points() != n(); }
};

// A trained model's constants (FORMATS.md §5.1), host arrays: the state copies them.
struct ModelData {
  std::vector<double> X;                 // n x D training descriptors (R_desc transposed)
  std::vector<double> V;                 // n x D rows J_j a_j (R_d_desc_alpha)
  std::vector<double> b;                 // n energy coefficients (alphas_E), empty without
  std::vector<std::int64_t> perms;       // G x N atom permutations
  double sigma = 1.0;
  double std = 1.0;                      // label scale sigma_y
  double c = 0.0;                        // energy integration constant
  // Queries with a pair of (kept) atoms closer than this are refused (std::domain_error naming the geometry and
  // the atoms): far closer than any training pair the model is meaningless, and at 0 the descriptor is undefined.
  double min_distance = 0.0;
  // Bound on predict's work arrays (descriptors, Jacobians, kernel sums: 5 doubles per entry and geometry);
  // the CPU keeps them per thread between calls only while they stay small (a few MB).
  std::int64_t work_bytes = std::int64_t{1} << 28;
};

class ModelState : public BackendState {
 public:
  using BackendState::BackendState;
  virtual std::int64_t n() const = 0;
  virtual int n_atoms() const = 0;
  virtual std::int64_t descriptor_size() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;
  // One line on what it computes with, for `fastgdml info` ("NVIDIA H200, compute capability 9.0, 140 GiB").
  virtual std::string description() const { return name(); }

  // Where the solvers' vectors and dense matrices live and how they are combined.
  virtual const VectorSpace& vectors() const = 0;
  virtual const DenseAlgebra& algebra() const = 0;

  // X (M x D) and compressed Jacobians g (M x D x 3) of M geometries R (M x N x 3); host arrays.
  virtual void descriptors(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t M, const double* R,
                           double* X, double* g) const = 0;

  // --- training -------------------------------------------------------------------------------------------
  // Throws std::invalid_argument for bad setups (no geometries, sigma <= 0, permutations the layout rejects).
  virtual std::unique_ptr<TrainingState> prepare_training(const TrainingSetup& setup) const = 0;

  // out = the state's rows of K v (v: size(), out: local_size(), backend memory; all of K v without sharding): J,
  // the kernel sums and J^T all inside, no allocation per call.
  // Calls on one state are serialised (they share its workspaces); different states run concurrently.
  virtual void kernel_matvec(const TrainingState& state, const double* v, double* out) const = 0;
  // The state's rows of K[:, cols] (local_size() x cols.size(), row-major, backend memory) without forming K;
  // cols distinct indices of K's columns in any order (output column s is K[:, cols[s]]).
  virtual void kernel_columns(const TrainingState& state, const std::vector<std::int64_t>& cols,
                              double* out) const = 0;
  // Force diagonal blocks K[F_i, F_i] (host, local_points x 3N x 3N) and the energy diagonal (host, local_points;
  // with energy rows) of the state's points.
  virtual void diagonal_blocks(const TrainingState& state, double* blocks, double* energy_diagonal) const = 0;
  // Dense K (size() x size(), row-major, both triangles, backend memory); std::invalid_argument when sharded.
  virtual void assemble(const TrainingState& state, double* K) const = 0;
  // The training descriptors (host, n x D) and rows J_j a_j (host, n x D) of per-point Cartesian vectors a
  // (host, n x 3N): what a trained model stores (R_desc, R_d_desc_alpha).
  virtual void training_descriptors(const TrainingState& state, double* X) const = 0;
  virtual void jacobian_rows(const TrainingState& state, const double* a, double* out) const = 0;

  // --- prediction -----------------------------------------------------------------------------------------
  virtual std::unique_ptr<ModelState> prepare_model(const DescriptorLayout& layout, const Lattice& lattice,
                                                    const ModelData& model) const = 0;
  // Energies E (B) and forces F (B x N x 3) at R (B x N x 3), model units, host arrays; optional dE_dstrain
  // (B x 3 x 3): dE/de_ab under a homogeneous strain of positions and cell. Thread-safe: concurrent calls on one
  // state run concurrently. Throws std::domain_error for close contacts (message naming geometry and atoms).
  virtual void predict(const ModelState& state, std::int64_t B, const double* R, double* E, double* F,
                       double* dE_dstrain) const = 0;
  // rGDML feature scores (feature_scores.hpp) at queries R (host, B x N x 3); orbit (host, D) maps each
  // descriptor entry to its orbit 0 .. n_orbits - 1.
  virtual FeatureDeltas feature_scores(const ModelState& state, const std::vector<int>& orbit, std::int64_t n_orbits,
                                       std::int64_t B, const double* R, bool with_forces) const = 0;
};

// std::invalid_argument unless the setup has geometries, sigma > 0 and a shard inside [0, n): the checks every
// backend's prepare_training makes first (backend.cpp).
void check_training_setup(const TrainingSetup& setup);

// The state as the backend's own type, or std::invalid_argument naming both backends: the check every backend
// operation makes before it touches a state.
template <class Concrete, class Base>
const Concrete& state_of(const Base& state, const std::string& backend) {
  const auto* concrete = dynamic_cast<const Concrete*>(&state);
  if (concrete == nullptr || state.backend() != backend)
    throw std::invalid_argument("a state prepared by backend '" + state.backend() + "' was given to backend '" +
                                backend + "'; prepare it with the backend that uses it");
  return *concrete;
}

// The backend registry: "cpu" is always there; a backend built into its own shared object (CUDA:
// libfastgdml_cuda.so) registers when that object is loaded, which make_backend does the first time the name is
// asked for: it looks for libfastgdml_<name>.so beside the shared object that holds this core (and in its lib/
// folder, the wheel's layout), or at $FASTGDML_<NAME>_LIBRARY when that is set. Thread-safe. The factory may
// throw (e.g. no device) with a message naming the cause; registering a name twice replaces the factory.
using BackendFactory = std::function<std::unique_ptr<Backend>()>;
void register_backend(const std::string& name, BackendFactory factory);
std::vector<std::string> backend_names();  // registered names, sorted (backend libraries found are loaded first)

// A new instance of the named backend. Throws std::invalid_argument naming the available backends for an unknown
// name, std::runtime_error when the backend's library is there but cannot be loaded (naming the missing library
// and the fix) or its factory refuses (no device).
std::unique_ptr<Backend> make_backend(const std::string& name);

// Loads a backend library (a shared object exporting fastgdml_backend_entry_v1, built from the same fastgdml
// version) and registers its backend; returns the backend's name. std::runtime_error naming the path and the cause
// otherwise. Loading one path twice registers it once.
std::string load_backend_library(const std::string& path);

// Every backend this process knows of (registered, or a library found as make_backend would) and whether it can
// be made here: detail is the backend's description, or the reason it cannot be used.
struct BackendStatus {
  std::string name;
  bool usable = false;
  std::string detail;
};
std::vector<BackendStatus> backend_status();

}  // namespace fastgdml
