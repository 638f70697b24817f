"""Permutation-symmetry search benchmark: agreement with the reference, speed, and what symmetries buy.

For ethanol_xtb, aspirin_xtb and ala3_xtb:
  * the group found on the reference's own 200 frames (fixtures' perms_reference.npz) against the reference's
    group, and the search time against the reference's time on those frames (stored in the fixture);
  * the group found on 1000 random frames: size, blocks, time;
  * for ethanol (sigma 20) and aspirin (sigma 60), n_train = 200: test errors on 1000 held-out geometries of
    a model trained with the found group and one without symmetries (same training indices).

Needs ../shared/data and ../shared/fixtures.

    python bench/symmetry.py

``--sweep``: accuracy and time against the group size G (issue 18, item 3) instead. For each dataset of
``--sweep-datasets`` (default Ac-Ala3-NHMe) the automatic search runs with ``max_perms`` = each of ``--caps``
(default 1 3 9 27 81: the largest product of whole rotor blocks within the cap is kept), and a model is trained on
the same ``--sweep-n-train`` energy-stratified frames (seed 0), same sigma and lambda, Cholesky; printed per G:
test force and energy MAE / RMSE on ``--n-test`` held-out frames, training time, prediction time (one geometry,
and a batch of 100), and each ratio to G = 1 measured in the same run. Needs ../shared/data only (skips with a
message without it).

    OMP_NUM_THREADS=2 python bench/symmetry.py --sweep --sweep-n-train 200
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import SHARED_DATA, machine, timeit, write_json  # noqa: E402

FIXTURE = os.path.join(SHARED_DATA, "..", "fixtures", "perms_reference.npz")
SIGMA = {"ethanol_xtb": 20.0, "aspirin_xtb": 60.0}
SWEEP_SIGMA = {"ala3_xtb": 40.0, "ala10_xtb": 40.0}


def sweep(args) -> int:
    """Accuracy and time against the group size G (see the module docstring, ``--sweep``)."""
    missing = [d for d in args.sweep_datasets if not os.path.exists(os.path.join(SHARED_DATA, f"{d}.npz"))]
    if missing:
        print(f"skipped: needs {', '.join(missing)} in {SHARED_DATA} (set FASTGDML_BENCH_DATA to another folder)")
        return 0
    import fastgdml
    from fastgdml.data.sampling import stratified_sample

    print("machine:", machine())
    config = {"datasets": args.sweep_datasets, "caps": args.caps, "n_train": args.sweep_n_train,
              "n_test": args.n_test, "lam": args.lam, "solver": args.solver}
    print("config:", config)
    results = {"benchmark": "symmetry_sweep", "machine": machine(), "config": config, "datasets": {}}
    for name in args.sweep_datasets:
        ds = fastgdml.Dataset.load(os.path.join(SHARED_DATA, f"{name}.npz"))
        sigma = args.sigma if args.sigma is not None else SWEEP_SIGMA.get(name, 40.0)
        rng = np.random.default_rng(0)
        idxs = stratified_sample(ds.E, args.sweep_n_train, rng)
        rest = np.setdiff1d(np.arange(len(ds)), idxs)
        test = np.sort(rng.choice(rest, min(args.n_test, len(rest)), replace=False))
        print(f"{name}: {ds.n_atoms} atoms, n_train {len(idxs)}, sigma {sigma:g}, lambda {args.lam:g}, "
              f"{len(test)} test geometries, solver {args.solver}")
        rows, seen = [], set()
        for cap in args.caps:
            perms, search = fastgdml.find_permutations(ds.R, ds.z, max_frames=1000, max_size=cap, seed=0,
                                                       report=True, warn=False)
            if len(perms) in seen:
                print(f"  max_perms {cap}: G = {len(perms)} again, skipped")
                continue
            seen.add(len(perms))
            t = time.perf_counter()
            model = fastgdml.train(ds, len(idxs), sigma, lam=args.lam, perms=perms, idxs_train=idxs, n_valid=0,
                                   validate=False, solver=args.solver)
            train_s = time.perf_counter() - t
            E, F = model.predict(ds.R[test])
            dE, dF = E.ravel() - ds.E[test].ravel(), (F - ds.F[test]).ravel()
            one = timeit(lambda: model.predict(ds.R[test[:1]]), repeats=20, warmup=2)["median_s"]
            batch = timeit(lambda: model.predict(ds.R[test[:100]]), repeats=3, warmup=1)["median_s"]
            row = {"max_perms": cap, "G": int(len(perms)), "blocks": [[list(map(int, a)), n] for a, n in search.blocks],
                   "train_s": train_s, "predict_1_s": one, "predict_100_s": batch,
                   "f_mae": float(np.abs(dF).mean()), "f_rmse": float(np.sqrt((dF ** 2).mean())),
                   "e_mae": float(np.abs(dE).mean()), "e_rmse": float(np.sqrt((dE ** 2).mean()))}
            rows.append(row)
            base = rows[0]
            print(f"  G {row['G']:3d} (max_perms {cap}): test F MAE {row['f_mae']:.3f} RMSE {row['f_rmse']:.3f} "
                  f"kcal/mol/A ({row['f_mae'] / base['f_mae']:.3f}x G={base['G']}), E MAE {row['e_mae']:.3f} RMSE "
                  f"{row['e_rmse']:.3f} kcal/mol ({row['e_mae'] / base['e_mae']:.3f}x); train {train_s:.1f} s "
                  f"({train_s / base['train_s']:.2f}x); predict 1 geometry {one * 1e3:.2f} ms "
                  f"({one / base['predict_1_s']:.2f}x), 100 geometries {batch * 1e3:.1f} ms "
                  f"({batch / base['predict_100_s']:.2f}x)", flush=True)
            results["datasets"][name] = {"sigma": sigma, "n_train": int(len(idxs)), "rows": rows}
            write_json(args.json_sweep, results)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["ethanol_xtb", "aspirin_xtb", "ala3_xtb"])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "symmetry.json"))
    ap.add_argument("--sweep", action="store_true", help="accuracy and time against G instead (docstring)")
    ap.add_argument("--sweep-datasets", nargs="+", default=["ala3_xtb"])
    ap.add_argument("--sweep-n-train", type=int, default=200)
    ap.add_argument("--caps", nargs="+", type=int, default=[1, 3, 9, 27, 81], help="max_perms values of the sweep")
    ap.add_argument("--n-test", type=int, default=1000, help="sweep: held-out test geometries (default 1000)")
    ap.add_argument("--sigma", type=float, default=None, help="sweep: kernel length scale (default: per dataset)")
    ap.add_argument("--lam", type=float, default=1e-10, help="sweep: ridge regulariser (default 1e-10)")
    ap.add_argument("--solver", default="cholesky", choices=("cholesky", "cg"), help="sweep: solver")
    ap.add_argument("--json-sweep", default=os.path.join(HERE, "results", "symmetry_sweep.json"))
    args = ap.parse_args(argv)
    if args.sweep:
        return sweep(args)
    if not os.path.exists(FIXTURE):
        print(f"needs {FIXTURE} and the datasets in {SHARED_DATA}")
        return 1
    import fastgdml

    ref = np.load(FIXTURE, allow_pickle=True)
    print("machine:", machine())
    results = {"benchmark": "symmetry", "machine": machine(), "datasets": {}}
    for name in args.datasets:
        ds = fastgdml.Dataset.load(os.path.join(SHARED_DATA, f"{name}.npz"))
        out = results["datasets"].setdefault(name, {})
        ref_perms = ref[f"{name}_perms"]
        t = time.perf_counter()
        perms = fastgdml.find_permutations(ds.R[ref[f"{name}_idxs"]], ds.z)
        t200 = time.perf_counter() - t
        same = {tuple(p) for p in perms} == {tuple(p) for p in ref_perms}
        ref_s = float(ref[f"{name}_wall_s"])
        out["reference_frames"] = {"size": len(perms), "reference_size": len(ref_perms), "same_group": same,
                                   "seconds": t200, "reference_seconds": ref_s}
        print(f"{name}: reference's 200 frames: {len(perms)} permutations (reference {len(ref_perms)}, same set: "
              f"{same}) in {t200:.2f} s vs {ref_s:.2f} s ({ref_s / t200:.1f}x)")
        frames = np.sort(np.random.default_rng(0).choice(len(ds), min(args.frames, len(ds)), replace=False))
        perms, search = fastgdml.find_permutations(ds.R[frames], ds.z, max_frames=args.frames, report=True)
        out["frames"] = {"count": len(frames), "size": len(perms), "seconds": search.seconds,
                         "blocks": [[list(map(int, a)), s] for a, s in search.blocks], "left_out": search.left_out}
        print(f"{name}: {len(frames)} frames: " + search.describe().replace("\n", "\n    "))
        if name in SIGMA:
            errors = {}
            model = None
            for label in ("auto", "none"):
                kw = {"idxs_train": model.idxs_train} if model is not None else {}
                t = time.perf_counter()
                model = fastgdml.train(ds, args.n_train, SIGMA[name], symmetries=label, n_valid=0, validate=False,
                                       **kw)
                wall = time.perf_counter() - t
                test = np.setdiff1d(np.arange(len(ds)), model.idxs_train)
                test = np.sort(np.random.default_rng(1).choice(test, min(1000, len(test)), replace=False))
                E, F = model.predict(ds.R[test])
                errors[label] = {"perms": len(model.perms), "train_s": wall,
                                 "e_mae": float(np.abs(E.ravel() - ds.E[test].ravel()).mean()),
                                 "f_mae": float(np.abs(F - ds.F[test]).mean())}
            out["test_errors"] = errors
            a, b = errors["auto"], errors["none"]
            print(f"{name}: n_train={args.n_train}, 1000 test geometries: with the found group ({a['perms']} perms) "
                  f"MAE F {a['f_mae']:.4f} E {a['e_mae']:.4f}; without symmetries MAE F {b['f_mae']:.4f} "
                  f"E {b['e_mae']:.4f}")
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
