"""The OpenMP wait policy the core's thread pool starts with.

GNU OpenMP reads its settings from the environment once, when the library loads (with the C++ core). By default
its idle workers spin for a while between parallel regions. Next to another busy program on the same cores
(another fastgdml job, an MD engine, an MPI rank) the spinning team competes with that program for every
barrier: measured with two fastgdml jobs on 2 cores (bench/busy_neighbour.py), a batch of 100 aspirin
predictions took 54.7 ms instead of 4.2 ms alone (13x) and one K v 78 ms instead of 11 ms (7x); with passive
waiting 8.3 ms and 20.9 ms (the 2x of sharing two cores), and on a quiet machine the same as spinning (4.3 ms,
10.9 ms). So the core loads with ``OMP_WAIT_POLICY=PASSIVE`` unless the user set a wait policy
(``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT``) themselves; the variable is removed again after the load, so child
processes and other programs see the user's environment unchanged.
"""
from __future__ import annotations

import contextlib
import os

_USER_SETTINGS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


@contextlib.contextmanager
def default_wait_policy():
    """While the block runs (the import of ``fastgdml._core``), OMP_WAIT_POLICY=PASSIVE unless set by the user."""
    added = not any(name in os.environ for name in _USER_SETTINGS)
    if added:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    try:
        yield
    finally:
        if added:
            os.environ.pop("OMP_WAIT_POLICY", None)
