// The hand-written rGDML feature-score kernels (feature_score_kernels.cuh). Per (query, permutation) the work is
// an O(n D) pass over the training points (distances, their per-orbit parts, weight differences), an O(n D) map
// of v_j and d_j to atom space, and two (O x n)(n x 3N) products that cuBLAS runs (cuda_feature_scores.cu).
// Orbits are read through their member lists, so no two threads ever add into one orbit's sum (no atomics).
#include <cstdint>

#include "fastgdml/math/kernel_sum.hpp"
#include "fastgdml/math/matern52.hpp"
#include "block_reduce.cuh"
#include "feature_score_kernels.cuh"

namespace fastgdml::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kPointThreads = 128;  // threads of one feature_point_terms block (a power of two)

#define FASTGDML_GRID_STRIDE(t, count)                                                      \
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < (count); \
       t += std::int64_t(gridDim.x) * blockDim.x)

// One block per training point j (grid-stride over j).
__global__ void feature_point_terms_kernel(FeatureScoreData m, const double* __restrict__ A, double* __restrict__ Dd,
                                           double* __restrict__ wu, double* __restrict__ wx, double* __restrict__ dW1,
                                           double* __restrict__ dW2, double* __restrict__ dEn) {
  __shared__ double r2s[kPointThreads], ss[kPointThreads];
  const Matern52 kernel(m.sigma);
  const std::int64_t D = m.D, O = m.O;
  for (std::int64_t j = blockIdx.x; j < m.n; j += gridDim.x) {
    const double* xj = m.X + j * D;
    const double* vj = m.V + j * D;
    double* dj = Dd + j * D;
    double r2 = 0.0, s = 0.0;
    for (std::int64_t k = threadIdx.x; k < D; k += blockDim.x) {
      const double d = A[k] - xj[k];
      dj[k] = d;
      r2 += d * d;
      s += d * vj[k];
    }
    block_sum2(r2, s, r2s, ss);
    const double rr = r2, sj = s, bj = m.b != nullptr ? m.b[j] : 0.0;
    const KernelSumTerms full = kernel_sum_terms(kernel.weights_from_r2(rr), sj, bj);
    if (threadIdx.x == 0) {
      wu[j] = full.w_u;
      wx[j] = full.w_x;
    }
    for (std::int64_t o = threadIdx.x; o < O; o += blockDim.x) {
      double q2 = 0.0, qs = 0.0;  // the orbit's parts of r^2 and s
      for (std::int64_t e = m.orbit_start[o]; e < m.orbit_start[o + 1]; ++e) {
        const std::int64_t k = m.orbit_member[e];
        q2 += dj[k] * dj[k];
        qs += dj[k] * vj[k];
      }
      const KernelSumTerms masked = kernel_sum_terms(kernel.weights_from_r2(rr - q2), sj - qs, bj);
      dW1[j * O + o] = masked.w_u - full.w_u;  // W1f(full) - W1f(masked), W1f = -w_u
      dW2[j * O + o] = full.w_x - masked.w_x;
      dEn[j * O + o] = full.energy - masked.energy;
    }
    __syncthreads();  // the next point rewrites the shared sums (and reads its own dj only)
  }
}

// One thread per (training point j, atom a): J^T of the permuted rows through the atom's incidence list.
__global__ void feature_atom_rows_kernel(FeatureScoreData m, const double* __restrict__ gq, const int* __restrict__ fwd,
                                         const double* __restrict__ Dd, double* __restrict__ VJ,
                                         double* __restrict__ DJ) {
  const int N = m.n_atoms;
  FASTGDML_GRID_STRIDE(t, m.n * N) {
    const std::int64_t j = t / N, a = t % N;
    const double* vj = m.V + j * m.D;
    const double* dj = Dd + j * m.D;
    double ov[3] = {0.0, 0.0, 0.0}, od[3] = {0.0, 0.0, 0.0};
    for (std::int64_t e = m.inc_start[a]; e < m.inc_start[a + 1]; ++e) {
      const std::int64_t k = m.inc_feature[e];
      const double sv = m.inc_sign[e] * vj[fwd[k]], sd = m.inc_sign[e] * dj[fwd[k]];
      for (int c = 0; c < 3; ++c) {
        ov[c] += sv * gq[3 * k + c];
        od[c] += sd * gq[3 * k + c];
      }
    }
    for (int c = 0; c < 3; ++c) {
      VJ[j * 3 * N + 3 * a + c] = ov[c];
      DJ[j * 3 * N + 3 * a + c] = od[c];
    }
  }
}

// Threads [0, D) take the entries k (own, g), threads [D, D + O) the orbits (dE); each sums over j in order.
__global__ void feature_accumulate_kernel(FeatureScoreData m, const int* __restrict__ fwd,
                                          const double* __restrict__ Dd, const double* __restrict__ wu,
                                          const double* __restrict__ wx, const double* __restrict__ dW1,
                                          const double* __restrict__ dW2, const double* __restrict__ dEn,
                                          double* __restrict__ own, double* __restrict__ g, double* __restrict__ dE) {
  const std::int64_t D = m.D, O = m.O;
  FASTGDML_GRID_STRIDE(t, D + O) {
    if (t < D) {
      const std::int64_t k = t, f = fwd[k], o = m.orbit[k];
      double own_k = 0.0, g_k = 0.0;
      for (std::int64_t j = 0; j < m.n; ++j) {
        const double v = m.V[j * D + f], d = Dd[j * D + f];
        own_k += dW1[j * O + o] * v + dW2[j * O + o] * d;
        g_k += wx[j] * d - wu[j] * v;
      }
      own[k] += own_k;
      g[k] += g_k;
    } else {
      const std::int64_t o = t - D;
      double e = 0.0;
      for (std::int64_t j = 0; j < m.n; ++j) e += dEn[j * O + o];
      dE[o] += e;
    }
  }
}

// One thread per (orbit o, atom a).
__global__ void feature_finish_kernel(FeatureScoreData m, const double* __restrict__ gq, const double* __restrict__ g,
                                      const double* __restrict__ own, double* __restrict__ dF) {
  const int N = m.n_atoms;
  FASTGDML_GRID_STRIDE(t, m.O * N) {
    const std::int64_t o = t / N, a = t % N;
    double acc[3] = {0.0, 0.0, 0.0};
    for (std::int64_t e = m.inc_start[a]; e < m.inc_start[a + 1]; ++e) {
      const std::int64_t k = m.inc_feature[e];
      if (m.orbit[k] != o) continue;
      const double c = m.inc_sign[e] * (g[k] - own[k]);
      for (int t3 = 0; t3 < 3; ++t3) acc[t3] += c * gq[3 * k + t3];
    }
    for (int t3 = 0; t3 < 3; ++t3) dF[o * 3 * N + 3 * a + t3] += acc[t3];
  }
}

// One thread per orbit.
__global__ void feature_scores_kernel(FeatureScoreData m, double std_, const double* __restrict__ dF,
                                      double* __restrict__ dE, double* __restrict__ scores,
                                      double* __restrict__ dF_out) {
  const int dim = 3 * m.n_atoms;
  FASTGDML_GRID_STRIDE(o, m.O) {
    dE[o] *= std_;
    const double* row = dF + o * dim;
    double sum = 0.0;
    for (int i = 0; i < dim; ++i) sum += row[i] * row[i];
    scores[o] += std_ * std_ * sum;
    if (dF_out != nullptr)
      for (int i = 0; i < dim; ++i) dF_out[o * dim + i] = std_ * row[i];
  }
}

#undef FASTGDML_GRID_STRIDE

}  // namespace

void launch_feature_point_terms(const FeatureScoreData& m, const double* A, double* Dd, double* wu, double* wx,
                                double* dW1, double* dW2, double* dEn, cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(m.n < 65535 ? (m.n < 1 ? 1 : m.n) : 65535);
  FASTGDML_LAUNCH(feature_point_terms_kernel, blocks, kPointThreads, stream, m, A, Dd, wu, wx, dW1, dW2, dEn);
}

void launch_feature_atom_rows(const FeatureScoreData& m, const double* gq, const int* fwd, const double* Dd,
                              double* VJ, double* DJ, cudaStream_t stream) {
  FASTGDML_LAUNCH(feature_atom_rows_kernel, blocks_for(m.n * m.n_atoms, kThreads), kThreads, stream, m, gq, fwd, Dd,
                  VJ, DJ);
}

void launch_feature_accumulate(const FeatureScoreData& m, const int* fwd, const double* Dd, const double* wu,
                               const double* wx, const double* dW1, const double* dW2, const double* dEn,
                               double* own, double* g, double* dE, cudaStream_t stream) {
  FASTGDML_LAUNCH(feature_accumulate_kernel, blocks_for(m.D + m.O, kThreads), kThreads, stream, m, fwd, Dd, wu, wx,
                  dW1, dW2, dEn, own, g, dE);
}

void launch_feature_finish(const FeatureScoreData& m, const double* gq, const double* g, const double* own,
                           double* dF, cudaStream_t stream) {
  FASTGDML_LAUNCH(feature_finish_kernel, blocks_for(m.O * m.n_atoms, kThreads), kThreads, stream, m, gq, g, own, dF);
}

void launch_feature_scores(const FeatureScoreData& m, double std_, double* dF, double* dE, double* scores,
                           double* dF_out, cudaStream_t stream) {
  FASTGDML_LAUNCH(feature_scores_kernel, blocks_for(m.O, kThreads), kThreads, stream, m, std_, dF, dE, scores,
                  dF_out);
}

}  // namespace fastgdml::cuda
