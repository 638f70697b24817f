// Launchers of the small kernels the CUDA VectorSpace and DenseAlgebra need beside cuBLAS and cuSOLVER
// (dense_kernels.cu). Device pointers (host pointers in the CPU emulation of the tests); row-major unless a name
// says column-major.
#pragma once

#include <cstdint>

#include "launch.cuh"

namespace fastgdml::cuda {

void launch_fill(std::int64_t n, double value, double* x, cudaStream_t stream);
void launch_xpay(std::int64_t n, const double* x, double a, double* y, cudaStream_t stream);  // y = x + a y
void launch_multiply(std::int64_t n, const double* w, double* x, cudaStream_t stream);       // x_i *= w_i

// Row i of out (count x n) <- row rows[i] of A where rows[i] >= 0 (rows: device, count).
void launch_gather_rows(std::int64_t n, const double* A, const std::int64_t* rows, std::int64_t count, double* out,
                        cudaStream_t stream);
// out[i] = A[i * stride] (n): the diagonal of a square matrix with stride n + 1.
void launch_strided_copy(std::int64_t n, const double* A, std::int64_t stride, double* out, cudaStream_t stream);
void launch_add_to_diagonal(std::int64_t n, double value, double* A, cudaStream_t stream);

// out (rows x n, column-major, leading dimension ld) <- rows [r0, r0 + rows) of A (row-major, n columns);
// and the n x n upper triangle R of a column-major matrix (leading dimension ld) into R (n x n, column-major)
// with zeros below the diagonal.
void launch_rows_to_column_major(const double* A, std::int64_t r0, std::int64_t rows, std::int64_t n, double* out,
                                 std::int64_t ld, cudaStream_t stream);
void launch_copy_upper(std::int64_t n, const double* src, std::int64_t ld, double* R, cudaStream_t stream);

// Entries rounded to float (still stored as double), narrowed into float storage, and the two products of a
// float tall matrix W (rows x cols, row-major) with double accumulation: t = W^T a (partial: chunks x cols
// scratch) and out -= W s.
void launch_round_to_single(std::int64_t n, double* x, cudaStream_t stream);
void launch_narrow(std::int64_t n, const double* x, float* out, cudaStream_t stream);
std::int64_t tall_transposed_chunks(std::int64_t rows);
void launch_tall_multiply_transposed(const float* W, std::int64_t rows, std::int64_t cols, const double* a,
                                     double* partial, double* t, cudaStream_t stream);
void launch_tall_subtract_product(const float* W, std::int64_t rows, std::int64_t cols, const double* s, double* out,
                                  cudaStream_t stream);
// Rows [r0, r0 + count) of a float tall matrix as doubles into dst (count x cols).
void launch_widen_rows(const float* W, std::int64_t r0, std::int64_t count, std::int64_t cols, double* dst,
                       cudaStream_t stream);

}  // namespace fastgdml::cuda
