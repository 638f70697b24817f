#include "tall_matrix.hpp"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>
#include <vector>

#include "fastgdml/linalg.hpp"

// The float kernels are memory-bound loops; building them for AVX2/AVX-512 as well (picked at load time) keeps
// the conversion and FMA work off the critical path on CPUs that have them without a -march=native build.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FASTGDML_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTGDML_CLONES
#endif

namespace fastgdml::cpu {
namespace {

// t[c] += sum_r a[r] W[r][c] over `rows` rows of a float matrix; four rows per pass over t.
FASTGDML_CLONES void accumulate_rows(const float* W, const double* a, std::int64_t rows, std::int64_t cols,
                                     double* t) {
  std::int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float *w0 = W + r * cols, *w1 = w0 + cols, *w2 = w1 + cols, *w3 = w2 + cols;
    const double a0 = a[r], a1 = a[r + 1], a2 = a[r + 2], a3 = a[r + 3];
#pragma omp simd
    for (std::int64_t c = 0; c < cols; ++c)
      t[c] += a0 * double(w0[c]) + a1 * double(w1[c]) + a2 * double(w2[c]) + a3 * double(w3[c]);
  }
  for (; r < rows; ++r) {
    const float* w = W + r * cols;
    const double ar = a[r];
#pragma omp simd
    for (std::int64_t c = 0; c < cols; ++c) t[c] += ar * double(w[c]);
  }
}

// out[r] -= W[r] . s for `rows` rows of a float matrix.
FASTGDML_CLONES void subtract_rows(const float* W, const double* s, std::int64_t rows, std::int64_t cols,
                                   double* out) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* w = W + r * cols;
    double acc = 0.0;
#pragma omp simd reduction(+ : acc)
    for (std::int64_t c = 0; c < cols; ++c) acc += double(w[c]) * s[c];
    out[r] -= acc;
  }
}

// Static row range of thread `t` of `threads`.
std::pair<std::int64_t, std::int64_t> row_range(std::int64_t rows, int t, int threads) {
  const std::int64_t per = rows / threads, extra = rows % threads;
  const std::int64_t begin = t * per + std::min<std::int64_t>(t, extra);
  return {begin, begin + per + (t < extra ? 1 : 0)};
}

}  // namespace

TallMatrix::TallMatrix(std::int64_t rows, std::int64_t cols) : rows_(rows), cols_(cols) {
  data_ = std::calloc(static_cast<std::size_t>(std::max<std::int64_t>(rows * cols, 1)), sizeof(double));
  if (data_ == nullptr) throw std::bad_alloc();
}

double* TallMatrix::doubles() {
  if (single_) throw std::logic_error("TallMatrix: double access after narrow()");
  return static_cast<double*>(data_);
}

const double* TallMatrix::doubles() const {
  if (single_) throw std::logic_error("TallMatrix: double access after narrow()");
  return static_cast<const double*>(data_);
}

void TallMatrix::round_to_single() {
  double* d = doubles();
  const std::int64_t n = rows_ * cols_;
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i) d[i] = static_cast<double>(static_cast<float>(d[i]));
}

void TallMatrix::narrow() {
  if (single_) return;
  // Convert front to back through a small buffer: float i lands in bytes [4i, 4i+4), which belong to doubles
  // <= i, all read already. memcpy keeps the type-punning well defined.
  constexpr std::int64_t kChunk = 4096;
  const std::int64_t n = rows_ * cols_;
  unsigned char* bytes = static_cast<unsigned char*>(data_);
  double in[kChunk];
  float out[kChunk];
  for (std::int64_t i0 = 0; i0 < n; i0 += kChunk) {
    const std::int64_t m = std::min(kChunk, n - i0);
    std::memcpy(in, bytes + i0 * sizeof(double), m * sizeof(double));
    for (std::int64_t i = 0; i < m; ++i) out[i] = static_cast<float>(in[i]);
    std::memcpy(bytes + i0 * sizeof(float), out, m * sizeof(float));
  }
  if (void* shrunk = std::realloc(data_, static_cast<std::size_t>(std::max<std::int64_t>(n, 1)) * sizeof(float)))
    data_ = shrunk;  // in place for large blocks; on failure the old (larger) block stays valid
  single_ = true;
}

void TallMatrix::multiply_transposed(const double* a, double* t) const {
  if (!single_) {
    linalg::gemv(linalg::Op::kTrans, rows_, cols_, 1.0, doubles(), cols_, a, 0.0, t);
    return;
  }
  const float* W = static_cast<const float*>(data_);
  const int threads = rows_ * cols_ > (1 << 16) ? omp_get_max_threads() : 1;
  std::vector<double> partial(static_cast<std::size_t>(threads) * cols_, 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int id = omp_get_thread_num(), team = omp_get_num_threads();
    const auto [r0, r1] = row_range(rows_, id, team);
    accumulate_rows(W + r0 * cols_, a + r0, r1 - r0, cols_, partial.data() + id * cols_);
  }
  std::fill(t, t + cols_, 0.0);
  for (int id = 0; id < threads; ++id)
    for (std::int64_t c = 0; c < cols_; ++c) t[c] += partial[id * cols_ + c];
}

void TallMatrix::subtract_product(const double* s, double* out) const {
  if (!single_) {
    linalg::gemv(linalg::Op::kNoTrans, rows_, cols_, -1.0, doubles(), cols_, s, 1.0, out);
    return;
  }
  const float* W = static_cast<const float*>(data_);
  const int threads = rows_ * cols_ > (1 << 16) ? omp_get_max_threads() : 1;
#pragma omp parallel num_threads(threads)
  {
    const auto [r0, r1] = row_range(rows_, omp_get_thread_num(), omp_get_num_threads());
    subtract_rows(W + r0 * cols_, s, r1 - r0, cols_, out + r0);
  }
}

void TallMatrix::copy_rows(std::int64_t r0, std::int64_t count, double* dst) const {
  const std::int64_t n = count * cols_;
  if (!single_) {
    std::copy(doubles() + r0 * cols_, doubles() + r0 * cols_ + n, dst);
    return;
  }
  const float* src = static_cast<const float*>(data_) + r0 * cols_;
  for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

}  // namespace fastgdml::cpu
