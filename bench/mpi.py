"""Training over MPI ranks: 2 ranks x 1 thread against 1 rank x 2 threads on the same task (aspirin, n_train 1000 by
default), in one run, and the communication each CG iteration costs, projected to Ac-Ala3-NHMe n_train 6000 on 16
nodes.

Claims: the time ratio t(1 rank x 2 threads) / t(2 ranks x 1 thread) is >= 0.8 (communication costs little), and
the Nyström factor W per rank halves with 2 ranks (W holds each rank's rows). Measured per configuration: wall time
of fastgdml.train, CG iterations, peak RSS per rank, W's bytes per rank (local rows x k x 4, float storage), and the
bytes and seconds of every allreduce (a timing wrapper around the communicator).

    python bench/mpi.py                          # aspirin from ../shared/data (random cloud without it), n 1000
    python bench/mpi.py --n-train 400 --json bench/results/mpi.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import SHARED_DATA, machine, write_json  # noqa: E402


def worker(args) -> None:
    """One configuration (run under mpirun, or alone): train, print one JSON line per rank."""
    import fastgdml
    from fastgdml import parallel

    comm = parallel.resolve("auto")
    stats = {"allreduce_calls": 0, "allreduce_bytes": 0, "allreduce_s": 0.0,
             "allgather_calls": 0, "allgather_bytes": 0, "allgather_s": 0.0}
    if comm is not None:
        inner = comm.allreduce_sum

        def timed(buf):
            start = time.perf_counter()
            inner(buf)
            stats["allreduce_s"] += time.perf_counter() - start
            stats["allreduce_calls"] += 1
            stats["allreduce_bytes"] += buf.nbytes

        comm.allreduce_sum = timed
        inner_gather = comm.allgather

        def timed_gather(local, out, counts):
            start = time.perf_counter()
            inner_gather(local, out, counts)
            stats["allgather_s"] += time.perf_counter() - start
            stats["allgather_calls"] += 1
            stats["allgather_bytes"] += out.nbytes

        comm.allgather = timed_gather
    path = os.path.join(SHARED_DATA, "aspirin_xtb.npz")
    d = np.load(path)
    ds = fastgdml.Dataset(d["R"], d["z"], d["F"], E=np.ravel(d["E"]))
    idx = np.sort(np.random.default_rng(0).choice(len(ds.R), args.n_train, replace=False))
    start = time.perf_counter()
    model = fastgdml.train(ds, args.n_train, args.sigma, idxs_train=idx, n_valid=0, solver="cg", tol=args.tol,
                           inducing=args.inducing, perms=np.arange(ds.n_atoms)[None], comm=comm)
    seconds = time.perf_counter() - start
    rank, size = (comm.rank, comm.size) if comm is not None else (0, 1)
    first, count = parallel.share(args.n_train, rank, size)
    local_rows = count * (3 * ds.n_atoms)
    print(json.dumps({"rank": rank, "ranks": size, "threads": int(os.environ.get("OMP_NUM_THREADS", "0")),
                      "train_s": seconds, "iterations": int(model.arrays["solver_iters"]),
                      "converged": bool(model.arrays["solver_converged"]), "local_rows": local_rows,
                      "W_bytes": local_rows * args.inducing * 4,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, **stats}),
          flush=True)


def run(cmd, threads: int) -> list:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--sigma", type=float, default=10.0)
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--inducing", type=int, default=2000)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results", "mpi.json"))
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if not os.path.exists(os.path.join(SHARED_DATA, "aspirin_xtb.npz")):
        print(f"needs {SHARED_DATA}/aspirin_xtb.npz (or FASTGDML_BENCH_DATA)")
        return 1
    me = [sys.executable, os.path.abspath(__file__), "--worker", "--n-train", str(args.n_train), "--sigma",
          str(args.sigma), "--tol", str(args.tol), "--inducing", str(args.inducing)]
    mpirun = os.path.join(os.path.dirname(sys.executable), "mpirun")
    print("machine:", machine())
    one = run(me, threads=2)
    two = run([mpirun, "-np", "2", sys.executable, "-m", "mpi4py"] + me[1:], threads=1)
    t1, t2 = one[0]["train_s"], max(r["train_s"] for r in two)
    it2 = two[0]["iterations"]
    per_iteration_bytes = (two[0]["allreduce_bytes"] + two[0]["allgather_bytes"]) / max(it2, 1)
    per_iteration_comm_s = (two[0]["allreduce_s"] + two[0]["allgather_s"]) / max(it2, 1)
    calls = (two[0]["allreduce_calls"] + two[0]["allgather_calls"]) / max(it2, 1)
    ratio = t1 / t2
    print(f"aspirin n_train {args.n_train} ({one[0]['local_rows']} unknowns), {args.inducing} inducing columns, "
          f"tol {args.tol:g}")
    print(f"  1 rank x 2 threads: {t1:.1f} s, {one[0]['iterations']} CG iterations, W {one[0]['W_bytes'] / 2**20:.0f} "
          f"MiB, peak RSS {one[0]['peak_rss_bytes'] / 2**20:.0f} MiB")
    print(f"  2 ranks x 1 thread: {t2:.1f} s, {it2} CG iterations, W {two[0]['W_bytes'] / 2**20:.0f} MiB per rank, "
          f"peak RSS {max(r['peak_rss_bytes'] for r in two) / 2**20:.0f} MiB per rank")
    print(f"  time ratio t(1 x 2) / t(2 x 1) = {ratio:.2f} (claim >= 0.8); "
          f"W per rank {two[0]['W_bytes'] / one[0]['W_bytes']:.2f}x")
    print(f"  communication per CG iteration (2 ranks, one machine): {per_iteration_bytes / 2**20:.2f} MiB in "
          f"{calls:.1f} collectives (the K v allgather, allreduces), {per_iteration_comm_s * 1e3:.2f} ms "
          f"({100 * per_iteration_comm_s * it2 / t2:.1f}% of the training)")
    # Projection: Ac-Ala3-NHMe n 6000, G 18, energies: the K v gather is one allgather of all rows per iteration,
    # the rest (CG dots, Woodbury's k-vector) is small; compute 6 n^2 G D flops split over the nodes.
    n, N, G, k = 6000, 42, 18, 10000
    D, rows = N * (N - 1) // 2, 6000 * (3 * 42 + 1)
    flops = 6.0 * n * n * G * D
    bytes_per_iteration = 8.0 * (rows + k)
    nodes, link, node_tflops = 16, 12.5e9, 2.0  # 100 Gb/s network; 2 TFLOP/s of DGEMM per CPU node (assumed)
    comm_s = (nodes - 1) / nodes * bytes_per_iteration / link + 2 * np.log2(nodes) * 5e-6 * 4  # ring allgather
    compute_s = flops / nodes / (node_tflops * 1e12)
    print(f"projection Ac-Ala3-NHMe n 6000 G 18 on {nodes} nodes: {bytes_per_iteration / 2**20:.1f} MiB gathered "
          f"per CG iteration -> {comm_s * 1e3:.1f} ms at 100 Gb/s (ring allgather), against {compute_s * 1e3:.0f} ms of K v "
          f"per node at {node_tflops:g} TFLOP/s: communication {100 * comm_s / (comm_s + compute_s):.1f}% of an "
          f"iteration; W (k = {k}) {rows * k * 4 / nodes / 2**30:.1f} GiB per node in float")
    write_json(args.json, {"machine": machine(), "n_train": args.n_train, "inducing": args.inducing, "tol": args.tol,
                           "one_rank_two_threads": one, "two_ranks_one_thread": two, "time_ratio": ratio,
                           "communication_per_iteration_bytes": per_iteration_bytes,
                           "communication_per_iteration_s": per_iteration_comm_s,
                           "projection": {"molecule": "Ac-Ala3-NHMe", "n_train": n, "G": G, "k": k, "nodes": nodes,
                                          "link_bytes_per_s": link, "node_tflops_assumed": node_tflops,
                                          "bytes_per_iteration": bytes_per_iteration, "comm_s": comm_s,
                                          "compute_s": compute_s}})
    print("JSON:", args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
