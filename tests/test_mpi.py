"""Training row-sharded over MPI ranks (fastgdml.parallel, solver/shards.hpp) against the same training in one
process: the 2-rank model predicts like the 1-rank one (1e-8 relative, CG to 1e-10), with and without energy
constraints and symmetries; a 2-rank checkpoint resumes on 1 rank; an error on rank 1 ends both ranks within seconds,
with its message. Needs mpi4py and an MPI launcher (the mpich wheel of the test extra); skips without them."""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import fastgdml

from conftest import TOY_PERMS, TOY_Z, make_toy

pytest.importorskip("mpi4py", reason="mpi4py is not installed (pip install 'fastgdml[mpi]')")
SCRIPT = os.path.join(os.path.dirname(__file__), "mpi_scripts", "train_on_ranks.py")
TOL_PREDICTIONS = 1e-8  # relative to the largest force; CG runs to 1e-10 on both sides


def _mpirun():
    for candidate in (os.path.join(os.path.dirname(sys.executable), "mpirun"), shutil.which("mpirun")):
        if candidate and os.path.exists(candidate):
            return candidate
    pytest.skip("no mpirun (pip install mpich)")


def _dataset(tmp_path) -> str:
    """The toy dataset of these tests, written once per test folder."""
    data = str(tmp_path / "toy.npz")
    if not os.path.exists(data):
        R, E, F = make_toy(M=60, seed=11)
        fastgdml.Dataset(R, TOY_Z, F, E=E).save(data)
    return data


def _run_ranks(tmp_path, ranks, train_kw, fail_rank=None, timeout=120):
    data, out = _dataset(tmp_path), str(tmp_path / f"model_{ranks}.npz")
    payload = {"data": data, "out": out, "train": train_kw, "fail_rank": fail_rank}
    env = dict(os.environ, OMP_NUM_THREADS="1")
    start = time.perf_counter()
    proc = subprocess.run([_mpirun(), "-np", str(ranks), sys.executable, "-m", "mpi4py", SCRIPT, json.dumps(payload)],
                          capture_output=True, text=True, timeout=timeout, env=env)
    return proc, out, time.perf_counter() - start


def _train_kw(use_E_cstr, symmetric, tmp_path=None, **extra):
    kw = dict(n_train=30, sigma=1.2, use_E_cstr=use_E_cstr, n_valid=0, solver="cg", tol=1e-10, lam=1e-6,
              inducing=120, perms=TOY_PERMS.tolist() if symmetric else [list(range(5))], seed=3)
    kw.update(extra)
    return kw


def _one_process(tmp_path, kw):
    kw = dict(kw)
    if kw.get("perms") is not None:
        kw["perms"] = np.asarray(kw["perms"])
    return fastgdml.train(fastgdml.Dataset.load(_dataset(tmp_path)), comm=None, **kw)


@pytest.mark.parametrize("use_E_cstr,symmetric,block_jacobi", [(False, False, False), (True, True, False),
                                                                (True, True, True)],
                         ids=["forces", "energies+symmetries", "block-jacobi"])
def test_two_ranks_train_the_one_rank_model(tmp_path, use_E_cstr, symmetric, block_jacobi):
    kw = _train_kw(use_E_cstr, symmetric, block_jacobi=block_jacobi)
    proc, out, _ = _run_ranks(tmp_path, 2, kw)
    assert proc.returncode == 0, proc.stderr
    assert "rank 0: trained, converged=True" in proc.stdout and "rank 1: trained" in proc.stdout
    two, one = fastgdml.Model.load(out), _one_process(tmp_path, kw)
    queries = make_toy(M=6, seed=12)[0]
    E2, F2 = two.predict(queries)
    E1, F1 = one.predict(queries)
    scale = np.abs(F1).max()
    np.testing.assert_allclose(F2, F1, rtol=0, atol=TOL_PREDICTIONS * scale)
    np.testing.assert_allclose(E2, E1, rtol=0, atol=TOL_PREDICTIONS * max(scale, np.abs(E1).max()))


def test_a_two_rank_checkpoint_resumes_on_one_rank(tmp_path):
    ckpt = str(tmp_path / "run.ckpt.npz")
    kw = _train_kw(True, True, checkpoint=ckpt, max_iterations=5)
    proc, _, _ = _run_ranks(tmp_path, 2, kw)
    assert proc.returncode == 0, proc.stderr
    assert os.path.exists(ckpt), "the unconverged 2-rank run leaves its checkpoint (written by rank 0)"
    ck = np.load(ckpt)
    assert int(ck["iterations"]) == 5 and ck["x"].shape == (30 * 16,)
    resumed = _one_process(tmp_path, dict(kw, max_iterations=0, resume=ckpt))
    assert bool(resumed.arrays["solver_converged"]) and int(resumed.arrays["solver_iters"]) > 5
    fresh = _one_process(tmp_path, dict(kw, checkpoint=None, max_iterations=0))
    queries = make_toy(M=4, seed=13)[0]
    F_r, F_f = resumed.predict(queries)[1], fresh.predict(queries)[1]
    np.testing.assert_allclose(F_r, F_f, rtol=0, atol=TOL_PREDICTIONS * np.abs(F_f).max())


def test_an_error_on_rank_1_ends_both_ranks_and_the_last_checkpoint_resumes(tmp_path):
    """Rank 1 dies at CG iteration 3 (an exception, then MPI_Abort of every rank): both end within seconds with its
    message, the checkpoint rank 0 wrote before (every iteration here) is intact, and --resume continues it on one
    rank to the model a fresh training gives."""
    ckpt = str(tmp_path / "dies.ckpt.npz")
    kw = _train_kw(True, True, checkpoint=ckpt, checkpoint_interval=0.0)
    proc, _, seconds = _run_ranks(tmp_path, 2, kw, fail_rank=1, timeout=60)
    assert proc.returncode != 0
    assert "injected failure on rank 1" in proc.stderr + proc.stdout
    assert "trained" not in proc.stdout  # neither rank finished
    assert seconds < 30, f"the ranks took {seconds:.0f} s to end"
    ck = np.load(ckpt)  # whole and readable: written atomically
    assert 1 <= int(ck["iterations"]) <= 3 and ck["x"].shape == (30 * 16,)
    resumed = _one_process(tmp_path, dict(kw, resume=ckpt, checkpoint=ckpt))
    fresh = _one_process(tmp_path, dict(kw, checkpoint=None))
    assert bool(resumed.arrays["solver_converged"])
    queries = make_toy(M=4, seed=15)[0]
    F_r, F_f = resumed.predict(queries)[1], fresh.predict(queries)[1]
    np.testing.assert_allclose(F_r, F_f, rtol=0, atol=TOL_PREDICTIONS * np.abs(F_f).max())


def test_mpirun_fastgdml_train_writes_the_one_process_model(tmp_path):
    """``mpirun -np 2 fastgdml train``: rank 0 writes the model (rank 1 neither writes nor prints), and a failure on
    the ranks ends them all with status 2 and the error line."""
    exe = os.path.join(os.path.dirname(sys.executable), "fastgdml")
    if not os.path.exists(exe):
        pytest.skip(f"no fastgdml command beside {sys.executable}")
    data, out = _dataset(tmp_path), str(tmp_path / "cli.npz")
    cmd = [_mpirun(), "-np", "2", exe, "train", data, "--n-train", "30", "--sigma", "1.2", "--n-valid", "0",
           "--solver", "cg", "--tol", "1e-10", "--lam", "1e-6", "--inducing", "120", "--no-E", "-o", out]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("trained ") == 1  # one rank reports
    one = _one_process(tmp_path, dict(n_train=30, sigma=1.2, n_valid=0, solver="cg", tol=1e-10, lam=1e-6,
                                      inducing=120, use_E=False, perms=None))
    queries = make_toy(M=4, seed=14)[0]
    F_cli, F_one = fastgdml.Model.load(out).predict(queries)[1], one.predict(queries)[1]
    np.testing.assert_allclose(F_cli, F_one, rtol=0, atol=TOL_PREDICTIONS * np.abs(F_one).max())
    bad = subprocess.run(cmd[:-1] + [str(tmp_path / "no_such_dir" / "m.npz")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode != 0 and "fastgdml: error:" in bad.stderr
