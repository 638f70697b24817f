"""Permutation-symmetry search benchmark: agreement with the reference, speed, and what symmetries buy.

For ethanol_xtb, aspirin_xtb and ala3_xtb:
  * the group found on the reference's own 200 frames (fixtures' perms_reference.npz) against the reference's
    group, and the search time against the reference's time on those frames (stored in the fixture);
  * the group found on 1000 random frames: size, blocks, time;
  * for ethanol (sigma 20) and aspirin (sigma 60), n_train = 200: test errors on 1000 held-out geometries of
    a model trained with the found group and one without symmetries (same training indices).

Needs ../shared/data and ../shared/fixtures.

    python bench/symmetry.py
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

FIXTURE = os.path.join(SHARED_DATA, "..", "fixtures", "perms_reference.npz")
SIGMA = {"ethanol_xtb": 20.0, "aspirin_xtb": 60.0}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["ethanol_xtb", "aspirin_xtb", "ala3_xtb"])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--n-train", type=int, default=200)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "symmetry.json"))
    args = ap.parse_args(argv)
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
