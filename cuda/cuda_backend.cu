// The CUDA backend (backend.hpp): its states own device copies of everything the kernels read (descriptors,
// Jacobians, permutation maps, the atom incidence lists) and the workspaces they reuse, so a CG iteration is
// kernels and cuBLAS calls on resident data with no host round trip (DESIGN.md §2 and §4).
//
// K v and prediction are the GEMM-shaped kernel sums: per chunk of (query, permutation) rows, the gather of
// permuted queries, [S | T] = A [X; U]^T (cuBLAS DGEMM: FP64 tensor cores on sm_80+), the Matérn weights step,
// Zp = W [X; U] (DGEMM) and the scatter over permutations, then J^T. Kernel columns, diagonal blocks and the
// feature scores are hand-written kernels. Built into its own shared object (libfastgdml_cuda.so), which the core
// loads when "cuda" is first asked for (fastgdml_backend_entry_v1 below); in the tests the same code runs on the
// CPU through the emulation (emulation/).
#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "cuda_backend.hpp"
#include "cuda_compute.hpp"
#include "cuda_feature_scores.hpp"
#include "descriptor_kernels.cuh"
#include "device.hpp"
#include "fastgdml/column_groups.hpp"
#include "fastgdml/prediction_checks.hpp"
#include "kernel_columns.cuh"
#include "kernel_sums.cuh"

namespace fastgdml::cuda {
namespace {

constexpr const char* kName = "cuda";
// Device memory for the kernel sums' per-chunk arrays (A, [S | T] -> W, Zp) during K v: large enough that the
// two DGEMMs run at their full rate (thousands of rows), small against the GPU's memory.
constexpr std::int64_t kTrainingWorkBytes = std::int64_t{1} << 30;

std::size_t bytes_of(std::int64_t count, std::size_t size) { return static_cast<std::size_t>(count) * size; }

// What every state holds of its layout on the device: pairs, atom incidence, permutation maps, the cell.
struct DeviceLayout {
  DeviceLayout(const Device& device, const DescriptorLayout& layout, const std::vector<std::int64_t>& perms,
               const Lattice& lattice)
      : forward(layout.permutation_maps(perms)), inverse(invert_permutation_maps(forward, layout.size())),
        G(static_cast<int>(forward.size() / layout.size())) {
    const std::int64_t D = layout.size();
    const AtomIncidence inc = atom_incidence(layout);
    pair_a = upload_array(device, layout.pair_a(), D);
    pair_b = upload_array(device, layout.pair_b(), D);
    perm = upload_array(device, forward.data(), G * D);
    perm_inv = upload_array(device, inverse.data(), G * D);
    inc_start = upload_array(device, inc.start.data(), static_cast<std::int64_t>(inc.start.size()));
    inc_feature = upload_array(device, inc.feature.data(), static_cast<std::int64_t>(inc.feature.size()));
    inc_sign = upload_array(device, inc.sign.data(), static_cast<std::int64_t>(inc.sign.size()));
    if (lattice.present) {
      lat = upload_array(device, lattice.L, 9);
      lat_inv = upload_array(device, lattice.L_inv, 9);
    }
  }
  std::int64_t bytes() const {
    return pair_a.bytes() + pair_b.bytes() + perm.bytes() + perm_inv.bytes() + inc_start.bytes() +
           inc_feature.bytes() + inc_sign.bytes() + lat.bytes() + lat_inv.bytes();
  }

  std::vector<int> forward, inverse;  // host copies (G x D)
  int G;
  DeviceArray<int> pair_a, pair_b, perm, perm_inv;
  DeviceArray<std::int64_t> inc_start, inc_feature;
  DeviceArray<double> inc_sign, lat, lat_inv;
};

// The training side of a kernel sum on the device: [X; U] stacked (2n x D), |x_j|^2 and t_j = x_j . u_j.
struct DeviceSide {
  std::int64_t n = 0, D = 0;
  double sigma = 1.0;
  DeviceArray<double> XU, x2, t;
  const double* X() const { return XU.get(); }
  double* U() const { return XU.get() + n * D; }
};

// The per-chunk arrays of the kernel sums, grown on demand and kept (the caller holds the device lock).
struct SumWork {
  std::int64_t rows = 0;  // capacity in (query, permutation) rows
  DeviceArray<double> A, W, Zp, row_sum, row_energy;
  void ensure(const Device& device, std::int64_t need, std::int64_t n, std::int64_t D) {
    if (need <= rows) return;
    A = DeviceArray<double>(device, need * D);
    W = DeviceArray<double>(device, need * 2 * n);
    Zp = DeviceArray<double>(device, need * D);
    row_sum = DeviceArray<double>(device, need);
    row_energy = DeviceArray<double>(device, need);
    rows = need;
  }
  std::int64_t bytes() const { return A.bytes() + W.bytes() + Zp.bytes() + row_sum.bytes() + row_energy.bytes(); }
};

// Queries per chunk so that the chunk's arrays (rows x (2n + 2D + 2) doubles, rows = queries x G) fit in budget.
std::int64_t queries_per_chunk(std::int64_t budget, std::int64_t n, std::int64_t D, int G, std::int64_t B) {
  const std::int64_t per_query = 8 * G * (2 * n + 2 * D + 2);
  return std::max<std::int64_t>(1, std::min<std::int64_t>(B, budget / per_query));
}

// Z (B x D) and E (B) of the kernel sums for queries Xq (B x D) with squared norms q2 (B), energy coefficients b
// (n or nullptr), in chunks of `chunk` queries (DESIGN.md §2; the steps of kernel_sums.cu between two DGEMMs).
void kernel_sums(const Device& device, const CudaDenseAlgebra& la, const DeviceLayout& maps, const DeviceSide& side,
                 std::int64_t B, const double* Xq, const double* q2, const double* b, std::int64_t chunk,
                 SumWork& work, double* Z, double* E) {
  const std::int64_t n = side.n, D = side.D;
  const int G = maps.G;
  work.ensure(device, chunk * G, n, D);
  for (std::int64_t q0 = 0; q0 < B; q0 += chunk) {
    const std::int64_t nq = std::min(chunk, B - q0), rows = nq * G, r0 = q0 * G;
    launch_gather_permuted(Xq, D, G, maps.perm_inv.get(), r0, rows, work.A.get(), device.stream());
    device.check_launch("gather_permuted");
    la.gemm(Op::kNoTrans, Op::kTrans, rows, 2 * n, D, 1.0, work.A.get(), D, side.XU.get(), D, 0.0, work.W.get(),
            2 * n);  // [S | T] = A [X; U]^T
    launch_kernel_weights(rows, r0, G, n, side.sigma, q2, side.x2.get(), side.t.get(), b, work.W.get(),
                          work.row_sum.get(), work.row_energy.get(), device.stream());
    device.check_launch("kernel_weights");
    la.gemm(Op::kNoTrans, Op::kNoTrans, rows, D, 2 * n, 1.0, work.W.get(), 2 * n, side.XU.get(), D, 0.0,
            work.Zp.get(), D);  // Zp = [W_x | W_u] [X; U]
    launch_scatter_permutations(q0, nq, D, G, maps.perm.get(), work.Zp.get(), work.row_sum.get(),
                                work.row_energy.get(), Xq, Z, E, device.stream());
    device.check_launch("scatter_permutations");
  }
}

class CudaTrainingState final : public TrainingState {
 public:
  CudaTrainingState(const Device& device, const TrainingSetup& s)
      : TrainingState(kName), layout(s.layout), maps(device, s.layout, s.perms, s.lattice), use_energy_(s.use_energy),
        first_(s.first_point), local_(s.local_points > 0 ? s.local_points : s.n) {
    const std::int64_t n = s.n, D = layout.size(), N = layout.n_atoms();
    side.n = n;
    side.D = D;
    side.sigma = s.sigma;
    side.XU = DeviceArray<double>(device, 2 * n * D);
    side.x2 = DeviceArray<double>(device, n);
    side.t = DeviceArray<double>(device, n);
    g = DeviceArray<double>(device, n * D * 3);
    {
      const DeviceArray<double> R = upload_array(device, s.R, n * N * 3);
      launch_descriptors(R.get(), n, static_cast<int>(N), D, maps.pair_a.get(), maps.pair_b.get(), maps.lat.get(),
                         maps.lat_inv.get(), side.XU.get(), g.get(), device.stream());
      device.check_launch("descriptors");
      launch_row_dots(side.X(), side.X(), n, D, side.x2.get(), device.stream());
      device.check_launch("row_dots");
      device.synchronize();  // R is freed here
    }
    Z = DeviceArray<double>(device, local_ * D);
    E = DeviceArray<double>(device, local_);
    chunk = queries_per_chunk(kTrainingWorkBytes, n, D, maps.G, local_);
  }

  std::int64_t n() const override { return side.n; }
  int n_atoms() const override { return layout.n_atoms(); }
  std::int64_t descriptor_size() const override { return layout.size(); }
  int n_permutations() const override { return maps.G; }
  bool use_energy() const override { return use_energy_; }
  std::int64_t cache_bytes() const override { return 0; }  // the weights are recomputed: GEMM-shaped, cheap here
  std::int64_t first_point() const override { return first_; }
  std::int64_t local_points() const override { return local_; }
  std::int64_t bytes() const override {
    return maps.bytes() + side.XU.bytes() + side.x2.bytes() + side.t.bytes() + g.bytes() + Z.bytes() + E.bytes() +
           work.bytes();
  }

  TrainingKernelData kernel_data() const {
    TrainingKernelData t;
    t.D = layout.size();
    t.n_atoms = layout.n_atoms();
    t.G = maps.G;
    t.sigma = side.sigma;
    t.X = side.X();
    t.g = g.get();
    t.perm = maps.perm.get();
    t.perm_inv = maps.perm_inv.get();
    t.pair_a = maps.pair_a.get();
    t.pair_b = maps.pair_b.get();
    t.inc_start = maps.inc_start.get();
    t.inc_feature = maps.inc_feature.get();
    t.inc_sign = maps.inc_sign.get();
    return t;
  }

  DescriptorLayout layout;
  DeviceLayout maps;
  bool use_energy_;
  std::int64_t first_, local_;  // the rows of the points [first_, first_ + local_)
  std::int64_t chunk = 1;
  // U (second half of side.XU), t, Z, E and the chunk arrays are K v's workspaces (written under the device lock)
  DeviceSide side;
  DeviceArray<double> g, Z, E;
  mutable SumWork work;
};

class CudaModelState final : public ModelState {
 public:
  CudaModelState(const Device& device, const DescriptorLayout& layout_, const Lattice& lattice, const ModelData& m)
      : ModelState(kName), layout(layout_), maps(device, layout_, m.perms, lattice), std(m.std), c(m.c),
        min_distance(m.min_distance), work_bytes(m.work_bytes) {
    const std::int64_t D = layout.size();
    if (m.X.empty() || static_cast<std::int64_t>(m.X.size()) % D != 0)
      throw std::invalid_argument("training descriptors must have shape (n, " + std::to_string(D) + ")");
    const std::int64_t n = static_cast<std::int64_t>(m.X.size()) / D;
    if (m.V.size() != m.X.size())
      throw std::invalid_argument("R_d_desc_alpha must have the shape of the training descriptors (n, D)");
    if (!m.b.empty() && static_cast<std::int64_t>(m.b.size()) != n)
      throw std::invalid_argument("alphas_E must have one entry per training point (" + std::to_string(n) + ")");
    if (!(m.sigma > 0.0)) throw std::invalid_argument("sigma must be > 0");
    side.n = n;
    side.D = D;
    side.sigma = m.sigma;
    side.XU = DeviceArray<double>(device, 2 * n * D);
    device.upload(side.XU.get(), m.X.data(), bytes_of(n * D, sizeof(double)));
    device.upload(side.U(), m.V.data(), bytes_of(n * D, sizeof(double)));
    side.x2 = DeviceArray<double>(device, n);
    side.t = DeviceArray<double>(device, n);
    launch_row_dots(side.X(), side.X(), n, D, side.x2.get(), device.stream());
    launch_row_dots(side.X(), side.U(), n, D, side.t.get(), device.stream());
    device.check_launch("row_dots");
    if (!m.b.empty()) b = upload_array(device, m.b.data(), n);
  }

  std::int64_t n() const override { return side.n; }
  int n_atoms() const override { return layout.n_atoms(); }
  std::int64_t descriptor_size() const override { return layout.size(); }
  std::int64_t bytes() const override {
    return maps.bytes() + side.XU.bytes() + side.x2.bytes() + side.t.bytes() + b.bytes() + work.bytes() +
           scratch_bytes();
  }
  std::int64_t scratch_bytes() const {
    return R.bytes() + Xq.bytes() + gq.bytes() + q2.bytes() + Z.bytes() + E.bytes() + F.bytes() + strain.bytes();
  }

  // Per-call arrays for `count` geometries, grown on demand and kept (the caller holds the device lock).
  void ensure(const Device& device, std::int64_t count) const {
    if (count <= capacity) return;
    const std::int64_t D = layout.size(), N = layout.n_atoms();
    R = DeviceArray<double>(device, count * N * 3);
    Xq = DeviceArray<double>(device, count * D);
    gq = DeviceArray<double>(device, count * D * 3);
    q2 = DeviceArray<double>(device, count);
    Z = DeviceArray<double>(device, count * D);
    E = DeviceArray<double>(device, count);
    F = DeviceArray<double>(device, count * N * 3);
    strain = DeviceArray<double>(device, count * 9);
    capacity = count;
  }

  DescriptorLayout layout;
  DeviceLayout maps;
  DeviceSide side;  // [X; V], |x_j|^2, x_j . v_j: constants of the model
  DeviceArray<double> b;
  double std, c, min_distance;
  std::int64_t work_bytes;
  mutable std::int64_t capacity = 0;
  mutable DeviceArray<double> R, Xq, gq, q2, Z, E, F, strain;
  mutable SumWork work;
};

class CudaBackend final : public Backend {
 public:
  CudaBackend() : vectors_(device_), algebra_(device_) {}

  std::string name() const override { return kName; }
  const VectorSpace& vectors() const override { return vectors_; }
  const DenseAlgebra& algebra() const override { return algebra_; }
  const Device& device() const { return device_; }

  void descriptors(const DescriptorLayout& layout, const Lattice& lattice, std::int64_t M, const double* R, double* X,
                   double* g) const override {
    auto lock = device_.lock();
    const std::int64_t D = layout.size(), N = layout.n_atoms();
    const DeviceArray<double> Rd = upload_array(device_, R, M * N * 3), Xd(device_, M * D), gd(device_, M * D * 3);
    const DeviceArray<int> a = upload_array(device_, layout.pair_a(), D), b = upload_array(device_, layout.pair_b(), D);
    DeviceArray<double> lat, lat_inv;
    if (lattice.present) {
      lat = upload_array(device_, lattice.L, 9);
      lat_inv = upload_array(device_, lattice.L_inv, 9);
    }
    launch_descriptors(Rd.get(), M, static_cast<int>(N), D, a.get(), b.get(), lat.get(), lat_inv.get(), Xd.get(),
                       gd.get(), device_.stream());
    device_.check_launch("descriptors");
    device_.download(X, Xd.get(), bytes_of(M * D, sizeof(double)));
    device_.download(g, gd.get(), bytes_of(M * D * 3, sizeof(double)));
  }

  std::unique_ptr<TrainingState> prepare_training(const TrainingSetup& setup) const override {
    check_training_setup(setup);
    auto lock = device_.lock();
    return std::make_unique<CudaTrainingState>(device_, setup);
  }

  void kernel_matvec(const TrainingState& state, const double* v, double* out) const override {
    const auto& s = state_of<CudaTrainingState>(state, kName);
    auto lock = device_.lock();
    const int N = s.layout.n_atoms();
    const std::int64_t n = s.side.n, D = s.side.D, nF = n * 3 * N, first = s.first_, local = s.local_;
    launch_jacobian_rows(s.g.get(), n, D, N, s.maps.pair_a.get(), s.maps.pair_b.get(), v, s.side.U(),
                         device_.stream());  // every point is a column: U of all of them
    launch_row_dots(s.side.X(), s.side.U(), n, D, s.side.t.get(), device_.stream());
    device_.check_launch("jacobian_rows, row_dots");
    // The queries are this state's row points.
    kernel_sums(device_, algebra_, s.maps, s.side, local, s.side.X() + first * D, s.side.x2.get() + first,
                s.use_energy_ ? v + nF : nullptr, s.chunk, s.work, s.Z.get(), s.E.get());
    launch_jacobian_t(s.g.get() + first * D * 3, local, D, N, s.maps.inc_start.get(), s.maps.inc_feature.get(),
                      s.maps.inc_sign.get(), s.Z.get(), out, device_.stream());
    device_.check_launch("jacobian_t");
    if (s.use_energy_) device_.copy(out + local * 3 * N, s.E.get(), bytes_of(local, sizeof(double)));
  }

  void kernel_columns(const TrainingState& state, const std::vector<std::int64_t>& cols, double* out) const override {
    const auto& s = state_of<CudaTrainingState>(state, kName);
    auto lock = device_.lock();
    const std::int64_t C = static_cast<std::int64_t>(cols.size());
    if (C == 0) return;
    const ColumnGroups groups = group_columns(cols.data(), C, s.side.n, s.layout.n_atoms(), s.use_energy_);
    const auto up = [&](const std::vector<std::int64_t>& v) {
      return upload_array(device_, v.data(), static_cast<std::int64_t>(v.size()));
    };
    const DeviceArray<std::int64_t> point = up(groups.point), start = up(groups.start), col = up(groups.force_col),
                                    slot = up(groups.force_slot), energy = up(groups.energy_slot);
    launch_kernel_columns(s.kernel_data(), s.first_, s.local_, s.use_energy_, groups.size(), point.get(), start.get(),
                          col.get(), slot.get(), energy.get(), C, out, device_.stream());
    device_.check_launch("kernel_columns");
    device_.synchronize();  // the group arrays are freed on return
  }

  void diagonal_blocks(const TrainingState& state, double* blocks, double* energy_diagonal) const override {
    const auto& s = state_of<CudaTrainingState>(state, kName);
    auto lock = device_.lock();
    const std::int64_t n = s.local_, dim = 3 * s.layout.n_atoms();
    std::vector<std::int64_t> all(dim);
    for (std::int64_t c = 0; c < dim; ++c) all[c] = c;
    const DeviceArray<std::int64_t> cols = upload_array(device_, all.data(), dim);
    DeviceArray<double> blocks_d(device_, n * dim * dim), energy_d(device_, s.use_energy_ ? n : 0);
    launch_diagonal_blocks(s.kernel_data(), s.first_, n, cols.get(), blocks_d.get(),
                           s.use_energy_ ? energy_d.get() : nullptr,
                           device_.stream());
    device_.check_launch("diagonal_blocks");
    device_.download(blocks, blocks_d.get(), bytes_of(n * dim * dim, sizeof(double)));
    if (s.use_energy_ && energy_diagonal != nullptr)
      device_.download(energy_diagonal, energy_d.get(), bytes_of(n, sizeof(double)));
  }

  void assemble(const TrainingState& state, double* K) const override {
    if (state.sharded()) throw std::invalid_argument("assemble needs all rows of K; this state holds a shard of them");
    const std::int64_t M = state.size();
    std::vector<std::int64_t> all(M);
    for (std::int64_t c = 0; c < M; ++c) all[c] = c;
    kernel_columns(state, all, K);  // K[:, all columns], row-major M x M
  }

  void training_descriptors(const TrainingState& state, double* X) const override {
    const auto& s = state_of<CudaTrainingState>(state, kName);
    auto lock = device_.lock();
    device_.download(X, s.side.X(), bytes_of(s.side.n * s.side.D, sizeof(double)));
  }

  void jacobian_rows(const TrainingState& state, const double* a, double* out) const override {
    const auto& s = state_of<CudaTrainingState>(state, kName);
    auto lock = device_.lock();
    const int N = s.layout.n_atoms();
    const std::int64_t n = s.side.n, D = s.side.D;
    const DeviceArray<double> a_d = upload_array(device_, a, n * 3 * N), out_d(device_, n * D);
    launch_jacobian_rows(s.g.get(), n, D, N, s.maps.pair_a.get(), s.maps.pair_b.get(), a_d.get(), out_d.get(),
                         device_.stream());
    device_.check_launch("jacobian_rows");
    device_.download(out, out_d.get(), bytes_of(n * D, sizeof(double)));
  }

  std::unique_ptr<ModelState> prepare_model(const DescriptorLayout& layout, const Lattice& lattice,
                                            const ModelData& model) const override {
    auto lock = device_.lock();
    return std::make_unique<CudaModelState>(device_, layout, lattice, model);
  }

  void predict(const ModelState& state, std::int64_t B, const double* R, double* E, double* F,
               double* dE_dstrain) const override {
    const auto& s = state_of<CudaModelState>(state, kName);
    auto lock = device_.lock();  // concurrent predictions share the state's arrays and the one stream
    const int N = s.layout.n_atoms();
    const std::int64_t D = s.layout.size();
    // Chunks of geometries bound the per-call arrays like the CPU's (descriptors, Jacobians, sums: ~5 D doubles
    // each) and the kernel sums' chunk arrays.
    const std::int64_t chunk = std::max<std::int64_t>(1, std::min(B, s.work_bytes / (40 * D)));
    const std::int64_t sum_chunk = queries_per_chunk(s.work_bytes, s.side.n, D, s.maps.G, chunk);
    s.ensure(device_, chunk);
    std::vector<double> Xq_host;
    for (std::int64_t first = 0; first < B; first += chunk) {
      const std::int64_t b = std::min(chunk, B - first);
      device_.upload(s.R.get(), R + first * 3 * N, bytes_of(b * 3 * N, sizeof(double)));
      launch_descriptors(s.R.get(), b, N, D, s.maps.pair_a.get(), s.maps.pair_b.get(), s.maps.lat.get(),
                         s.maps.lat_inv.get(), s.Xq.get(), s.gq.get(), device_.stream());
      device_.check_launch("descriptors");
      Xq_host.resize(b * D);  // the close-contact check reads the inverse distances on the host (B x D, small)
      device_.download(Xq_host.data(), s.Xq.get(), bytes_of(b * D, sizeof(double)));
      refuse_close_contacts(s.layout, s.min_distance, first, b, Xq_host.data());
      launch_row_dots(s.Xq.get(), s.Xq.get(), b, D, s.q2.get(), device_.stream());
      device_.check_launch("row_dots");
      kernel_sums(device_, algebra_, s.maps, s.side, b, s.Xq.get(), s.q2.get(), s.b.get(), sum_chunk, s.work,
                  s.Z.get(), s.E.get());
      launch_jacobian_t(s.gq.get(), b, D, N, s.maps.inc_start.get(), s.maps.inc_feature.get(), s.maps.inc_sign.get(),
                        s.Z.get(), s.F.get(), device_.stream());
      launch_finish_prediction(b, D, N, s.std, s.c, s.Xq.get(), s.gq.get(), s.Z.get(), s.E.get(), s.F.get(),
                               dE_dstrain != nullptr ? s.strain.get() : nullptr, device_.stream());
      device_.check_launch("jacobian_t, finish_prediction");
      device_.download(E + first, s.E.get(), bytes_of(b, sizeof(double)));
      device_.download(F + first * 3 * N, s.F.get(), bytes_of(b * 3 * N, sizeof(double)));
      if (dE_dstrain != nullptr)
        device_.download(dE_dstrain + first * 9, s.strain.get(), bytes_of(b * 9, sizeof(double)));
    }
  }

  FeatureDeltas feature_scores(const ModelState& state, const std::vector<int>& orbit, std::int64_t n_orbits,
                               std::int64_t B, const double* R, bool with_forces) const override {
    const auto& s = state_of<CudaModelState>(state, kName);
    if (static_cast<std::int64_t>(orbit.size()) != s.layout.size())
      throw std::invalid_argument("feature scores need one orbit per descriptor entry (" +
                                  std::to_string(s.layout.size()) + "), got " + std::to_string(orbit.size()));
    auto lock = device_.lock();
    FeatureScoreModel m;
    m.n = s.side.n;
    m.D = s.side.D;
    m.n_atoms = s.layout.n_atoms();
    m.G = s.maps.G;
    m.sigma = s.side.sigma;
    m.std = s.std;
    m.X = s.side.X();
    m.V = s.side.U();
    m.b = s.b.get();
    m.perm = s.maps.perm.get();
    m.perm_inv = s.maps.perm_inv.get();
    m.pair_a = s.maps.pair_a.get();
    m.pair_b = s.maps.pair_b.get();
    m.inc_start = s.maps.inc_start.get();
    m.inc_feature = s.maps.inc_feature.get();
    m.inc_sign = s.maps.inc_sign.get();
    m.lat = s.maps.lat.get();
    m.lat_inv = s.maps.lat_inv.get();
    return feature_score_deltas(device_, algebra_, m, s.layout, orbit, n_orbits, B, R, with_forces);
  }

 private:
  Device device_;  // first: the vector space and algebra refer to it
  CudaVectorSpace vectors_;
  CudaDenseAlgebra algebra_;
};

}  // namespace

std::unique_ptr<Backend> make_cuda_backend() { return std::make_unique<CudaBackend>(); }

}  // namespace fastgdml::cuda

// The entry point the core's loader calls (backend.cpp: load_backend_library): checks that the core that loads
// this object is the one it was built with (the Backend interface is C++ and must match exactly), then hands
// over the name and the factory. Returns 0, or nonzero with a message in error.
extern "C" __attribute__((visibility("default"))) int fastgdml_backend_entry_v1(
    const char* core_version, const char** name, fastgdml::BackendFactory* factory, char* error,
    std::size_t error_size) {
  const auto fail = [&](const std::string& message) {
    if (error != nullptr && error_size > 0) {
      std::strncpy(error, message.c_str(), error_size - 1);
      error[error_size - 1] = '\0';
    }
    return 1;
  };
  if (core_version == nullptr || std::string(core_version) != FASTGDML_VERSION_STR)
    return fail(std::string("the CUDA backend library was built for fastgdml ") + FASTGDML_VERSION_STR +
                " but the loading core is " + (core_version ? core_version : "(unknown)") +
                "; reinstall fastgdml so that both come from one build");
  *name = "cuda";
  *factory = [] { return fastgdml::cuda::make_cuda_backend(); };
  return 0;
}
