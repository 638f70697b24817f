"""Prediction speed against the public sgdml package's NumPy predictor, same model and geometries, same run.

Single geometry (one call per geometry, as in MD) and batched (all geometries in one call). The model is a
reference-made fixture (aspirin, n_train = 100, 6 permutations) unless --model is given; agreement of the
two predictors is checked and reported.

    python bench/predict.py
    python bench/predict.py --model my_model.npz --batch 100
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import machine, timeit, write_json  # noqa: E402

import fastgdml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(HERE, "..", "tests", "data", "aspirin_sgdml_sym.npz")
DEFAULT_GEOMETRIES = os.path.join(HERE, "..", "tests", "data", "aspirin_sgdml_sym_predictions.npz")


def sgdml_predictor(model_path: str, processes: int):
    if not hasattr(np, "in1d"):  # sgdml 1.0.3 calls np.in1d, removed in NumPy 2.4
        np.in1d = lambda a, b, **kw: np.isin(np.ravel(a), b, **kw)
    from sgdml.predict import GDMLPredict

    return GDMLPredict(np.load(model_path, allow_pickle=True), max_processes=processes, use_torch=False,
                       log_level=40)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--geometries", default=DEFAULT_GEOMETRIES, help=".npz with key R (M, N, 3)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--single", type=int, default=50, help="geometries predicted one at a time")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "predict.json"))
    args = ap.parse_args(argv)

    print("machine:", machine())
    model = fastgdml.Model.load(args.model)
    R = np.load(args.geometries)["R"][: args.batch]
    B, N = len(R), model.n_atoms
    print(f"model {args.model}: {model!r}; {B} geometries")
    single = R[: args.single]

    ours_single = timeit(lambda: [model.predict(r) for r in single], repeats=args.repeats)
    ours_batch = timeit(lambda: model.predict(R), repeats=args.repeats)
    result = {"benchmark": "predict", "machine": machine(), "model": os.path.abspath(args.model),
              "n_train": model.n_train, "n_perms": len(model.perms), "n_atoms": N, "batch": B,
              "ours_single_s": ours_single["min_s"] / len(single), "ours_batch_s": ours_batch["min_s"]}
    print(f"fastgdml: single {1e6 * result['ours_single_s']:8.1f} us/geometry, "
          f"batch of {B}: {1e3 * result['ours_batch_s']:8.2f} ms")
    try:
        import sgdml  # noqa: F401
    except ImportError:
        print("sgdml is not installed (pip install torch==2.13.0 sgdml): no ratio measured")
        write_json(args.json, result)
        return 0
    for processes in (1, os.cpu_count()):
        ref = sgdml_predictor(args.model, processes)
        ref_single = timeit(lambda: [ref.predict(r.reshape(1, -1)) for r in single], repeats=args.repeats)
        ref_batch = timeit(lambda: ref.predict(R.reshape(B, -1)), repeats=args.repeats)
        E_ref, F_ref = ref.predict(R.reshape(B, -1))
        E, F = model.predict(R)
        key = f"sgdml_{processes}proc"
        result[key] = {"single_s": ref_single["min_s"] / len(single), "batch_s": ref_batch["min_s"],
                       "speedup_single": ref_single["min_s"] / ours_single["min_s"],
                       "speedup_batch": ref_batch["min_s"] / ours_batch["min_s"],
                       "max_abs_dE": float(np.abs(E - E_ref).max()),
                       "max_rel_dF": float(np.abs(F.reshape(B, -1) - F_ref).max() / np.abs(F_ref).max())}
        r = result[key]
        print(f"sgdml ({processes} process{'es' if processes > 1 else ''}): single {1e6 * r['single_s']:8.1f} us, "
              f"batch {1e3 * r['batch_s']:8.2f} ms  ->  speed-up single {r['speedup_single']:5.1f}x, "
              f"batch {r['speedup_batch']:5.1f}x  (agreement: dE {r['max_abs_dE']:.1e}, dF {r['max_rel_dF']:.1e} rel)")
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
