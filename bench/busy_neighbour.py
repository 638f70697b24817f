"""Prediction and K v beside a busy neighbour: how OpenMP's wait policy and thread count behave when another
process keeps one of the cores busy (an MD engine, an MPI rank, another job).

Each configuration runs in a fresh child process (OpenMP reads its environment once, when the library loads),
once on a quiet machine and once beside a competing process (``--neighbour spin``: one core kept busy;
``fastgdml``: another fastgdml job on 2 threads with the same settings, K v and batched predictions as in a
training). Measured: one aspirin geometry
per call (MD), a batch of 100 geometries, and one K v of aspirin n_train 200 (G = 6). Printed: medians and the
ratio busy / quiet per configuration.

    python bench/busy_neighbour.py [--json bench/results/busy_neighbour.json]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))

CHILD = r'''
import json, os, sys, time, statistics
import numpy as np
sys.path.insert(0, {here!r})
import fastgdml
from fastgdml import _core
model = fastgdml.Model.load(os.path.join({here!r}, "..", "tests", "data", "aspirin_sgdml_sym.npz"))
R = np.load(os.path.join({here!r}, "..", "tests", "data", "aspirin_sgdml_sym_predictions.npz"))["R"]
R100 = np.concatenate([R] * (100 // len(R) + 1))[:100]
op = _core.KernelOperator(np.concatenate([R] * 10)[:200], model.perms, 20.0, use_energy=False, mask=None,
                          lattice=None, cache_bytes=1 << 30)
v = np.random.default_rng(0).standard_normal(op.size)

def median_time(fn, seconds=1.5):
    fn()
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return statistics.median(times)

print(json.dumps({{"single_us": 1e6 * median_time(lambda: model.predict(R[0])),
                  "batch100_ms": 1e3 * median_time(lambda: model.predict(R100)),
                  "matvec_ms": 1e3 * median_time(lambda: op.matvec(v))}}))
'''

# "default" is what a user gets: fastgdml loads OpenMP with a passive wait policy (python/fastgdml/_openmp.py).
# GOMP_SPINCOUNT=300000 is GNU OpenMP's own default (spin, then sleep), the setting before that change.
CONFIGS = {
    "default (2 threads)": {},
    "GOMP_SPINCOUNT=300000": {"GOMP_SPINCOUNT": "300000"},
    "OMP_WAIT_POLICY=active": {"OMP_WAIT_POLICY": "active"},
    "1 thread": {"OMP_NUM_THREADS": "1"},
    "GOMP_SPINCOUNT=1000": {"GOMP_SPINCOUNT": "1000"},
    "OMP_DYNAMIC=true": {"OMP_DYNAMIC": "true"},
}


def spin():
    while True:
        pass


NEIGHBOUR_JOB = r'''
import os, sys, numpy as np
sys.path.insert(0, {here!r})
import fastgdml
model = fastgdml.Model.load(os.path.join({here!r}, "..", "tests", "data", "aspirin_sgdml_sym.npz"))
R = np.load(os.path.join({here!r}, "..", "tests", "data", "aspirin_sgdml_sym_predictions.npz"))["R"]
op = fastgdml._core.KernelOperator(np.concatenate([R] * 2), model.perms, 20.0)
v = np.ones(op.size)
model.predict(R)
print("ready", flush=True)
while True:  # what a training does: K v, with some batched prediction (validation) in between
    for _ in range(5):
        op.matvec(v)
    model.predict(R)
'''


def start_neighbour(kind: str, env_extra: dict):
    """A competing process: 'spin' keeps one core busy; 'fastgdml' is another OpenMP job (batches of 100
    predictions on 2 threads, with the configuration under test), as when two trainings share a machine."""
    if kind == "spin":
        proc = mp.get_context("spawn").Process(target=spin, daemon=True)
        proc.start()
        time.sleep(0.5)  # let it start spinning
        return proc.terminate
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_DYNAMIC")}
    env.update(env_extra)
    proc = subprocess.Popen([sys.executable, "-c", NEIGHBOUR_JOB.format(here=HERE)], env=env,
                            stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":  # measure only once the neighbour is at work
        proc.kill()
        raise RuntimeError("the neighbour job did not start")
    return proc.kill


def run(env_extra: dict) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_DYNAMIC")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", CHILD.format(here=HERE)], capture_output=True, text=True,
                         env=env, timeout=600)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "busy_neighbour.json"))
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--neighbour", choices=("spin", "fastgdml"), default="spin",
                    help="the competing process: one spinning core, or another fastgdml job with the same settings")
    args = ap.parse_args(argv)
    results = {}
    for name in args.configs:
        quiet = run(CONFIGS[name])
        stop = start_neighbour(args.neighbour, CONFIGS[name])
        try:
            busy = run(CONFIGS[name])
        finally:
            stop()
        results[name] = {"quiet": quiet, "busy": busy}
        print(f"{name:26s} single {quiet['single_us']:7.1f} -> {busy['single_us']:7.1f} us ({busy['single_us'] / quiet['single_us']:4.1f}x)"
              f"   batch100 {quiet['batch100_ms']:6.2f} -> {busy['batch100_ms']:6.2f} ms ({busy['batch100_ms'] / quiet['batch100_ms']:4.1f}x)"
              f"   K v {quiet['matvec_ms']:6.2f} -> {busy['matvec_ms']:6.2f} ms ({busy['matvec_ms'] / quiet['matvec_ms']:4.1f}x)",
              flush=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump({"cores": os.cpu_count(), "neighbour": args.neighbour, "results": results}, f, indent=2)
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
