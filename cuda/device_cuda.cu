// Device (device.hpp) on the CUDA runtime, cuBLAS and cuSOLVER. Every call into those libraries goes through
// FASTGDML_CUDA_CHECK, which turns a failure into std::runtime_error naming the call, the status and where it was
// made; nothing here exits the process. 64-bit cuBLAS (_64) and cuSOLVER (X...) entry points throughout, so that
// no dimension of a 756,000-row problem is truncated to int.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusolverDn.h>

#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "device.hpp"

namespace fastgdml::cuda {
namespace {

std::string status_text(cudaError_t s) { return std::string(cudaGetErrorName(s)) + ": " + cudaGetErrorString(s); }
std::string status_text(cublasStatus_t s) {
  return std::string(cublasGetStatusName(s)) + ": " + cublasGetStatusString(s);
}
std::string status_text(cusolverStatus_t s) { return "cusolverStatus " + std::to_string(static_cast<int>(s)); }
bool failed(cudaError_t s) { return s != cudaSuccess; }
bool failed(cublasStatus_t s) { return s != CUBLAS_STATUS_SUCCESS; }
bool failed(cusolverStatus_t s) { return s != CUSOLVER_STATUS_SUCCESS; }

template <class Status>
void check(Status status, const char* call, const char* file, int line) {
  if (failed(status))
    throw std::runtime_error(std::string("CUDA backend: ") + call + " failed (" + status_text(status) + ") at " +
                             file + ":" + std::to_string(line));
}

}  // namespace

#define FASTGDML_CUDA_CHECK(call) ::fastgdml::cuda::check((call), #call, __FILE__, __LINE__)

struct Device::Handles {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cusolverDnHandle_t solver = nullptr;
  cusolverDnParams_t params = nullptr;
  int* info = nullptr;  // device int for cuSOLVER's info
  // cuSOLVER's workspaces, grown as needed and kept: a block-Jacobi build factors thousands of small blocks.
  void* work = nullptr;
  std::size_t work_bytes = 0;
  std::vector<char> host_work;
  double* tau = nullptr;
  std::int64_t tau_size = 0;

  void* device_work(std::size_t bytes) {
    if (bytes > work_bytes) {
      cudaFree(work);
      work = nullptr;
      work_bytes = 0;
      FASTGDML_CUDA_CHECK(cudaMalloc(&work, bytes));
      work_bytes = bytes;
    }
    return work;
  }
  void* host(std::size_t bytes) {
    if (host_work.size() < bytes) host_work.resize(bytes);
    return host_work.empty() ? nullptr : host_work.data();
  }
  ~Handles() {
    cudaFree(work);
    cudaFree(tau);
    cudaFree(info);
    if (params) cusolverDnDestroyParams(params);
    if (solver) cusolverDnDestroy(solver);
    if (blas) cublasDestroy(blas);
    if (stream) cudaStreamDestroy(stream);
  }
};

Device::Device() : handles_(std::make_unique<Handles>()) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess || count == 0)
    throw std::runtime_error("backend 'cuda': no CUDA device is visible to this process (" +
                             (status != cudaSuccess ? status_text(status) : std::string("0 devices")) +
                             "); run on a machine with an NVIDIA GPU and its driver, check CUDA_VISIBLE_DEVICES, "
                             "or use backend='cpu'");
  FASTGDML_CUDA_CHECK(cudaGetDevice(&info_.ordinal));
  cudaDeviceProp prop{};
  FASTGDML_CUDA_CHECK(cudaGetDeviceProperties(&prop, info_.ordinal));
  info_.name = prop.name;
  info_.major = prop.major;
  info_.minor = prop.minor;
  info_.memory_bytes = static_cast<std::int64_t>(prop.totalGlobalMem);
  if (prop.major < 8)
    throw std::runtime_error("backend 'cuda': device " + info_.name + " has compute capability " +
                             std::to_string(prop.major) + "." + std::to_string(prop.minor) +
                             "; this build runs on sm_80 (A100) and newer");
  Handles& h = *handles_;
  FASTGDML_CUDA_CHECK(cudaStreamCreateWithFlags(&h.stream, cudaStreamNonBlocking));
  FASTGDML_CUDA_CHECK(cublasCreate(&h.blas));
  FASTGDML_CUDA_CHECK(cublasSetStream(h.blas, h.stream));
  // FP64 tensor cores (DMMA) are cuBLAS's default for DGEMM on sm_80+; results stay IEEE float64.
  FASTGDML_CUDA_CHECK(cusolverDnCreate(&h.solver));
  FASTGDML_CUDA_CHECK(cusolverDnSetStream(h.solver, h.stream));
  FASTGDML_CUDA_CHECK(cusolverDnCreateParams(&h.params));
  FASTGDML_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&h.info), sizeof(int)));
}

Device::~Device() = default;

const DeviceInfo& Device::info() const { return info_; }
cudaStream_t Device::stream() const { return handles_->stream; }

void* Device::allocate(std::size_t bytes) const {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();  // an out-of-memory error is not sticky: clear it so that later calls do not report it
    throw std::bad_alloc();
  }
  FASTGDML_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, handles_->stream));
  return p;
}

void Device::release(void* p) {
  if (p != nullptr) cudaFree(p);  // never throws: called from destructors
}

void Device::upload(void* dst, const void* src, std::size_t bytes) const {
  FASTGDML_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, handles_->stream));
  FASTGDML_CUDA_CHECK(cudaStreamSynchronize(handles_->stream));  // the host buffer may be reused at once
}

void Device::download(void* dst, const void* src, std::size_t bytes) const {
  FASTGDML_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, handles_->stream));
  FASTGDML_CUDA_CHECK(cudaStreamSynchronize(handles_->stream));
}

void Device::copy(void* dst, const void* src, std::size_t bytes) const {
  if (dst != src) FASTGDML_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, handles_->stream));
}

void Device::zero(void* dst, std::size_t bytes) const {
  FASTGDML_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, handles_->stream));
}

void Device::check_launch(const char* what) const {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("CUDA backend: launch of ") + what + " failed (" + status_text(status) + ")");
}

void Device::synchronize() const { FASTGDML_CUDA_CHECK(cudaStreamSynchronize(handles_->stream)); }

namespace {
cublasOperation_t op(bool trans) { return trans ? CUBLAS_OP_T : CUBLAS_OP_N; }
cublasFillMode_t fill(bool lower) { return lower ? CUBLAS_FILL_MODE_LOWER : CUBLAS_FILL_MODE_UPPER; }
}  // namespace

void Device::gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha,
                  const double* A, std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C,
                  std::int64_t ldc) const {
  if (m == 0 || n == 0) return;
  FASTGDML_CUDA_CHECK(cublasDgemm_64(handles_->blas, op(trans_a), op(trans_b), m, n, k, &alpha, A, lda, B, ldb, &beta,
                                     C, ldc));
}

void Device::gemv(bool trans, std::int64_t m, std::int64_t n, double alpha, const double* A, std::int64_t lda,
                  const double* x, double beta, double* y) const {
  FASTGDML_CUDA_CHECK(cublasDgemv_64(handles_->blas, op(trans), m, n, &alpha, A, lda, x, 1, &beta, y, 1));
}

void Device::syrk(bool upper, bool trans, std::int64_t n, std::int64_t k, double alpha, const double* A,
                  std::int64_t lda, double beta, double* C, std::int64_t ldc) const {
  FASTGDML_CUDA_CHECK(cublasDsyrk_64(handles_->blas, fill(!upper), op(trans), n, k, &alpha, A, lda, &beta, C, ldc));
}

void Device::trsm(bool left, bool lower, bool trans, std::int64_t m, std::int64_t n, const double* T,
                  std::int64_t ldt, double* B, std::int64_t ldb) const {
  const double one = 1.0;
  FASTGDML_CUDA_CHECK(cublasDtrsm_64(handles_->blas, left ? CUBLAS_SIDE_LEFT : CUBLAS_SIDE_RIGHT, fill(lower),
                                     op(trans), CUBLAS_DIAG_NON_UNIT, m, n, &one, T, ldt, B, ldb));
}

void Device::trsv(bool lower, bool trans, std::int64_t n, const double* T, std::int64_t ldt, double* x) const {
  FASTGDML_CUDA_CHECK(cublasDtrsv_64(handles_->blas, fill(lower), op(trans), CUBLAS_DIAG_NON_UNIT, n, T, ldt, x, 1));
}

double Device::dot(std::int64_t n, const double* x, const double* y) const {
  double result = 0.0;  // host pointer mode (cuBLAS's default): the call returns when the result is there
  FASTGDML_CUDA_CHECK(cublasDdot_64(handles_->blas, n, x, 1, y, 1, &result));
  return result;
}

void Device::axpy(std::int64_t n, double a, const double* x, double* y) const {
  FASTGDML_CUDA_CHECK(cublasDaxpy_64(handles_->blas, n, &a, x, 1, y, 1));
}

void Device::scal(std::int64_t n, double a, double* x) const {
  FASTGDML_CUDA_CHECK(cublasDscal_64(handles_->blas, n, &a, x, 1));
}

int Device::potrf(bool lower, std::int64_t n, double* A, std::int64_t lda) const {
  Handles& h = *handles_;
  std::size_t device_bytes = 0, host_bytes = 0;
  FASTGDML_CUDA_CHECK(cusolverDnXpotrf_bufferSize(h.solver, h.params, fill(lower), n, CUDA_R_64F, A, lda, CUDA_R_64F,
                                                  &device_bytes, &host_bytes));
  FASTGDML_CUDA_CHECK(cusolverDnXpotrf(h.solver, h.params, fill(lower), n, CUDA_R_64F, A, lda, CUDA_R_64F,
                                       h.device_work(device_bytes), device_bytes, h.host(host_bytes), host_bytes,
                                       h.info));
  int info = 0;
  download(&info, h.info, sizeof(int));
  return info;
}

void Device::potrs(bool lower, std::int64_t n, const double* A, std::int64_t lda, double* b) const {
  Handles& h = *handles_;
  FASTGDML_CUDA_CHECK(cusolverDnXpotrs(h.solver, h.params, fill(lower), n, 1, CUDA_R_64F, A, lda, CUDA_R_64F, b, n,
                                       h.info));
  int info = 0;
  download(&info, h.info, sizeof(int));
  if (info != 0)
    throw std::runtime_error("CUDA backend: cusolverDnXpotrs: argument " + std::to_string(-info) + " is wrong");
}

void Device::geqrf(std::int64_t m, std::int64_t n, double* A, std::int64_t lda) const {
  Handles& h = *handles_;
  if (h.tau_size < n) {
    cudaFree(h.tau);
    h.tau = nullptr;
    h.tau_size = 0;
    FASTGDML_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&h.tau), sizeof(double) * static_cast<std::size_t>(n)));
    h.tau_size = n;
  }
  std::size_t device_bytes = 0, host_bytes = 0;
  FASTGDML_CUDA_CHECK(cusolverDnXgeqrf_bufferSize(h.solver, h.params, m, n, CUDA_R_64F, A, lda, CUDA_R_64F, h.tau,
                                                  CUDA_R_64F, &device_bytes, &host_bytes));
  FASTGDML_CUDA_CHECK(cusolverDnXgeqrf(h.solver, h.params, m, n, CUDA_R_64F, A, lda, CUDA_R_64F, h.tau, CUDA_R_64F,
                                       h.device_work(device_bytes), device_bytes, h.host(host_bytes), host_bytes,
                                       h.info));
  int info = 0;
  download(&info, h.info, sizeof(int));
  if (info != 0)
    throw std::runtime_error("CUDA backend: cusolverDnXgeqrf: argument " + std::to_string(-info) + " is wrong");
}

}  // namespace fastgdml::cuda
