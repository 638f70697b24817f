"""End to end: ``fastgdml train`` with its defaults against ``sgdml all``, from a dataset to a tested model.

Both commands run as a user runs them, each in its own process and working directory, in the same session:

  * ours:      ``fastgdml train DATASET --n-train N --n-valid V --n-test T -o model.npz`` (symmetry search, sigma
               search, training, test, report with plots);
  * reference: ``sgdml all DATASET N V T`` (its sigma grid 10..100 with early stop, analytic solver while it
               fits, test), through a wrapper that sets ``np.in1d = np.isin`` first (removed in NumPy 2.4, still
               called by sgdml 1.0.3).

Printed and written (``--json``): the wall time of each (process start to exit), the ratio reference / ours, the
sigma each chose and the test force and energy RMSE/MAE of each on its own T unused frames (ours from the report
JSON, the reference's from its model file), with the acceptance checks of issue 18: ratio >= 20 and each test
RMSE <= 1.02 x the reference's. Then, unless ``--large 0``, ``fastgdml train`` alone with ``--n-train LARGE``
(default 1000) and the same validation and test sizes: its wall time (goal: <= 300 s) and test errors.

Needs ../shared/data (or FASTGDML_BENCH_DATA); without the ``sgdml`` package the reference is skipped.

    python bench/e2e.py --json bench/results/e2e.json
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import SHARED_DATA, machine, write_json  # noqa: E402

SGDML_WRAPPER = """import sys
import numpy as np
if not hasattr(np, "in1d"):
    np.in1d = lambda a, b, **kw: np.isin(np.ravel(a), b, **kw)
from sgdml.cli import main
sys.argv[0] = "sgdml"
main()
"""


def run_timed(cmd, cwd: str, log_path: str, timeout: float) -> float:
    """Run ``cmd`` in ``cwd`` with stdout and stderr to ``log_path``; its wall time in seconds. RuntimeError with the
    log's tail when it fails."""
    start = time.perf_counter()
    with open(log_path, "w") as log:
        proc = subprocess.run(cmd, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, timeout=timeout)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        with open(log_path, errors="replace") as f:
            tail = f.read()[-2000:]
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode} after {seconds:.0f} s:\n{tail}")
    return seconds


def run_ours(dataset: str, n_train: int, n_valid: int, n_test: int, work: str, timeout: float) -> dict:
    """``fastgdml train`` with its defaults; wall time, chosen sigma, search and test errors from its report."""
    out = os.path.join(work, f"fastgdml_n{n_train}")
    os.makedirs(out, exist_ok=True)
    cmd = [sys.executable, "-m", "fastgdml.cli", "train", dataset, "--n-train", str(n_train), "--n-valid", str(n_valid),
           "--n-test", str(n_test), "-o", "model.npz"]
    seconds = run_timed(cmd, out, os.path.join(out, "log.txt"), timeout)
    with open(os.path.join(out, "model.report.json")) as f:
        report = json.load(f)
    test = report["test"]
    return {"command": "fastgdml " + " ".join(cmd[3:]), "wall_s": seconds, "sigma": report["sigma"],
            "n_perms": report["n_perms"],
            "solver": report["solver"], "sigma_scan_trainings": len(report.get("sigma_scan", [])),
            "search": report.get("search"), "test": {k: test[k] for k in ("n", "f_mae", "f_rmse", "e_mae", "e_rmse")},
            "validation": report["validation"], "log": os.path.join(out, "log.txt")}


def run_reference(dataset: str, n_train: int, n_valid: int, n_test: int, work: str, timeout: float) -> dict:
    """``sgdml all``; wall time, chosen sigma and the test errors it wrote into its model file."""
    from fastgdml import Model

    out = os.path.join(work, "sgdml")
    os.makedirs(out, exist_ok=True)
    wrapper = os.path.join(out, "sgdml_cli.py")
    with open(wrapper, "w") as f:
        f.write(SGDML_WRAPPER)
    cmd = [sys.executable, wrapper, "all", dataset, str(n_train), str(n_valid), str(n_test)]
    seconds = run_timed(cmd, out, os.path.join(out, "log.txt"), timeout)
    models = sorted(glob.glob(os.path.join(out, "*.npz")))
    if len(models) != 1:
        raise RuntimeError(f"sgdml all left {len(models)} model files in {out}, expected 1")
    model = Model.load(models[0])
    f_err, e_err = model.arrays["f_err"].item(), model.arrays["e_err"].item()
    return {"command": "sgdml all " + " ".join(cmd[3:]), "wall_s": seconds, "sigma": float(model.sigma),
            "n_perms": int(len(model.perms)),
            "test": {"n": n_test, "f_mae": float(f_err["mae"]), "f_rmse": float(f_err["rmse"]),
                     "e_mae": float(e_err["mae"]), "e_rmse": float(e_err["rmse"])},
            "log": os.path.join(out, "log.txt")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", default="aspirin_xtb", help="dataset name in ../shared/data (default aspirin_xtb)")
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--n-valid", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--large", type=int, default=1000, help="n_train of the run of ours alone (0: skip)")
    ap.add_argument("--skip-reference", action="store_true", help="do not run sgdml all")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per command")
    ap.add_argument("--work", help="directory for the runs (default: a temporary one, removed)")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()

    dataset = os.path.abspath(os.path.join(SHARED_DATA, args.dataset + ".npz"))
    if not os.path.exists(dataset):
        print(f"e2e: {dataset} not found (set FASTGDML_BENCH_DATA); nothing measured")
        return 0
    results = {"machine": machine(), "dataset": args.dataset, "n_train": args.n_train, "n_valid": args.n_valid,
               "n_test": args.n_test}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        ours = run_ours(dataset, args.n_train, args.n_valid, args.n_test, work, args.timeout)
        results["fastgdml"] = ours
        t = ours["test"]
        print(f"fastgdml train ({ours['command']}): {ours['wall_s']:.1f} s, sigma {ours['sigma']:.4g}, "
              f"{ours['n_perms']} perms; test F RMSE {t['f_rmse']:.4f} kcal/mol/Å, E RMSE {t['e_rmse']:.4f} kcal/mol",
              flush=True)
        try:
            import sgdml  # noqa: F401
            have_sgdml = not args.skip_reference
        except ImportError:
            have_sgdml = False
            print("e2e: the sgdml package is not installed: no reference run")
        if have_sgdml:
            ref = run_reference(dataset, args.n_train, args.n_valid, args.n_test, work, args.timeout)
            results["sgdml"] = ref
            r = ref["test"]
            ratio = ref["wall_s"] / ours["wall_s"]
            f_ratio, e_ratio = t["f_rmse"] / r["f_rmse"], t["e_rmse"] / r["e_rmse"]
            results["ratio"] = ratio
            results["test_rmse_ratio"] = {"forces": f_ratio, "energies": e_ratio}
            results["acceptance"] = {"speed_ge_20x": ratio >= 20.0, "forces_le_1.02": f_ratio <= 1.02,
                                     "energies_le_1.02": e_ratio <= 1.02}
            print(f"sgdml all: {ref['wall_s']:.1f} s, sigma {ref['sigma']:.4g}, {ref['n_perms']} perms; test F RMSE "
                  f"{r['f_rmse']:.4f} kcal/mol/Å, E RMSE {r['e_rmse']:.4f} kcal/mol")
            print(f"ratio sgdml / fastgdml: {ratio:.1f}x (goal >= 20x); test RMSE ours / reference: forces "
                  f"{f_ratio:.3f}, energies {e_ratio:.3f} (goal <= 1.02)", flush=True)
        if args.large:
            big = run_ours(dataset, args.large, args.n_valid, args.n_test, work, args.timeout)
            results["large"] = big
            b = big["test"]
            results.setdefault("acceptance", {})["large_le_300s"] = big["wall_s"] <= 300.0
            print(f"fastgdml train --n-train {args.large}: {big['wall_s']:.1f} s (goal <= 300 s), sigma "
                  f"{big['sigma']:.4g}; test ({b['n']} frames) F RMSE {b['f_rmse']:.4f} / MAE {b['f_mae']:.4f} "
                  f"kcal/mol/Å, E RMSE {b['e_rmse']:.4f} / MAE {b['e_mae']:.4f} kcal/mol", flush=True)
    if args.json:
        write_json(args.json, results)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
