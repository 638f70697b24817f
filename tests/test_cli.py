"""The fastgdml command line."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastgdml.cli import main

from conftest import DATA


def test_train_test_info(toy, tmp_path, capsys):
    ds_path = tmp_path / "toy.npz"
    toy.save(ds_path)
    model_path = tmp_path / "model.npz"
    assert main(["train", str(ds_path), "--n-train", "20", "--sigma", "1.5", "--n-valid", "10",
                 "-o", str(model_path)]) == 0
    assert model_path.exists()
    capsys.readouterr()
    assert main(["train", str(ds_path), "--n-train", "20", "--sigma", "1.5", "-o", str(model_path)]) == 2
    assert "exists; pass --overwrite" in capsys.readouterr().err
    assert main(["test", str(model_path), str(ds_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(out) >= {"e_mae", "e_rmse", "f_mae", "f_rmse"}
    assert out["n"] == len(toy) - 20 - 10  # training and validation frames left out
    # (MAE <= RMSE holds for any numbers: not a check) the errors of the frames left out, computed here
    import fastgdml
    model = fastgdml.Model.load(model_path)
    test = np.setdiff1d(np.arange(len(toy)), np.concatenate([model.idxs_train, model.idxs_valid]))
    E, F = model.predict(toy.R[test])
    dF, dE = F - toy.F[test], E - toy.E[test]
    assert out["f_mae"] == pytest.approx(np.abs(dF).mean(), rel=1e-9)
    assert out["f_rmse"] == pytest.approx(np.sqrt((dF ** 2).mean()), rel=1e-9)
    assert out["e_mae"] == pytest.approx(np.abs(dE).mean(), rel=1e-9)
    assert out["e_rmse"] == pytest.approx(np.sqrt((dE ** 2).mean()), rel=1e-9)
    assert main(["info", str(model_path)]) == 0
    assert "training points: 20" in capsys.readouterr().out
    assert main(["info", str(ds_path)]) == 0
    assert "geometries: 40" in capsys.readouterr().out


def test_cli_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing.npz")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["test", os.path.join(DATA, "ethanol_sgdml_sym.npz"), os.path.join(DATA, "ethanol_sgdml_ecstr.npz")]) == 2
    assert "not a dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "x.npz", "--n-train", "0", "--sigma", "1", "-o", "y.npz"])


def test_console_script_runs():
    out = subprocess.run([sys.executable, "-m", "fastgdml.cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "fastgdml" in out.stdout


def test_train_with_cg_and_resume(toy, tmp_path, capsys):
    ds_path = tmp_path / "toy.npz"
    toy.save(ds_path)
    out = tmp_path / "m.npz"
    args = ["train", str(ds_path), "--n-train", "15", "--sigma", "1.2", "--lam", "1e-4", "--n-valid", "5",
            "--solver", "cg", "--tol", "1e-8", "--inducing", "40", "-o", str(out), "-q"]
    assert main(args) == 0
    assert str(np.load(out)["solver_name"]) == "cg"
    assert not (tmp_path / "m.ckpt.npz").exists()
    assert main(args + ["--resume", "--overwrite"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_train_without_sigma_searches_it_on_the_validation_set(toy, tmp_path, capsys):
    ds_path = tmp_path / "toy.npz"
    toy.save(ds_path)
    out = tmp_path / "m.npz"
    assert main(["train", str(ds_path), "--n-train", "10", "--n-valid", "5", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "sigma search:" in text and "<- best" in text
    best = float(text.split("best sigma ")[1].split()[0])
    assert float(np.load(out)["sig"]) == pytest.approx(best, rel=1e-5)
    assert main(["train", str(ds_path), "--n-train", "10", "--n-valid", "0", "-o", str(out), "-q",
                 "--overwrite"]) == 0
    assert float(np.load(out)["sig"]) == 20.0
    assert "using 20" in capsys.readouterr().err


def test_train_writes_model_report_and_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from test_permutations import rotor_dataset

    ds_path = tmp_path / "rotor.npz"
    rotor_dataset(count=120, seed=3).save(ds_path)
    out = tmp_path / "m.npz"
    assert main(["train", str(ds_path), "--n-train", "40", "--n-valid", "30", "--lams", "1e-6", "-o", str(out),
                 "-q"]) == 0
    stem = str(out)[:-4]
    report = json.load(open(stem + ".report.json"))
    assert report["test"]["n"] == 50 and report["n_perms"] == 3 and len(report["sigma_scan"]) >= 5
    assert [row["lambda"] for row in report["lambda_scan"]] == [1e-10, 1e-6]
    assert report["lambda"] == float(np.load(out)["lam"])
    assert report["units"] == {"energy": "kcal/mol", "force": "kcal/mol/Å"}
    for part in ("sigma_scan", "energies", "forces", "force_errors"):
        with open(f"{stem}.{part}.png", "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert "test (50 unused frames)" in capsys.readouterr().out


def test_train_searches_sigma_on_a_subset_and_scales_it(tmp_path, capsys):
    from fastgdml.training.sigma_search import scaled_sigma
    from test_permutations import rotor_dataset

    ds_path = tmp_path / "rotor.npz"
    rotor_dataset(count=120, seed=3).save(ds_path)
    out = tmp_path / "m.npz"
    assert main(["train", str(ds_path), "--n-train", "40", "--n-valid", "30", "--search-n-train", "20", "-o", str(out),
                 "-q", "--no-plots"]) == 0
    report = json.load(open(str(out)[:-4] + ".report.json"))
    search = report["search"]
    assert search["n_search"] == 20 and search["n_train"] == 40 and search["scaled"]
    assert report["n_train"] == 40 and report["sigma"] == pytest.approx(float(np.load(out)["sig"]))
    assert report["sigma"] == pytest.approx(scaled_sigma(search["best_on_search_set"], 20, 40), rel=1e-6)
    text = capsys.readouterr().out
    assert "on 20 of the 40 geometries" in text and "chosen for 40" in text
    for bad in (["--search-n-train", "41"], ["--search-n-train", "20", "--sigma", "5"]):
        assert main(["train", str(ds_path), "--n-train", "40", "-o", str(out), "-q", "--overwrite", *bad]) == 2
        assert "--search-n-train" in capsys.readouterr().err


def test_learning_curve_command(tmp_path, capsys):
    from test_permutations import rotor_dataset

    ds_path = tmp_path / "rotor.npz"
    rotor_dataset(count=150, seed=4).save(ds_path)
    out = tmp_path / "curve.json"
    assert main(["learning-curve", str(ds_path), "--sizes", "10", "40", "--n-valid", "20", "--n-test", "50",
                 "-o", str(out), "-q"]) == 0
    rows = json.load(open(out))["rows"]
    assert [r["n_train"] for r in rows] == [10, 40] and all(r["n"] == 50 for r in rows)
    assert rows[1]["f_mae"] < rows[0]["f_mae"]  # more data, smaller error
    with pytest.raises(SystemExit):
        main(["learning-curve", str(ds_path), "--sizes", "0", "-o", str(out)])
    assert main(["learning-curve", str(ds_path), "--sizes", "140", "-o", str(out), "-q", "--overwrite"]) == 2
    assert "exceeds the 150 frames" in capsys.readouterr().err  # (not the existing output: --overwrite)


def test_separate_validation_and_test_datasets(tmp_path, capsys):
    from fastgdml import Dataset
    from test_permutations import rotor_dataset

    train_ds, other = rotor_dataset(count=60, seed=3), rotor_dataset(count=40, seed=9)
    paths = {name: tmp_path / f"{name}.npz" for name in ("train", "other")}
    train_ds.save(paths["train"])
    other.save(paths["other"])
    out = tmp_path / "m.npz"
    assert main(["train", str(paths["train"]), "--n-train", "60", "--sigma", "5", "--valid-dataset",
                 str(paths["other"]), "--n-valid", "15", "--test-dataset", str(paths["other"]), "-o", str(out), "-q",
                 "--no-plots"]) == 0
    m = np.load(out, allow_pickle=True)
    assert m["md5_valid"].item().decode() == Dataset.load(paths["other"]).md5 != m["md5_train"].item().decode()
    assert len(m["idxs_valid"]) == 15
    text = capsys.readouterr().out
    assert "test (25 unused frames of" in text  # the 15 validation frames of 'other' are left out
    # the same validation dataset through the sigma search
    assert main(["train", str(paths["train"]), "--n-train", "60", "--valid-dataset", str(paths["other"]),
                 "--n-valid", "15", "-o", str(out), "-q", "--no-plots", "--overwrite", "--n-test", "0"]) == 0
    m = np.load(out, allow_pickle=True)
    assert m["md5_valid"].item().decode() == Dataset.load(paths["other"]).md5 and len(m["idxs_valid"]) == 15
    bad = tmp_path / "bad.npz"
    Dataset(np.zeros((3, 2, 3)) + np.arange(2)[None, :, None], [1, 1], np.zeros((3, 2, 3)), E=np.zeros(3)).save(bad)
    assert main(["train", str(paths["train"]), "--n-train", "10", "--sigma", "5", "--valid-dataset", str(bad),
                 "-o", str(tmp_path / "x.npz"), "-q"]) == 2


def test_train_select_criterion_and_units(tmp_path, capsys):
    from test_permutations import rotor_dataset

    ds_path = tmp_path / "rotor.npz"
    rotor_dataset(count=80, seed=5).save(ds_path)
    chosen = {}
    for select in ("forces", "energies"):
        out = tmp_path / f"{select}.npz"
        assert main(["train", str(ds_path), "--n-train", "20", "--n-valid", "20", "--select", select,
                     "--symmetries", "none", "--no-plots", "-o", str(out), "-q"]) == 0
        text = capsys.readouterr().out
        assert f"(selected on {select})" in text and f"<- best ({select})" in text
        assert "valid F RMSE (kcal/mol/Å)" in text and "valid E RMSE (kcal/mol)" in text
        assert "validation (20 frames): force MAE" in text and "kcal/mol/Å, energy MAE" in text
        assert "test (40 unused frames): force MAE" in text and "°" in text
        report = json.load(open(str(out)[:-4] + ".report.json"))
        assert report["selection"]["criterion"] == select and report["selection"]["note"] == ""
        key = {"forces": "f_rmse", "energies": "e_rmse"}[select]
        # the chosen sigma is the scan's lowest of its criterion, and the report shows both errors of every sigma
        assert report["sigma"] == pytest.approx(min(report["sigma_scan"], key=lambda r: r[key])["sigma"])
        assert all(np.isfinite(r["f_rmse"]) and np.isfinite(r["e_rmse"]) for r in report["sigma_scan"])
        chosen[select] = report["sigma"]
    assert chosen["forces"] != chosen["energies"]  # this data's two optima differ: the flag matters
    # without energies: combined (the default) selects on forces and says so; energies is refused
    out = tmp_path / "noE.npz"
    assert main(["train", str(ds_path), "--n-train", "20", "--n-valid", "20", "--no-E", "--symmetries", "none",
                 "--no-plots", "-o", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "(selected on forces)" in text and "no validation energies" in text
    assert json.load(open(str(out)[:-4] + ".report.json"))["selection"]["criterion"] == "forces"
    assert main(["train", str(ds_path), "--n-train", "20", "--n-valid", "20", "--no-E", "--select", "energies",
                 "-o", str(tmp_path / "x.npz"), "-q"]) == 2
    assert "needs energies" in capsys.readouterr().err
    # test and info print units
    assert main(["test", str(out), str(ds_path)]) == 0
    text = capsys.readouterr().out
    assert "[kcal/mol/Å, per component]" in text and "[degrees, per atom]" in text
    # a --no-E model's energies hold an arbitrary constant: no energy error is reported for it
    assert "energy: not tested (the model was trained without energies" in text
    assert main(["test", str(out), str(ds_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["e_mae"] is None
    assert main(["info", str(ds_path)]) == 0
    assert "[kcal/mol/Å]" in capsys.readouterr().out


def test_contributions_command_prints_additive_per_atom_energies(tmp_path, capsys):
    import fastgdml
    from test_permutations import rotor_dataset

    data = rotor_dataset(count=60, seed=5)
    ds_path, model_path, out = tmp_path / "rotor.npz", tmp_path / "m.npz", tmp_path / "c.json"
    data.save(ds_path)
    model = fastgdml.train(data, 30, 5.0, n_valid=0, validate=False, symmetries="none")
    model.save(model_path)
    frames = [int(i) for i in np.setdiff1d(np.arange(60), model.idxs_train)[:2]]
    for reference, stated in (("nearest", "nearest"), ("lowest", "lowest energy"),
                              (str(int(model.idxs_train[0])), f"frame {int(model.idxs_train[0])}")):
        assert main(["contributions", str(model_path), str(ds_path), "--frames", *map(str, frames), "--reference",
                     reference, "--json", str(out), "--overwrite"]) == 0
        result = json.load(open(out))
        assert [row["frame"] for row in result["frames"]] == frames and result["energy_unit"] == "kcal/mol"
        assert all(stated in row["reference"] for row in result["frames"])
        for row in result["frames"]:
            E = model.predict(data.R[row["frame"]])[0][0]
            assert row["energy"] == pytest.approx(E, rel=1e-10)
            # additive: the contributions sum to E - E_ref, to within the stated quadrature error (<= 1e-6)
            assert sum(row["contributions"]) == pytest.approx(row["energy"] - row["reference_energy"], abs=1e-6)
            assert abs(row["quadrature_error"]) <= 1e-6 and len(row["contributions"]) == data.n_atoms
        text = capsys.readouterr().out
        assert "contribution (kcal/mol)" in text and "quadrature error" in text
    for bad in (["--frames", "60"], ["--reference", "60"], ["--reference", "middle"]):
        assert main(["contributions", str(model_path), str(ds_path), *bad]) == 2
        assert "fastgdml: error:" in capsys.readouterr().err
