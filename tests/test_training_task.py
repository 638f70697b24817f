"""train() as a TrainingTask and SolverOptions: the keyword entry and train_task agree, both validate, the model
is built once and its integration constant is the GDML one."""
import dataclasses
import warnings

import numpy as np
import pytest

import fastgdml
from fastgdml import SolverOptions, TrainingTask, train_task
from fastgdml.training import fit

from conftest import TOY_PERMS


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_train_is_train_task_of_the_sampled_task(toy, solver):
    kw = dict(lam=1e-6, perms=TOY_PERMS, seed=3, n_valid=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the toy's small-data energy diagnostics
        model = fastgdml.train(toy, 20, 1.2, solver=solver, tol=1e-8, **kw)
        task = TrainingTask.sample(toy, 20, 1.2, **kw)
        again = train_task(task, SolverOptions(kind=solver, tol=1e-8, seed=3))
    for key in ("idxs_train", "idxs_valid", "perms", "md5_train", "md5_valid", "sig", "lam", "std"):
        np.testing.assert_array_equal(again.arrays[key], model.arrays[key], err_msg=key)
    scale = np.abs(model.arrays["alphas_F"]).max()
    assert np.abs(again.arrays["alphas_F"] - model.arrays["alphas_F"]).max() <= 1e-6 * scale
    assert again.arrays["f_err"].item()["rmse"] == pytest.approx(model.arrays["f_err"].item()["rmse"], rel=1e-6)
    assert again.c == pytest.approx(model.c, rel=1e-9, abs=1e-9)


def test_model_is_built_once_with_the_gdml_integration_constant(toy, monkeypatch):
    built = []

    def counting_model(arrays, *args, **kw):
        built.append(float(arrays["c"]))
        return fastgdml.Model(arrays, *args, **kw)

    monkeypatch.setattr(fit, "Model", counting_model)
    idx = np.arange(0, 40, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = train_task(TrainingTask(toy, idx, sigma=1.2, lam=1e-6, perms=TOY_PERMS))
    assert built == [0.0]  # one Model, built before its constant is known
    # c = mean(E_train - E_pred(c = 0)): the model's training energies are unbiased
    E, _ = model.predict(toy.R[idx])
    assert abs(np.mean(toy.E[idx] - E)) <= 1e-9 * max(1.0, np.abs(toy.E[idx]).max())
    assert float(model.arrays["c"]) == model.c != 0.0


def test_task_defaults_and_derived_sizes(toy):
    task = TrainingTask(toy, [3, 1, 2])
    assert task.idxs_train.dtype == np.int64 and task.idxs_train.tolist() == [3, 1, 2]
    assert task.perms.shape == (1, toy.n_atoms) and task.idxs_valid.size == 0  # no dataset perms: identity
    assert task.n_train == 3 and task.n_unknowns == 3 * 3 * toy.n_atoms
    assert TrainingTask(toy, [0, 1], use_E_cstr=True).n_unknowns == 2 * 3 * toy.n_atoms + 2
    assert task.validation_dataset is toy and task.same_dataset
    with pytest.raises(dataclasses.FrozenInstanceError):
        task.sigma = 3.0


@pytest.mark.parametrize("kw, error, pattern", [
    (dict(idxs_train=[0, 0]), ValueError, r"idxs_train must be distinct indices in \[0, 40\)"),
    (dict(idxs_train=[40]), ValueError, r"idxs_train must be distinct"),
    (dict(idxs_train=[]), ValueError, r"idxs_train must be distinct"),
    (dict(idxs_valid=[1, 5]), ValueError, "must not hold training frames"),
    (dict(idxs_valid=[5, 5]), ValueError, "idxs_valid must be distinct"),
    (dict(sigma=0.0), ValueError, "sigma must be a positive number"),
    (dict(sigma=1e12), ValueError, "outside"),
    (dict(lam=-1.0), ValueError, "lam must be >= 0"),
    (dict(use_E=False, use_E_cstr=True), ValueError, "use_E_cstr=True needs use_E=True"),
    (dict(perms=[[1, 0, 2, 3, 4]]), ValueError, "identity"),
])
def test_task_is_validated_when_built(toy, kw, error, pattern):
    args = dict(idxs_train=[0, 1, 2])
    args.update(kw)
    with pytest.raises(error, match=pattern):
        TrainingTask(toy, **args)


def test_task_refuses_missing_energies_and_other_molecules(toy):
    no_E = fastgdml.Dataset(toy.R, toy.z, toy.F)
    with pytest.raises(ValueError, match="no energies"):
        TrainingTask(no_E, [0, 1])
    assert TrainingTask(no_E, [0, 1], use_E=False).use_E is False
    other = fastgdml.Dataset(toy.R[:, :4], toy.z[:4], toy.F[:, :4], E=toy.E)
    with pytest.raises(ValueError, match="another molecule"):
        TrainingTask(toy, [0, 1], valid_dataset=other, idxs_valid=[0])
    with pytest.raises(TypeError, match="fastgdml.Dataset"):
        TrainingTask({"R": toy.R}, [0, 1])


@pytest.mark.parametrize("kw, pattern", [
    (dict(kind="lu"), "solver must be 'auto', 'cholesky' or 'cg'"),
    (dict(kind="cholesky", resume="x.ckpt.npz"), "resume continues an iterative"),
    (dict(tol=1.0), r"tol must be in \(0, 1\)"),
    (dict(tol=float("nan")), r"tol must be in \(0, 1\)"),
])
def test_solver_options_are_validated_when_built(kw, pattern):
    with pytest.raises(ValueError, match=pattern):
        SolverOptions(**kw)


def test_cholesky_beyond_the_budget_is_a_memory_error(toy):
    with pytest.raises(MemoryError, match="GiB"):
        train_task(TrainingTask(toy, np.arange(20)), SolverOptions(kind="cholesky", max_memory=1000))
