"""The C ABI (c_api.h, libfastgdml): a C99 program (tests/c/fgdml_check.c) compiled here against the installed
header and library loads models (the reference-made fixtures and our own: energy constraints, a feature mask, a
periodic cell) and predicts them equal to Model.predict; concurrent predictions on one model from 4 threads equal
the batch; malformed and hostile files end in an error code and a message naming the file, never a crash."""
import os
import shutil
import struct
import subprocess
import zipfile

import numpy as np
import pytest

import fastgdml
from fastgdml.pruning.importance import feature_orbits

from conftest import DATA, TOY_PERMS, TOY_Z, make_toy

CC = shutil.which("cc") or shutil.which("gcc")
pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc/gcc) on PATH to build the C ABI's client")

ERR_ARGUMENT, ERR_FILE, ERR_MODEL, ERR_GEOMETRY = 1, 2, 3, 4


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    exe = str(tmp_path_factory.mktemp("c_api") / "fgdml_check")
    src = os.path.join(os.path.dirname(__file__), "c", "fgdml_check.c")
    lib = os.path.dirname(fastgdml.get_library())
    cmd = [CC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pthread", f"-I{fastgdml.get_include()}", src,
           f"-L{lib}", "-lfastgdml", f"-Wl,-rpath,{lib}", "-o", exe]
    built = subprocess.run(cmd, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return exe


def run(client, *args, timeout=120):
    return subprocess.run([client, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS="2"))


def predict_in_c(client, model_path, R, tmp_path):
    R = np.ascontiguousarray(R, dtype=np.float64)
    B, N = R.shape[:2]
    r_bin, out_bin = tmp_path / "R.bin", tmp_path / "out.bin"
    R.tofile(r_bin)
    done = run(client, model_path, r_bin, B, out_bin)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"threads 4 mismatches 0" in done.stdout
    out = np.fromfile(out_bin)
    return out[:B], out[B:B + B * N * 3].reshape(B, N, 3), out[B + B * N * 3:].reshape(B, 3, 3), done.stdout


def assert_same_predictions(model, path, R, client, tmp_path):
    E, F, W, _ = predict_in_c(client, path, R, tmp_path)
    E_ref, F_ref, S_ref = model.predict(R, strain=True)
    np.testing.assert_allclose(E, E_ref, rtol=1e-10, atol=0)
    np.testing.assert_allclose(F, F_ref, rtol=0, atol=1e-10 * np.abs(F_ref).max())
    np.testing.assert_allclose(W, -S_ref, rtol=0, atol=1e-10 * np.abs(S_ref).max())


@pytest.mark.parametrize("name", ["aspirin_sgdml_sym", "ethanol_sgdml_sym", "ethanol_sgdml_ecstr"])
def test_reference_fixtures_predict_as_in_python(name, client, tmp_path):
    path = os.path.join(DATA, f"{name}.npz")
    R = np.load(os.path.join(DATA, f"{name}_predictions.npz"))["R"][:12]
    model = fastgdml.Model.load(path)
    assert_same_predictions(model, path, R, client, tmp_path)
    loaded = run(client, path)
    assert loaded.returncode == 0
    assert loaded.stdout.split()[:5] == ["ok", str(model.n_atoms), "kcal/mol", "Ang", "0"]
    assert [int(v) for v in loaded.stdout.split()[6:]] == list(model.z)


def test_a_molecular_virial_is_the_sum_of_r_times_f(client, tmp_path):
    path = os.path.join(DATA, "aspirin_sgdml_sym.npz")
    R = np.load(os.path.join(DATA, "aspirin_sgdml_sym_predictions.npz"))["R"][:3]
    _, F, W, _ = predict_in_c(client, path, R, tmp_path)
    np.testing.assert_allclose(W, np.einsum("bia,bic->bac", R, F), atol=1e-9 * np.abs(W).max())


@pytest.fixture(scope="module")
def own_models(tmp_path_factory):
    """Models written by fastgdml: energy constraints with a feature mask (one orbit removed), and periodic."""
    where = tmp_path_factory.mktemp("own")
    R, E, F = make_toy(M=30, seed=11)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, r_unit="Ang", e_unit="eV")
    orbit = feature_orbits(TOY_PERMS, 5)
    mask = np.flatnonzero(orbit != orbit[0])
    masked = fastgdml.train(ds, 14, 1.2, perms=TOY_PERMS, use_E_cstr=True, mask=mask, n_valid=0)
    lattice = np.array([[4.0, 0.3, 0.0], [0.0, 4.5, 0.2], [0.1, 0.0, 5.0]])
    periodic = fastgdml.train(fastgdml.Dataset(R, TOY_Z, F, E=E, lattice=lattice), 12, 1.2, lam=1e-6, n_valid=0,
                              symmetries="none")
    paths = {}
    for name, m in (("masked", masked), ("periodic", periodic)):
        paths[name] = str(where / f"{name}.npz")
        m.save(paths[name])
    return paths, make_toy(M=6, seed=12)[0]


@pytest.mark.parametrize("name", ["masked", "periodic"])
def test_our_models_predict_as_in_python(name, own_models, client, tmp_path):
    paths, R = own_models
    model = fastgdml.Model.load(paths[name])
    assert_same_predictions(model, paths[name], R, client, tmp_path)
    header = run(client, paths[name]).stdout.split()
    assert header[2:5] == (["eV", "Ang", "0"] if name == "masked" else ["kcal/mol", "Ang", "1"])


# ---- malformed and hostile files ----------------------------------------------------------------------------

def rewrite(src, dst, change):
    """dst: src with change(arrays) applied to its numeric arrays, deflated like sgdml's files; the object
    (pickled) members are copied as they are, unread."""
    import io

    arrays = {}
    with np.load(src, allow_pickle=False) as z:
        for key in z.files:
            try:
                arrays[key] = z[key]
            except ValueError:  # an object array: left to the byte copy below
                pass
    before = {k: v for k, v in arrays.items()}
    change(arrays)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            key = item.filename[:-4]
            if key in before and key not in arrays:
                continue  # removed
            if key in arrays and arrays[key] is not before.get(key):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=True)
                zout.writestr(item.filename, buf.getvalue())
            else:
                zout.writestr(item.filename, zin.read(item.filename))
        for key in set(arrays) - {i.filename[:-4] for i in zin.infolist()}:  # added
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asanyarray(arrays[key]), allow_pickle=True)
            zout.writestr(key + ".npy", buf.getvalue())


def setitem(key, value):
    return lambda a: a.__setitem__(key, value(a) if callable(value) else value)


def nan_at(key, index):
    def change(a):
        x = a[key].astype(np.float64)
        x.flat[index] = np.nan
        a[key] = x
    return change


def split_an_orbit(a):
    """Drop one feature of an orbit of several (the rest of it kept): not closed under the permutations."""
    orbit = feature_orbits(a["perms"], len(a["z"]))
    sizes = np.bincount(orbit)
    drop = int(np.flatnonzero(sizes[orbit] > 1)[0])
    keep = np.delete(np.arange(len(orbit)), drop)
    a.update(feature_mask=keep, R_desc=a["R_desc"][keep], R_d_desc_alpha=a["R_d_desc_alpha"][:, keep])


MODEL_CASES = {
    "R_desc transposed": (setitem("R_desc", lambda a: a["R_desc"].T.copy()), "'R_desc'"),
    "R_d_desc_alpha short": (setitem("R_d_desc_alpha", lambda a: a["R_d_desc_alpha"][:-1]), "'R_d_desc_alpha'"),
    "NaN in R_d_desc_alpha": (nan_at("R_d_desc_alpha", 5), "NaN"),
    "NaN in R_desc": (nan_at("R_desc", 0), "NaN"),
    "no perms": (lambda a: a.pop("perms"), "'perms' is missing"),
    "perms not a group": (setitem("perms", lambda a: np.array([np.arange(21), np.r_[1, 0, 2:21], np.r_[0, 2, 1, 3:21]])),
                          "not closed"),
    "perms without identity": (setitem("perms", lambda a: a["perms"][1:2]), "identity"),
    "perms out of range": (setitem("perms", lambda a: a["perms"] + 1), "not a permutation"),
    "float perms": (setitem("perms", lambda a: a["perms"].astype(np.float64)), "integers"),
    "sigma zero": (setitem("sig", np.float64(0.0)), "'sig'"),
    "sigma huge": (setitem("sig", np.float64(1e300)), "'sig'"),
    "std negative": (setitem("std", np.float64(-1.0)), "'std'"),
    "c infinite": (setitem("c", np.float64(np.inf)), "'c'"),
    "lam negative": (setitem("lam", np.float64(-1e-3)), "'lam'"),
    "alphas_E short": (setitem("alphas_E", np.zeros(3)), "'alphas_E'"),
    "z one atom": (setitem("z", np.array([6])), "'z'"),
    "z strings": (setitem("z", np.array(["C"] * 21)), "integers"),
    "mask unsorted": (setitem("feature_mask", np.array([5, 3, 9])), "'feature_mask'"),
    "mask splits an orbit": (lambda a: split_an_orbit(a), "'feature_mask' does not fit"),
    "lattice singular": (setitem("lattice", np.zeros((3, 3))), "'lattice'"),
    "pickled R_desc": (setitem("R_desc", np.array([None, "payload"], dtype=object)), "pickle"),
    "empty training set": (setitem("R_desc", lambda a: a["R_desc"][:, :0]), "0 training points"),
    "complex R_desc": (setitem("R_desc", lambda a: a["R_desc"].astype(np.complex128)), "'R_desc'"),
}


@pytest.fixture(scope="module")
def fixture_model():
    return os.path.join(DATA, "aspirin_sgdml_sym.npz")


def assert_refused(done, code, path, pattern):
    assert done.returncode == 10 + code, (done.returncode, done.stdout, done.stderr)  # an error, not a signal
    assert done.stderr.startswith(f"error {code}: ") and str(path) in done.stderr, done.stderr
    assert pattern in done.stderr, done.stderr


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_inconsistent_models_are_refused_naming_the_key(case, fixture_model, client, tmp_path):
    change, pattern = MODEL_CASES[case]
    path = tmp_path / "bad.npz"
    rewrite(fixture_model, path, change)
    assert_refused(run(client, path), ERR_MODEL, path, pattern)
    with pytest.raises(ValueError):  # the Python loader refuses it too (ModelError, NpzError are ValueErrors)
        fastgdml.Model.load(str(path))


def test_the_pickled_keys_of_sgdml_files_are_never_read(fixture_model, client, tmp_path):
    """sGDML's object keys (f_err, e_err, ...) are pickles: replacing one by a payload that would run code when
    unpickled changes nothing, because the reader never decompresses it."""
    path = tmp_path / "payload.npz"
    payload = b"cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR."
    with zipfile.ZipFile(fixture_model) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "f_err.npy":
                data = data[:data.index(b"\n", 10) + 1] + payload
            dst.writestr(item, data)
    assert run(client, path).returncode == 0
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("what, code, pattern", [
    ("missing", ERR_FILE, "cannot open"), ("directory", ERR_MODEL, ""), ("empty", ERR_MODEL, "too short"),
    ("text", ERR_MODEL, "not a zip archive"), ("truncated half", ERR_MODEL, ""), ("truncated end", ERR_MODEL, ""),
    ("npy not npz", ERR_MODEL, "not a zip archive"),
])
def test_broken_files_are_refused(what, code, pattern, fixture_model, client, tmp_path):
    path = tmp_path / "broken.npz"
    data = open(fixture_model, "rb").read()
    if what == "directory":
        path.mkdir()
    elif what == "empty":
        path.write_bytes(b"")
    elif what == "text":
        path.write_text("not a model, just text " * 10)
    elif what == "truncated half":
        path.write_bytes(data[:len(data) // 2])
    elif what == "truncated end":
        path.write_bytes(data[:-30])
    elif what == "npy not npz":
        np.save(str(path) + ".npy", np.zeros(50))
        os.replace(str(path) + ".npy", path)
    assert_refused(run(client, path), code, path, pattern)


def test_bit_flips_never_crash(fixture_model, client, tmp_path):
    """200 files with one flipped bit each (stored and deflated copies): each loads (a flip in a key the reader
    never opens) or ends in an error code with a message; no signal, no hang. The CRC-32 of every member read
    catches flips in the data."""
    stored = tmp_path / "stored.npz"
    with zipfile.ZipFile(fixture_model) as zin, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))
    rng = np.random.default_rng(0)
    outcomes = {"ok": 0, "refused": 0}
    for source in (fixture_model, stored):
        data = bytearray(open(source, "rb").read())
        for i in range(100):
            flipped = bytearray(data)
            at = int(rng.integers(len(data)))
            flipped[at] ^= 1 << int(rng.integers(8))
            path = tmp_path / f"flip{i}.npz"
            path.write_bytes(bytes(flipped))
            done = run(client, path, timeout=60)
            assert done.returncode in (0, 10 + ERR_MODEL, 10 + ERR_FILE), (at, done.returncode, done.stderr)
            outcomes["ok" if done.returncode == 0 else "refused"] += 1
            if done.returncode:
                assert str(path) in done.stderr
    assert outcomes["refused"] > 100  # most flips land in arrays the reader checks


def test_bad_geometries_are_geometry_errors(fixture_model, client, tmp_path):
    R = np.load(os.path.join(DATA, "aspirin_sgdml_sym_predictions.npz"))["R"][:2].copy()
    R[1, 3] = R[1, 4]  # coincident atoms
    r_bin = tmp_path / "R.bin"
    R.tofile(r_bin)
    done = run(client, fixture_model, r_bin, 2, tmp_path / "out.bin")
    assert done.returncode == 10 + ERR_GEOMETRY and "geometry 1: atoms" in done.stderr, done.stderr
    R[1] = np.nan
    R.tofile(r_bin)
    done = run(client, fixture_model, r_bin, 2, tmp_path / "out.bin")
    assert done.returncode == 10 + ERR_GEOMETRY and "NaN" in done.stderr, done.stderr


def test_the_unit_table_is_the_python_one(client):
    from fastgdml.units import energy_units, length_units

    for kind, table in (("energy", energy_units()), ("length", length_units())):
        for label, value in table.items():
            for spelling in (label, label.upper()):
                done = run(client, "--unit", kind, spelling)
                assert done.returncode == 0 and float(done.stdout) == value, (kind, spelling, done.stdout)
    done = run(client, "--unit", "energy", "furlong")
    assert done.returncode == 10 + ERR_ARGUMENT and "unknown energy unit 'furlong'" in done.stderr


def test_installation_paths_are_reported(capsys):
    from fastgdml.cli import main

    assert os.path.isfile(os.path.join(fastgdml.get_include(), "fastgdml", "c_api.h"))
    assert os.path.isfile(fastgdml.get_library())
    assert main(["config", "--include"]) == 0 and capsys.readouterr().out.strip() == fastgdml.get_include()
    assert main(["config", "--libs"]) == 0
    assert capsys.readouterr().out.strip().split()[:2] == [f"-L{os.path.dirname(fastgdml.get_library())}",
                                                          "-lfastgdml"]
