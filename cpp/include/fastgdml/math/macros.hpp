// One place that decides how shared math is compiled: `__host__ __device__` under nvcc, plain inline
// functions under a C++ compiler. Every header in math/ uses FASTGDML_HD, so the CPU tests exercise the
// exact per-element code the CUDA kernels run.
#pragma once

#if defined(__CUDACC__)
#define FASTGDML_HD __host__ __device__ __forceinline__
#else
#define FASTGDML_HD inline
#endif
