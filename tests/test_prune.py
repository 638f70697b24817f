"""Pruning workflow: orbit-consistent masks, retraining, best fraction, reduced models saved and loaded."""
import numpy as np
import pytest

import fastgdml
from fastgdml.features import feature_orbits
from fastgdml.prune import orbit_mask, prune, short_range_features

from conftest import TOY_PERMS, TOY_Z, make_toy


@pytest.fixture(scope="module")
def setup():
    R, E, F = make_toy(M=80, seed=21)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, source="toy.npz")
    model = fastgdml.train(ds, 25, 1.2, lam=1e-8, perms=TOY_PERMS, n_valid=20)
    return ds, model


def test_orbit_mask_keeps_whole_orbits_by_score():
    orbit = feature_orbits(TOY_PERMS, 5)
    scores = np.array([3.0, 3.0, 1.0, 3.0, 1.0, 1.0, 9.0, 2.0, 2.0, 2.0])  # C-O (6) best, then C-H, H-O, H-H
    assert orbit_mask(scores, orbit, 1.0) is None
    np.testing.assert_array_equal(orbit_mask(scores, orbit, 0.1), [6])
    np.testing.assert_array_equal(orbit_mask(scores, orbit, 0.4), [0, 1, 3, 6])
    np.testing.assert_array_equal(orbit_mask(scores, orbit, 0.5), [0, 1, 3, 6, 7, 8, 9])
    # a protected pair brings its orbit in first
    np.testing.assert_array_equal(orbit_mask(scores, orbit, 0.1, protected=np.array([2])), [2, 4, 5])


def test_prune_retrains_each_fraction_and_keeps_the_best(setup, tmp_path):
    ds, model = setup
    best, result = prune(model, ds, fractions=[1.0, 0.7, 0.4], n_score=20)
    assert result.fractions == [1.0, 0.7, 0.4] and result.kept[0] == 10
    assert all(k >= f * 10 for f, k in zip(result.fractions, result.kept))
    i = int(np.argmin([e["f_rmse"] for e in result.errors]))
    assert result.best == result.fractions[i]
    assert best.arrays["f_err"].item()["rmse"] == pytest.approx(result.errors[i]["f_rmse"])
    # the reduced models are the models trained directly on their masks
    mask = result.masks[0.4]
    orbit = feature_orbits(TOY_PERMS, 5)
    assert all(np.isin(np.flatnonzero(orbit == o), mask).all() for o in np.unique(orbit[mask]))
    direct = fastgdml.train(ds, 25, 1.2, lam=1e-8, perms=TOY_PERMS, idxs_train=model.idxs_train, mask=mask,
                            n_valid=0)
    R = ds.R[:5]
    # (checked for every run, not only when 0.4 happens to be the best fraction)
    F_direct = direct.predict(R)[1]
    np.testing.assert_allclose(result.models[0.4].predict(R)[1], F_direct, rtol=0, atol=1e-9 * np.abs(F_direct).max())
    F_best = result.models[result.best].predict(R)[1]
    np.testing.assert_allclose(best.predict(R)[1], F_best, rtol=0, atol=1e-12 * np.abs(F_best).max())
    # a reduced model round-trips through its file with its mask
    path = tmp_path / "reduced.npz"
    direct.save(path)
    back = fastgdml.Model.load(path)
    np.testing.assert_array_equal(back.feature_mask, mask)
    np.testing.assert_allclose(back.predict(R)[1], direct.predict(R)[1], rtol=0, atol=1e-12)
    assert "<- best" in result.table()


def test_short_range_features_are_protected(setup):
    ds, model = setup
    short = short_range_features(ds, 1.6)
    a, b = np.tril_indices(5, -1)
    d = np.linalg.norm(ds.R[:, a] - ds.R[:, b], axis=-1).max(axis=0)
    np.testing.assert_array_equal(short, d < 1.6)
    assert short.any() and not short.all()
    _, result = prune(model, ds, fractions=[0.1], n_score=10, short_cutoff=1.6, protect_short=True)
    assert np.all(np.isin(np.flatnonzero(short), result.masks[0.1]))
    assert result.short[0] == short.sum()


def test_prune_refuses_another_dataset(setup):
    ds, model = setup
    other = fastgdml.Dataset(ds.R[:40], ds.z, ds.F[:40], E=ds.E[:40])
    with pytest.raises(ValueError, match="not trained on"):
        prune(model, other)
    with pytest.raises(ValueError, match="fractions"):
        prune(model, ds, fractions=[1.5])


def test_prune_command_writes_model_report_and_plots(setup, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    import json

    from fastgdml.cli import main

    ds, model = setup
    ds_path, model_path, out = tmp_path / "toy.npz", tmp_path / "m.npz", tmp_path / "pruned.npz"
    ds.save(ds_path)
    # the model must point at the saved dataset's md5 (same content, so the same md5)
    model.save(model_path)
    assert main(["prune", str(model_path), str(ds_path), "--fractions", "0.5", "--n-score", "10",
                 "--interaction-frames", "5", "-o", str(out), "-q"]) == 0
    report = json.load(open(tmp_path / "pruned.prune.json"))
    assert [row["fraction"] for row in report["curve"]] == [0.5] and report["best_fraction"] == 0.5
    assert set(report["test"]) == {"full", "pruned"} and report["n_features"] == 10
    assert len(report["interactions"]["full"]["force"]) == 5
    back = fastgdml.Model.load(out)
    np.testing.assert_array_equal(back.feature_mask, report["mask"])
    for part in ("prune_curve", "kept_features", "interactions"):
        with open(tmp_path / f"pruned.{part}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    text = capsys.readouterr().out
    assert "<- best" in text and "[kcal/mol/Å]" in text and "[kcal/mol]" in text  # units of every printed error
    assert main(["info", str(out)]) == 0
    assert f"reduced descriptor: {len(back.feature_mask)} of 10 features" in capsys.readouterr().out
    assert main(["prune", str(model_path), str(ds_path), "-o", str(out), "-q"]) == 2  # exists


def test_best_fraction_at_the_smallest_tried_warns(setup, monkeypatch):
    ds, model = setup
    import importlib

    prune_module = importlib.import_module("fastgdml.pruning.workflow")

    errors = iter([3.0, 2.0, 1.0])  # validation F RMSE falling down to the last fraction
    real = prune_module.prediction_errors

    def fake(m, d, idxs):
        out = dict(real(m, d, idxs))
        out["f_rmse"] = next(errors)
        return out

    monkeypatch.setattr(prune_module, "prediction_errors", fake)
    with pytest.warns(RuntimeWarning, match="smallest one tried"):
        _, result = prune(model, ds, fractions=[1.0, 0.7, 0.4], n_score=10)
    assert result.best == 0.4
