"""Files written here load in the public sgdml package and predict the same (skipped without sgdml)."""
import os

import numpy as np
import pytest

import fastgdml

from conftest import DATA

sgdml = pytest.importorskip("sgdml")
if not hasattr(np, "in1d"):  # sgdml 1.0.3 calls np.in1d, removed in NumPy 2.4 (fixtures README)
    np.in1d = lambda a, b, **kw: np.isin(np.ravel(a), b, **kw)
from sgdml.predict import GDMLPredict  # noqa: E402
from sgdml.utils.io import dataset_md5  # noqa: E402


@pytest.mark.parametrize("use_E_cstr", [False, True])
def test_our_model_predicts_identically_in_sgdml(tmp_path, use_E_cstr):
    train_set = fastgdml.Dataset.load(os.path.join(DATA, "ethanol_xtb_train200.npz"))
    perms = fastgdml.Model.load(os.path.join(DATA, "ethanol_sgdml_sym.npz")).perms
    model = fastgdml.train(train_set, 100, 20.0, perms=perms, use_E_cstr=use_E_cstr, seed=0, n_valid=50)
    path = tmp_path / "ours.npz"
    model.save(path)
    R = np.load(os.path.join(DATA, "ethanol_sgdml_sym_predictions.npz"))["R"][:30]
    E_ref, F_ref = GDMLPredict(np.load(path, allow_pickle=True), max_processes=1, use_torch=False).predict(
        R.reshape(len(R), -1))
    E, F = model.predict(R)
    assert np.abs(F - F_ref.reshape(F.shape)).max() <= 1e-7 * np.abs(F_ref).max()
    assert np.abs(E - E_ref).max() <= (1e-4 if use_E_cstr else 1e-6)


def test_dataset_md5_matches_sgdml(toy, tmp_path):
    path = tmp_path / "toy.npz"
    toy.save(path)
    assert dataset_md5(np.load(path)).decode() == toy.md5
