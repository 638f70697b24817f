"""Reference numbers for `fastgdml_bench_predict --verify`: energies and forces of a model made by Model.predict.

Writes OUT.npz with keys R (n, N, 3), E (n), F (n, N, 3) in the model's units, plus the model path and the
fastgdml version that made them. Geometries come from --geometries (a dataset or any .npz with key R) or, by
default, from MODEL_predictions.npz beside the model (the naming of the tests/data fixtures).

    python bench/cpp/make_reference.py tests/data/aspirin_sgdml_sym.npz /tmp/aspirin_ref.npz --n 20
    python bench/cpp/make_reference.py MODEL.npz OUT.npz --geometries ../shared/data/aspirin_xtb.npz --n 100
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="sGDML or fastgdml model file (.npz)")
    ap.add_argument("out", help="reference file to write (.npz with R, E, F)")
    ap.add_argument("--n", type=int, default=100, help="geometries (the first n of the source; default 100)")
    ap.add_argument("--geometries", help=".npz with key R (M, N, 3); default MODEL_predictions.npz")
    args = ap.parse_args(argv)

    import fastgdml  # after argument parsing, so --help works without the package

    source = args.geometries or os.path.splitext(args.model)[0] + "_predictions.npz"
    if not os.path.exists(source):
        ap.error(f"no geometries: {source} does not exist (give --geometries)")
    if args.n < 1:
        ap.error("--n must be >= 1")
    model = fastgdml.Model.load(args.model)
    with np.load(source) as data:
        R = np.ascontiguousarray(data["R"][: args.n], dtype=np.float64)
    E, F = model.predict(R)
    np.savez(args.out, R=R, E=np.asarray(E, dtype=np.float64), F=np.asarray(F, dtype=np.float64),
             model=os.path.abspath(args.model), geometries=os.path.abspath(source), fastgdml=fastgdml.__version__)
    print(f"wrote {args.out}: {len(R)} geometries of {model.n_atoms} atoms from {source}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
