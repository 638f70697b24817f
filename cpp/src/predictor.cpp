#include "fastgdml/predictor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "fastgdml/math/descriptor.hpp"

namespace fastgdml {

Predictor::Predictor(const DescriptorLayout& layout, const Lattice& lattice, ModelData model,
                     const std::string& backend)
    : layout_(layout), lattice_(lattice), model_(std::move(model)), D_(layout.size()), backend_(make_backend(backend)) {
  if (model_.X.empty() || model_.X.size() % D_ != 0)
    throw std::invalid_argument("training descriptors must have shape (n, " + std::to_string(D_) + ")");
  n_ = static_cast<std::int64_t>(model_.X.size()) / D_;
  if (model_.V.size() != model_.X.size())
    throw std::invalid_argument("R_d_desc_alpha must have the shape of the training descriptors (n, D)");
  if (!model_.b.empty() && static_cast<std::int64_t>(model_.b.size()) != n_)
    throw std::invalid_argument("alphas_E must have one entry per training point (" + std::to_string(n_) + ")");
  if (!(model_.sigma > 0.0)) throw std::invalid_argument("sigma must be > 0");
  perm_ = layout.permutation_maps(model_.perms);
  perm_inv_ = invert_permutation_maps(perm_, D_);
  G_ = static_cast<int>(perm_.size() / D_);
  PrepareOptions prepare;
  prepare.fixed_coefficients = true;
  prepared_ = backend_->prepare(input(), prepare);
}

KernelSumInput Predictor::input() const {
  KernelSumInput in;
  in.n = n_;
  in.D = D_;
  in.X = model_.X.data();
  in.U = model_.V.data();
  in.b = model_.b.empty() ? nullptr : model_.b.data();
  in.G = G_;
  in.perm = perm_.data();
  in.perm_inv = perm_inv_.data();
  in.sigma = model_.sigma;
  return in;
}

void Predictor::predict(std::int64_t B, const double* R, double* E, double* F, double* dE_dstrain) const {
  const int N = layout_.n_atoms();
  for (std::int64_t i = 0; i < B * 3 * N; ++i)
    if (!std::isfinite(R[i]))
      throw std::invalid_argument("R contains NaN/Inf positions (geometry " + std::to_string(i / (3 * N)) + ")");
  // Chunks of geometries bound the work arrays (5 doubles per descriptor entry and geometry).
  const std::int64_t chunk = std::max<std::int64_t>(1, model_.work_bytes / (40 * D_));
  std::vector<double> Xq(std::min(B, chunk) * D_), g(Xq.size() * 3), Z(Xq.size());
  for (std::int64_t first = 0; first < B; first += chunk) {
    const std::int64_t b = std::min(chunk, B - first);
    const double* Rb = R + first * 3 * N;
    double* Eb = E + first;
    double* Fb = F + first * 3 * N;
    backend_->descriptors(layout_, lattice_, b, Rb, Xq.data(), g.data());
    refuse_close_contacts(first, b, Xq.data());
    backend_->kernel_sums(input(), b, Xq.data(), prepared_.get(), Z.data(), Eb);
    const double scale = -model_.std;
#pragma omp parallel for schedule(static) if (b * D_ > 32768)
    for (std::int64_t q = 0; q < b; ++q) {
      jacobian_t_dot(g.data() + q * D_ * 3, D_, layout_.pair_a(), layout_.pair_b(), Z.data() + q * D_, N,
                     Fb + q * 3 * N);
      for (int k = 0; k < 3 * N; ++k) Fb[q * 3 * N + k] *= scale;
      Eb[q] = model_.std * Eb[q] + model_.c;
      if (dE_dstrain != nullptr) {
        // E depends on the pair vectors d_k only, and a homogeneous strain maps d_k to (I + e) d_k, so
        // dE/de_ab = sum_k dE/dx_k dx_k/dd_k,a d_k,b = -std sum_k Z_k g_k,a g_k,b / x_k^3  (d_k = g_k / x_k^3).
        double* S = dE_dstrain + (first + q) * 9;
        for (int t = 0; t < 9; ++t) S[t] = 0.0;
        const double* gq = g.data() + q * D_ * 3;
        const double* xq = Xq.data() + q * D_;
        const double* zq = Z.data() + q * D_;
        for (std::int64_t k = 0; k < D_; ++k) {
          const double w = -model_.std * zq[k] / (xq[k] * xq[k] * xq[k]);
          for (int a = 0; a < 3; ++a)
            for (int c = 0; c < 3; ++c) S[3 * a + c] += w * gq[3 * k + a] * gq[3 * k + c];
        }
      }
    }
  }
  // Never a silent NaN: parameters that pass every check can still overflow for some geometry.
  for (std::int64_t q = 0; q < B; ++q) {
    bool finite = std::isfinite(E[q]);
    for (int k = 0; k < 3 * N && finite; ++k) finite = std::isfinite(F[q * 3 * N + k]);
    if (!finite) {
      char params[96];
      std::snprintf(params, sizeof params, "sigma %g, std %g, c %g", model_.sigma, model_.std, model_.c);
      throw std::domain_error("non-finite energy or forces for geometry " + std::to_string(q) + " (of " +
                              std::to_string(B) + "); its parameters overflow there (" + params +
                              "); the model file is degenerate");
    }
  }
}

void Predictor::refuse_close_contacts(std::int64_t first, std::int64_t B, const double* Xq) const {
  // The descriptor holds inverse distances: one pass over it finds the closest kept pair of every query.
  const double limit = model_.min_distance > 0.0 ? 1.0 / model_.min_distance : 0.0;
  for (std::int64_t q = 0; q < B; ++q) {
    for (std::int64_t d = 0; d < D_; ++d) {
      const double x = Xq[q * D_ + d];
      if (std::isfinite(x) && (limit == 0.0 || x <= limit)) continue;
      const double r = std::isfinite(x) ? 1.0 / x : 0.0;
      const std::string atoms = "geometry " + std::to_string(first + q) + ": atoms " + std::to_string(layout_.pair_b()[d]) +
                                " and " + std::to_string(layout_.pair_a()[d]);
      char dist[32], lim[32];
      std::snprintf(dist, sizeof dist, "%.3g", r);
      std::snprintf(lim, sizeof lim, "%.3g", 10.0 * model_.min_distance);
      if (r < 1e-8)
        throw std::domain_error(atoms + " coincide (distance " + dist +
                                " < 1e-08); the inverse-distance descriptor is undefined there");
      throw std::domain_error(atoms + " are " + dist + " apart, closer than a tenth of the closest pair in the " +
                              "training data (" + lim + ", model length units); the model is meaningless there");
    }
  }
}

}  // namespace fastgdml
