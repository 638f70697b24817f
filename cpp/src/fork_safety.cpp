#include "fastgdml/fork_safety.hpp"

#include <omp.h>
#include <pthread.h>

#include <mutex>

namespace fastgdml::threads {
namespace {

// Per thread, not process-wide: only the forking thread inherits a stale pool. It is a fact about this thread's
// OpenMP runtime that no caller can change, not configuration.
thread_local bool stale_pool = false;

void after_fork_in_child() {
  stale_pool = true;
  omp_set_num_threads(1);  // this thread's ICV: parallel regions it opens run on itself alone
}

}  // namespace

void install_fork_handlers() {
  static std::once_flag once;
  std::call_once(once, [] { pthread_atfork(nullptr, nullptr, &after_fork_in_child); });
}

bool openmp_pool_is_stale() { return stale_pool; }

}  // namespace fastgdml::threads
