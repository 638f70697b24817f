#include "fastgdml/predictor.hpp"

#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <string>

#include "fastgdml/prediction_checks.hpp"

namespace fastgdml {
namespace {

void refuse_non_finite_positions(std::int64_t B, int N, const double* R) {
  for (std::int64_t i = 0; i < B * 3 * N; ++i)
    if (!std::isfinite(R[i]))
      throw std::invalid_argument("R contains NaN/Inf positions (geometry " + std::to_string(i / (3 * N)) + ")");
}

}  // namespace

Predictor::Predictor(const DescriptorLayout& layout, const Lattice& lattice, const ModelData& model,
                     const std::string& backend)
    : backend_(make_backend(backend)), sigma_(model.sigma), std_(model.std), c_(model.c) {
  state_ = backend_->prepare_model(layout, lattice, model);
}

void Predictor::predict(std::int64_t B, const double* R, double* E, double* F, double* dE_dstrain) const {
  const int N = state_->n_atoms();
  refuse_non_finite_positions(B, N, R);
  backend_->predict(*state_, B, R, E, F, dE_dstrain);
  // Never a silent NaN: parameters that pass every check can still overflow for some geometry.
  for (std::int64_t q = 0; q < B; ++q) {
    bool finite = std::isfinite(E[q]);
    for (int k = 0; k < 3 * N && finite; ++k) finite = std::isfinite(F[q * 3 * N + k]);
    if (!finite) {
      char params[96];
      std::snprintf(params, sizeof params, "sigma %g, std %g, c %g", sigma_, std_, c_);
      throw std::domain_error("non-finite energy or forces for geometry " + std::to_string(q) + " (of " +
                              std::to_string(B) + "); its parameters overflow there (" + params +
                              "); the model file is degenerate");
    }
  }
}

FeatureDeltas Predictor::feature_scores(const std::vector<int>& orbit, std::int64_t n_orbits, std::int64_t B,
                                        const double* R, bool with_forces) const {
  refuse_non_finite_positions(B, state_->n_atoms(), R);
  return backend_->feature_scores(*state_, orbit, n_orbits, B, R, with_forces);
}

}  // namespace fastgdml
