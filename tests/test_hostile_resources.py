"""Hostile input, round two (issue 12): bounded memory, fork safety, no silent NaN, errors that name the file and
key. Each case ends in one clear error (exit status 2 from the CLI), never a crash, a hang or an allocation of
what a file merely claims. Memory limits are real: the children run under an address-space limit (RLIMIT_AS).
"""
import io
import os
import socket
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

import fastgdml
from fastgdml.cli import main as cli_main
from fastgdml.dataset import DatasetError
from fastgdml.iterative import CheckpointError
from fastgdml.model import ModelError

from conftest import TOY_PERMS, TOY_Z, make_toy

TESTS = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def toy():
    R, E, F = make_toy(M=40, seed=3)
    return fastgdml.Dataset(R, TOY_Z, F, E=E, name="toy", r_unit="Ang", e_unit="kcal/mol")


@pytest.fixture(scope="module")
def model(toy):
    return fastgdml.train(toy, 12, 1.2, lam=1e-6, perms=TOY_PERMS, n_valid=5)


def save_arrays(path, arrays: dict) -> str:
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return str(path)


def one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err
    assert err.startswith("fastgdml: error:") and err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


# -- memory: budgets before allocation, under a real address-space limit --------------------------------------
LIMITED_CHILD = r'''
import os, resource, sys
sys.path.insert(0, {tests!r})
import fastgdml
from fastgdml.cli import main
with open("/proc/self/statm") as f:
    used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
resource.setrlimit(resource.RLIMIT_AS, (used + {headroom}, resource.RLIM_INFINITY))
{body}
'''


def run_limited(body: str, headroom_mb: int, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``body`` in a child whose address space may grow by only ``headroom_mb`` MiB after the imports."""
    code = LIMITED_CHILD.format(tests=TESTS, headroom=headroom_mb << 20, body=textwrap.dedent(body))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)


def write_zero_members(path, members: dict) -> str:
    """An .npz whose members are float64 zeros of the given shapes, deflated (a few KiB per 100 MB)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for key, value in members.items():
            if not isinstance(value, tuple):
                buf = io.BytesIO()
                np.save(buf, np.asarray(value))
                zf.writestr(key + ".npy", buf.getvalue())
                continue
            with zf.open(key + ".npy", "w", force_zip64=True) as out:
                header = io.BytesIO()
                np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                              "shape": value})
                out.write(header.getvalue())
                left = 8 * int(np.prod(value))
                zeros = bytes(1 << 24)
                while left:
                    out.write(zeros[:min(left, len(zeros))])
                    left -= min(left, len(zeros))
    return str(path)


def test_file_budget_follows_the_address_space_limit():
    out = run_limited("from fastgdml.io.memory import file_budget\nprint(file_budget())", 300)
    assert out.returncode == 0, out.stderr
    assert 0 < int(out.stdout) <= 0.8 * (300 << 20) + 1


def test_members_that_pass_alone_but_not_together_are_refused_before_reading(tmp_path):
    """Three 150 MB members (a small file: they are zeros) under 400 MiB of headroom: each fits the budget, the
    three together do not. Before, each was checked alone and read twice (bytes + array)."""
    N = 5
    path = write_zero_members(tmp_path / "big.npz", {"R": (1_250_000, N, 3), "F": (1_250_000, N, 3),
                                                     "E": (18_750_000,), "z": TOY_Z, "type": np.array("d")})
    assert os.path.getsize(path) < 5 << 20
    out = run_limited(f"sys.exit(main(['info', {path!r}]))", 400)
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1 and "its arrays would need" in out.stderr and path in out.stderr, out.stderr


def test_model_claiming_thousands_of_atoms_is_refused_before_the_core_allocates(tmp_path):
    """5000 atoms (12.5 M descriptor entries per training point): the file's 100 MB of zeros fit, but what the
    predictor derives from them (about 17 copies) does not; refused before the permutation maps or the core's
    copies are made (before: gigabytes, then std::bad_alloc)."""
    N = 5000
    D = N * (N - 1) // 2
    path = write_zero_members(tmp_path / "atoms.npz", {
        "type": np.array("m"), "z": np.ones(N, dtype=np.int64), "R_desc": (D, 1), "R_d_desc_alpha": (1, D),
        "sig": np.float64(10), "c": np.float64(0), "std": np.float64(1), "perms": np.arange(N)[None]})
    out = run_limited(f"sys.exit(main(['info', {path!r}]))", 700)
    assert out.returncode == 2, out.stderr
    assert "needs" in out.stderr and "of memory to predict" in out.stderr and out.stderr.count("\n") == 1, out.stderr


@pytest.mark.parametrize("n_atoms", [20_000, 100_000])
def test_model_with_many_atoms_and_no_training_points_is_refused(model, tmp_path, n_atoms, capsys):
    arrays = dict(model.arrays, type=np.array("m"), z=np.ones(n_atoms, dtype=np.int64),
                  R_desc=np.zeros((n_atoms * (n_atoms - 1) // 2, 0)), R_d_desc_alpha=np.zeros((0, 0)),
                  perms=np.arange(n_atoms)[None])
    path = save_arrays(tmp_path / "empty.npz", arrays)
    with pytest.raises(ModelError, match=r"'R_desc' holds 0 training points"):
        fastgdml.Model.load(path)
    assert cli_main(["info", path]) == 2
    one_line_error(capsys, path, "0 training points")


def test_derived_memory_budget_in_process(model, monkeypatch):
    import fastgdml.model as model_module

    arrays = dict(model.arrays)
    need = model_module.predictor_bytes(model.n_train, arrays["R_desc"].shape[0], len(model.perms))
    monkeypatch.setattr(model_module, "file_budget", lambda: need - 1)
    with pytest.raises(ModelError, match=r"needs .*iB of memory to predict, more than the"):
        fastgdml.Model(arrays, source="m.npz")
    monkeypatch.setattr(model_module, "file_budget", lambda: need)
    fastgdml.Model(arrays, source="m.npz")


def test_dataset_conversion_copies_are_budgeted(toy, tmp_path, monkeypatch):
    import fastgdml.data.dataset as dataset_module

    arrays = toy.to_dict()
    arrays["R"] = arrays["R"].astype(np.float32)  # a float32 file needs a float64 copy of R
    path = save_arrays(tmp_path / "f32.npz", arrays)
    monkeypatch.setattr(dataset_module, "file_budget", lambda: 8 * arrays["R"].size - 1)
    with pytest.raises(DatasetError, match=r"converting 'R', 'F' and 'E' to float64 needs"):
        fastgdml.Dataset.load(path)


def test_members_are_read_once(tmp_path):
    """Peak memory of a load is the arrays themselves (plus small buffers), not bytes + array copies."""
    R = np.random.default_rng(0).standard_normal((200_000, 5, 3))  # 24 MB each for R and F
    path = save_arrays(tmp_path / "d.npz", {"type": np.array("d"), "R": R, "F": R, "z": TOY_Z,
                                           "E": np.zeros(len(R))})
    tracemalloc.start()
    try:
        ds = fastgdml.Dataset.load(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    held = ds.R.nbytes + ds.F.nbytes + ds.E.nbytes
    assert peak < 1.25 * held, (peak, held)


# -- fork -----------------------------------------------------------------------------------------------------
FORK_CHILD = r'''
import multiprocessing as mp, os, sys
import numpy as np
sys.path.insert(0, {tests!r})
import fastgdml
from conftest import TOY_PERMS, TOY_Z, make_toy

R, E, F = make_toy(M=40, seed=3)
ds = fastgdml.Dataset(R, TOY_Z, F, E=E)
kw = dict(perms=TOY_PERMS, n_valid=0, idxs_train=np.arange(20), lam=1e-8)
model = fastgdml.train(ds, 20, 1.2, **kw)
E0, F0 = model.predict(R)  # the parent's OpenMP pool and BLAS are now in use

def work(queue):
    E1, F1 = model.predict(R)
    chol = fastgdml.train(ds, 20, 1.2, solver="cholesky", **kw)
    cg = fastgdml.train(ds, 20, 1.2, solver="cg", tol=1e-10, inducing=60, **kw)
    queue.put((float(np.abs(F1 - F0).max()), float(np.abs(chol.predict(R)[1] - F0).max()),
               float(np.abs(cg.predict(R)[1] - F0).max()), float(np.abs(F0).max())))

if __name__ == "__main__":
    method = sys.argv[1]
    if method == "os.fork":
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            class Q:
                def put(self, v):
                    os.write(w, repr(v).encode())
            work(Q())
            os._exit(0)
        os.waitpid(pid, 0)
        result = eval(os.read(r, 1000).decode())
    else:
        ctx = mp.get_context(method)
        queue = ctx.Queue()
        proc = ctx.Process(target=work, args=(queue,))
        proc.start()
        result = queue.get(timeout=120)
        proc.join(60)
        assert proc.exitcode == 0, proc.exitcode
    same_predict, chol, cg, scale = result
    # the child may run on another number of threads (one after a fork): the same forces to rounding, not bitwise
    assert same_predict <= 1e-12 * scale, result
    assert chol < 1e-6 * scale and cg < 1e-5 * scale, result
    print("ok", method, result)
'''


@pytest.mark.parametrize("method", ["fork", "spawn", "forkserver", "os.fork"])
def test_prediction_and_training_work_in_a_child_after_use_in_the_parent(method, tmp_path):
    """GNU OpenMP's pool does not survive fork: the forking thread's next parallel region used to wait forever.
    The child now runs on one thread there (and BLAS jobs on plain threads) and gets the parent's results."""
    script = tmp_path / "child.py"
    script.write_text(FORK_CHILD.format(tests=TESTS))
    out = subprocess.run([sys.executable, str(script), method], capture_output=True, text=True, timeout=240,
                         env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stderr[-3000:]


# -- no silent NaN ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sigma", [1e-300, 1e-9, 1e12, 1e300])
def test_degenerate_sigma_is_refused_at_load(model, tmp_path, sigma, capsys):
    path = save_arrays(tmp_path / "m.npz", dict(model.arrays, type=np.array("m"), sig=np.float64(sigma)))
    with pytest.raises(ModelError, match=r"'sig' = .* is outside \[1e-06, 1e\+09\]"):
        fastgdml.Model.load(path)
    assert cli_main(["info", path]) == 2
    one_line_error(capsys, path, "'sig'")


def test_sigma_out_of_range_is_refused_by_train(toy):
    with pytest.raises(ValueError, match=r"sigma = 1e-300 is outside"):
        fastgdml.train(toy, 12, 1e-300, perms=TOY_PERMS, n_valid=0)


@pytest.mark.parametrize("std", [0.0, -1.0])
def test_nonpositive_std_is_refused(model, std):
    with pytest.raises(ModelError, match=r"'std' must be a positive finite number"):
        fastgdml.Model(dict(model.arrays, std=np.float64(std)), source="m.npz")


def overflowing(model) -> fastgdml.Model:
    """A model whose parameters pass every check but whose forces overflow: huge coefficients and label scale."""
    return fastgdml.Model(dict(model.arrays, std=np.float64(1e300),
                               R_d_desc_alpha=model.arrays["R_d_desc_alpha"] * 1e300), source="overflow.npz")


def test_non_finite_predictions_are_an_error_naming_the_model(model, toy):
    with pytest.raises(ValueError, match=r"overflow\.npz: non-finite energy or forces for geometry 0 .* the model "
                                         r"file is degenerate"):
        overflowing(model).predict(toy.R[:3])


def test_cli_test_refuses_non_finite_results(model, toy, tmp_path, capsys):
    path = str(tmp_path / "overflow.npz")
    overflowing(model).save(path)
    data = str(tmp_path / "toy.npz")
    toy.save(data)
    assert cli_main(["test", path, data]) == 2
    one_line_error(capsys, "non-finite energy or forces")


def test_ase_gets_an_error_not_nan(model, toy):
    pytest.importorskip("ase")
    from ase import Atoms

    from fastgdml.calculator import Calculator

    atoms = Atoms(numbers=TOY_Z, positions=toy.R[0])
    atoms.calc = Calculator(overflowing(model))
    with pytest.raises(ValueError, match=r"non-finite"):
        atoms.get_potential_energy()


@pytest.mark.parametrize("distance, pattern", [(0.0, r"coincide"), (1e-12, r"coincide"),
                                               (1e-6, r"closer than a tenth"), (0.03, r"closer than a tenth")])
def test_atoms_far_closer_than_the_training_data_are_refused(model, toy, distance, pattern):
    R = toy.R[:2].copy()
    R[1, 4] = R[1, 1] + np.array([distance, 0.0, 0.0])
    with pytest.raises(ValueError, match=rf"geometry 1: atoms 1 and 4 .*{pattern}"):
        model.predict(R)
    model.predict(toy.R[:2])  # ordinary geometries still predict


def test_close_contact_threshold_comes_from_the_training_data(model, toy):
    """A tenth of the closest pair the model was trained on: 10 % closer than training still predicts."""
    d_train = 1.0 / model.arrays["R_desc"].max()
    assert model.min_distance == pytest.approx(0.1 * d_train)
    frame = int(np.argmax(model.arrays["R_desc"].max(axis=0)))
    R = toy.R[model.idxs_train[frame]].copy()
    model.predict(0.9 * R)  # every distance shrinks by 10 %: inside the model's range


# -- messages that name the file and key -----------------------------------------------------------------------
@pytest.mark.parametrize("lam, pattern", [(np.array("abc"), r"'lam' must be a single finite number"),
                                          (np.array([1e-10, 1e-9]), r"'lam' must be a single finite number"),
                                          (np.float64(np.nan), r"'lam' must be a finite number"),
                                          (np.float64(-1.0), r"'lam' must be >= 0")])
def test_bad_lambda_is_named(model, tmp_path, lam, pattern, capsys):
    path = save_arrays(tmp_path / "m.npz", dict(model.arrays, type=np.array("m"), lam=lam))
    with pytest.raises(ModelError, match=pattern):
        fastgdml.Model.load(path)
    assert cli_main(["info", path]) == 2
    one_line_error(capsys, path, "'lam'")


@pytest.mark.parametrize("case", ["other atom count", "same atoms, other order", "perms of other length"])
def test_perms_from_a_file_of_another_molecule(toy, model, tmp_path, case, capsys):
    data = str(tmp_path / "toy.npz")
    toy.save(data)
    if case == "other atom count":
        other = dict(model.arrays, type=np.array("m"), z=np.array([6, 1, 1, 8]), perms=np.arange(4)[None])
    elif case == "same atoms, other order":
        other = dict(model.arrays, type=np.array("m"), z=TOY_Z[::-1].copy())
    else:
        other = {"type": np.array("d"), "perms": np.arange(4)[None]}
    src = save_arrays(tmp_path / "other.npz", other)
    rc = cli_main(["train", data, "--n-train", "10", "--sigma", "1.2", "--n-valid", "0", "--perms-from", src,
                   "-o", str(tmp_path / "out.npz"), "-q"])
    assert rc == 2
    err = one_line_error(capsys, src)
    assert "another molecule" in err or "'perms' must have shape (P, 5)" in err
    assert not os.path.exists(tmp_path / "out.npz")


def checkpoint_task(toy, tmp_path):
    """A CG training stopped after 3 iterations, leaving its checkpoint (warnings about that are expected)."""
    path = str(tmp_path / "m.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fastgdml.train(toy, 12, 1.2, perms=TOY_PERMS, n_valid=0, idxs_train=np.arange(12), solver="cg", tol=1e-12,
                       max_iterations=3, checkpoint=str(tmp_path / "m.ckpt.npz"), inducing=20)
    return path, str(tmp_path / "m.ckpt.npz")


@pytest.mark.parametrize("case, pattern", [
    ("NaN in x", r"'x' must hold 180 finite numbers .* with NaN/Inf"),
    ("x too short", r"'x' must hold 180 finite numbers .* shape \(179,\)"),
    ("x of strings", r"'x' must hold 180 finite numbers"),
    ("negative iterations", r"'iterations' must be one count >= 0"),
    ("column out of range", r"'columns' must be distinct inducing column indices in \[0, 180\)"),
    ("duplicate columns", r"'columns' must be distinct"),
    ("missing x", r"not a fastgdml checkpoint \(missing 'x'\)"),
])
def test_corrupt_checkpoint_is_named_before_any_work(toy, tmp_path, case, pattern):
    _, ckpt = checkpoint_task(toy, tmp_path)
    arrays = dict(np.load(ckpt))
    x = arrays["x"]
    change = {"NaN in x": {"x": np.where(np.arange(x.size) == 7, np.nan, x)}, "x too short": {"x": x[:-1]},
              "x of strings": {"x": np.array(["a"] * x.size)}, "negative iterations": {"iterations": np.int64(-1)},
              "column out of range": {"columns": np.array([0, 180])}, "duplicate columns": {"columns": np.array([3, 3])},
              "missing x": {"x": None}}[case]
    for key, value in change.items():
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    save_arrays(ckpt, arrays)
    with pytest.raises(CheckpointError, match=rf"{ckpt}: {pattern}"):
        fastgdml.train(toy, 12, 1.2, perms=TOY_PERMS, n_valid=0, idxs_train=np.arange(12), solver="cg", tol=1e-12,
                       resume=ckpt, inducing=20)


# -- inputs that are not regular files -------------------------------------------------------------------------
def special_file(kind: str, tmp_path) -> str:
    if kind == "FIFO":
        path = str(tmp_path / "pipe.npz")
        os.mkfifo(path)
        return path
    if kind == "socket":
        path = str(tmp_path / "sock.npz")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(path)
        return path
    if kind == "directory":
        os.mkdir(tmp_path / "dir.npz")
        return str(tmp_path / "dir.npz")
    return {"character device": "/dev/zero", "null device": "/dev/null"}[kind]


SPECIAL = ["FIFO", "socket", "directory", "character device", "null device"]


@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("loader", ["Dataset.load", "Model.load", "load_npz"])
def test_non_regular_files_are_refused(kind, loader, tmp_path):
    path = special_file(kind, tmp_path)
    load = {"Dataset.load": fastgdml.Dataset.load, "Model.load": fastgdml.Model.load,
            "load_npz": fastgdml.io.npz.load_npz}[loader]
    with pytest.raises(ValueError, match=rf"{path}: (not a regular file|is a directory)"):
        load(path)


@pytest.mark.parametrize("kind", SPECIAL)
def test_cli_refuses_non_regular_files_without_hanging(kind, tmp_path):
    path = special_file(kind, tmp_path)
    out = subprocess.run([sys.executable, "-m", "fastgdml.cli", "info", path], capture_output=True, text=True,
                         timeout=60, stdin=subprocess.DEVNULL)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and path in out.stderr, out.stderr


def test_predictions_in_chunks_equal_one_batch_and_name_the_right_geometry(model, toy):
    """The core predicts a batch in chunks of bounded work memory; chunking changes nothing, and an error in a
    later chunk names the geometry's index in the whole batch."""
    from fastgdml import _core

    X, V = np.ascontiguousarray(model.arrays["R_desc"].T), model.arrays["R_d_desc_alpha"]

    def predictor(work_bytes):
        return _core.Predictor(5, X, V, model.perms, model.sigma, model.std, model.c,
                               min_distance=model.min_distance, work_bytes=work_bytes)

    R = toy.R[:10]
    D = X.shape[1]
    E1, F1 = predictor(1 << 28).predict(R)
    E3, F3 = predictor(3 * 40 * D).predict(R)  # chunks of 3 geometries
    np.testing.assert_allclose(E3, E1, rtol=1e-12, atol=1e-12 * np.abs(E1).max())
    np.testing.assert_allclose(F3, F1, rtol=1e-12, atol=1e-12 * np.abs(F1).max())
    R = R.copy()
    R[7, 4] = R[7, 1]
    with pytest.raises(ValueError, match=r"geometry 7: atoms 1 and 4 coincide"):
        predictor(3 * 40 * D).predict(R)
    R[7] = toy.R[7]
    R[8, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN/Inf positions \(geometry 8\)"):
        predictor(3 * 40 * D).predict(R)
