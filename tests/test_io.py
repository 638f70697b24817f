"""Dataset and model files: formats, fingerprints, round trips, and every bad-input path."""
import hashlib
import os
import pickle

import numpy as np
import pytest

import fastgdml
from fastgdml import DatasetError, ModelError

from conftest import DATA, TOY_PERMS


def independent_md5(d):
    outer = hashlib.md5()
    for k in ("z", "R", "E", "F"):
        if k in d:
            outer.update(hashlib.md5(np.ascontiguousarray(d[k]).ravel().tobytes()).digest())
    return outer.hexdigest()


def test_dataset_round_trip_and_md5(toy, tmp_path):
    path = tmp_path / "toy.npz"
    toy.save(path)
    raw = np.load(path)
    assert raw["type"] == "d" and raw["md5"].dtype == np.dtype("S32")
    assert raw["md5"].item().decode() == independent_md5(raw) == toy.md5
    back = fastgdml.Dataset.load(path)
    np.testing.assert_array_equal(back.R, toy.R)
    np.testing.assert_array_equal(back.E, toy.E)
    assert back.md5 == toy.md5 and back.name == "toy" and back.e_unit == "kcal/mol"
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_md5_follows_stored_arrays(data_dir):
    d = np.load(os.path.join(DATA, "ethanol_xtb_train200.npz"))
    ds = fastgdml.Dataset.load(os.path.join(DATA, "ethanol_xtb_train200.npz"))
    assert ds.md5 == independent_md5(d)  # E stored as (M, 1): same bytes as (M,)
    assert ds.E.shape == (200,)


def write(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("change, message", [
    (dict(R=None), "missing key"),
    (dict(F=None), "missing key"),
    (dict(z=None), "missing key"),
    (dict(type="m"), "model"),
    (dict(R=np.zeros((4, 5, 2))), "'R' must have shape"),
    (dict(F=np.zeros((3, 5, 3))), "'F' has 3 frames"),
    (dict(z=np.array([6, 1, 1, 1])), "'R' must have shape \\(M, 4, 3\\)"),
    (dict(z=np.array([6.5, 1, 1, 1, 8])), "integer atomic numbers"),
    (dict(z=np.array([0, 1, 1, 1, 8])), "1..118"),
    (dict(E=np.zeros(3)), "'E' must have shape"),
    (dict(R="nan"), "NaN/Inf"),
    (dict(F="inf"), "NaN/Inf"),
    (dict(E="nan"), "NaN/Inf"),
    (dict(perms=np.array([[0, 1, 2, 3, 3]])), "not a permutation"),
])
def test_bad_datasets_give_clear_errors(toy, tmp_path, change, message):
    arrays = dict(type="d", R=toy.R[:4], z=toy.z, F=toy.F[:4], E=toy.E[:4])
    for k, v in change.items():
        if v is None:
            del arrays[k]
        elif isinstance(v, str) and k != "type":
            arrays[k] = arrays[k].copy()
            arrays[k].flat[1] = float(v)
        else:
            arrays[k] = v
    path = write(tmp_path, **arrays)
    with pytest.raises(DatasetError, match=message) as info:
        fastgdml.Dataset.load(path)
    assert str(path) in str(info.value)


def test_not_an_npz(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(DatasetError, match="not an .npz"):
        fastgdml.Dataset.load(path)
    with pytest.raises(ModelError, match="not an .npz"):
        fastgdml.Model.load(path)
    with pytest.raises(FileNotFoundError, match="no such file"):
        fastgdml.Dataset.load(tmp_path / "missing.npz")


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_pickled_code_in_model_file_is_refused(tmp_path):
    arrays = dict(np.load(os.path.join(DATA, "ethanol_sgdml_sym.npz"), allow_pickle=True))
    arrays["f_err"] = np.array(_Exploit(), dtype=object)
    path = tmp_path / "evil.npz"
    np.savez(path, **arrays)
    with pytest.raises(ModelError, match="is not one of the sGDML shapes"):
        fastgdml.Model.load(path)


def test_model_round_trip_keeps_predictions_and_keys(tmp_path):
    src = os.path.join(DATA, "ethanol_sgdml_ecstr.npz")
    model = fastgdml.Model.load(src)
    path = tmp_path / "m.npz"
    model.save(path)
    back = fastgdml.Model.load(path)
    ref = dict(np.load(src, allow_pickle=True))
    saved = dict(np.load(path, allow_pickle=True))
    assert set(ref) <= set(saved)
    np.testing.assert_array_equal(saved["tril_perms_lin"], ref["tril_perms_lin"])
    assert saved["f_err"].item() == ref["f_err"].item()
    for key in ("R_desc", "R_d_desc_alpha", "alphas_E", "perms", "sig", "std", "c"):  # stored bit for bit
        np.testing.assert_array_equal(saved[key], ref[key], err_msg=key)
    # predictions are floating point sums (their order may follow the threads): the same to rounding
    R = np.load(os.path.join(DATA, "ethanol_sgdml_ecstr_predictions.npz"))["R"][:5]
    F = model.predict(R)[1]
    np.testing.assert_allclose(back.predict(R)[1], F, rtol=0, atol=1e-12 * np.abs(F).max())


def test_bad_models_give_clear_errors(tmp_path):
    base = dict(np.load(os.path.join(DATA, "ethanol_sgdml_sym.npz"), allow_pickle=True))
    cases = [({"R_desc": None}, "missing key"), ({"type": np.array("d")}, "not a model"),
             ({"R_d_desc_alpha": np.zeros((3, 36))}, "R_d_desc_alpha"), ({"R_desc": np.zeros((35, 200))}, "R_desc"),
             ({"perms": np.array([[1, 0, 2, 3, 4, 5, 6, 7, 8]])}, "identity"), ({"sig": np.float64(-1)}, "sig"),
             ({"alphas_E": np.zeros(3)}, "alphas_E")]
    for change, message in cases:
        arrays = dict(base)
        for k, v in change.items():
            if v is None:
                del arrays[k]
            else:
                arrays[k] = v
        path = tmp_path / "bad_model.npz"
        np.savez(path, **arrays)
        with pytest.raises(ModelError, match=message):
            fastgdml.Model.load(path)


def test_failed_save_leaves_existing_file_intact(tmp_path, monkeypatch):
    model = fastgdml.Model.load(os.path.join(DATA, "ethanol_sgdml_sym.npz"))
    path = tmp_path / "m.npz"
    model.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez_compressed", boom)
    with pytest.raises(KeyboardInterrupt):
        model.save(path)
    assert path.read_bytes() == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp")]


def test_dataset_perms_are_validated_as_group(toy, tmp_path):
    ds = fastgdml.Dataset(toy.R, toy.z, toy.F, E=toy.E, perms=TOY_PERMS[::-1])
    assert (ds.perms[0] == np.arange(5)).all()
    with pytest.raises(DatasetError, match="group"):
        fastgdml.Dataset(toy.R, toy.z, toy.F, perms=TOY_PERMS[:2])


def test_subset_and_merge_keep_md5_consistent(toy):
    from fastgdml.dataset import DatasetError, dataset_md5

    a, b = toy.subset(np.arange(10)), toy.subset(np.arange(10, len(toy)))
    assert a.md5 == dataset_md5(a.z, a.R, a.E, a.F) != toy.md5
    merged = a.merge(b)
    assert merged.md5 == toy.md5 and len(merged) == len(toy)
    np.testing.assert_array_equal(merged.F, toy.F)
    other = fastgdml.Dataset(toy.R[:, :4], toy.z[:4], toy.F[:, :4], E=toy.E)
    with pytest.raises(DatasetError, match="atomic numbers"):
        a.merge(other)
    no_e = fastgdml.Dataset(toy.R, toy.z, toy.F)
    with pytest.raises(DatasetError, match="energies"):
        a.merge(no_e)
