"""Training over MPI ranks: the communicator the core's row-sharded solver calls, and how a process finds it.

A training started by ``mpirun -np P fastgdml train ...`` or ``mpirun -np P python script.py`` (with
:func:`fastgdml.train`) spreads its CG solve over the P ranks: each rank owns a contiguous block of training points
(its rows of K), K v gathers the vector once per iteration, the Nyström factor's rows and the block-Jacobi blocks
stay on their rank, and every reduction is an MPI allreduce. Every rank returns the same model; rank 0 alone writes
checkpoints and prints progress. MPI comes from mpi4py (``pip install "fastgdml[mpi]"``, or mpi4py built against a
site MPI); the core itself links no MPI.
"""
from __future__ import annotations

import os
from typing import Optional

import numpy as np

# Set by the launchers of MPICH/Intel MPI (Hydra, PMI), Open MPI, MVAPICH and PMIx for every rank they start.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


class MpiCommunicator:
    """An mpi4py communicator as the core sees one: ``rank``, ``size`` and an in-place float64 ``allreduce_sum``."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = int(comm.Get_rank())
        self.size = int(comm.Get_size())

    def allreduce_sum(self, buf: np.ndarray) -> None:
        """Sum ``buf`` (float64, contiguous) over the ranks, in place on every rank."""
        from mpi4py import MPI

        self.comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)

    def allgather(self, local: np.ndarray, out: np.ndarray, counts) -> None:
        """Every rank's ``local`` (``counts[r]`` float64 each), concatenated in rank order into ``out``."""
        from mpi4py import MPI

        counts = [int(c) for c in counts]
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int).tolist()
        self.comm.Allgatherv([local, MPI.DOUBLE], [out, counts, displs, MPI.DOUBLE])

    def abort(self, code: int = 1) -> None:
        """End every rank (MPI_Abort): what an error on one rank must do, or the others wait forever."""
        self.comm.Abort(code)


def launched_ranks() -> int:
    """Ranks of the MPI job this process was started in, from the launcher's environment (1 without one)."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


def resolve(comm="auto") -> Optional[MpiCommunicator]:
    """The communicator a training uses, or None for one process.

    ``"auto"``: MPI_COMM_WORLD when the process was started by an MPI launcher with more than one rank, else None;
    ``None``: one process; an mpi4py communicator or an :class:`MpiCommunicator`: that one (None for one rank).
    ImportError naming the fix when an MPI launch needs mpi4py and it is missing.
    """
    if comm is None:
        return None
    if isinstance(comm, str):
        if comm != "auto":
            raise ValueError(f"comm must be 'auto', None or an MPI communicator, got {comm!r}")
        if launched_ranks() <= 1:
            return None
        try:
            from mpi4py import MPI
        except ImportError as exc:
            raise ImportError(f"this process is one of {launched_ranks()} MPI ranks but mpi4py is not installed: "
                              "pip install 'fastgdml[mpi]' (or mpi4py built against your MPI)") from exc
        comm = MPI.COMM_WORLD
    wrapped = comm if isinstance(comm, MpiCommunicator) else MpiCommunicator(comm)
    return wrapped if wrapped.size > 1 else None


def share(n: int, rank: int, size: int) -> tuple[int, int]:
    """(first, count): the contiguous block of the n training points rank owns (the first n % size get one more)."""
    base, extra = divmod(n, size)
    return rank * base + min(rank, extra), base + (1 if rank < extra else 0)
