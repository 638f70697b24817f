"""Run by tests/test_mpi.py under ``mpirun -np P python -m mpi4py``: one fastgdml.train on all ranks (the
communicator found from the launcher's environment), the model saved by rank 0.

argv[1]: JSON {"data": dataset .npz, "out": model .npz, "train": keyword arguments of fastgdml.train (perms as a
nested list), "fail_rank": a rank whose CG progress raises at iteration 3 (optional: the fault test)}.
"""
import json
import sys

import numpy as np

import fastgdml
from fastgdml import parallel
from fastgdml.training import cg

args = json.loads(sys.argv[1])
comm = parallel.resolve("auto")
assert comm is not None and comm.size == parallel.launched_ranks(), "not started by an MPI launcher"
if args.get("fail_rank") == comm.rank:
    update = cg._Progress.update

    def failing_update(self, it, rel):
        if it >= 3:
            raise RuntimeError(f"injected failure on rank {comm.rank} at CG iteration {it}")
        update(self, it, rel)

    cg._Progress.update = failing_update
kw = dict(args["train"])
if kw.get("perms") is not None:
    kw["perms"] = np.asarray(kw["perms"], dtype=np.int64)
model = fastgdml.train(fastgdml.Dataset.load(args["data"]), **kw)
if comm.rank == 0:
    model.save(args["out"])
print(f"rank {comm.rank}: trained, converged={bool(model.arrays['solver_converged'])}", flush=True)
