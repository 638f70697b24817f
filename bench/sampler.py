"""Training-sampler benchmark: our energy-stratified sampler against the public ``sgdml`` package's, over seeds.

For each dataset and training size, and each seed in ``--seeds``:
  * ours: ``fastgdml.stratified_sample(E, n, numpy.random.default_rng(seed), exclude=test)`` (what
    ``fastgdml.train`` / ``TrainingTask.sample`` call);
  * the reference: ``sgdml.train.GDMLTrain.draw_strat_sample(E, n, excl_idxs=test)`` after
    ``numpy.random.seed(seed)`` (what ``sgdml all`` / ``create_task`` call for the training indices);
both index sets are trained by fastgdml with the same sigma, lambda and permutation group (found once on the
dataset), Cholesky, and scored on the same held-out test geometries (a uniform draw, fixed, excluded from
both samplers' pools). Validation plays no part (sigma is fixed). Printed: per-seed errors, then for each
sampler the median, the spread (min-max, interquartile range) over seeds, the ratio of the medians (ours /
reference) measured in the same run, and a rank test (Mann-Whitney U, with scipy) of the two sets of errors. Also printed, as a diagnostic of the draw itself: the Kolmogorov-Smirnov
distance between the training energies and the pool's, per trained seed and (draws only, no training) its median
over ``--ks-seeds`` seeds.

Needs ../shared/data (or FASTGDML_BENCH_DATA) and the ``sgdml`` package; skips with a message otherwise.

    OMP_NUM_THREADS=2 python bench/sampler.py --datasets ethanol_xtb aspirin_xtb --n-train 200 --seeds 10
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _common import SHARED_DATA, machine, write_json  # noqa: E402

# Kernel length scales of the other benchmarks (symmetry.py): near the validation optimum at n_train 200.
SIGMA = {"ethanol_xtb": 20.0, "aspirin_xtb": 60.0}


def reference_sampler():
    """The reference's ``draw_strat_sample`` (unbound: it uses no state of ``GDMLTrain``), or None."""
    if not hasattr(np, "in1d"):
        np.in1d = np.isin  # removed in NumPy 2.4; sgdml 1.0.3 still calls it
    try:
        from sgdml.train import GDMLTrain
    except ImportError:
        return None
    return lambda E, n, excl: GDMLTrain.draw_strat_sample(None, E, n, excl_idxs=excl)


def ks_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: largest gap between the empirical CDFs of a and b."""
    grid = np.sort(np.concatenate([a, b]))
    ca = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cb = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.abs(ca - cb).max())


def test_errors(model, ds, test: np.ndarray) -> dict:
    """MAE and RMSE of energies (kcal/mol) and force components (kcal/mol/A) on the test frames."""
    E, F = model.predict(ds.R[test])
    dE = np.asarray(E).ravel() - ds.E[test].ravel()
    dF = (F - ds.F[test]).ravel()
    return {"e_mae": float(np.abs(dE).mean()), "e_rmse": float(np.sqrt((dE ** 2).mean())),
            "f_mae": float(np.abs(dF).mean()), "f_rmse": float(np.sqrt((dF ** 2).mean()))}


def rank_test(a, b):
    """Two-sided Mann-Whitney U p-value of a against b (None without scipy)."""
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        return None
    return float(mannwhitneyu(a, b).pvalue)


def summary(values) -> dict:
    """Median, min, max and interquartile range of a list of numbers."""
    v = np.asarray(values, dtype=np.float64)
    q25, q50, q75 = np.percentile(v, [25, 50, 75])
    return {"median": float(q50), "min": float(v.min()), "max": float(v.max()), "iqr": float(q75 - q25)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["ethanol_xtb", "aspirin_xtb"])
    ap.add_argument("--n-train", nargs="+", type=int, default=[200], help="training sizes (default: 200)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per sampler (default: 10)")
    ap.add_argument("--first-seed", type=int, default=0, help="first seed (default: 0)")
    ap.add_argument("--n-test", type=int, default=1000, help="held-out test geometries (default: 1000)")
    ap.add_argument("--sigma", type=float, default=None, help="kernel length scale (default: per dataset)")
    ap.add_argument("--lam", type=float, default=1e-10, help="ridge regulariser (default: 1e-10)")
    ap.add_argument("--ks-seeds", type=int, default=300,
                    help="seeds of the draw-only comparison (KS distance, no training; default: 300)")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "sampler.json"))
    args = ap.parse_args(argv)
    missing = [d for d in args.datasets if not os.path.exists(os.path.join(SHARED_DATA, f"{d}.npz"))]
    if missing:
        print(f"skipped: needs {', '.join(missing)} in {SHARED_DATA} (set FASTGDML_BENCH_DATA to another folder)")
        return 0
    draw_reference = reference_sampler()
    if draw_reference is None:
        print("skipped: needs the public sgdml package (pip install sgdml) for the reference's sampler")
        return 0
    import fastgdml
    from fastgdml.data.sampling import stratified_sample

    config = {"datasets": args.datasets, "n_train": args.n_train, "seeds": args.seeds, "first_seed": args.first_seed,
              "n_test": args.n_test, "lam": args.lam}
    print("machine:", machine())
    print("config:", config)
    results = {"benchmark": "sampler", "machine": machine(), "config": config, "cases": []}
    for name in args.datasets:
        ds = fastgdml.Dataset.load(os.path.join(SHARED_DATA, f"{name}.npz"))
        sigma = args.sigma if args.sigma is not None else SIGMA.get(name, 20.0)
        perms = fastgdml.find_permutations(ds.R, ds.z, max_frames=1000, seed=0)
        test = np.sort(np.random.default_rng(12345).choice(len(ds), args.n_test, replace=False))
        pool = np.setdiff1d(np.arange(len(ds)), test)
        E_all = ds.E.ravel()
        print(f"{name}: {len(ds)} geometries, {ds.n_atoms} atoms, sigma {sigma:g}, lambda {args.lam:g}, "
              f"{len(perms)} permutations, {len(test)} test geometries, pool {len(pool)}")
        for n in args.n_train:
            ks = {"ours": [], "reference": []}
            for seed in range(args.ks_seeds):
                np.random.seed(seed)
                ks["ours"].append(ks_distance(E_all[stratified_sample(ds.E, n, np.random.default_rng(seed),
                                                                      exclude=test)], E_all[pool]))
                ks["reference"].append(ks_distance(E_all[np.asarray(draw_reference(ds.E, n, test), dtype=np.int64)],
                                                   E_all[pool]))
            ks = {label: summary(v) for label, v in ks.items()}
            print(f"  n_train {n}, draws only, {args.ks_seeds} seeds: KS distance of the training energies to the "
                  f"pool's, median ours {ks['ours']['median']:.4f} ref {ks['reference']['median']:.4f} "
                  f"(ratio {ks['ours']['median'] / ks['reference']['median']:.3f})", flush=True)
            runs = {"ours": [], "reference": []}
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                np.random.seed(seed)
                draws = {"ours": stratified_sample(ds.E, n, np.random.default_rng(seed), exclude=test),
                         "reference": np.sort(np.asarray(draw_reference(ds.E, n, test), dtype=np.int64))}
                for label, idxs in draws.items():
                    assert len(np.unique(idxs)) == n and not np.intersect1d(idxs, test).size
                    t = time.perf_counter()
                    model = fastgdml.train(ds, n, sigma, lam=args.lam, perms=perms, idxs_train=idxs, n_valid=0,
                                           validate=False, solver="cholesky")
                    err = test_errors(model, ds, test)
                    err.update(seed=seed, seconds=time.perf_counter() - t, ks=ks_distance(E_all[idxs], E_all[pool]))
                    runs[label].append(err)
                o, r = runs["ours"][-1], runs["reference"][-1]
                print(f"  n_train {n} seed {seed}: F MAE ours {o['f_mae']:.4f} ref {r['f_mae']:.4f} kcal/mol/A, "
                      f"E MAE ours {o['e_mae']:.4f} ref {r['e_mae']:.4f} kcal/mol, KS ours {o['ks']:.3f} "
                      f"ref {r['ks']:.3f}", flush=True)
            case = {"dataset": name, "n_train": n, "sigma": sigma, "n_perms": int(len(perms)), "runs": runs,
                    "ks_draws": dict(ks, seeds=args.ks_seeds), "summary": {}}
            print(f"{name}, n_train {n}, {args.seeds} seeds: median [min-max] (IQR); ratio = median ours / median ref")
            for key, unit in (("f_mae", "kcal/mol/A"), ("f_rmse", "kcal/mol/A"), ("e_mae", "kcal/mol"),
                              ("e_rmse", "kcal/mol"), ("ks", "")):
                s = {label: summary([x[key] for x in runs[label]]) for label in runs}
                ratio = s["ours"]["median"] / s["reference"]["median"]
                wins = sum(o[key] < r[key] for o, r in zip(runs["ours"], runs["reference"]))
                p = rank_test([x[key] for x in runs["ours"]], [x[key] for x in runs["reference"]])
                case["summary"][key] = dict(s, ratio=ratio, p_value=p)
                print(f"  {key:6s} ours {s['ours']['median']:.4f} [{s['ours']['min']:.4f}-{s['ours']['max']:.4f}] "
                      f"({s['ours']['iqr']:.4f})  ref {s['reference']['median']:.4f} "
                      f"[{s['reference']['min']:.4f}-{s['reference']['max']:.4f}] ({s['reference']['iqr']:.4f}) "
                      f"{unit}  ratio {ratio:.3f}  (ours lower in {wins}/{args.seeds} seed pairs; Mann-Whitney p "
                      f"{'n/a' if p is None else f'{p:.2f}'})", flush=True)
            results["cases"].append(case)
            write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
