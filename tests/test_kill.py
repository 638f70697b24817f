"""Kill tests: SIGKILL a training process at random points (checkpoint writes included) and a process that
saves models; the files left behind are whole (the previous or the next version, never a torn one) and a
resume from the checkpoint reaches the uninterrupted solution."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastgdml
from fastgdml.iterative import load_checkpoint, task_fingerprint

from conftest import TOY_PERMS, TOY_Z, make_toy

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

KW = dict(lam=1e-4, perms=TOY_PERMS.tolist(), idxs_train=list(range(15)), n_valid=0, solver="cg", tol=1e-11,
          inducing=20)

# The child slows every fsync (so a random kill often lands inside a write, between the temporary file and the
# rename) and every CG iteration (so the run lasts long enough to be killed), and says when CG has started.
CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import fastgdml
    from fastgdml import iterative
    sys.path.insert(0, {tests!r})
    from conftest import TOY_Z, make_toy
    real_fsync = os.fsync
    def slow_fsync(fd):
        time.sleep(0.004)
        real_fsync(fd)
    os.fsync = slow_fsync
    update = iterative._Progress.update
    def slow_update(self, it, rel):
        if not self.history:
            print("started", flush=True)
        time.sleep(0.004)
        update(self, it, rel)
    iterative._Progress.update = slow_update
    R, E, F = make_toy(M=30, seed=3)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    kw = {kw!r}
    {body}
""")


def spawn(body: str, **fmt) -> subprocess.Popen:
    code = CHILD.format(tests=os.path.dirname(__file__), kw=KW, body=textwrap.dedent(body).format(**fmt))
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_after_start(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``delay`` seconds after the child printed 'started'; False if it ended first."""
    line = proc.stdout.readline()
    assert line.strip() == "started", proc.stderr.read()
    time.sleep(delay)
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return True


@pytest.fixture(scope="module")
def toy_ds():
    R, E, F = make_toy(M=30, seed=3)
    return fastgdml.Dataset(R, TOY_Z, F, E=E)


def test_killed_training_leaves_a_whole_checkpoint_and_resume_reaches_the_solution(toy_ds, tmp_path):
    full = fastgdml.train(toy_ds, 15, 1.2, **KW)
    assert int(full.arrays["solver_iters"]) > 20  # long enough to be killed in the middle
    ck = tmp_path / "run.ckpt.npz"
    task = task_fingerprint(toy_ds.md5, np.arange(15), 1.2, KW["lam"], TOY_PERMS, False, None, KW["tol"])
    rng = np.random.default_rng(1)
    iterations, killed = [], 0
    for attempt in range(6):
        resume = "resume=str(ck)," if ck.exists() else ""
        proc = spawn("""
            fastgdml.train(ds, 15, 1.2, checkpoint={ck!r}, checkpoint_interval=0.0, {resume} **kw)
            print("finished", flush=True)
        """, ck=str(ck), resume=resume.replace("str(ck)", repr(str(ck))))
        killed += kill_after_start(proc, float(rng.uniform(0.0, 0.15)))
        if ck.exists():  # whole and of this task, or absent (killed before the first write)
            iterations.append(int(load_checkpoint(str(ck), task)["iterations"]))
    assert killed >= 4 and len(iterations) >= 3
    assert iterations == sorted(iterations)  # every resume continued from the previous checkpoint
    resumed = fastgdml.train(toy_ds, 15, 1.2, checkpoint=str(ck), resume=str(ck) if ck.exists() else None, **KW)
    assert resumed.converged and not ck.exists()
    R = make_toy(M=4, seed=41)[0]
    F_full = full.predict(R)[1]
    np.testing.assert_allclose(resumed.predict(R)[1], F_full, rtol=0, atol=1e-6 * np.abs(F_full).max())


def test_killed_model_save_leaves_the_previous_or_the_new_model(toy_ds, tmp_path):
    path = tmp_path / "model.npz"
    models = [fastgdml.train(toy_ds, 10, s, lam=1e-6, perms=TOY_PERMS, n_valid=0) for s in (1.0, 2.0)]
    models[0].save(path)
    sigmas = {1.0, 2.0}
    rng = np.random.default_rng(2)
    for attempt in range(5):
        proc = spawn("""
            ms = [fastgdml.train(ds, 10, s, lam=1e-6, perms=np.array(kw["perms"]), n_valid=0) for s in (1.0, 2.0)]
            print("started", flush=True)
            i = 0
            while True:
                ms[i % 2].save({path!r})
                i += 1
        """, path=str(path))
        assert kill_after_start(proc, float(rng.uniform(0.01, 0.2)))
        back = fastgdml.Model.load(path)  # never torn
        assert back.sigma in sigmas
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    # SIGKILL cannot clean up: a killed write may leave its temporary file, never a damaged target
    assert all(f.endswith(".npz") for f in leftovers)
