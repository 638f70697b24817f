"""The CUDA backend on a GPU: K v and prediction against cuBLAS DGEMM of the same shapes, and a CG training of
Ac-Ala3-NHMe against the CPU backend, all in one run. Run by bench/gpu_check.sh (one H200, a few minutes).

K v flops are counted as 6 n^2 G D (DESIGN.md §2). Its baseline is cuBLAS DGEMM on the two product shapes of one
K v (T = A [X; U]^T: nG x D times D x 2n; Z = W [X; U]: nG x 2n times 2n x D), timed through the same backend's
DenseAlgebra in the same run; the fraction of the FP64 peak (67 TFLOP/s on H100/H200 tensor cores) is printed too.

    python bench/gpu.py --json bench/results/gpu.json            # the targets: Ac-Ala3-NHMe n 6000, G 18
    python bench/gpu.py --quick                                  # small shapes (a smoke run)
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import SHARED_DATA, load_geometries, machine, methyl_rotor_group, timeit, write_json  # noqa: E402

import fastgdml  # noqa: E402
from fastgdml import _core  # noqa: E402

FP64_PEAK_TFLOPS = {"H100": 67.0, "H200": 67.0, "A100": 19.5}  # tensor-core FP64 peaks (vendor data sheets)


def peak_of(description: str):
    for name, peak in FP64_PEAK_TFLOPS.items():
        if name in description:
            return peak
    return None


def geometries(name: str, count: int, N: int, seed: int = 0) -> np.ndarray:
    """count geometries of the dataset (resampled with 0.01 Å noise beyond its size: timing only)."""
    R, z, source = load_geometries(name, min(count, 5000), N, seed)
    if count > len(R):
        rng = np.random.default_rng(seed)
        extra = R[rng.integers(0, len(R), count - len(R))] + 0.01 * rng.standard_normal((count - len(R),) + R.shape[1:])
        R = np.concatenate([R, extra])
    return R, z, source


def group_of(R0, z, G: int) -> np.ndarray:
    """G permutations: the group of two methyl rotors (36) cut to G (a timing workload, not a group for training)."""
    perms = methyl_rotor_group(R0, z, 2 if G > 6 else 1)
    return perms[:G]


def bench_matvec(name: str, N: int, n: int, G: int, repeats: int, peak) -> dict:
    R, z, source = geometries(name, n, N)
    perms = group_of(R[0], z, G)
    G, D = len(perms), N * (N - 1) // 2
    start = time.perf_counter()
    op = _core.KernelOperator(R, perms, 30.0, backend="cuda")
    prepare_s = time.perf_counter() - start
    v = np.random.default_rng(1).standard_normal(op.size)
    t = timeit(lambda: op.matvec(v), repeats=repeats, warmup=1)
    flops = 6.0 * n * n * G * D
    rows = n * G
    t_T = statistics.median(_core.backend_gemm_seconds("cuda", rows, 2 * n, D, repeats))
    t_Z = statistics.median(_core.backend_gemm_seconds("cuda", rows, D, 2 * n, repeats))
    dgemm_tflops = 2.0 * rows * 2 * n * D * 2 / (t_T + t_Z) / 1e12
    tflops = flops / t["median_s"] / 1e12
    row = {"molecule": name, "source": source, "n": n, "G": G, "D": D, "unknowns": op.size,
           "prepare_s": prepare_s, "matvec_s": t["median_s"], "tflops": tflops,
           "cublas_same_shapes_tflops": dgemm_tflops,
           "fraction_of_cublas": tflops / dgemm_tflops, "fraction_of_fp64_peak": tflops / peak if peak else None}
    print(f"K v {name} n={n} G={G} D={D} ({op.size} unknowns): {t['median_s'] * 1e3:.1f} ms = {tflops:.2f} TFLOP/s; "
          f"cuBLAS same shapes {dgemm_tflops:.2f} TFLOP/s ({100 * tflops / dgemm_tflops:.0f}%)"
          + (f"; {100 * tflops / peak:.0f}% of the {peak:g} TFLOP/s FP64 peak" if peak else ""))
    return row


def bench_predict(repeats: int) -> dict:
    path = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "aspirin_sgdml_sym.npz")
    R = np.load(os.path.join(os.path.dirname(path), "aspirin_sgdml_sym_predictions.npz"))["R"]
    batch = R[np.arange(100) % len(R)]
    out = {}
    for backend in ("cpu", "cuda"):
        model = fastgdml.Model.load(path, backend=backend)
        one = timeit(lambda: model.predict(R[0]), repeats=max(repeats, 50), warmup=5)
        hundred = timeit(lambda: model.predict(batch), repeats=repeats, warmup=1)
        out[backend] = {"single_s": one["median_s"], "batch100_s": hundred["median_s"]}
    cpu, gpu = fastgdml.Model.load(path), fastgdml.Model.load(path, backend="cuda")
    out["max_force_difference"] = float(np.abs(gpu.predict(batch)[1] - cpu.predict(batch)[1]).max())
    print(f"predict aspirin (sgdml fixture): one geometry {out['cuda']['single_s'] * 1e6:.0f} us on cuda, "
          f"{out['cpu']['single_s'] * 1e6:.0f} us on cpu; batch of 100 {out['cuda']['batch100_s'] * 1e3:.2f} ms on "
          f"cuda, {out['cpu']['batch100_s'] * 1e3:.2f} ms on cpu; "
          f"max |F_cuda - F_cpu| {out['max_force_difference']:.1e}"
          " kcal/mol/Å")
    return out


def bench_training(n_train: int) -> dict:
    """Ac-Ala3-NHMe (or a random cloud without ../shared/data): CG on both backends, same task, errors compared."""
    path = os.path.join(SHARED_DATA, "ala3_xtb.npz")
    if os.path.exists(path):
        d = np.load(path)
        ds = fastgdml.Dataset(d["R"], d["z"], d["F"], E=np.ravel(d["E"]))
    else:
        return {"skipped": f"no {path}"}
    perms = methyl_rotor_group(ds.R[0], ds.z, 1)
    idx = np.random.default_rng(0).permutation(len(ds.R))
    train_idx, test_idx = np.sort(idx[:n_train]), idx[n_train:n_train + 500]
    out = {"n_train": n_train, "G": len(perms)}
    models = {}
    for backend in ("cuda", "cpu"):
        start = time.perf_counter()
        models[backend] = fastgdml.train(ds, n_train, 30.0, perms=perms, idxs_train=train_idx, n_valid=0,
                                         solver="cg", tol=1e-6, backend=backend)
        out[f"{backend}_s"] = time.perf_counter() - start
        print(f"CG training Ac-Ala3-NHMe n={n_train} G={len(perms)} on {backend}: {out[f'{backend}_s']:.1f} s")
    F_test = ds.F[test_idx]
    for backend, model in models.items():
        out[f"{backend}_test_force_rmse"] = float(np.sqrt(((model.predict(ds.R[test_idx])[1] - F_test) ** 2).mean()))
    out["max_force_difference"] = float(np.abs(models["cuda"].predict(ds.R[test_idx[:50]])[1] -
                                               models["cpu"].predict(ds.R[test_idx[:50]])[1]).max())
    print(f"  test force RMSE cuda {out['cuda_test_force_rmse']:.4f}, cpu {out['cpu_test_force_rmse']:.4f} "
          f"kcal/mol/Å; max |F_cuda - F_cpu| {out['max_force_difference']:.1e} kcal/mol/Å; "
          f"speed-up {out['cpu_s'] / out['cuda_s']:.1f}x")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small shapes only (smoke run)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--train-n", type=int, default=600, help="n_train of the CG comparison (0: skip it)")
    ap.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results", "gpu.json"))
    args = ap.parse_args(argv)

    device = _core.describe_backend("cuda")  # RuntimeError naming the cause without a usable GPU
    peak = peak_of(device)
    print("machine:", machine())
    print("device:", device)
    cases = [("aspirin_xtb", 21, 200, 6)] if args.quick else [
        ("aspirin_xtb", 21, 1000, 6), ("ala3_xtb", 42, 2000, 18), ("ala3_xtb", 42, 6000, 18)]
    result = {"machine": machine(), "device": device, "fp64_peak_tflops": peak,
              "matvec": [bench_matvec(*c, args.repeats, peak) for c in cases],
              "predict": bench_predict(args.repeats)}
    if args.train_n > 0 and not args.quick:
        result["training"] = bench_training(args.train_n)
    write_json(args.json, result)
    print("JSON:", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
