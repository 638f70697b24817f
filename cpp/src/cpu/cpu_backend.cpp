// The CPU backend: its states own host copies of everything the kernels read (cpu_kernels.hpp) and the
// workspaces they reuse, so K v allocates nothing per call and prediction only per-thread scratch.
#include "cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "cpu_compute.hpp"
#include "cpu_kernels.hpp"
#include "fastgdml/linalg.hpp"
#include "fastgdml/math/descriptor.hpp"
#include "fastgdml/math/strain.hpp"
#include "fastgdml/prediction_checks.hpp"
#include "fastgdml/solver/memory_plan.hpp"

namespace fastgdml::cpu {
namespace {

constexpr const char* kName = "cpu";

// X (M x D) and compressed Jacobians g (M x D x 3) of M geometries R (M x N x 3), in parallel over geometries.
void compute_descriptors(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t M, const double* R,
                         double* X, double* g) {
  const std::int64_t N = layout.n_atoms(), D = layout.size();
#pragma omp parallel for schedule(static) if (M * D > 4096)
  for (std::int64_t m = 0; m < M; ++m)
    descriptor(R + m * 3 * N, D, layout.pair_a(), layout.pair_b(), lattice.lat(), lattice.lat_inv(), X + m * D,
               g + m * D * 3);
}

bool sharded_setup(const TrainingSetup& s) { return s.local_points > 0 && s.local_points != s.n; }

// Permutation maps delta_p of a layout and their inverses (G x D each).
struct PermutationMaps {
  PermutationMaps(const DescriptorLayout& layout, const std::vector<std::int64_t>& perms)
      : forward(layout.permutation_maps(perms)),
        inverse(invert_permutation_maps(forward, layout.size())),
        G(static_cast<int>(forward.size() / layout.size())) {}
  std::vector<int> forward, inverse;
  int G;
};

class CpuTrainingState final : public TrainingState {
 public:
  CpuTrainingState(const TrainingSetup& s)
      : TrainingState(kName), layout(s.layout), maps(layout, s.perms), n_(s.n), first_(s.first_point),
        local_(s.local_points > 0 ? s.local_points : s.n), sigma(s.sigma), use_energy_(s.use_energy) {
    const std::int64_t D = layout.size();
    side.XU.resize(2 * n_ * D);
    g.resize(n_ * D * 3);
    // Descriptors straight into the first half of [X; U]; the second half is K v's workspace for U.
    compute_descriptors(layout, s.lattice, n_, s.R, side.XU.data(), g.data());
    stack_training(n_, D, side.XU.data(), side.XU.data() + n_ * D, side);
    // The cache holds the weights of all (training row, point) pairs: the queries must be all training points.
    if (!sharded_setup(s) && solver::weight_cache_bytes(n_, maps.G, use_energy_) <= s.cache_budget)
      cache = cache_weights(input(nullptr, nullptr), side.x2, use_energy_);
    Z.resize(local_ * D);
    E.resize(local_);
  }

  std::int64_t n() const override { return n_; }
  int n_atoms() const override { return layout.n_atoms(); }
  std::int64_t descriptor_size() const override { return layout.size(); }
  int n_permutations() const override { return maps.G; }
  bool use_energy() const override { return use_energy_; }
  std::int64_t cache_bytes() const override { return cache.bytes(); }
  std::int64_t first_point() const override { return first_; }
  std::int64_t local_points() const override { return local_; }
  PointRange rows() const { return {first_, local_}; }
  std::int64_t bytes() const override {
    return cache.bytes() + static_cast<std::int64_t>(
        (side.XU.size() + side.x2.size() + side.t.size() + g.size() + Z.size() + E.size()) * sizeof(double));
  }

  KernelSumInput input(const double* U, const double* b) const {
    KernelSumInput in;
    in.n = n_;
    in.D = layout.size();
    in.X = side.XU.data();
    in.U = U;
    in.b = b;
    in.G = maps.G;
    in.perm = maps.forward.data();
    in.perm_inv = maps.inverse.data();
    in.sigma = sigma;
    return in;
  }

  const double* X() const { return side.XU.data(); }

  DescriptorLayout layout;
  PermutationMaps maps;
  std::int64_t n_, first_, local_;  // all points; this state's rows are those of [first_, first_ + local_)
  double sigma;
  bool use_energy_;
  std::vector<double> g;  // n x D x 3 compressed Jacobians
  WeightCache cache;
  // K v's workspaces: U (second half of side.XU) and its dots, Z, E and the kernel sums' tiles.
  mutable std::mutex busy;
  mutable StackedTraining side;
  mutable std::vector<double> Z, E;
  mutable SumWorkspace workspace;
};

class CpuModelState final : public ModelState {
 public:
  CpuModelState(const DescriptorLayout& layout_, const Lattice& lattice_, const ModelData& m)
      : ModelState(kName), layout(layout_), lattice(lattice_), maps(layout, m.perms), b(m.b), sigma(m.sigma),
        std(m.std), c(m.c), min_distance(m.min_distance), work_bytes(m.work_bytes) {
    const std::int64_t D = layout.size();
    if (m.X.empty() || m.X.size() % D != 0)
      throw std::invalid_argument("training descriptors must have shape (n, " + std::to_string(D) + ")");
    n_ = static_cast<std::int64_t>(m.X.size()) / D;
    if (m.V.size() != m.X.size())
      throw std::invalid_argument("R_d_desc_alpha must have the shape of the training descriptors (n, D)");
    if (!b.empty() && static_cast<std::int64_t>(b.size()) != n_)
      throw std::invalid_argument("alphas_E must have one entry per training point (" + std::to_string(n_) + ")");
    if (!(sigma > 0.0)) throw std::invalid_argument("sigma must be > 0");
    stack_training(n_, D, m.X.data(), m.V.data(), side);
  }

  std::int64_t n() const override { return n_; }
  int n_atoms() const override { return layout.n_atoms(); }
  std::int64_t descriptor_size() const override { return layout.size(); }
  std::int64_t bytes() const override {
    return static_cast<std::int64_t>((side.XU.size() + side.x2.size() + side.t.size() + b.size()) * sizeof(double));
  }

  KernelSumInput input() const {
    KernelSumInput in;
    in.n = n_;
    in.D = layout.size();
    in.X = side.XU.data();
    in.U = side.XU.data() + n_ * layout.size();
    in.b = b.empty() ? nullptr : b.data();
    in.G = maps.G;
    in.perm = maps.forward.data();
    in.perm_inv = maps.inverse.data();
    in.sigma = sigma;
    return in;
  }

  DescriptorLayout layout;
  Lattice lattice;
  PermutationMaps maps;
  std::int64_t n_ = 0;
  StackedTraining side;  // [X; V], |x_j|^2, x_j.v_j: constants of the model
  std::vector<double> b;
  double sigma, std, c, min_distance;
  std::int64_t work_bytes;
};

// Scratch of predict. Small batches (an MD step, a few beads) reuse per-thread arrays instead of allocating them
// every step; concurrent predictions on one model stay independent. Larger batches use arrays of their own call,
// so that no thread keeps up to work_bytes after one large batch.
struct PredictScratch {
  std::vector<double> Xq, g, Z;
  SumWorkspace sums;
};
constexpr std::int64_t kKeptScratchBytes = std::int64_t{4} << 20;

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return kName; }
  std::string description() const override {
    return "host CPU, " + std::to_string(omp_get_max_threads()) + " OpenMP threads, BLAS " + linalg::blas_name();
  }
  const VectorSpace& vectors() const override { return vectors_; }
  const DenseAlgebra& algebra() const override { return algebra_; }

  void descriptors(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t M, const double* R, double* X,
                   double* g) const override {
    compute_descriptors(layout, lattice, M, R, X, g);
  }

  std::unique_ptr<TrainingState> prepare_training(const TrainingSetup& setup) const override {
    check_training_setup(setup);
    return std::make_unique<CpuTrainingState>(setup);
  }

  void kernel_matvec(const TrainingState& state, const double* v, double* out) const override {
    const auto& s = state_of<CpuTrainingState>(state, kName);
    const int N = s.layout.n_atoms();
    const std::int64_t n = s.n_, D = s.layout.size(), nF = n * 3 * N, first = s.first_, local = s.local_;
    std::lock_guard<std::mutex> lock(s.busy);
    double* U = s.side.XU.data() + n * D;
    jacobian_rows_into(s, v, U);  // every point is a column: U of all of them
    update_dots(n, D, s.side);
    const KernelSumInput in = s.input(U, s.use_energy_ ? v + nF : nullptr);
    // The queries are this state's row points (all of them without sharding, then the cache may serve).
    kernel_sums(in, s.side, s.cache.empty() ? nullptr : &s.cache, local, s.X() + first * D, s.workspace, s.Z.data(),
                s.E.data());
#pragma omp parallel for schedule(static) if (local * D > 32768)
    for (std::int64_t l = 0; l < local; ++l)
      jacobian_t_dot(s.g.data() + (first + l) * D * 3, D, s.layout.pair_a(), s.layout.pair_b(), s.Z.data() + l * D,
                     N, out + l * 3 * N);
    if (s.use_energy_) std::copy(s.E.begin(), s.E.end(), out + local * 3 * N);
  }

  void kernel_columns(const TrainingState& state, const std::vector<std::int64_t>& cols, double* out) const override {
    const auto& s = state_of<CpuTrainingState>(state, kName);
    cpu::kernel_columns(s.layout, s.input(nullptr, nullptr), s.g.data(), s.use_energy_, s.rows(), cols.data(),
                        static_cast<std::int64_t>(cols.size()), out);
  }

  void diagonal_blocks(const TrainingState& state, double* blocks, double* energy_diagonal) const override {
    const auto& s = state_of<CpuTrainingState>(state, kName);
    cpu::diagonal_blocks(s.layout, s.input(nullptr, nullptr), s.g.data(), s.use_energy_, s.rows(), blocks,
                         energy_diagonal);
  }

  void assemble(const TrainingState& state, double* K) const override {
    const auto& s = state_of<CpuTrainingState>(state, kName);
    if (s.sharded()) throw std::invalid_argument("assemble needs all rows of K; this state holds a shard of them");
    assemble_kernel(s.layout, s.input(nullptr, nullptr), s.g.data(), s.use_energy_, K);
  }

  void training_descriptors(const TrainingState& state, double* X) const override {
    const auto& s = state_of<CpuTrainingState>(state, kName);
    std::copy(s.X(), s.X() + s.n_ * s.layout.size(), X);
  }

  void jacobian_rows(const TrainingState& state, const double* a, double* out) const override {
    jacobian_rows_into(state_of<CpuTrainingState>(state, kName), a, out);
  }

  std::unique_ptr<ModelState> prepare_model(const DescriptorLayout& layout, const Lattice& lattice,
                                            const ModelData& model) const override {
    return std::make_unique<CpuModelState>(layout, lattice, model);
  }

  void predict(const ModelState& state, std::int64_t B, const double* R, double* E, double* F,
               double* dE_dstrain) const override {
    const auto& s = state_of<CpuModelState>(state, kName);
    const int N = s.layout.n_atoms();
    const std::int64_t D = s.layout.size();
    // Chunks of geometries bound the work arrays (5 doubles per descriptor entry and geometry).
    const std::int64_t chunk = std::max<std::int64_t>(1, s.work_bytes / (40 * D));
    const std::int64_t rows = std::min(B, chunk) * D;
    thread_local PredictScratch kept;
    PredictScratch own;
    PredictScratch& scratch = rows * 40 <= kKeptScratchBytes ? kept : own;
    if (static_cast<std::int64_t>(scratch.Xq.size()) < rows) {
      scratch.Xq.resize(rows);
      scratch.g.resize(rows * 3);
      scratch.Z.resize(rows);
    }
    const KernelSumInput in = s.input();
    const double scale = -s.std;  // F = -std J^T Z
    for (std::int64_t first = 0; first < B; first += chunk) {
      const std::int64_t b = std::min(chunk, B - first);
      const double* Rb = R + first * 3 * N;
      double* Eb = E + first;
      double* Fb = F + first * 3 * N;
      descriptors(s.layout, s.lattice, b, Rb, scratch.Xq.data(), scratch.g.data());
      refuse_close_contacts(s.layout, s.min_distance, first, b, scratch.Xq.data());
      kernel_sums(in, s.side, nullptr, b, scratch.Xq.data(), scratch.sums, scratch.Z.data(), Eb);
      const double* g = scratch.g.data();
      const double* Xq = scratch.Xq.data();
      const double* Z = scratch.Z.data();
#pragma omp parallel for schedule(static) if (b * D > 32768)
      for (std::int64_t q = 0; q < b; ++q) {
        jacobian_t_dot(g + q * D * 3, D, s.layout.pair_a(), s.layout.pair_b(), Z + q * D, N, Fb + q * 3 * N);
        for (int k = 0; k < 3 * N; ++k) Fb[q * 3 * N + k] *= scale;
        Eb[q] = s.std * Eb[q] + s.c;
        if (dE_dstrain != nullptr)
          strain_derivative(D, Xq + q * D, g + q * D * 3, Z + q * D, scale, dE_dstrain + (first + q) * 9);
      }
    }
  }

  FeatureDeltas feature_scores(const ModelState& state, const std::vector<int>& orbit, std::int64_t n_orbits,
                               std::int64_t B, const double* R, bool with_forces) const override {
    const auto& s = state_of<CpuModelState>(state, kName);
    if (static_cast<std::int64_t>(orbit.size()) != s.layout.size())
      throw std::invalid_argument("feature scores need one orbit per descriptor entry (" +
                                  std::to_string(s.layout.size()) + "), got " + std::to_string(orbit.size()));
    const KernelSumInput in = s.input();
    FeatureModel m;
    m.n = s.n_;
    m.D = in.D;
    m.X = in.X;
    m.V = in.U;
    m.b = in.b;
    m.sigma = s.sigma;
    m.std = s.std;
    m.perm = in.perm;
    m.perm_inv = in.perm_inv;
    m.G = in.G;
    m.orbit = orbit.data();
    m.n_orbits = n_orbits;
    return feature_deltas(s.layout, s.lattice, m, B, R, with_forces);
  }

 private:
  // out (n x D) <- rows J_j a_j of per-point Cartesian vectors a (n x 3N).
  static void jacobian_rows_into(const CpuTrainingState& s, const double* a, double* out) {
    const int N = s.layout.n_atoms();
    const std::int64_t n = s.n_, D = s.layout.size();
#pragma omp parallel for schedule(static) if (n * D > 32768)
    for (std::int64_t j = 0; j < n; ++j)
      jacobian_dot(s.g.data() + j * D * 3, D, s.layout.pair_a(), s.layout.pair_b(), a + j * 3 * N, out + j * D);
  }

  CpuVectorSpace vectors_;
  CpuDenseAlgebra algebra_;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace fastgdml::cpu
