"""Compatibility with models made by the public sgdml 1.0.3 package (tests/data/README.md).

Tolerances from the fixtures' README: predicting the reference model file, forces 1e-7 relative (max|dF| /
max|F|), energies 1e-6 (GDML) / 1e-4 (E_cstr) kcal/mol; re-training the same task, forces 1e-7 (GDML) /
1e-6 (E_cstr) relative, energies 1e-5 / 1e-4 kcal/mol.
"""
import os

import numpy as np
import pytest

import fastgdml

from conftest import DATA

PREDICT_TOL = {"ethanol_sgdml_sym": (1e-7, 1e-6), "ethanol_sgdml_ecstr": (1e-7, 1e-4), "aspirin_sgdml_sym": (1e-7, 1e-6)}
TRAIN_TOL = {"ethanol_sgdml_sym": (1e-7, 1e-5), "ethanol_sgdml_ecstr": (1e-6, 1e-4)}


def _reference(name):
    ref = np.load(os.path.join(DATA, f"{name}_predictions.npz"))
    return ref["R"], ref["E_pred"].ravel(), ref["F_pred"].reshape(ref["R"].shape)


@pytest.mark.parametrize("name", sorted(PREDICT_TOL))
def test_reference_models_predict_identically(name):
    f_tol, e_tol = PREDICT_TOL[name]
    model = fastgdml.Model.load(os.path.join(DATA, f"{name}.npz"))
    R, E_ref, F_ref = _reference(name)
    E, F = model.predict(R)
    assert np.abs(F - F_ref).max() / np.abs(F_ref).max() <= f_tol
    assert np.abs(E - E_ref).max() <= e_tol


@pytest.mark.parametrize("name", sorted(TRAIN_TOL))
def test_training_the_reference_task_reproduces_reference_predictions(name):
    f_tol, e_tol = TRAIN_TOL[name]
    ref_model = fastgdml.Model.load(os.path.join(DATA, f"{name}.npz"))
    train_set = fastgdml.Dataset.load(os.path.join(DATA, "ethanol_xtb_train200.npz"))
    model = fastgdml.train(train_set, 200, ref_model.sigma, lam=1e-10, use_E_cstr=ref_model.use_E_cstr,
                           perms=ref_model.perms, idxs_train=np.arange(200), n_valid=0)
    R, E_ref, F_ref = _reference(name)
    E, F = model.predict(R)
    assert np.abs(F - F_ref).max() / np.abs(F_ref).max() <= f_tol
    assert np.abs(E - E_ref).max() <= e_tol
