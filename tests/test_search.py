"""Sigma search against a dense sigma grid on a small rotor molecule with Morse labels."""
import numpy as np
import pytest

import fastgdml
from fastgdml.metrics import prediction_errors
from fastgdml.search import search_sigma
from fastgdml.training.sigma_search import selection_score

from test_permutations import rotor_dataset


@pytest.fixture(scope="module")
def data():
    return rotor_dataset(count=120, seed=7)


def test_search_reaches_the_grid_optimum_with_half_the_trainings(data):
    model, scan = search_sigma(data, 40, sigma0=5.0, n_valid=60, symmetries="none", select="forces")
    grid = np.geomspace(0.5, 50, 26)
    errors = [prediction_errors(fastgdml.train(data, 40, s, idxs_train=model.idxs_train, n_valid=0, validate=False,
                                               symmetries="none"), data, model.idxs_valid)["f_rmse"] for s in grid]
    g = grid[int(np.argmin(errors))]
    step = grid[1] / grid[0]
    assert g / step <= scan.best <= g * step, (scan.best, g)
    assert scan.trainings <= len(grid) // 2
    assert model.sigma == scan.best and not scan.at_limit
    assert model.arrays["f_err"].item()["rmse"] == pytest.approx(min(e["f_rmse"] for e in scan.errors))
    assert len(model.idxs_valid) == 60 and not set(model.idxs_valid) & set(model.idxs_train)
    assert "<- best" in scan.table()


def test_best_sigma_at_the_limit_warns(data):
    with pytest.warns(RuntimeWarning, match="limit"):
        _, scan = search_sigma(data, 40, sigma0=2.0, lo=1.0, hi=4.0, n_valid=60, symmetries="none")
    assert scan.at_limit and scan.best == 4.0
    with pytest.raises(ValueError, match="sigma0"):
        search_sigma(data, 40, sigma0=10.0, hi=4.0)


def test_cg_search_solves_the_chosen_sigma_to_the_final_tolerance(data):
    kw = dict(sigma0=5.0, n_valid=60, symmetries="none", solver="cg", inducing=60, lam=1e-6)
    model, scan = search_sigma(data, 40, tol=1e-8, search_tol=1e-3, **kw)
    exact, exact_scan = search_sigma(data, 40, tol=1e-8, search_tol=1e-8, warm_start=False, **kw)
    assert model.sigma == scan.best
    # the looser search may stop at another sigma of the flat optimum, but not at a worse model
    assert model.arrays["f_err"].item()["rmse"] <= 1.05 * exact.arrays["f_err"].item()["rmse"]
    assert float(model.arrays["solver_tol"]) == 1e-8 and model.converged
    ref = fastgdml.train(data, 40, scan.best, idxs_train=model.idxs_train, perms=model.perms, n_valid=0,
                         validate=False, solver="cholesky", lam=1e-6)
    F_ref = ref.predict(data.R[model.idxs_valid])[1]
    assert np.abs(model.predict(data.R[model.idxs_valid])[1] - F_ref).max() <= 1e-5 * np.abs(F_ref).max()
    assert model.arrays["f_err"].item()["rmse"] == pytest.approx(prediction_errors(ref, data, model.idxs_valid)["f_rmse"],
                                                                  rel=1e-5)


def test_lambda_search_keeps_the_best_lambda_at_the_chosen_sigma(data):
    # a poor given lambda (over-regularised) and better candidates: the search must move away from it
    # (on forces: with the combined default this rotor's energies prefer the large lambda)
    model, scan = search_sigma(data, 40, sigma0=5.0, n_valid=60, symmetries="none", lam=1e-2, lams=[1e-10, 1e-6],
                               select="forces")
    assert [lam for lam, _ in scan.lambdas] == [1e-10, 1e-6, 1e-2]
    best = min(scan.lambdas, key=lambda t: selection_score(t[1], scan.select))
    assert scan.best_lambda == best[0] == float(model.arrays["lam"]) < 1e-2 and model.sigma == scan.best
    assert model.arrays["f_err"].item()["rmse"] == pytest.approx(best[1]["f_rmse"])
    assert best[1]["f_rmse"] < scan.lambdas[-1][1]["f_rmse"]
    assert "lambda" in scan.table()


def test_symmetry_search_runs_once_per_sigma_search(data, monkeypatch):
    import fastgdml.training.task as task_module

    calls = []
    real = task_module.find_permutations
    monkeypatch.setattr(task_module, "find_permutations", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    model, scan = search_sigma(data, 40, sigma0=5.0, n_valid=60, perms=None)  # perms=None as the CLI passes it
    assert scan.trainings >= 5 and len(calls) == 1 and len(model.perms) == 3


def test_subset_search_trains_the_scaled_sigma_on_the_whole_training_set():
    from fastgdml.training.sigma_search import scaled_sigma

    data = rotor_dataset(count=150, seed=8)
    model, scan = search_sigma(data, 100, sigma0=5.0, n_valid=40, symmetries="none")
    assert scan.scaled and scan.n_search == 50 and len(model.idxs_train) == 100
    assert model.sigma == scan.best == scaled_sigma(scan.search_best, 50, 100)
    # the model is the plain training of that sigma on the task's indices, validated on the search's frames
    ref = fastgdml.train(data, 100, scan.best, idxs_train=model.idxs_train, perms=model.perms, n_valid=0,
                         validate=False)
    assert np.allclose(model.predict(data.R[:5])[1], ref.predict(data.R[:5])[1], rtol=1e-9, atol=1e-12)
    err = prediction_errors(ref, data, model.idxs_valid)
    assert model.arrays["f_err"].item()["rmse"] == pytest.approx(err["f_rmse"], rel=1e-9)
    assert scan.final_errors["f_rmse"] == pytest.approx(err["f_rmse"], rel=1e-9)
    assert len(model.idxs_valid) == 40 and not set(model.idxs_valid) & set(model.idxs_train)


def test_default_start_is_a_multiple_of_the_median_descriptor_distance(data):
    from fastgdml import _core
    from fastgdml.training.sigma_search import START_FACTOR, start_sigma

    model, scan = search_sigma(data, 40, n_valid=60, symmetries="none")
    X = _core.descriptors(np.ascontiguousarray(data.R[model.idxs_train]))[0]
    d = [np.linalg.norm(X[i] - X[j]) for i in range(len(X)) for j in range(i)]
    assert scan.sigmas[0] == start_sigma(data, model.idxs_train) == pytest.approx(START_FACTOR * np.median(d),
                                                                                  rel=2e-3)
