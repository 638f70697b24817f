// feature_score_deltas (cuda_feature_scores.hpp): per query and permutation the kernels of
// feature_score_kernels.cu and two cuBLAS products, everything resident on the device; the host only loops.
#include "cuda_feature_scores.hpp"

#include <stdexcept>
#include <string>

#include "descriptor_kernels.cuh"
#include "feature_score_kernels.cuh"
#include "kernel_sums.cuh"

namespace fastgdml::cuda {

FeatureDeltas feature_score_deltas(const Device& device, const CudaDenseAlgebra& la, const FeatureScoreModel& m,
                                   const DescriptorLayout& layout, const std::vector<int>& orbit,
                                   std::int64_t n_orbits, std::int64_t B, const double* R, bool with_forces) {
  auto lock = device.lock();
  const std::int64_t n = m.n, D = m.D, O = n_orbits, N = m.n_atoms, dim = 3 * N;
  if (layout.size() != D) throw std::invalid_argument("feature scores: descriptor size mismatch");
  // The orbits' member lists (CSR), so that each orbit's sums are one thread's.
  std::vector<std::int64_t> start(O + 1, 0), member(D);
  for (std::int64_t k = 0; k < D; ++k) {
    if (orbit[k] < 0 || orbit[k] >= O)
      throw std::invalid_argument("feature scores: orbit " + std::to_string(orbit[k]) + " of entry " +
                                  std::to_string(k) + " is outside 0 .. " + std::to_string(O - 1));
    ++start[orbit[k] + 1];
  }
  for (std::int64_t o = 0; o < O; ++o) start[o + 1] += start[o];
  {
    std::vector<std::int64_t> next(start.begin(), start.end() - 1);
    for (std::int64_t k = 0; k < D; ++k) member[next[orbit[k]]++] = k;
  }
  const DeviceArray<int> orbit_d = upload_array(device, orbit.data(), D);
  const DeviceArray<std::int64_t> start_d = upload_array(device, start.data(), O + 1),
                                  member_d = upload_array(device, member.data(), D);
  FeatureScoreData fs;
  fs.n = n;
  fs.D = D;
  fs.O = O;
  fs.n_atoms = static_cast<int>(N);
  fs.sigma = m.sigma;
  fs.X = m.X;
  fs.V = m.V;
  fs.b = m.b;
  fs.orbit = orbit_d.get();
  fs.orbit_start = start_d.get();
  fs.orbit_member = member_d.get();
  fs.inc_start = m.inc_start;
  fs.inc_feature = m.inc_feature;
  fs.inc_sign = m.inc_sign;

  // One query's arrays at a time: its descriptor and Jacobian, the per-point terms and the atom-space rows.
  const DeviceArray<double> Rq(device, dim), x(device, D), gq(device, D * 3), A(device, D), Dd(device, n * D),
      wu(device, n), wx(device, n), dW1(device, n * O), dW2(device, n * O), dEn(device, n * O), VJ(device, n * dim),
      DJ(device, n * dim), dF(device, O * dim), own(device, D), scores(device, O), dE(device, B * O), g(device, B * D),
      dF_out(device, with_forces ? B * O * dim : 0);
  for (std::int64_t q = 0; q < B; ++q) {
    device.upload(Rq.get(), R + q * dim, sizeof(double) * static_cast<std::size_t>(dim));
    launch_descriptors(Rq.get(), 1, static_cast<int>(N), D, m.pair_a, m.pair_b, m.lat, m.lat_inv, x.get(), gq.get(),
                       device.stream());
    device.zero(dF.get(), sizeof(double) * static_cast<std::size_t>(O * dim));
    device.zero(own.get(), sizeof(double) * static_cast<std::size_t>(D));
    for (int p = 0; p < m.G; ++p) {
      const int* fwd = m.perm + static_cast<std::int64_t>(p) * D;
      launch_gather_permuted(x.get(), D, m.G, m.perm_inv, p, 1, A.get(), device.stream());  // A = P_p^T x
      launch_feature_point_terms(fs, A.get(), Dd.get(), wu.get(), wx.get(), dW1.get(), dW2.get(), dEn.get(),
                                 device.stream());
      launch_feature_atom_rows(fs, gq.get(), fwd, Dd.get(), VJ.get(), DJ.get(), device.stream());
      launch_feature_accumulate(fs, fwd, Dd.get(), wu.get(), wx.get(), dW1.get(), dW2.get(), dEn.get(), own.get(),
                                g.get() + q * D, dE.get() + q * O, device.stream());
      device.check_launch("feature score kernels");
      // dF (O x 3N) += dW1^T VJ + dW2^T DJ: the products in atom space (3N columns instead of D)
      la.gemm(Op::kTrans, Op::kNoTrans, O, dim, n, 1.0, dW1.get(), O, VJ.get(), dim, 1.0, dF.get(), dim);
      la.gemm(Op::kTrans, Op::kNoTrans, O, dim, n, 1.0, dW2.get(), O, DJ.get(), dim, 1.0, dF.get(), dim);
    }
    launch_feature_finish(fs, gq.get(), g.get() + q * D, own.get(), dF.get(), device.stream());
    launch_feature_scores(fs, m.std, dF.get(), dE.get() + q * O, scores.get(),
                          with_forces ? dF_out.get() + q * O * dim : nullptr, device.stream());
    device.check_launch("feature_finish, feature_scores");
  }
  FeatureDeltas out;
  out.scores.resize(O);
  out.dE.resize(B * O);
  out.g.resize(B * D);
  device.download(out.scores.data(), scores.get(), sizeof(double) * static_cast<std::size_t>(O));
  device.download(out.dE.data(), dE.get(), sizeof(double) * static_cast<std::size_t>(B * O));
  device.download(out.g.data(), g.get(), sizeof(double) * static_cast<std::size_t>(B * D));
  if (with_forces) {
    out.dF.resize(B * O * dim);
    device.download(out.dF.data(), dF_out.get(), sizeof(double) * static_cast<std::size_t>(B * O * dim));
  }
  return out;
}

}  // namespace fastgdml::cuda
