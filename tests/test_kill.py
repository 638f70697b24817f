"""Kill tests: SIGKILL a training process at chosen points (inside checkpoint writes, between them) and a process
that saves models; the files left behind are whole (the previous or the next version, never a torn one) and a
resume from the checkpoint reaches the uninterrupted solution.

The kills are triggered by progress, not by the clock: the child counts CG iterations and fsync calls and, at the
one it was asked to stop at, says so on stdout and waits there to be killed. Each kill therefore lands at a known
point, whatever the machine's speed, and what the files must hold afterwards is known exactly.
"""
import os
import signal
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import fastgdml
from fastgdml.iterative import load_checkpoint, task_fingerprint

from conftest import TOY_PERMS, TOY_Z, make_toy

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

KW = dict(lam=1e-4, perms=TOY_PERMS.tolist(), idxs_train=list(range(15)), n_valid=0, solver="cg", tol=1e-11,
          inducing=20)
TIMEOUT = 120  # seconds for the child to reach its stopping point: a hang fails the test instead of blocking it

# The child counts events of two kinds: 'iteration' (a CG iteration, after its progress update and before its
# checkpoint is saved) and 'fsync' (atomic_path fsyncs twice per write: the temporary file before the rename, odd
# counts, and the directory after it, even counts). At the event STOP it prints 'stopped at ...' and waits for
# SIGKILL (leaving on its own after TIMEOUT, so that no orphan outlives a failed test).
CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import fastgdml
    from fastgdml.training import cg
    sys.path.insert(0, {tests!r})
    from conftest import TOY_Z, make_toy
    STOP = {stop!r}
    counts = {{"iteration": 0, "fsync": 0}}
    def event(kind):
        counts[kind] += 1
        if (kind, counts[kind]) == STOP:
            print("stopped at %s %d" % STOP, flush=True)
            time.sleep({timeout})
            os._exit(3)
    real_fsync = os.fsync
    def counted_fsync(fd):
        event("fsync")
        real_fsync(fd)
    os.fsync = counted_fsync
    update = cg._Progress.update
    def counted_update(self, it, rel):
        update(self, it, rel)
        event("iteration")
    cg._Progress.update = counted_update
    R, E, F = make_toy(M=30, seed=3)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
    kw = {kw!r}
    {body}
    print("finished", flush=True)
""")


def spawn(body: str, stop: tuple, log) -> subprocess.Popen:
    code = CHILD.format(tests=os.path.dirname(__file__), kw=KW, stop=stop, timeout=TIMEOUT,
                        body=textwrap.dedent(body).strip())
    # stderr to a file: a pipe nobody reads could fill up and stall the child
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=log, text=True)


def kill_at_stop(proc: subprocess.Popen, stop: tuple, log_path) -> None:
    """Wait (at most TIMEOUT s) until the child reports that it reached ``stop``, then SIGKILL it there."""
    line = []
    reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(TIMEOUT)
    if reader.is_alive() or line[0].strip() != "stopped at %s %d" % stop:
        proc.kill()
        proc.wait(timeout=60)
        with open(log_path) as f:
            pytest.fail(f"the child did not reach {stop} within {TIMEOUT} s (stdout {line!r}): {f.read()[-3000:]}")
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(timeout=60) == -signal.SIGKILL


def saves_completed(stop: tuple) -> int:
    """Writes that had reached their rename when the child was killed at ``stop``."""
    kind, count = stop
    return count - 1 if kind == "iteration" else count // 2


@pytest.fixture(scope="module")
def toy_ds():
    R, E, F = make_toy(M=30, seed=3)
    return fastgdml.Dataset(R, TOY_Z, F, E=E)


# (kind, count) of each attempt: the first iteration (nothing saved yet in that process), inside the temporary
# file's fsync (odd fsync: before the rename) and just after a rename (even fsync), between writes
TRAINING_STOPS = [("iteration", 1), ("fsync", 5), ("fsync", 4), ("iteration", 7), ("fsync", 1), ("fsync", 9),
                  ("iteration", 3)]


def test_killed_training_leaves_a_whole_checkpoint_and_resume_reaches_the_solution(toy_ds, tmp_path):
    full = fastgdml.train(toy_ds, 15, 1.2, **KW)
    # the attempts together reach at most this many iterations; CG must be far from converged there
    reach = sum(count if kind == "iteration" else (count + 1) // 2 for kind, count in TRAINING_STOPS)
    assert int(full.arrays["solver_iters"]) > 2 * reach
    ck = tmp_path / "run.ckpt.npz"
    task = task_fingerprint(toy_ds.md5, np.arange(15), 1.2, KW["lam"], TOY_PERMS, False, None, KW["tol"])
    iterations = None  # of the checkpoint on disk (None: there is none yet)
    torn_writes = 0
    for attempt, stop in enumerate(TRAINING_STOPS):
        resume = f"resume={str(ck)!r}," if iterations is not None else ""
        log = tmp_path / f"child{attempt}.log"
        with open(log, "w") as err:
            proc = spawn(f"fastgdml.train(ds, 15, 1.2, checkpoint={str(ck)!r}, checkpoint_interval=0.0, {resume} "
                         f"**kw)", stop, err)
            kill_at_stop(proc, stop, log)
        # every iteration saves (interval 0): the checkpoint is the last write that reached its rename in this
        # process, or the previous process's when none did; always whole, of this task
        done = saves_completed(stop)
        if done:
            iterations = (iterations or 0) + done
        torn_writes += stop[0] == "fsync" and stop[1] % 2 == 1
        if iterations is None:
            assert not ck.exists(), stop
        else:
            assert int(load_checkpoint(str(ck), task)["iterations"]) == iterations, stop
    assert iterations is not None and iterations > 0
    # SIGKILL cannot clean up: each kill inside a temporary file's fsync leaves that file, nothing else does
    leftovers = sorted(f for f in os.listdir(tmp_path) if f.startswith(".tmp-"))
    assert len(leftovers) == torn_writes and all(f.endswith(".npz") for f in leftovers), leftovers
    resumed = fastgdml.train(toy_ds, 15, 1.2, checkpoint=str(ck), resume=str(ck), **KW)
    assert resumed.converged and not ck.exists()
    R = make_toy(M=4, seed=41)[0]
    F_full = full.predict(R)[1]
    np.testing.assert_allclose(resumed.predict(R)[1], F_full, rtol=0, atol=1e-6 * np.abs(F_full).max())


# fsync counts: odd ones inside a save's temporary file (before its rename), even ones right after the rename
SAVE_STOPS = [1, 2, 3, 6, 9, 12]


def test_killed_model_save_leaves_the_previous_or_the_new_model(toy_ds, tmp_path):
    path = tmp_path / "model.npz"
    models = [fastgdml.train(toy_ds, 10, s, lam=1e-6, perms=TOY_PERMS, n_valid=0) for s in (1.0, 2.0)]
    models[0].save(path)
    on_disk = 1.0  # sigma of the model in the file
    for attempt, stop in enumerate(SAVE_STOPS):
        log = tmp_path / f"child{attempt}.log"
        with open(log, "w") as err:
            # save i writes the model of sigma (1.0, 2.0)[i % 2]
            proc = spawn(f"""
                ms = [fastgdml.train(ds, 10, s, lam=1e-6, perms=np.array(kw["perms"]), n_valid=0) for s in (1.0, 2.0)]
                i = 0
                while True:
                    ms[i % 2].save({str(path)!r})
                    i += 1
            """, ("fsync", stop), err)
            kill_at_stop(proc, ("fsync", stop), log)
        done = saves_completed(("fsync", stop))
        if done:
            on_disk = (1.0, 2.0)[(done - 1) % 2]
        back = fastgdml.Model.load(path)  # never torn: the previous model inside a write, the new one after it
        assert back.sigma == on_disk, stop
    leftovers = [f for f in os.listdir(tmp_path) if f.startswith(".tmp-")]
    # SIGKILL cannot clean up: a write killed before its rename leaves its temporary file, never a damaged target
    assert len(leftovers) == sum(s % 2 for s in SAVE_STOPS) and all(f.endswith(".npz") for f in leftovers)
