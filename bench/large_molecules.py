"""The first 100-atom models: learning curves of Ac-Ala10-NHMe (112 atoms) and stachyose (87 atoms).

For each dataset and training size, in a process of its own (so that its peak memory is its own):
  * a sigma search with the defaults of ``fastgdml train`` (``search_sigma``: on a subset, scaled, one training at
    full size; solver auto, block-Jacobi CG) on n_train + ``--n-valid`` frames of a fixed random order of the
    frames that are not test frames, permutation group as ``--symmetries`` says (default none: G = 1);
  * test errors on ``--n-test`` common held-out frames;
  * the time of one K v at that size (median of 3), the CG iterations of the final training, the wall time of the
    whole search and the peak resident memory of the process;
  * the time of one prediction of one geometry (an MD step), median of 50, with ``Model.predict`` and, when the
    ``sgdml`` package is installed, with its ``GDMLPredict`` on the same model file (the reference), same process.

    python bench/large_molecules.py --datasets ala10_xtb stachyose_xtb --sizes 50 100 200 \
        --json bench/results/large.json

Needs ../shared/data (or FASTGDML_BENCH_DATA).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import SHARED_DATA, machine, timeit, write_json  # noqa: E402


def one_size(spec: dict) -> dict:
    """Search, train, test and time one training size (runs in a child process)."""
    import warnings

    from fastgdml import Dataset, _core, search_sigma
    from fastgdml.data.sampling import stratified_sample
    from fastgdml.evaluation.metrics import prediction_errors

    warnings.simplefilter("ignore", RuntimeWarning)
    ds = Dataset.load(os.path.join(SHARED_DATA, spec["dataset"] + ".npz"))
    rng = np.random.default_rng(spec["seed"])
    test = stratified_sample(ds.E, spec["n_test"], rng, n_total=len(ds))
    order = rng.permutation(np.setdiff1d(np.arange(len(ds)), test))
    n, n_valid = spec["n_train"], spec["n_valid"]
    pool = ds.subset(np.sort(order[:n + n_valid]))
    start = time.perf_counter()
    model, scan = search_sigma(pool, n, n_valid=n_valid, seed=spec["seed"], symmetries=spec["symmetries"])
    wall = time.perf_counter() - start
    err = prediction_errors(model, ds, test)
    R = pool.R[model.idxs_train]
    op = _core.KernelOperator(R, model.perms, float(model.sigma), cache_bytes=1 << 30)
    v = np.random.default_rng(0).standard_normal(op.size)
    kv = timeit(lambda: op.matvec(v), repeats=3)["median_s"]
    x = ds.R[test[:1]]
    ours = timeit(lambda: model.predict(x), repeats=50)["median_s"]
    row = {"dataset": spec["dataset"], "n_atoms": int(ds.n_atoms), "n_train": n, "n_perms": int(len(model.perms)),
           "D": int(ds.n_atoms * (ds.n_atoms - 1) // 2), "unknowns": int(op.size), "sigma": float(model.sigma),
           "search_trainings": scan.trainings, "n_search": scan.n_search, "search_best": float(scan.search_best),
           "solver": str(model.arrays.get("solver_name", "analytic")),
           "cg_iterations": int(model.arrays.get("solver_iters", 0)), "wall_s": wall, "kv_s": kv,
           "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
           "predict_one_s": ours, "test": {k: float(err[k]) for k in ("f_mae", "f_rmse", "e_mae", "e_rmse")},
           "validation_f_rmse": float(model.arrays["f_err"].item()["rmse"])}
    try:
        if not hasattr(np, "in1d"):
            np.in1d = lambda a, b, **kw: np.isin(np.ravel(a), b, **kw)
        from sgdml.predict import GDMLPredict

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.npz")
            model.save(path)
            ref = GDMLPredict(dict(np.load(path, allow_pickle=True)), max_processes=os.cpu_count(), use_torch=False)
            xr = x.reshape(1, -1)
            row["sgdml_predict_one_s"] = timeit(lambda: ref.predict(xr), repeats=50)["median_s"]
    except ImportError:
        row["sgdml_predict_one_s"] = None
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=["ala10_xtb", "stachyose_xtb"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 200])
    ap.add_argument("--n-valid", type=int, default=200)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--symmetries", choices=("none", "auto"), default="none")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per size")
    ap.add_argument("--json")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(one_size(json.loads(args.child))))
        return 0
    rows = []
    for name in args.datasets:
        if not os.path.exists(os.path.join(SHARED_DATA, name + ".npz")):
            print(f"{name}: not in {SHARED_DATA}; skipped")
            continue
        for n in args.sizes:
            spec = {"dataset": name, "n_train": n, "n_valid": args.n_valid, "n_test": args.n_test,
                    "symmetries": args.symmetries, "seed": args.seed}
            proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                                  text=True, timeout=args.timeout)
            if proc.returncode != 0:
                print(f"{name} n_train {n}: failed\n{proc.stderr[-1500:]}")
                break
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            t = row["test"]
            ref = row["sgdml_predict_one_s"]
            iterations = f" {row['cg_iterations']} iterations" if row["solver"] == "cg" else ""
            versus = f" (sgdml {ref * 1e3:.2f} ms, {ref / row['predict_one_s']:.1f}x)" if ref else ""
            print(f"{name} ({row['n_atoms']} atoms, D {row['D']}, G {row['n_perms']}) n_train {n}: sigma "
                  f"{row['sigma']:.4g} (best {row['search_best']:.4g} on {row['n_search']}, "
                  f"{row['search_trainings']} trainings), {row['solver']}{iterations}, {row['wall_s']:.0f} s, peak "
                  f"{row['peak_rss_gb']:.2f} GB; K v {row['kv_s'] * 1e3:.1f} ms; test F RMSE {t['f_rmse']:.3f} "
                  f"kcal/mol/Å, E RMSE {t['e_rmse']:.3f} kcal/mol; one prediction {row['predict_one_s'] * 1e3:.2f} "
                  f"ms{versus}", flush=True)
    if args.json:
        write_json(args.json, {"machine": machine(), "rows": rows})
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
