#include "fastgdml/linalg.hpp"

#include "fastgdml/fork_safety.hpp"

#include <omp.h>
#include <pthread.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

// Symbol names of the chosen BLAS: FASTGDML_BLAS_PREFIX is `scipy_` for the scipy-openblas32 wheel.
#ifndef FASTGDML_BLAS_PREFIX
#define FASTGDML_BLAS_PREFIX
#endif
#define FASTGDML_CAT2(a, b) a##b
#define FASTGDML_CAT(a, b) FASTGDML_CAT2(a, b)
#define FASTGDML_BLAS(name) FASTGDML_CAT(FASTGDML_BLAS_PREFIX, name)

extern "C" {
// CBLAS enums are C enums (int): RowMajor = 101, NoTrans = 111, Trans = 112.
void FASTGDML_BLAS(cblas_dgemm)(int order, int trans_a, int trans_b, int m, int n, int k, double alpha,
                                const double* A, int lda, const double* B, int ldb, double beta, double* C, int ldc);
void FASTGDML_BLAS(cblas_dgemv)(int order, int trans, int m, int n, double alpha, const double* A, int lda,
                                const double* x, int incx, double beta, double* y, int incy);
void FASTGDML_BLAS(cblas_dtrsm)(int order, int side, int uplo, int trans, int diag, int m, int n, double alpha,
                                const double* A, int lda, double* B, int ldb);
void FASTGDML_BLAS(cblas_dsyrk)(int order, int uplo, int trans, int n, int k, double alpha, const double* A, int lda,
                                double beta, double* C, int ldc);
void FASTGDML_BLAS(cblas_dtrsv)(int order, int uplo, int trans, int diag, int n, const double* A, int lda, double* x,
                                int incx);
void FASTGDML_BLAS(dtpqrt_)(const int* m, const int* n, const int* l, const int* nb, double* A, const int* lda,
                            double* B, const int* ldb, double* T, const int* ldt, double* work, int* info);
void FASTGDML_BLAS(dpotrf_)(const char* uplo, const int* n, double* a, const int* lda, int* info);
void FASTGDML_BLAS(dpotrs_)(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda,
                            double* b, const int* ldb, int* info);
#ifdef FASTGDML_OPENBLAS
void FASTGDML_BLAS(openblas_set_num_threads)(int n);
int FASTGDML_BLAS(openblas_get_num_threads)(void);
typedef void (*openblas_dojob_callback)(int thread_num, void* jobdata, int dojob_data);
typedef void (*openblas_threads_callback)(int sync, openblas_dojob_callback dojob, int numjobs,
                                          std::size_t jobdata_elsize, void* jobdata, int dojob_data);
void FASTGDML_BLAS(openblas_set_threads_callback_function)(openblas_threads_callback callback);
#endif
}

namespace fastgdml::linalg {
namespace {

// The wheel's BLAS takes 32-bit indices (LP64).
int to_int(std::int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX)
    throw std::length_error(std::string("BLAS dimension ") + what + " = " + std::to_string(v) +
                            " exceeds the 32-bit limit of the linked BLAS; use a smaller problem or tile it");
  return static_cast<int>(v);
}

}  // namespace

void gemm(Op op_a, Op op_b, std::int64_t m, std::int64_t n, std::int64_t k, double alpha, const double* A,
          std::int64_t lda, const double* B, std::int64_t ldb, double beta, double* C, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  FASTGDML_BLAS(cblas_dgemm)(101, op_a == Op::kTrans ? 112 : 111, op_b == Op::kTrans ? 112 : 111, to_int(m, "m"),
                             to_int(n, "n"), to_int(k, "k"), alpha, A, to_int(lda, "lda"), B, to_int(ldb, "ldb"),
                             beta, C, to_int(ldc, "ldc"));
}

// CBLAS enum values: ColMajor 102, Left 141, Right 142, Upper 121, Lower 122, NonUnit 131.
void gemv(Op op_a, std::int64_t m, std::int64_t n, double alpha, const double* A, std::int64_t lda, const double* x,
          double beta, double* y) {
  FASTGDML_BLAS(cblas_dgemv)(101, op_a == Op::kTrans ? 112 : 111, to_int(m, "m"), to_int(n, "n"), alpha, A,
                             to_int(lda, "lda"), x, 1, beta, y, 1);
}

void gram_upper(std::int64_t m, std::int64_t n, const double* A, double beta, double* C) {
  // Row-major A (m x n) is column-major A^T (n x m): C = (A^T)(A^T)^T without transposing anything.
  FASTGDML_BLAS(cblas_dsyrk)(102, 121, 111, to_int(n, "n"), to_int(m, "m"), 1.0, A, to_int(n, "n"), beta, C,
                             to_int(n, "n"));
}

void trsm_right(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B, std::int64_t ldb) {
  // B row-major (m x n) is B^T column-major (n x m): B inv(op(T)) == (inv(op(T)^T) B^T)^T, solved from the left.
  FASTGDML_BLAS(cblas_dtrsm)(102, 141, lower ? 122 : 121, op_t == Op::kTrans ? 111 : 112, 131, to_int(n, "n"),
                             to_int(m, "m"), 1.0, T, to_int(n, "n"), B, to_int(ldb, "ldb"));
}

void trsm_left(bool lower, Op op_t, std::int64_t m, std::int64_t n, const double* T, double* B, std::int64_t ldb) {
  // inv(op(T)) B == (B^T inv(op(T))^T)^T: a right-side solve on the column-major B^T (n x m).
  FASTGDML_BLAS(cblas_dtrsm)(102, 142, lower ? 122 : 121, op_t == Op::kTrans ? 111 : 112, 131, to_int(n, "n"),
                             to_int(m, "m"), 1.0, T, to_int(m, "m"), B, to_int(ldb, "ldb"));
}

void trsv(bool lower, Op op_t, std::int64_t n, const double* T, double* x) {
  FASTGDML_BLAS(cblas_dtrsv)(102, lower ? 122 : 121, op_t == Op::kTrans ? 112 : 111, 131, to_int(n, "n"), T,
                             to_int(n, "n"), x, 1);
}

void qr_append_rows(std::int64_t n, double* R, std::int64_t m, double* B) {
  const int mm = to_int(m, "m"), nn = to_int(n, "n"), l = 0, nb = std::min(nn, 32);  // fastest nb measured
  std::vector<double> T(static_cast<std::size_t>(nb) * nn), work(static_cast<std::size_t>(nb) * nn);
  int info = 0;
  FASTGDML_BLAS(dtpqrt_)(&mm, &nn, &l, &nb, R, &nn, B, &mm, T.data(), &nb, work.data(), &info);
  if (info != 0) throw std::runtime_error("dtpqrt failed with info = " + std::to_string(info));
}

int cholesky_lower_colmajor(std::int64_t n, double* A) {
  const int nn = to_int(n, "n");
  int info = 0;
  FASTGDML_BLAS(dpotrf_)("L", &nn, A, &nn, &info);
  return info;
}

int cholesky_upper_colmajor(std::int64_t n, double* A) {
  const int nn = to_int(n, "n");
  int info = 0;
  FASTGDML_BLAS(dpotrf_)("U", &nn, A, &nn, &info);
  return info;
}

int cholesky_factor(std::int64_t n, double* A) {
  return cholesky_upper_colmajor(n, A);  // row-major lower triangle == column-major upper triangle
}

void cholesky_solve(std::int64_t n, const double* factored_A, std::int64_t nrhs, double* B) {
  const int nn = to_int(n, "n"), nr = to_int(nrhs, "nrhs");
  int info = 0;
  FASTGDML_BLAS(dpotrs_)("U", &nn, &nr, factored_A, &nn, B, &nn, &info);
  if (info != 0) throw std::runtime_error("dpotrs failed with info = " + std::to_string(info));
}

#ifdef FASTGDML_OPENBLAS
namespace {

// OpenBLAS hands its parallel jobs to this function instead of its own pthread pool, so BLAS and the core's
// OpenMP loops share one pool: two spinning pools on the same cores slowed small batched products ~5x.
// OpenBLAS's level-3 jobs wait on each other, so all numjobs must run at once: an OpenMP team of exactly
// numjobs threads, or (inside a nested region, where the team is short) one std::thread per job. Jobs of
// different calls share OpenBLAS's per-job scratch buffers, hence one call at a time.
std::mutex blas_call_mutex;

extern "C" void run_blas_jobs_on_openmp(int /*sync*/, openblas_dojob_callback dojob, int numjobs,
                                        std::size_t elsize, void* jobdata, int dojob_data) {
  char* jobs = static_cast<char*>(jobdata);
  if (numjobs == 1) {
    dojob(0, jobs, dojob_data);
    return;
  }
  std::lock_guard<std::mutex> lock(blas_call_mutex);
  // After fork() this thread's OpenMP pool is stale (fork_safety.hpp): run the jobs on plain threads.
  bool full_team = !threads::openmp_pool_is_stale();
#pragma omp parallel num_threads(numjobs) if (full_team)
  {
#pragma omp single
    full_team = omp_get_num_threads() == numjobs;  // implicit barrier: every member sees the answer
    if (full_team) {
      const int t = omp_get_thread_num();
      dojob(t, jobs + t * elsize, dojob_data);
    }
  }
  if (!full_team) {
    std::vector<std::thread> workers;
    for (int t = 0; t < numjobs; ++t) workers.emplace_back([=] { dojob(t, jobs + t * elsize, dojob_data); });
    for (auto& th : workers) th.join();
  }
}

}  // namespace
#endif

void share_threads_with_openmp() {
#ifdef FASTGDML_OPENBLAS
  // A fork() while another thread holds the BLAS lock would leave it locked forever in the child: hold it across
  // fork() (the prepare handler waits for a running BLAS call to end) and release it on both sides.
  static std::once_flag once;
  std::call_once(once, [] {
    pthread_atfork([] { blas_call_mutex.lock(); }, [] { blas_call_mutex.unlock(); },
                   [] { blas_call_mutex.unlock(); });
  });
  FASTGDML_BLAS(openblas_set_threads_callback_function)(&run_blas_jobs_on_openmp);
  FASTGDML_BLAS(openblas_set_num_threads)(omp_get_max_threads());
#endif
}

void set_blas_threads(int n) {
#ifdef FASTGDML_OPENBLAS
  FASTGDML_BLAS(openblas_set_num_threads)(n);
#else
  (void)n;
#endif
}

int blas_threads() {
#ifdef FASTGDML_OPENBLAS
  return FASTGDML_BLAS(openblas_get_num_threads)();
#else
  return -1;
#endif
}

const char* blas_name() {
#ifdef FASTGDML_OPENBLAS
  return "openblas (" FASTGDML_BLAS_NAME_STR ")";
#else
  return "system BLAS";
#endif
}

}  // namespace fastgdml::linalg
