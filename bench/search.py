"""Sigma search benchmark: what the search's reuse saves the iterative solver.

Runs ``fastgdml.search_sigma`` on one dataset twice with the CG solver: the baseline trains every sigma to the
final tolerance (1e-4) from a zero start; the default trains the search to ``search_tol`` (1e-3), starts each
solve from the solution at the nearest sigma already trained, and solves the chosen sigma once more to 1e-4 from
its search solution. Prints per training the CG iterations and seconds, the totals, their ratio, and the
validation errors of both final models.

Needs ../shared/data.

    python bench/search.py [--dataset aspirin_xtb] [--n-train 400]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import SHARED_DATA, machine, write_json  # noqa: E402


def run(ds, args, fast: bool) -> dict:
    import importlib

    import fastgdml
    train_module = importlib.import_module("fastgdml.train")  # the module (fastgdml.train is the function)

    trainings = []
    original = train_module.train

    def timed_train(*a, **kw):  # record each training's time and CG iterations
        t = time.perf_counter()
        model = original(*a, **kw)
        trainings.append({"sigma": float(model.sigma), "tol": float(model.arrays["solver_tol"]),
                          "seconds": time.perf_counter() - t, "iterations": int(model.arrays["solver_iters"])})
        return model

    train_module.train = timed_train
    try:
        t = time.perf_counter()
        model, scan = fastgdml.search_sigma(ds, args.n_train, sigma0=args.sigma0, seed=0, n_valid=args.n_valid,
                                            solver="cg", max_memory=int(args.max_memory_gb * 2**30),
                                            warm_start=fast, search_tol=1e-3 if fast else 1e-4)
        total = time.perf_counter() - t
    finally:
        train_module.train = original
    return {"seconds": total, "trainings": trainings, "best_sigma": scan.best,
            "valid_f_rmse": float(model.arrays["f_err"].item()["rmse"]),
            "iterations": sum(v["iterations"] for v in trainings)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="aspirin_xtb")
    ap.add_argument("--n-train", type=int, default=400)
    ap.add_argument("--n-valid", type=int, default=1000)
    ap.add_argument("--sigma0", type=float, default=20.0)
    ap.add_argument("--max-memory-gb", type=float, default=3.0)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "search.json"))
    args = ap.parse_args(argv)
    path = os.path.join(SHARED_DATA, f"{args.dataset}.npz")
    if not os.path.exists(path):
        print(f"needs {path}")
        return 1
    import fastgdml

    ds = fastgdml.Dataset.load(path)
    print("machine:", machine())
    base = run(ds, args, fast=False)
    fast = run(ds, args, fast=True)
    print(f"{args.dataset}, n_train {args.n_train}: trainings in order (sigma, tol, CG iterations, seconds)")
    for name, r in (("baseline", base), ("default", fast)):
        print(f"  {name}:")
        for t in r["trainings"]:
            print(f"    sigma {t['sigma']:8.4g}  tol {t['tol']:.0e}  {t['iterations']:5d} it  {t['seconds']:6.1f} s")
        print(f"    total {r['iterations']} it, {r['seconds']:.1f} s; sigma {r['best_sigma']:g}, validation F RMSE "
              f"{r['valid_f_rmse']:.5g}")
    print(f"default / baseline: time {fast['seconds'] / base['seconds']:.2f}, CG iterations "
          f"{fast['iterations'] / base['iterations']:.2f}")
    write_json(args.json, {"benchmark": "search", "machine": machine(), "dataset": args.dataset,
                           "n_train": args.n_train, "baseline": base, "default": fast})
    return 0


if __name__ == "__main__":
    sys.exit(main())
