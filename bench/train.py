"""Training benchmarks (issue: iterative solver): wall time, iterations, peak memory and test errors.

Cases (each runs in its own subprocess, so peak RSS is measured per case):
  large    aspirin_xtb, n_train = 1000 (63,000 unknowns; the dense matrix would need 32 GB), CG, --max-memory
  compare  aspirin_xtb, n_train = 200, 400 and 1000 (--compare-sizes): fastgdml (CG) and the public sgdml package on the
           same task (sgdml's sampled indices, its permutations, sigma, lambda, tol 1e-4) with the same memory
           budget (sgdml then runs its CG: its analytic solver would need 3.8 GB at n=200), same session;
           prints the time ratio and both test errors. Timed on both
           sides: the training call given the task (sgdml's GDMLTrain.train(task), fastgdml.train with the
           indices and permutations); sgdml's create_task (sampling, permutation search) is reported apart
  ala3     ala3_xtb (42 atoms), n_train = 2000, CG, no symmetries (G = 1)

Test errors are measured on 1000 geometries held out from training. Needs ../shared/data.

    python bench/train.py --cases large compare ala3
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import SHARED_DATA, machine, write_json  # noqa: E402

SIGMA = {"aspirin_xtb": 60.0, "ala3_xtb": 60.0}


def _test_errors(predict, ds_R, ds_E, ds_F, test):
    E, F = predict(ds_R[test])
    return {"e_mae": float(np.abs(E.ravel() - ds_E[test].ravel()).mean()),
            "f_mae": float(np.abs(F.reshape(len(test), -1) - ds_F[test].reshape(len(test), -1)).mean())}


def _held_out(M, exclude, count=1000, seed=1):
    pool = np.setdiff1d(np.arange(M), exclude)
    return np.sort(np.random.default_rng(seed).choice(pool, size=min(count, len(pool)), replace=False))


def run_fastgdml(spec: dict) -> dict:
    import fastgdml

    ds = fastgdml.Dataset.load(os.path.join(SHARED_DATA, f"{spec['dataset']}.npz"))
    perms = np.asarray(spec["perms"]) if spec.get("perms") is not None else None
    idxs = np.asarray(spec["idxs_train"]) if spec.get("idxs_train") is not None else None
    t = time.perf_counter()
    model = fastgdml.train(ds, spec["n_train"], spec["sigma"], lam=spec["lam"], perms=perms, idxs_train=idxs,
                           n_valid=0, solver=spec["solver"], tol=spec["tol"], validate=False,
                           max_memory=int(spec["max_memory_gb"] * 2**30), verbose=True,
                           symmetries=spec.get("symmetries", "auto"))
    wall = time.perf_counter() - t
    test = _held_out(len(ds), model.idxs_train)
    out = {"wall_s": wall, "iterations": int(np.asarray(model.arrays.get("solver_iters", 0))),
           "converged": model.converged, "solver": str(model.arrays["solver_name"]),
           "inducing": int(len(model.arrays.get("inducing_pts_idxs", []))), "n_perms": len(model.perms)}
    out.update(_test_errors(model.predict, ds.R, ds.E, ds.F, test))
    return out


def run_sgdml(spec: dict) -> dict:
    if not hasattr(np, "in1d"):  # sgdml 1.0.3 calls np.in1d, removed in NumPy 2.4
        np.in1d = lambda a, b, **kw: np.isin(np.ravel(a), b, **kw)
    import logging

    from sgdml.predict import GDMLPredict
    from sgdml.train import GDMLTrain

    logging.disable(logging.CRITICAL)
    ds = dict(np.load(os.path.join(SHARED_DATA, f"{spec['dataset']}.npz"), allow_pickle=True))
    np.random.seed(spec["seed"])
    # sgdml's CG (tol 1e-4) runs when its analytic estimate exceeds max_memory; the CG sizes its preconditioner from it
    gdml = GDMLTrain(max_memory=spec["sgdml_max_memory_gb"], max_processes=os.cpu_count(), use_torch=False)
    t = time.perf_counter()
    task = gdml.create_task(ds, spec["n_train"], ds, 50, spec["sigma"], lam=spec["lam"], use_sym=True)
    t_task = time.perf_counter()
    model = gdml.train(task)
    wall = time.perf_counter() - t_task  # train() only: the sampling and permutation search are not timed
    test = _held_out(len(ds["R"]), model["idxs_train"])
    pred = GDMLPredict(model, max_processes=os.cpu_count(), use_torch=False)
    out = {"wall_s": wall, "create_task_s": t_task - t, "solver": str(model["solver_name"]),
           "iterations": int(model["solver_iters"]) if "solver_iters" in model else None,
           "inducing": int(len(model["inducing_pts_idxs"])) if "inducing_pts_idxs" in model else None,
           "n_perms": int(len(model["perms"])),
           "idxs_train": model["idxs_train"].tolist(), "perms": model["perms"].tolist()}
    out.update(_test_errors(lambda R: pred.predict(R.reshape(len(R), -1)), ds["R"], ds["E"], ds["F"], test))
    return out


def child(spec_json: str) -> int:
    spec = json.loads(spec_json)
    result = (run_sgdml if spec["engine"] == "sgdml" else run_fastgdml)(spec)
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print("RESULT " + json.dumps(result), flush=True)
    return 0


def spawn(spec: dict, timeout: float) -> dict:
    # the child's stderr (fastgdml's stage log) passes through; stdout carries the result
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE if spec["engine"] == "sgdml" else None, text=True, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{spec['engine']} run failed:\n{proc.stdout[-2000:]}\n{(proc.stderr or '')[-4000:]}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", nargs="+", default=["large", "compare", "ala3"], choices=["large", "compare", "ala3"])
    ap.add_argument("--max-memory-gb", type=float, default=3.0, help="fastgdml solver budget (default: 3)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--lam", type=float, default=1e-10)
    ap.add_argument("--ala3-max-memory-gb", type=float, default=8.0, help="solver budget for ala3 (default: 8)")
    ap.add_argument("--sgdml-max-memory-gb", type=float, default=None,
                    help="memory budget of sgdml (default: the same as --max-memory-gb). sgdml uses its analytic "
                         "solver when its estimate 3 (n 3N)^2 8 bytes fits, its CG otherwise (aspirin n=200: 3.8 GB, "
                         "so CG below that); its CG sizes its preconditioner from this budget")
    ap.add_argument("--compare-sizes", nargs="+", type=int, default=[200, 400, 1000],
                    help="n_train of the sgdml comparison (default: 200 400 1000; sgdml needs ~17 min at 1000)")
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "train.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(args.child)
    if not os.path.isdir(SHARED_DATA):
        print(f"needs the datasets in {SHARED_DATA}")
        return 1
    print("machine:", machine())
    sgdml_budget = args.sgdml_max_memory_gb if args.sgdml_max_memory_gb is not None else args.max_memory_gb
    from fastgdml import Model

    aspirin_perms = Model.load(os.path.join(HERE, "..", "tests", "data", "aspirin_sgdml_sym.npz")).perms.tolist()
    base = {"engine": "fastgdml", "lam": args.lam, "tol": args.tol, "max_memory_gb": args.max_memory_gb,
            "solver": "cg", "idxs_train": None}
    results = {"benchmark": "train", "machine": machine(), "cases": {}}
    if "large" in args.cases:
        spec = {**base, "dataset": "aspirin_xtb", "n_train": 1000, "sigma": SIGMA["aspirin_xtb"],
                "perms": aspirin_perms}
        r = spawn(spec, args.timeout)
        results["cases"]["aspirin_n1000"] = r
        print(f"aspirin n=1000 (63000 unknowns): {r['wall_s']:.0f} s, {r['iterations']} CG iterations "
              f"(converged: {r['converged']}, {r['inducing']} inducing columns), peak RSS {r['peak_rss_gb']:.2f} GB, "
              f"test MAE F {r['f_mae']:.3f} E {r['e_mae']:.3f}")
    if "compare" in args.cases:
        for n in args.compare_sizes:
            try:
                ref = spawn({"engine": "sgdml", "dataset": "aspirin_xtb", "n_train": n, "sigma": SIGMA["aspirin_xtb"],
                             "lam": args.lam, "seed": 0, "sgdml_max_memory_gb": sgdml_budget}, args.timeout)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                last = str(exc).strip().splitlines()[-1]
                print(f"aspirin n={n}: sgdml failed ({last}); no ratio")
                results["cases"][f"aspirin_n{n}"] = {"sgdml_error": last}
                continue
            ours = spawn({**base, "dataset": "aspirin_xtb", "n_train": n, "sigma": SIGMA["aspirin_xtb"],
                          "perms": ref["perms"], "idxs_train": ref["idxs_train"]}, args.timeout)
            ratio = ref["wall_s"] / ours["wall_s"]
            results["cases"][f"aspirin_n{n}"] = {"sgdml": {k: v for k, v in ref.items() if k not in ("idxs_train", "perms")},
                                                 "fastgdml": ours, "speedup": ratio,
                                                 "f_mae_rel_diff": ours["f_mae"] / ref["f_mae"] - 1}
            print(f"aspirin n={n}: sgdml ({ref['solver']}, {ref['iterations']} it, {ref['inducing']} inducing columns, "
                  f"{ref['n_perms']} perms, budget {sgdml_budget:g} GB) {ref['wall_s']:.1f} s (+ "
                  f"{ref['create_task_s']:.1f} s create_task), test F MAE "
                  f"{ref['f_mae']:.4f}, peak {ref['peak_rss_gb']:.2f} GB | fastgdml (CG, {ours['iterations']} it) "
                  f"{ours['wall_s']:.1f} s, F MAE {ours['f_mae']:.4f}, peak {ours['peak_rss_gb']:.2f} GB | "
                  f"speed-up {ratio:.1f}x, F MAE difference {100 * (ours['f_mae'] / ref['f_mae'] - 1):+.2f}%")
    if "ala3" in args.cases:
        # G = 1 (identity): the automatic search finds 81 permutations (methyl rotors), 81x the cost per K v
        spec = {**base, "dataset": "ala3_xtb", "n_train": 2000, "sigma": SIGMA["ala3_xtb"], "perms": None,
                "symmetries": "none", "max_memory_gb": args.ala3_max_memory_gb}
        r = spawn(spec, args.timeout)
        results["cases"]["ala3_n2000"] = r
        print(f"ala3 n=2000 (252000 unknowns): {r['wall_s']:.0f} s, {r['iterations']} CG iterations "
              f"(converged: {r['converged']}), peak RSS {r['peak_rss_gb']:.2f} GB, test MAE F {r['f_mae']:.3f} "
              f"E {r['e_mae']:.3f}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
