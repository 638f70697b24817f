"""Untrusted files and bad input: every case ends in a clear error naming the file and key (or a documented
recovery), never a crash, a hang, code execution or a traceback from deep inside NumPy.

The cases are tables, so the closing note can count them: DATASET_CASES and MODEL_CASES (files read by
Dataset.load / Model.load and by ``fastgdml info``), PICKLE_KEYS (a malicious pickle in each object key),
CLI_CASES (arguments out of range), plus the individual tests at the end (prediction input, training input,
extxyz, absurd sizes).
"""
import io
import os
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import fastgdml
from fastgdml.cli import main as cli_main
from fastgdml.dataset import DatasetError
from fastgdml.model import ModelError

from conftest import TOY_PERMS, TOY_Z, make_toy


# -- helpers -----------------------------------------------------------------------------------------------
def npy_bytes(arr) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def write_npz(path, members: dict, compress: bool = False) -> str:
    """An .npz whose members are given as arrays or as raw .npy bytes (to craft headers and pickles)."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", mode) as zf:
        for key, value in members.items():
            zf.writestr(key + ".npy", value if isinstance(value, bytes) else npy_bytes(np.asarray(value)))
    return str(path)


@pytest.fixture(scope="module")
def good():
    R, E, F = make_toy(M=30, seed=3)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, name="toy", r_unit="Ang", e_unit="kcal/mol")
    model = fastgdml.train(ds, 12, 1.2, lam=1e-6, perms=TOY_PERMS, n_valid=5)
    return ds.to_dict(), dict(model.arrays, type=np.array("m"))


def changed(base: dict, **kw) -> dict:
    out = dict(base)
    for key, value in kw.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def info_fails_cleanly(path, capsys, pattern: str) -> None:
    """``fastgdml info`` exits 2 with one 'fastgdml: error:' line naming the file and matching pattern (no
    traceback). (info picks the reader by the 'type' key, so a mislabelled file may fail on other keys.)"""
    assert cli_main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fastgdml: error:") and "Traceback" not in err and err.count("\n") == 1, err
    assert str(path) in err and re.search(pattern, err), err


# -- dataset files ---------------------------------------------------------------------------------------
DATASET_CASES = {
    # id: (make the member dict from the good dataset dict, message pattern)
    "missing R": (lambda d: changed(d, R=None), r"missing key\(s\) 'R'"),
    "missing F": (lambda d: changed(d, F=None), r"missing key\(s\) 'F'"),
    "missing z": (lambda d: changed(d, z=None), r"missing key\(s\) 'z'"),
    "R wrong rank": (lambda d: changed(d, R=d["R"][:, :, :2]), r"'R' must have shape"),
    "F fewer frames": (lambda d: changed(d, F=d["F"][:-1]), r"'F' has 29 frames but 'R' has 30"),
    "E wrong length": (lambda d: changed(d, E=d["E"][:-2]), r"'E' must have shape"),
    "z two-dimensional": (lambda d: changed(d, z=d["z"][None]), r"'z' must have shape"),
    "z does not match R": (lambda d: changed(d, z=d["z"][:4]), r"'R' must have shape \(M, 4, 3\)"),
    "z fractional": (lambda d: changed(d, z=d["z"] + 0.5), r"integer atomic numbers"),
    "z out of range": (lambda d: changed(d, z=d["z"] * 100), r"atomic numbers 1..118"),
    "R strings": (lambda d: changed(d, R=d["R"].astype(str)), r"'R' must be real numbers"),
    "E complex": (lambda d: changed(d, E=d["E"] + 1j), r"'E' must be real numbers"),
    "NaN in R": (lambda d: changed(d, R=np.where(np.arange(d["R"].size).reshape(d["R"].shape) == 7, np.nan,
                                                  d["R"])), r"'R' has 1 NaN/Inf value\(s\), first at index \(0, 2, 1\)"),
    "Inf in F": (lambda d: changed(d, F=np.full_like(d["F"], np.inf)), r"'F' has 450 NaN/Inf"),
    "NaN in E": (lambda d: changed(d, E=np.full_like(d["E"], np.nan)), r"'E' has 30 NaN/Inf"),
    "perms not permutations": (lambda d: changed(d, perms=np.array([[0, 1, 2, 3, 4], [0, 1, 1, 3, 4]])),
                               r"'perms'.*permutation"),
    "perms out of range": (lambda d: changed(d, perms=np.array([[0, 1, 2, 3, 4], [0, 1, 2, 3, 9]])), r"'perms'"),
    "lattice singular": (lambda d: changed(d, lattice=np.zeros((3, 3))), r"'lattice' must be an invertible"),
    "a model file": (lambda d: changed(d, type=np.array("m")), r"this file is a model, not a dataset|missing key"),
    "no members": (lambda d: {}, r"missing key\(s\) 'R', 'z', 'F'|neither a dataset nor a model"),
}


# -- model files -----------------------------------------------------------------------------------------
MODEL_CASES = {
    "missing R_desc": (lambda m: changed(m, R_desc=None), r"missing key\(s\) 'R_desc'"),
    "missing type": (lambda m: changed(m, type=None),
                     r"not a model file \(missing its 'type' key\)|neither a dataset nor a model"),
    "a dataset file": (lambda m: changed(m, type=np.array("d")), r"not a model file \(a dataset\)|missing key"),
    "R_desc wrong rows": (lambda m: changed(m, R_desc=m["R_desc"][:-1]), r"'R_desc' must have shape \(10, n\)"),
    "alphas do not fit": (lambda m: changed(m, R_d_desc_alpha=m["R_d_desc_alpha"][:-1]),
                          r"'R_d_desc_alpha' must have shape \(12, 10\)"),
    "NaN in R_desc": (lambda m: changed(m, R_desc=m["R_desc"] * np.nan), r"'R_desc' contains NaN"),
    "sigma negative": (lambda m: changed(m, sig=np.float64(-3)), r"'sig' must be a positive finite number"),
    "sigma an array": (lambda m: changed(m, sig=np.ones(3)), r"'sig' must be a single positive finite number"),
    "c a string": (lambda m: changed(m, c=np.array("zero")), r"'c' must be a single finite number"),
    "std infinite": (lambda m: changed(m, std=np.float64(np.inf)), r"'std'.*finite"),
    "perms duplicate atom": (lambda m: changed(m, perms=np.array([[0, 1, 2, 3, 4], [0, 0, 2, 3, 4]])),
                             r"'perms'.*permutation"),
    "perms wrong width": (lambda m: changed(m, perms=m["perms"][:, :4]), r"'perms'"),
    "z floats": (lambda m: changed(m, z=m["z"].astype(float)), r"'z' must be integer"),
    "alphas_E wrong length": (lambda m: changed(m, alphas_E=np.ones(3)), r"'alphas_E' must have 12 entries"),
    "feature_mask out of range": (lambda m: changed(m, feature_mask=np.arange(10) + 5,), r"feature_mask"),
    "feature_mask repeated": (lambda m: changed(m, feature_mask=np.zeros(10, dtype=np.int64)), r"feature_mask"),
    "lattice wrong shape": (lambda m: changed(m, lattice=np.eye(2)), r"'lattice' must be"),
}


FILE_CASES = [("dataset", c) for c in sorted(DATASET_CASES)] + [("model", c) for c in sorted(MODEL_CASES)]


@pytest.mark.parametrize("kind,case", FILE_CASES, ids=[f"{k}: {c}" for k, c in FILE_CASES])
def test_bad_file_is_refused_with_the_file_and_key(kind, case, good, tmp_path, capsys):
    cases, base, load, error = ((DATASET_CASES, good[0], fastgdml.Dataset.load, DatasetError) if kind == "dataset"
                                else (MODEL_CASES, good[1], fastgdml.Model.load, ModelError))
    make, pattern = cases[case]
    path = write_npz(tmp_path / "bad.npz", make(base))
    with pytest.raises(error, match=pattern) as err:
        load(path)
    assert path in str(err.value)
    info_fails_cleanly(path, capsys, pattern)


# -- corrupt archives ------------------------------------------------------------------------------------
def test_truncated_and_bit_flipped_files_are_refused(good, tmp_path, capsys):
    for kind, arrays, error in (("dataset", good[0], DatasetError), ("model", good[1], ModelError)):
        src = tmp_path / f"{kind}.npz"
        np.savez_compressed(src, **arrays)
        blob = src.read_bytes()
        load = fastgdml.Dataset.load if kind == "dataset" else fastgdml.Model.load
        rng = np.random.default_rng(0)
        cuts = sorted(set(rng.integers(0, len(blob), 25).tolist()) | {0, 1, 30, len(blob) - 1})
        for cut in cuts:  # truncated at many points, the zip directory included
            bad = tmp_path / f"cut{cut}.npz"
            bad.write_bytes(blob[:cut])
            with pytest.raises(error, match=r"not an \.npz archive|corrupt|truncated"):
                load(bad)
        flips = 0
        for pos in rng.integers(0, len(blob), 60):  # single bit flips anywhere: refused, or (rarely) harmless
            data = bytearray(blob)
            data[pos] ^= 1 << int(rng.integers(8))
            bad = tmp_path / "flip.npz"
            bad.write_bytes(bytes(data))
            try:
                load(bad)
            except error as exc:
                flips += 1
                assert str(bad) in str(exc)
        assert flips >= 30  # CRC checks catch flips in the data; flips in unused header bytes may pass
    (tmp_path / "text.npz").write_text("R,z,F\n1,2,3\n")
    info_fails_cleanly(tmp_path / "text.npz", capsys, r"not an \.npz archive")
    info_fails_cleanly(tmp_path / "missing.npz", capsys, r"no such file")
    info_fails_cleanly(tmp_path, capsys, r"is a directory")
    (tmp_path / "empty.npz").write_bytes(b"")
    info_fails_cleanly(tmp_path / "empty.npz", capsys, r"not an \.npz archive")


def test_absurd_sizes_are_refused_before_allocation(good, tmp_path, monkeypatch):
    # A header claiming 10^12 x 3 doubles with a few bytes of data: truncated, found before reading anything.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10 ** 12, 5, 3)})
    path = write_npz(tmp_path / "huge.npz", changed(good[0], R=header.getvalue() + b"\0" * 64))
    with pytest.raises(DatasetError, match=r"'R' is truncated or corrupt \(its header claims shape"):
        fastgdml.Dataset.load(path)
    # A member larger than memory allows (the limit lowered to 1000 bytes here): refused with the memory it
    # would need, before it is decompressed.
    path = write_npz(tmp_path / "big.npz", good[0])
    monkeypatch.setattr(fastgdml.io.npz, "file_budget", lambda: 1000)
    with pytest.raises(DatasetError, match=r"its arrays would need .*iB of memory, more than the"):
        fastgdml.Dataset.load(path)


# -- malicious pickles -----------------------------------------------------------------------------------
class _Payload:
    """Unpickling this calls os.system, which would create the marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _ExecPayload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


PICKLE_KEYS = ("f_err", "e_err", "md5_test")


@pytest.mark.parametrize("payload", [_Payload, _ExecPayload])
@pytest.mark.parametrize("key", PICKLE_KEYS)
def test_malicious_pickle_is_refused_and_runs_nothing(key, payload, good, tmp_path, capsys):
    marker = tmp_path / "pwned"
    evil = np.empty((), dtype=object)
    evil[()] = payload(str(marker))
    path = write_npz(tmp_path / "evil.npz", changed(good[1], **{key: npy_bytes(evil)}))
    with pytest.raises(ModelError, match=rf"{path}: key '{key}' holds a pickled object that is not one of the sGDML shapes"):
        fastgdml.Model.load(path)
    info_fails_cleanly(path, capsys, rf"key '{key}'.*refusing to load (posix|os|builtins)\.(system|exec)")
    assert not marker.exists()
    # In a subprocess too (a fresh interpreter with nothing imported before the load).
    code = f"import fastgdml\ntry:\n    fastgdml.Model.load({path!r})\nexcept ValueError as e:\n    print(e)\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "is not one of the sGDML shapes" in out.stdout and not marker.exists()


def test_object_keys_are_the_only_pickles_in_our_files(good, tmp_path):
    """A reader without pickle support reads every key of our model files except the sGDML format's object keys
    (f_err, e_err as dicts and md5_test = None, needed by the reference package's CLI)."""
    path = tmp_path / "m.npz"
    fastgdml.Model(good[1]).save(path)
    with np.load(path, allow_pickle=False) as f:
        pickled = set()
        for key in f.files:
            try:
                f[key]
            except ValueError:
                pickled.add(key)
    assert pickled == {"f_err", "e_err", "md5_test"}
    fastgdml.Dataset(good[0]["R"], good[0]["z"], good[0]["F"], E=good[0]["E"]).save(tmp_path / "d.npz")
    with np.load(tmp_path / "d.npz", allow_pickle=False) as f:
        [f[key] for key in f.files]


# -- command-line arguments ------------------------------------------------------------------------------
CLI_CASES = {
    "n-train zero": (["train", "{ds}", "--n-train", "0", "-o", "{out}"], r"--n-train: must be an integer >= 1"),
    "n-train too large": (["train", "{ds}", "--n-train", "1000", "-o", "{out}"], r"n_train must be between 1 and"),
    "n-train not a number": (["train", "{ds}", "--n-train", "ten", "-o", "{out}"], r"must be an integer, got 'ten'"),
    "sigma negative": (["train", "{ds}", "--n-train", "5", "--sigma", "-1", "-o", "{out}"],
                       r"--sigma: must be a finite number in \(0, inf\)"),
    "sigma nan": (["train", "{ds}", "--n-train", "5", "--sigma", "nan", "-o", "{out}"], r"--sigma: must be a finite"),
    "lam negative": (["train", "{ds}", "--n-train", "5", "--lam=-1e-3", "-o", "{out}"], r"--lam: must be"),
    "tol above one": (["train", "{ds}", "--n-train", "5", "--tol", "2", "-o", "{out}"], r"--tol: must be .* \(0, 1\)"),
    "n-valid negative": (["train", "{ds}", "--n-train", "5", "--n-valid", "-3", "-o", "{out}"], r"--n-valid: must be"),
    "n-valid too large": (["train", "{ds}", "--n-train", "20", "--sigma", "2", "--n-valid", "50", "-o", "{out}"],
                          r"n_valid must be between 0 and the 10"),
    "n-test negative": (["train", "{ds}", "--n-train", "5", "--n-test", "-1", "-o", "{out}"], r"--n-test: must be"),
    "max-memory zero": (["train", "{ds}", "--n-train", "5", "--max-memory", "0", "-o", "{out}"],
                        r"--max-memory: must be"),
    "max-memory too small": (["train", "{ds}", "--n-train", "20", "--sigma", "2", "--solver", "cholesky",
                              "--max-memory", "1e-6", "-o", "{out}"], r"needs .* GiB .* but only"),
    "seed negative": (["train", "{ds}", "--n-train", "5", "--seed", "-1", "-o", "{out}"], r"--seed: must be"),
    "inducing zero": (["train", "{ds}", "--n-train", "5", "--inducing", "0", "-o", "{out}"], r"--inducing: must be"),
    "checkpoint-interval negative": (["train", "{ds}", "--n-train", "5", "--checkpoint-interval", "-5", "-o",
                                      "{out}"], r"--checkpoint-interval: must be"),
    "test n-test zero": (["test", "{model}", "{ds}", "--n-test", "0"], r"--n-test: must be an integer >= 1"),
    "test other molecule": (["test", "{model}", "{other}"], r"atomic numbers|another molecule|5 atoms|4 atoms"),
    "learning-curve size zero": (["learning-curve", "{ds}", "--sizes", "0", "-o", "{out}"], r"--sizes: must be"),
}


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_arguments_out_of_range_end_in_one_clear_line(case, good, tmp_path, capsys):
    ds = tmp_path / "ds.npz"
    fastgdml.Dataset(good[0]["R"], good[0]["z"], good[0]["F"], E=good[0]["E"]).save(ds)
    model = tmp_path / "m.npz"
    fastgdml.Model(good[1]).save(model)
    other = tmp_path / "other.npz"
    R4, F4 = good[0]["R"][:, :4], good[0]["F"][:, :4]
    fastgdml.Dataset(R4, good[0]["z"][:4], F4).save(other)
    argv, pattern = CLI_CASES[case]
    argv = [a.format(ds=ds, model=model, other=other, out=tmp_path / "out.npz") for a in argv]
    try:
        code = cli_main(argv + (["-q"] if argv[0] == "train" else []))
    except SystemExit as exc:  # argparse: usage line + error, exit 2
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and re.search(pattern, err), err
    assert not (tmp_path / "out.npz").exists()


# -- prediction and training input -----------------------------------------------------------------------
def test_prediction_input_is_checked(good):
    model = fastgdml.Model(good[1])
    for R, pattern in ((np.zeros((2, 4, 3)), r"shape \(5, 3\) or \(M, 5, 3\)"), (np.zeros(7), r"shape"),
                       (np.full((5, 3), np.nan), r"NaN/Inf"), (np.array(["a"] * 15).reshape(5, 3), r"numbers"),
                       (np.zeros((0, 5, 3)), r"at least one geometry")):
        with pytest.raises(ValueError, match=pattern):
            model.predict(R)
    R = np.stack([make_toy(M=1, seed=9)[0][0]] * 3)
    R[2, 4] = R[2, 1]  # atoms 1 and 4 of the third geometry on one point: the descriptor is undefined
    with pytest.raises(ValueError, match=r"geometry 2: atoms 1 and 4 coincide"):
        model.predict(R)


def test_training_frame_with_coincident_atoms_is_named(good):
    d = good[0]
    R = d["R"].copy()
    R[3, 2] = R[3, 0]
    ds = fastgdml.Dataset(R, d["z"], d["F"], E=d["E"], source="bad.npz")
    with pytest.raises(ValueError, match=r"bad.npz: frame 3 has atoms 0 and 2 on the same point"):
        fastgdml.train(ds, 30, 1.2, perms=TOY_PERMS, n_valid=0)


def test_duplicate_training_geometries_are_reported_or_solved(good):
    """Duplicated frames make K singular (up to lambda); training must still give a finite model or a clear
    error, never garbage."""
    d = good[0]
    R = np.concatenate([d["R"][:10]] * 2)
    ds = fastgdml.Dataset(R, d["z"], np.concatenate([d["F"][:10]] * 2), E=np.concatenate([d["E"][:10]] * 2))
    for solver in ("cholesky", "cg"):
        model = fastgdml.train(ds, 20, 1.2, lam=1e-10, perms=TOY_PERMS, n_valid=0, solver=solver, tol=1e-6)
        E, F = model.predict(d["R"][:10])
        assert np.all(np.isfinite(E)) and np.abs(F - d["F"][:10]).max() < 1e-3 * np.abs(d["F"]).max()


def test_singular_kernel_matrix_ends_in_advice(good, tmp_path, capsys):
    """Without regularisation a wide kernel makes K numerically singular: a clear error with the fix."""
    d = good[0]
    ds = fastgdml.Dataset(d["R"], d["z"], d["F"], E=d["E"])
    with pytest.raises(RuntimeError, match=r"not positive definite; increase lambda"):
        fastgdml.train(ds, 25, 1e5, lam=0.0, perms=TOY_PERMS, n_valid=0, solver="cholesky")
    ds.save(tmp_path / "ds.npz")
    assert cli_main(["train", str(tmp_path / "ds.npz"), "--n-train", "25", "--sigma", "1e5", "--lam", "0",
                     "--solver", "cholesky", "-o", str(tmp_path / "m.npz"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "increase lambda" in err and "Traceback" not in err and not (tmp_path / "m.npz").exists()


def test_changing_atom_count_in_extxyz_names_the_frame(tmp_path):
    ase = pytest.importorskip("ase")
    import ase.io
    from ase.calculators.singlepoint import SinglePointCalculator

    images = []
    for n in (3, 3, 4):
        atoms = ase.Atoms("H" * n, positions=np.arange(3 * n, dtype=float).reshape(n, 3))
        atoms.calc = SinglePointCalculator(atoms, energy=1.0, forces=np.zeros((n, 3)))
        images.append(atoms)
    path = tmp_path / "t.extxyz"
    ase.io.write(path, images, format="extxyz")
    from fastgdml.ase_io import read_trajectory

    with pytest.raises(ValueError, match=r"t\.extxyz.*frame 2.*4 atoms.*3"):
        read_trajectory(str(path), e_unit="eV", r_unit="Ang")


SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")


@pytest.mark.skipif(not os.path.isdir(SHARED), reason="needs ../shared (the project's data; not in a clean clone)")
def test_every_shared_fixture_and_dataset_still_loads():
    """The safe loader reads every real file we know of: reference models, predictions, datasets."""
    loaded = 0
    for folder in ("fixtures", "data"):
        for name in sorted(os.listdir(os.path.join(SHARED, folder))):
            if not name.endswith(".npz"):
                continue
            path = os.path.join(SHARED, folder, name)
            arrays = fastgdml.io.npz.load_npz(path, object_keys=fastgdml.io.npz.MODEL_OBJECT_KEYS)
            kind = fastgdml.io.npz.as_str(arrays["type"]) if "type" in arrays else None
            if kind == "m":
                fastgdml.Model.load(path)
            elif kind == "d" or {"R", "z", "F"} <= set(arrays):
                fastgdml.Dataset.load(path)
            loaded += 1
    assert loaded >= 10


# -- the C++ core's own checks (what crosses the binding) ---------------------------------------------------
def _core_cases():
    from fastgdml import _core

    R = np.random.default_rng(0).standard_normal((4, 5, 3)) * 2
    ident = np.arange(5)[None]

    def op(perms=ident, mask=None, sigma=1.0, R=R):
        return _core.KernelOperator(R, perms, sigma, use_energy=False, mask=mask, lattice=None, cache_bytes=0)

    def iterative_with_columns(cols):
        o = _core.IterativeOptions()
        o.inducing, o.columns = len(cols), cols
        return _core.solve_iterative(op(), np.ones(60), np.zeros(60), o, None, None)

    return {
        "perms index out of range": lambda: op(perms=np.array([[0, 1, 2, 3, 9]])),
        "perms negative": lambda: op(perms=np.array([[0, 1, 2, 3, -1]])),
        "perms repeated atom": lambda: op(perms=np.array([[0, 1, 2, 3, 3]])),
        "mask out of range": lambda: op(mask=np.array([0, 50])),
        "kernel columns out of range": lambda: op().columns(np.array([0, 10 ** 6])),
        "kernel column negative": lambda: op().columns(np.array([-1])),
        "inducing columns out of range": lambda: _core.NystromPreconditioner(op(), 1e-6, np.array([0, 10 ** 6])),
        "inducing columns repeated": lambda: _core.NystromPreconditioner(op(), 1e-6, np.array([3, 3])),
        "resume columns out of range": lambda: iterative_with_columns([0, 10 ** 7]),
        "matvec length": lambda: op().matvec(np.ones(59)),
        "jacobian length": lambda: op().jacobian_rows(np.ones(7)),
        "assignment not square": lambda: _core.linear_assignment(np.ones((2, 3, 4))),
        "assignment NaN": lambda: _core.linear_assignment(np.full((1, 3, 3), np.nan)),
        "predictor perms": lambda: _core.Predictor(5, np.ones((2, 10)), np.ones((2, 10)), np.array([[0, 1, 2, 3, 7]]),
                                                   1.0, 1.0, 0.0),
        "predictor sigma NaN": lambda: _core.Predictor(5, np.ones((2, 10)), np.ones((2, 10)), ident, float("nan"), 1.0,
                                                       0.0),
        "predictor descriptor width": lambda: _core.Predictor(5, np.ones((2, 9)), np.ones((2, 9)), ident, 1.0, 1.0, 0.0),
        "kernel sigma zero": lambda: op(sigma=0.0),
        "no training geometry": lambda: op(R=np.zeros((0, 5, 3))),
        "closed form: labels of the wrong length": lambda: _core.solve_closed_form(op(), np.ones(59), 1e-6),
        "closed form: negative lambda": lambda: _core.solve_closed_form(op(), np.ones(60), -1.0),
        "closed form: NaN lambda": lambda: _core.solve_closed_form(op(), np.ones(60), float("nan")),
        "one atom": lambda: _core.descriptors(np.zeros((2, 1, 3))),
        "permutation maps": lambda: _core.permutation_maps(5, np.array([[0, 1, 2, 3, 5]])),
    }


CORE_CASES = sorted(_core_cases())


@pytest.mark.parametrize("case", CORE_CASES)
def test_core_refuses_malformed_input_with_a_python_exception(case):
    with pytest.raises((ValueError, RuntimeError)) as err:
        _core_cases()[case]()
    assert len(str(err.value)) > 10  # a message, not a bare code
