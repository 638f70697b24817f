#pragma once
// Keeping the core usable in a child process made by fork() (multiprocessing's default start method on Linux).
//
// GNU OpenMP keeps one worker pool per thread that opens parallel regions. After fork() the child holds only the
// thread that called fork(), and that thread's pool still lists the parent's workers, which do not exist in the
// child: its next parallel region waits for them forever. libgomp has no call to drop the pool, so on that one
// thread the core runs single-threaded after a fork (an OpenMP thread count of 1 never touches the pool; BLAS jobs
// run on plain std::threads). Threads the child starts later get fresh pools and full parallelism.

namespace fastgdml::threads {

// Register the pthread_atfork handlers (idempotent; called when the Python module is imported).
void install_fork_handlers();

// True on the thread that called fork(), in the child: its OpenMP pool is unusable (see above).
bool openmp_pool_is_stale();

}  // namespace fastgdml::threads
