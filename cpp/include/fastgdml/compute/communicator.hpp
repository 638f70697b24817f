// Where a solver's reductions cross processes. The serial communicator (the default) does nothing; the MPI
// issue supplies one whose allreduce is MPI_Allreduce over the ranks that share a training set, each rank owning
// a contiguous block of rows of every vector and of the Nyström factor.
//
// The solvers call it at every point where a row-sharded computation needs the other ranks' rows: the dot
// products and norms of CG, the Gram matrix W^T W and the inducing block K_CC of the Nyström build, W^T a in
// its apply, and the leverage scores. Buffers are host memory (counts are small: scalars, k or k x k entries).
// Every rank must reach the same collective calls in the same order: a rank that throws between them leaves the
// others waiting, so an MPI communicator must turn an error on one rank into the end of all (MPI_Abort or an
// error broadcast); the serial one has nothing to wait for.
#pragma once

#include <cstdint>

namespace fastgdml {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Elementwise sum over all ranks, in place; every rank receives the result.
  virtual void allreduce_sum(double* host, std::int64_t count) const = 0;
  // Every rank's `counts[rank]` doubles, concatenated in rank order into `all` (sum of counts), on every rank. The
  // default is an allreduce of zero-padded blocks (twice the volume of a real allgather: override it).
  virtual void allgather(const double* local, const std::int64_t* counts, double* all) const;
};

// One process: rank 0 of 1, reductions are identities. Stateless (one shared instance).
const Communicator& serial_communicator();

}  // namespace fastgdml
