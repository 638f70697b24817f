"""The sigma-selection criterion (issue 18, item 1): the pure selection on made-up validation tables, and the search
loop driven by a synthetic error surface instead of trainings."""
import math

import numpy as np
import pytest

from fastgdml.training import sigma_search
from fastgdml.training.sigma_search import (remaining_trainings, resolve_select, search_sigma, select_best,
                                            selection_score)

NAN = float("nan")


def table(f, e):
    return [{"f_rmse": a, "e_rmse": b, "f_mae": a, "e_mae": b} for a, b in zip(f, e)]


def test_each_criterion_picks_its_own_optimum():
    # the case: 1.5% better forces at sigma 28.8 for 50% worse energies than at sigma 10
    sigmas = [5.0, 10.0, 28.8, 60.0]
    errors = table([1.20, 1.015, 1.0, 1.1], [0.40, 0.36, 0.54, 0.9])
    assert select_best(sigmas, errors, "forces") == (2, "forces")
    assert select_best(sigmas, errors, "energies") == (1, "energies")
    assert select_best(sigmas, errors, "combined") == (1, "combined")
    # combined = the lowest product of the two errors, computed here directly
    assert sigmas[select_best(sigmas, errors)[0]] == sigmas[int(np.argmin([x["f_rmse"] * x["e_rmse"]
                                                                           for x in errors]))]


def test_combined_choice_does_not_depend_on_units_or_scale():
    rng = np.random.default_rng(3)
    for _ in range(20):
        sigmas = list(np.sort(rng.uniform(1, 100, 7)))
        f, e = rng.uniform(0.5, 2, 7), rng.uniform(0.1, 1, 7)
        best = select_best(sigmas, table(f, e))[0]
        # kcal/mol -> kJ/mol and a different length unit rescale each error by a constant
        assert select_best(sigmas, table(4.184 * f / 0.529, 4.184 * e))[0] == best


def test_ties_go_to_lower_force_error_then_larger_sigma():
    # equal products: the lower force RMSE wins
    sigmas = [10.0, 20.0]
    assert select_best(sigmas, table([1.0, 2.0], [0.5, 0.25]), "combined")[0] == 0
    assert select_best(sigmas, table([2.0, 1.0], [0.25, 0.5]), "combined")[0] == 1
    # identical errors: the larger sigma, for every criterion and in any order of the table
    for select in ("forces", "energies", "combined"):
        assert select_best([30.0, 10.0, 20.0], table([1.0] * 3, [0.5] * 3), select)[0] == 0
        assert select_best([10.0, 30.0, 20.0], table([1.0] * 3, [0.5] * 3), select)[0] == 1
    # equal energy errors with select="energies": the lower force error decides before sigma
    assert select_best([10.0, 20.0], table([1.0, 1.1], [0.5, 0.5]), "energies")[0] == 0
    # an exact zero error is the best possible combined score, not a log error
    assert selection_score({"f_rmse": 0.0, "e_rmse": 0.3}, "combined") == -math.inf


def test_missing_energies_fall_back_to_forces_or_refuse():
    sigmas = [10.0, 20.0, 40.0]
    no_E = table([1.2, 1.0, 1.1], [NAN] * 3)
    assert select_best(sigmas, no_E, "combined") == (1, "forces")
    assert select_best(sigmas, no_E, "forces") == (1, "forces")
    with pytest.raises(ValueError, match="needs energies"):
        select_best(sigmas, no_E, "energies")
    # one missing energy counts as missing energies
    partial = table([1.2, 1.0, 1.1], [0.3, NAN, 0.1])
    assert select_best(sigmas, partial, "combined") == (1, "forces")
    used, note = resolve_select("combined", energies=False)
    assert used == "forces" and "force RMSE alone" in note
    assert resolve_select("combined", energies=True) == ("combined", "")
    with pytest.raises(ValueError, match="select must be one of"):
        resolve_select("both", energies=True)
    with pytest.raises(ValueError, match="one error dict per sigma"):
        select_best([], [], "forces")


def test_remaining_trainings_counts_golden_steps():
    assert remaining_trainings(math.log(1.15), 1.15) == 0
    # each golden step leaves about 0.618 of the bracket
    w = math.log(4.0)
    n = remaining_trainings(w, 1.15)
    assert w * 0.618 ** n <= math.log(1.15) < w * 0.618 ** (n - 1)


class _FakeModel:
    """What search_sigma reads of a trained model."""

    def __init__(self, sigma):
        self.sigma = sigma
        self.idxs_train, self.idxs_valid, self.perms = np.arange(5), np.arange(5, 10), np.arange(3)[None]
        self.arrays = {"md5_valid": "x", "solver_name": "analytic", "lam": 1e-10}


class _FakeData:
    def __init__(self, energies=True, size=10):
        self.E = np.linspace(0.0, 1.0, size) if energies else None
        self.e_unit, self.r_unit, self.md5 = "kcal/mol", "Ang", "x"

    def __len__(self):
        return len(self.E) if self.E is not None else 10


class _FakeTask:
    """What search_sigma reads of TrainingTask.sample: the first n frames train, the next five validate."""

    @classmethod
    def sample(cls, dataset, n_train, **kw):
        task = cls()
        task.idxs_train, task.idxs_valid, task.perms = np.arange(n_train), np.arange(n_train, n_train + 5), None
        return task


def synthetic_search(monkeypatch, select, energies=True, n_train=5, sizes=None, **kw):
    """search_sigma with trainings replaced by a smooth error surface: force RMSE lowest at sigma 30, energy RMSE
    lowest at sigma 8 (energies far more sensitive, as measured on ethanol and aspirin). ``sizes``: a list that
    receives the training-set size of every training."""
    def f_rmse(s):
        return 1.0 + 0.02 * math.log(s / 30.0) ** 2

    def e_rmse(s):
        return 0.3 * (1.0 + 0.3 * math.log(s / 8.0) ** 2) if energies else NAN

    trained = []
    sizes = [] if sizes is None else sizes

    def fake_train(ds, n, s, idxs_train=None, **kw):
        assert idxs_train is not None and len(idxs_train) == n
        sizes.append(n)
        trained.append(s)
        return _FakeModel(s)

    monkeypatch.setattr(sigma_search, "train", fake_train)
    monkeypatch.setattr(sigma_search, "TrainingTask", _FakeTask)
    monkeypatch.setattr(sigma_search, "prediction_errors",
                        lambda m, ds, idxs: {"f_rmse": f_rmse(m.sigma), "e_rmse": e_rmse(m.sigma),
                                             "f_mae": f_rmse(m.sigma), "e_mae": e_rmse(m.sigma)})
    monkeypatch.setattr(sigma_search, "with_validation", lambda m, *args: m)
    kw.setdefault("sigma0", 20.0)
    model, scan = search_sigma(_FakeData(energies, size=n_train + 5), n_train, select=select, symmetries="none",
                               **kw)
    return model, scan, trained, f_rmse, e_rmse


@pytest.mark.parametrize("select", ["forces", "energies", "combined"])
def test_search_finds_the_optimum_of_its_criterion(monkeypatch, select):
    model, scan, trained, f_rmse, e_rmse = synthetic_search(monkeypatch, select)
    grid = np.geomspace(0.5, 5000, 20001)
    score = {"forces": lambda s: f_rmse(s), "energies": lambda s: e_rmse(s),
             "combined": lambda s: math.log(f_rmse(s)) + math.log(e_rmse(s))}[select]
    want = grid[int(np.argmin([score(s) for s in grid]))]
    # the search stops at a bracket of width rtol = 1.15 around its best sigma
    assert want / 1.15 <= scan.best <= want * 1.15, (scan.best, want)
    assert model.sigma == scan.best and scan.select == select and scan.select_note == ""
    assert len(set(trained)) == scan.trainings <= 12
    text = scan.table()
    assert f"<- best ({select})" in text and "(kcal/mol/Å)" in text and "(kcal/mol)" in text
    assert f"lowest F RMSE at sigma {scan.lowest('f_rmse'):.4g}" in text


def test_search_without_energies_uses_forces_and_says_so(monkeypatch, capsys):
    _, scan, _, _, _ = synthetic_search(monkeypatch, "combined", energies=False)
    assert scan.select == "forces" and "no validation energies" in scan.select_note
    assert 30 / 1.15 <= scan.best <= 30 * 1.15
    assert "no validation energies" in scan.table()
    with pytest.raises(ValueError, match="needs energies"):
        synthetic_search(monkeypatch, "energies", energies=False)


def test_search_size_defaults_and_limits():
    from fastgdml.training.sigma_search import search_size

    # all below 100; a quarter within [50, 250] above
    assert [search_size(n) for n in (1, 40, 99, 100, 200, 400, 1000, 5000)] == [1, 40, 99, 50, 50, 100, 250, 250]
    assert search_size(200, 200) == 200 and search_size(200, 7) == 7
    for bad in (0, 201):
        with pytest.raises(ValueError, match="search_n_train"):
            search_size(200, bad)


def test_search_subset_is_spread_over_the_energies():
    from fastgdml.training.sigma_search import search_subset

    rng = np.random.default_rng(3)
    data = _FakeData(size=300)
    data.E = rng.standard_normal(300)
    idxs = rng.choice(300, 120, replace=False)
    sub = search_subset(data, idxs, 30)
    assert len(sub) == len(set(sub)) == 30 and set(sub) <= set(idxs) and np.all(np.diff(sub) > 0)
    E, Es = np.sort(data.E[idxs]), np.sort(data.E[sub])
    assert Es[0] == E[0] and Es[-1] == E[-1]  # both ends of the energy range
    # evenly spread: every quarter of the training energies holds a quarter of the subset (to one frame)
    counts = np.histogram(Es, bins=np.quantile(E, [0, 0.25, 0.5, 0.75, 1.0]))[0]
    assert np.all(np.abs(counts - 7.5) <= 1.5), counts
    assert np.array_equal(search_subset(data, idxs, 120), idxs)


def test_subset_search_scales_sigma_and_trains_once_at_full_size(monkeypatch):
    from fastgdml.training.sigma_search import SIGMA_EXPONENT, scaled_sigma

    sizes = []
    model, scan, trained, f_rmse, _ = synthetic_search(monkeypatch, "forces", n_train=200, sizes=sizes)
    # every training of the search on the default subset (50 of 200), then one at full size
    assert sizes[:-1] == [50] * scan.trainings and sizes[-1] == 200 and len(sizes) == scan.trainings + 1
    assert scan.scaled and scan.n_search == 50 and scan.n_train == 200
    assert 30 / 1.15 <= scan.search_best <= 30 * 1.15  # the force optimum of the surface
    assert scan.best == scaled_sigma(scan.search_best, 50, 200) == trained[-1] == model.sigma
    assert scan.best == pytest.approx(scan.search_best * 0.25 ** SIGMA_EXPONENT, rel=1e-5)
    assert scan.final_errors["f_rmse"] == f_rmse(scan.best)
    text = scan.table()
    assert "on 50 of the 200 training geometries" in text and f"= {scan.best:.4g}" in text
    assert text.count("<- best") == 1


def test_full_size_search_when_asked(monkeypatch):
    sizes = []
    _, scan, _, _, _ = synthetic_search(monkeypatch, "forces", n_train=200, sizes=sizes, search_n_train=200)
    assert set(sizes) == {200} and not scan.scaled and scan.best == scan.search_best
