"""Kernel-vector product K v (one CG iteration of the iterative solver): GFLOP/s and fraction of DGEMM rate.

Flops are counted as 6 n^2 G D per product (DESIGN.md §2: three n x n x D products per permutation). The
DGEMM rate is measured in the same run through the core's own BLAS on the two products a K v performs
(T = A U^T: nG x D times D x n; Z = W [X; U]: nG x 2n times 2n x D), as 6 n^2 G D / (t_T + t_Z), and on a
square 2000^3 product for reference.

    python bench/matvec.py                     # aspirin (N=21) and Ac-Ala3-NHMe (N=42), n = 500..2000
    python bench/matvec.py --sizes 1000 --molecules ala3_xtb --verify
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import dgemm_rate, dgemm_time, load_geometries, machine, methyl_rotor_group, timeit, write_json  # noqa: E402

from fastgdml import _core  # noqa: E402

MOLECULES = {"aspirin_xtb": 21, "ala3_xtb": 42}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--molecules", nargs="+", default=list(MOLECULES), choices=list(MOLECULES))
    ap.add_argument("--sizes", nargs="+", type=int, default=[500, 1000, 2000], help="n_train values")
    ap.add_argument("--rotors", type=int, default=1, help="methyl rotors in the permutation group (G = 6^rotors)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sigma", type=float, default=30.0)
    ap.add_argument("--verify", action="store_true", help="check K v against the assembled K (small n only)")
    ap.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results", "matvec.json"))
    args = ap.parse_args(argv)

    print("machine:", machine())
    square_rate = dgemm_rate(2000, 2000, 2000)
    print(f"DGEMM 2000^3: {square_rate:.1f} GFLOP/s")
    rows = []
    for name in args.molecules:
        for n in args.sizes:
            R, z, source = load_geometries(name, n, MOLECULES[name])
            perms = methyl_rotor_group(R[0], z, args.rotors)
            G, N = len(perms), R.shape[1]
            D = N * (N - 1) // 2
            op = _core.KernelOperator(R, perms, args.sigma, cache_bytes=4 << 30)
            v = np.random.default_rng(1).standard_normal(op.size)
            t = timeit(lambda: op.matvec(v), repeats=args.repeats, min_time=1.0)
            flops = 6.0 * n * n * G * D
            gflops = flops / t["min_s"] / 1e9
            ref_rate = flops / (dgemm_time(n * G, n, D) + dgemm_time(n * G, D, 2 * n)) / 1e9
            row = {"molecule": name, "source": source, "n_train": n, "n_atoms": N, "D": D, "G": G,
                   "time_s": t["min_s"], "median_s": t["median_s"], "gflops": gflops,
                   "dgemm_rate_same_shape": ref_rate, "dgemm_rate_square": square_rate,
                   "fraction_of_dgemm": gflops / ref_rate, "fraction_of_square_dgemm": gflops / square_rate,
                   "cache_bytes": op.cache_bytes}
            if args.verify:
                K = op.assemble()
                ref = K @ v
                row["verify_max_rel_err"] = float(np.abs(op.matvec(v) - ref).max() / np.abs(ref).max())
            rows.append(row)
            print(f"{name:12s} n={n:5d} N={N} G={G} D={D}: {t['min_s'] * 1e3:8.1f} ms  {gflops:6.1f} GFLOP/s  "
                  f"= {100 * row['fraction_of_dgemm']:5.1f}% of DGEMM same shape ({ref_rate:.1f}), "
                  f"{100 * row['fraction_of_square_dgemm']:5.1f}% of square DGEMM"
                  + (f"  verify {row['verify_max_rel_err']:.1e}" if args.verify else ""))
    write_json(args.json, {"benchmark": "matvec", "machine": machine(), "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
