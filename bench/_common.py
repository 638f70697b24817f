"""Shared helpers of the benchmark scripts: data, timing, the machine's DGEMM rate, JSON output."""
from __future__ import annotations

import json
import os
import platform
import statistics
import time

import numpy as np

# The datasets of ../shared/data, or a copy named by FASTGDML_BENCH_DATA (the GPU machine has no ../shared).
SHARED_DATA = os.environ.get("FASTGDML_BENCH_DATA") or os.path.join(os.path.dirname(__file__), "..", "..", "shared",
                                                                       "data")


def timeit(fn, repeats: int = 5, warmup: int = 1, min_time: float = 0.0) -> dict:
    """Median and min wall time of fn() over repeats (after warm-up calls)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - start < min_time:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times), "repeats": len(times)}


def dgemm_time(m: int, n: int, k: int, min_time: float = 0.5) -> float:
    """Best time of C = A B^T (m x k times k x n) through the core's own BLAS, repeated for min_time seconds."""
    from fastgdml import _core

    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((m, k)), rng.standard_normal((n, k))
    return timeit(lambda: _core.gemm_abt(A, B), repeats=3, min_time=min_time)["min_s"]


def dgemm_rate(m: int, n: int, k: int, min_time: float = 0.5) -> float:
    """GFLOP/s of C = A B^T (m x k times k x n) through the core's own BLAS."""
    return 2.0 * m * n * k / dgemm_time(m, n, k, min_time) / 1e9


def load_geometries(name: str, count: int, n_atoms_fallback: int, seed: int = 0):
    """R (count, N, 3) and z from ../shared/data/<name>.npz when present, else a random molecule-like cloud."""
    path = os.path.join(SHARED_DATA, f"{name}.npz")
    rng = np.random.default_rng(seed)
    if os.path.exists(path):
        d = np.load(path)
        idx = np.sort(rng.choice(len(d["R"]), size=count, replace=False))
        return d["R"][idx], d["z"], f"{name} ({path})"
    base = rng.uniform(0, 1.2 * n_atoms_fallback ** (1 / 3) * 1.5, size=(n_atoms_fallback, 3))
    R = base[None] + 0.1 * rng.standard_normal((count, n_atoms_fallback, 3))
    return R, np.full(n_atoms_fallback, 6), f"random {n_atoms_fallback}-atom cloud"


def methyl_rotor_group(R0: np.ndarray, z: np.ndarray, max_rotors: int = 1) -> np.ndarray:
    """Permutation group of up to max_rotors methyl rotors (S3 on each CH3's hydrogens): a realistic sGDML group."""
    from itertools import permutations, product

    N = len(z)
    rotors = []
    for c in np.flatnonzero(z == 6):
        hs = [h for h in np.flatnonzero(z == 1) if np.linalg.norm(R0[h] - R0[c]) < 1.25]
        if len(hs) == 3:
            rotors.append(hs)
    group = []
    for choice in product(*[list(permutations(h)) for h in rotors[:max_rotors]]):
        p = np.arange(N)
        for hs, img in zip(rotors[:max_rotors], choice):
            p[hs] = img
        group.append(p)
    return np.array(group) if group else np.arange(N)[None]


def machine() -> dict:
    from fastgdml import _core

    return {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "threads": _core.get_num_threads(), "blas": _core.blas_name(), "blas_threads": _core.blas_threads()}


def write_json(path: str, payload: dict) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
    print(f"wrote {path}")
