// The small kernels of the CUDA VectorSpace and DenseAlgebra (dense_kernels.cuh): element-wise vector steps cuBLAS
// has no call for, the gathers and layout conversions of a Nyström build, and the float-stored tall factor's two
// memory-bound products (W read once per product, accumulated in double, as on the CPU: cpu/tall_matrix.hpp).
#include <cstdint>

#include "dense_kernels.cuh"

namespace fastgdml::cuda {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kRowThreads = 128;      // threads of one tall_subtract_product block (a power of two)
constexpr std::int64_t kChunkRows = 1024;  // rows per partial sum of tall_multiply_transposed (chunks x cols threads)

#define FASTGDML_GRID_STRIDE(t, count)                                                      \
  for (std::int64_t t = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; t < (count); \
       t += std::int64_t(gridDim.x) * blockDim.x)

__global__ void fill_kernel(std::int64_t n, double value, double* __restrict__ x) {
  FASTGDML_GRID_STRIDE(i, n) x[i] = value;
}

__global__ void xpay_kernel(std::int64_t n, const double* __restrict__ x, double a, double* __restrict__ y) {
  FASTGDML_GRID_STRIDE(i, n) y[i] = x[i] + a * y[i];
}

__global__ void multiply_kernel(std::int64_t n, const double* __restrict__ w, double* __restrict__ x) {
  FASTGDML_GRID_STRIDE(i, n) x[i] *= w[i];
}

__global__ void gather_rows_kernel(std::int64_t n, const double* __restrict__ A, const std::int64_t* __restrict__ rows,
                                   std::int64_t count, double* __restrict__ out) {
  FASTGDML_GRID_STRIDE(t, count * n) {
    const std::int64_t i = t / n, c = t % n, r = rows[i];
    if (r >= 0) out[t] = A[r * n + c];
  }
}

__global__ void strided_copy_kernel(std::int64_t n, const double* __restrict__ A, std::int64_t stride,
                                    double* __restrict__ out) {
  FASTGDML_GRID_STRIDE(i, n) out[i] = A[i * stride];
}

__global__ void add_to_diagonal_kernel(std::int64_t n, double value, double* __restrict__ A) {
  FASTGDML_GRID_STRIDE(i, n) A[i * (n + 1)] += value;
}

__global__ void rows_to_column_major_kernel(const double* __restrict__ A, std::int64_t r0, std::int64_t rows,
                                            std::int64_t n, double* __restrict__ out, std::int64_t ld) {
  FASTGDML_GRID_STRIDE(t, rows * n) {
    const std::int64_t r = t / n, c = t % n;
    out[r + c * ld] = A[(r0 + r) * n + c];
  }
}

__global__ void copy_upper_kernel(std::int64_t n, const double* __restrict__ src, std::int64_t ld,
                                  double* __restrict__ R) {
  FASTGDML_GRID_STRIDE(t, n * n) {
    const std::int64_t r = t % n, c = t / n;
    R[t] = r <= c ? src[r + c * ld] : 0.0;
  }
}

__global__ void round_to_single_kernel(std::int64_t n, double* __restrict__ x) {
  FASTGDML_GRID_STRIDE(i, n) x[i] = static_cast<double>(static_cast<float>(x[i]));
}

__global__ void narrow_kernel(std::int64_t n, const double* __restrict__ x, float* __restrict__ out) {
  FASTGDML_GRID_STRIDE(i, n) out[i] = static_cast<float>(x[i]);
}

// partial[chunk, c] = sum over the chunk's rows r of W[r, c] a[r]: one thread per (chunk, column); consecutive
// threads read consecutive columns of a row (coalesced).
__global__ void tall_transposed_partial_kernel(const float* __restrict__ W, std::int64_t rows, std::int64_t cols,
                                               const double* __restrict__ a, double* __restrict__ partial) {
  const std::int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  FASTGDML_GRID_STRIDE(t, chunks * cols) {
    const std::int64_t chunk = t / cols, c = t % cols;
    const std::int64_t r1 = (chunk + 1) * kChunkRows < rows ? (chunk + 1) * kChunkRows : rows;
    double s = 0.0;
    for (std::int64_t r = chunk * kChunkRows; r < r1; ++r) s += static_cast<double>(W[r * cols + c]) * a[r];
    partial[t] = s;
  }
}

// t[c] = sum over chunks of partial[chunk, c], in chunk order (the same sum for any launch shape).
__global__ void sum_chunks_kernel(const double* __restrict__ partial, std::int64_t chunks, std::int64_t cols,
                                  double* __restrict__ t) {
  FASTGDML_GRID_STRIDE(c, cols) {
    double s = 0.0;
    for (std::int64_t k = 0; k < chunks; ++k) s += partial[k * cols + c];
    t[c] = s;
  }
}

// out[r] -= W[r] . s: one block per row, its threads striding over the columns, a shared-memory tree reduction.
__global__ void tall_subtract_product_kernel(const float* __restrict__ W, std::int64_t rows, std::int64_t cols,
                                             const double* __restrict__ s, double* __restrict__ out) {
  __shared__ double partial[kRowThreads];
  for (std::int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    double sum = 0.0;
    for (std::int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += static_cast<double>(W[r * cols + c]) * s[c];
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (unsigned half = blockDim.x / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) out[r] -= partial[0];
    __syncthreads();  // the next row rewrites partial
  }
}

__global__ void widen_rows_kernel(const float* __restrict__ W, std::int64_t r0, std::int64_t count, std::int64_t cols,
                                  double* __restrict__ dst) {
  FASTGDML_GRID_STRIDE(t, count * cols) dst[t] = static_cast<double>(W[r0 * cols + t]);
}

#undef FASTGDML_GRID_STRIDE

}  // namespace

void launch_fill(std::int64_t n, double value, double* x, cudaStream_t stream) {
  FASTGDML_LAUNCH(fill_kernel, blocks_for(n, kThreads), kThreads, stream, n, value, x);
}

void launch_xpay(std::int64_t n, const double* x, double a, double* y, cudaStream_t stream) {
  FASTGDML_LAUNCH(xpay_kernel, blocks_for(n, kThreads), kThreads, stream, n, x, a, y);
}

void launch_multiply(std::int64_t n, const double* w, double* x, cudaStream_t stream) {
  FASTGDML_LAUNCH(multiply_kernel, blocks_for(n, kThreads), kThreads, stream, n, w, x);
}

void launch_gather_rows(std::int64_t n, const double* A, const std::int64_t* rows, std::int64_t count, double* out,
                        cudaStream_t stream) {
  FASTGDML_LAUNCH(gather_rows_kernel, blocks_for(count * n, kThreads), kThreads, stream, n, A, rows, count, out);
}

void launch_strided_copy(std::int64_t n, const double* A, std::int64_t stride, double* out, cudaStream_t stream) {
  FASTGDML_LAUNCH(strided_copy_kernel, blocks_for(n, kThreads), kThreads, stream, n, A, stride, out);
}

void launch_add_to_diagonal(std::int64_t n, double value, double* A, cudaStream_t stream) {
  FASTGDML_LAUNCH(add_to_diagonal_kernel, blocks_for(n, kThreads), kThreads, stream, n, value, A);
}

void launch_rows_to_column_major(const double* A, std::int64_t r0, std::int64_t rows, std::int64_t n, double* out,
                                 std::int64_t ld, cudaStream_t stream) {
  FASTGDML_LAUNCH(rows_to_column_major_kernel, blocks_for(rows * n, kThreads), kThreads, stream, A, r0, rows, n, out,
                  ld);
}

void launch_copy_upper(std::int64_t n, const double* src, std::int64_t ld, double* R, cudaStream_t stream) {
  FASTGDML_LAUNCH(copy_upper_kernel, blocks_for(n * n, kThreads), kThreads, stream, n, src, ld, R);
}

void launch_round_to_single(std::int64_t n, double* x, cudaStream_t stream) {
  FASTGDML_LAUNCH(round_to_single_kernel, blocks_for(n, kThreads), kThreads, stream, n, x);
}

void launch_narrow(std::int64_t n, const double* x, float* out, cudaStream_t stream) {
  FASTGDML_LAUNCH(narrow_kernel, blocks_for(n, kThreads), kThreads, stream, n, x, out);
}

std::int64_t tall_transposed_chunks(std::int64_t rows) { return (rows + kChunkRows - 1) / kChunkRows; }

void launch_tall_multiply_transposed(const float* W, std::int64_t rows, std::int64_t cols, const double* a,
                                     double* partial, double* t, cudaStream_t stream) {
  const std::int64_t chunks = tall_transposed_chunks(rows);
  FASTGDML_LAUNCH(tall_transposed_partial_kernel, blocks_for(chunks * cols, kThreads), kThreads, stream, W, rows,
                  cols, a, partial);
  FASTGDML_LAUNCH(sum_chunks_kernel, blocks_for(cols, kThreads), kThreads, stream, partial, chunks, cols, t);
}

void launch_tall_subtract_product(const float* W, std::int64_t rows, std::int64_t cols, const double* s, double* out,
                                  cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>(rows < 65535 ? (rows < 1 ? 1 : rows) : 65535);
  FASTGDML_LAUNCH(tall_subtract_product_kernel, blocks, kRowThreads, stream, W, rows, cols, s, out);
}

void launch_widen_rows(const float* W, std::int64_t r0, std::int64_t count, std::int64_t cols, double* dst,
                       cudaStream_t stream) {
  FASTGDML_LAUNCH(widen_rows_kernel, blocks_for(count * cols, kThreads), kThreads, stream, W, r0, count, cols, dst);
}

}  // namespace fastgdml::cuda
