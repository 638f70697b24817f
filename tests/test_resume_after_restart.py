"""CG checkpoints hold the preconditioner in use: a checkpoint written after a restart (a stall grew the inducing
columns and rebuilt the Nyström factor) resumes with those columns and reaches the uninterrupted solution.

Before, periodic checkpoints stored the columns the run started from (none on a fresh run), so a resume rebuilt a
different preconditioner than the one the iterate belonged to.
"""
import warnings

import numpy as np
import pytest

import fastgdml
from fastgdml import _core
from fastgdml.io.npz import save_npz_atomic
from fastgdml.training import cg

from conftest import TOY_PERMS, TOY_Z, make_toy


@pytest.fixture
def short_stall_window(monkeypatch):
    """CG options with a stall window of 20 iterations (default 200): on this small problem the first
    preconditioner stalls and one restart with more columns converges (measured: 367 iterations, 1 restart)."""
    real = _core.IterativeOptions

    def options():
        o = real()
        o.stall_window = 20
        return o

    monkeypatch.setattr(_core, "IterativeOptions", options)


@pytest.fixture
def recorded(monkeypatch):
    """Every checkpoint the run writes, kept in memory, in order (with checkpoint_interval=0: one per iteration,
    each holding the columns of the preconditioner that iteration used)."""
    log = {"saves": []}
    monkeypatch.setattr(cg, "save_npz_atomic",
                        lambda path, arrays: log["saves"].append({k: np.array(v) for k, v in arrays.items()}))
    return log


def test_resume_from_a_checkpoint_written_after_a_restart(short_stall_window, recorded, tmp_path, monkeypatch):
    R, E, F = make_toy(M=60, seed=0)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    # the Nyström preconditioner alone: the scenario measured above (with block-Jacobi, the default, this toy
    # converges without a restart under the default stall window)
    kw = dict(lam=1e-4, perms=TOY_PERMS, n_valid=0, idxs_train=np.arange(40), solver="cg", tol=1e-9, inducing=10,
              block_jacobi=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-data warnings about the toy's energies
        full = fastgdml.train(ds, 40, 1.2, checkpoint=str(tmp_path / "unused.ckpt.npz"), checkpoint_interval=0, **kw)
    assert full.converged and int(full.arrays["solver_restarts"]) >= 1
    columns = [save["columns"] for save in recorded["saves"]]
    first = columns[0]
    saves_before_restart = next(i for i, c in enumerate(columns) if not np.array_equal(c, first))
    second = columns[saves_before_restart]
    assert len(second) > len(first)
    # a checkpoint written between the restart and convergence
    after = recorded["saves"][saves_before_restart:]
    assert len(after) >= 2
    ckpt = after[len(after) // 2]
    np.testing.assert_array_equal(ckpt["columns"], second)

    path = str(tmp_path / "after_restart.ckpt.npz")
    save_npz_atomic(path, ckpt)  # the real writer; the run's own saves are still recorded
    recorded["saves"].clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = fastgdml.train(ds, 40, 1.2, resume=path, checkpoint=path, checkpoint_interval=0, **kw)
    assert resumed.converged
    np.testing.assert_array_equal(recorded["saves"][0]["columns"], second)  # the same preconditioner rebuilt
    geometries = make_toy(M=5, seed=7)[0]
    F_full, F_resumed = full.predict(geometries)[1], resumed.predict(geometries)[1]
    np.testing.assert_allclose(F_resumed, F_full, atol=1e-6 * np.abs(F_full).max())
