"""rGDML feature scores in the core: time of fastgdml.feature_scores on 100 geometries against the machine's DGEMM
rate for the same GEMM shapes (the two (orbits x n)(n x 3N) products per geometry and permutation; the other work
is O(n D) per geometry and permutation).

The model is built from real geometries of the dataset (training descriptors) with random coefficients: the
cost does not depend on the coefficients' values, and a 1000-point training of Ac-Ala3-NHMe takes minutes.

    python bench/feature_scores.py [--dataset ala3_xtb.npz] [--n-train 1000] [--n-score 100] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import SHARED_DATA, dgemm_time, write_json  # noqa: E402

import fastgdml  # noqa: E402
from fastgdml import _core  # noqa: E402
from fastgdml.pruning.importance import feature_orbits  # noqa: E402


def synthetic_model(R_train: np.ndarray, z: np.ndarray, sigma: float, seed: int = 0) -> fastgdml.Model:
    X, _ = _core.descriptors(R_train)
    rng = np.random.default_rng(seed)
    V = rng.standard_normal(X.shape) * 1e-3
    arrays = {"type": np.array("m"), "z": z, "R_desc": X.T.copy(), "R_d_desc_alpha": V, "sig": np.float64(sigma),
              "std": np.float64(1.0), "c": np.float64(0.0), "perms": np.arange(len(z))[None]}
    return fastgdml.Model(arrays, source="synthetic")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default=os.path.join(SHARED_DATA, "ala3_xtb.npz"))
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-score", type=int, default=100)
    ap.add_argument("--sigma", type=float, default=40.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    ds = fastgdml.Dataset.load(args.dataset)
    rng = np.random.default_rng(1)
    idx = rng.permutation(len(ds))
    model = synthetic_model(ds.R[idx[:args.n_train]], ds.z, args.sigma)
    R = ds.R[idx[args.n_train:args.n_train + args.n_score]]
    n, D = args.n_train, ds.n_atoms * (ds.n_atoms - 1) // 2
    orbits = int(feature_orbits(model.perms, model.n_atoms).max()) + 1
    print(f"{os.path.basename(args.dataset)}: N = {ds.n_atoms}, D = {D}, n_train = {n}, G = 1, {orbits} orbits, "
          f"{len(R)} scoring geometries")
    t = time.perf_counter()
    scores = fastgdml.feature_scores(model, R)
    seconds = time.perf_counter() - t
    assert np.all(np.isfinite(scores))
    # the two GEMMs per geometry: (orbits x n)(n x 3N), twice; the same shape through the core's BLAS
    gemm_s = 2 * len(R) * dgemm_time(orbits, 3 * ds.n_atoms, n)
    gflop = 4.0 * len(R) * orbits * n * 3 * ds.n_atoms / 1e9
    print(f"feature_scores: {seconds:.2f} s ({gflop / seconds:.1f} GFLOP/s in its GEMMs' terms); the GEMMs alone "
          f"at this machine's DGEMM rate: {gemm_s:.2f} s; ratio {seconds / gemm_s:.2f}x the GEMM time")
    if args.json:
        write_json(args.json, {"dataset": args.dataset, "n_train": n, "D": D, "n_score": len(R), "seconds": seconds,
                               "gemm_seconds": gemm_s, "ratio_to_gemm": seconds / gemm_s})
    return 0


if __name__ == "__main__":
    sys.exit(main())
