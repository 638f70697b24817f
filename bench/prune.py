"""Descriptor pruning benchmark (rGDML, issue 6): scoring time, the pruning curve, test errors and prediction speed.

For one dataset (default Ac-Ala3-NHMe, n_train = 1000, sigma 60, no symmetries, CG):
  1. trains the global model (cached in bench/results/ so reruns skip it);
  2. times fastgdml.feature_scores on 100 geometries (all D features);
  3. runs fastgdml.prune over the kept fractions (retraining each), validation errors per fraction;
  4. test errors of the global and of every reduced model on the same unused frames;
  5. prediction time of every model for 1 and for 100 geometries, as a ratio to the global model's (the
     baseline, same run); run it on a quiet machine (single-geometry prediction is memory-bound);
  6. overlap of the kept sets chosen on 10 and on 100 scoring geometries.

Needs ../shared/data.

    python bench/prune.py [--dataset ala3_xtb] [--n-train 1000] [--fractions 1 0.8 0.6 0.5 0.4 0.3]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="ala3_xtb")
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--sigma", type=float, default=60.0)
    ap.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.8, 0.6, 0.5, 0.4, 0.3])
    ap.add_argument("--n-score", type=int, default=300)
    ap.add_argument("--n-valid", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--max-memory-gb", type=float, default=6.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    path = os.path.join(SHARED_DATA, f"{args.dataset}.npz")
    if not os.path.exists(path):
        print(f"needs {path}")
        return 1
    import fastgdml
    from fastgdml.metrics import prediction_errors

    tag = f"{args.dataset}_n{args.n_train}_s{args.sigma:g}"
    json_path = args.json or os.path.join(HERE, "results", f"prune_{tag}.json")
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    ds = fastgdml.Dataset.load(path)
    budget = int(args.max_memory_gb * 2**30)
    print("machine:", machine())
    cache = os.path.join(HERE, "results", f"global_{tag}.npz")
    if os.path.exists(cache):
        model = fastgdml.Model.load(cache)
        print(f"global model from {cache}")
    else:
        t = time.perf_counter()
        model = fastgdml.train(ds, args.n_train, args.sigma, symmetries="none", n_valid=args.n_valid,
                               solver="cg", max_memory=budget, verbose=True)
        model.save(cache)
        print(f"global model trained in {time.perf_counter() - t:.0f} s -> {cache}")
    D = model.n_atoms * (model.n_atoms - 1) // 2
    rest = np.setdiff1d(np.arange(len(ds)), np.concatenate([model.idxs_train, model.idxs_valid]))

    R100 = ds.R[rest[:100]]
    t = time.perf_counter()
    scores100 = fastgdml.feature_scores(model, R100)
    score_s = time.perf_counter() - t
    print(f"feature_scores: {D} features on 100 geometries in {score_s:.1f} s")
    # does the kept set depend on how many geometries score it? (paper: 10 vs 1000 geometries, 97% overlap)
    from fastgdml.features import feature_orbits
    from fastgdml.prune import orbit_mask

    orbit = feature_orbits(model.perms, model.n_atoms)
    scores10 = fastgdml.feature_scores(model, ds.R[rest[100:110]])
    overlap = {}
    for f in (0.6, 0.5, 0.4):
        a, b = orbit_mask(scores10, orbit, f), orbit_mask(scores100, orbit, f)
        overlap[f] = len(np.intersect1d(a, b)) / len(b)
        print(f"kept set at fraction {f}: {overlap[f]:.1%} of the features chosen on 100 geometries are chosen on 10")

    t = time.perf_counter()
    best, result = fastgdml.prune(model, ds, fractions=args.fractions, n_score=args.n_score, verbose=True,
                                  solver="cg", max_memory=budget)
    prune_s = time.perf_counter() - t
    print(result.table())

    test_idx = np.setdiff1d(rest, result.idxs_score)
    test_idx = np.sort(np.random.default_rng(1).choice(test_idx, min(args.n_test, len(test_idx)), replace=False))
    one, hundred = ds.R[test_idx[:1]], ds.R[test_idx[:100]]
    rows = []
    base_time = base_batch = None
    for f in result.fractions:
        mask, m = result.masks[f], result.models[f]
        err = prediction_errors(m, ds, test_idx)
        speed = timeit(lambda: m.predict(one), repeats=400, warmup=30)["median_s"]
        batch = timeit(lambda: m.predict(hundred), repeats=7, warmup=1)["min_s"]
        base_time, base_batch = base_time or speed, base_batch or batch
        rows.append({"fraction": f, "features": int(len(mask)), "valid": result.errors[result.fractions.index(f)],
                     "test": err, "predict_1_s": speed, "speedup": base_time / speed, "predict_100_s": batch,
                     "speedup_100": base_batch / batch})
        print(f"fraction {f:4.2f} ({len(mask):4d} features): test F RMSE {err['f_rmse']:.4f} MAE {err['f_mae']:.4f}, "
              f"E RMSE {err['e_rmse']:.4f}; predict 1 geometry {speed * 1e3:.3f} ms ({base_time / speed:.2f}x the "
              f"global model), 100 geometries {batch * 1e3:.2f} ms ({base_batch / batch:.2f}x)")
    write_json(json_path, {"benchmark": "prune", "machine": machine(), "dataset": args.dataset,
                           "n_train": args.n_train, "sigma": args.sigma, "score_100_s": score_s,
                           "prune_s": prune_s, "best_fraction": result.best, "rows": rows, "overlap_10_vs_100": overlap,
                           "n_test": int(len(test_idx))})
    return 0


if __name__ == "__main__":
    sys.exit(main())
