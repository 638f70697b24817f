"""Time per LAMMPS MD step with pair_style fastgdml against one core prediction of the same geometry, same run.

The plugin calls fgdml_predict_virial once per step for the whole molecule; everything else LAMMPS does for a
21-atom molecule (integration, neighbour lists, thermo output, the MPI gather) should cost little next to it.
The core's time is measured through the same library (libfastgdml, by ctypes) in a fresh process with the same
thread count, one geometry per call as the plugin makes them.

    python bench/lammps.py                                   # builds the plugin into build/lammps if needed
    python bench/lammps.py --threads 2 --steps 5000 --ranks 2

Claim (bench/README.md): a LAMMPS step costs at most 1.2x a core prediction of one geometry.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from _common import machine, write_json  # noqa: E402

CORE_TIMER = r"""
import ctypes, statistics, sys, time
import numpy as np
import fastgdml
lib = ctypes.CDLL(fastgdml.get_library())
model = ctypes.c_void_p()
assert lib.fgdml_model_load(sys.argv[1].encode(), ctypes.byref(model)) == 0, lib.fgdml_last_error
R = np.load(sys.argv[2])["R"][0].astype(np.float64).copy()
n = R.shape[0]
E = ctypes.c_double()
F, W = np.empty(3 * n), np.empty(9)
ptr = lambda a: a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))
predict = lib.fgdml_predict_virial
predict.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.POINTER(ctypes.c_double)] * 4
args = (model, 1, ptr(R), ctypes.pointer(E), ptr(F), ptr(W))  # built once: the loop times the call, not ctypes
calls = int(sys.argv[3])
times = []
for repeat in range(6):
    t = time.perf_counter()
    for _ in range(calls):
        predict(*args)
    times.append((time.perf_counter() - t) / calls)
print(statistics.median(times[1:]), min(times[1:]))
"""


def build_plugin(build: str) -> str:
    plugin = os.path.join(build, "fastgdmlplugin.so")
    if not os.path.exists(plugin):
        subprocess.run(["cmake", "-S", os.path.join(ROOT, "lammps"), "-B", build, f"-DPython_EXECUTABLE={sys.executable}"],
                       check=True, capture_output=True)
        subprocess.run(["cmake", "--build", build, "-j2"], check=True, capture_output=True)
    return plugin


def lammps_step_seconds(args, plugin: str, data: str, env: dict) -> float:
    script = f"""units real
atom_style atomic
atom_modify map array
boundary s s s
read_data {data}
plugin load {plugin}
pair_style fastgdml
pair_coeff * * {args.model} C O H
velocity all create 300.0 4928459 mom yes rot yes dist gaussian loop geom
timestep 0.5
fix nve all nve
thermo 1000
run 200
run {args.steps}
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "in.bench")
        with open(path, "w") as f:
            f.write(script)
        lmp = os.path.join(os.path.dirname(sys.executable), "lmp")
        cmd = [lmp if os.path.exists(lmp) else "lmp", "-in", path, "-log", "none", "-echo", "none"]
        if args.ranks > 1:
            cmd = [os.path.join(sys.prefix, "bin", "mpirun"), "-np", str(args.ranks)] + cmd
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    loops = re.findall(r"Loop time of ([0-9.eE+-]+) on \d+ procs for (\d+) steps", out)
    seconds, steps = loops[-1]  # the second run: after warm-up
    return float(seconds) / int(steps)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=os.path.join(ROOT, "tests", "data", "aspirin_sgdml_sym.npz"))
    ap.add_argument("--geometries", default=os.path.join(ROOT, "tests", "data", "aspirin_sgdml_sym_predictions.npz"))
    ap.add_argument("--plugin", default=None, help="fastgdmlplugin.so (default: build into build/lammps)")
    ap.add_argument("--steps", type=int, default=3000, help="timed MD steps (after 200 warm-up steps)")
    ap.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS of both measurements")
    ap.add_argument("--ranks", type=int, default=1, help="MPI ranks of the LAMMPS run (mpirun)")
    ap.add_argument("--repeats", type=int, default=3, help="LAMMPS runs (the median is reported)")
    ap.add_argument("--json", default=os.path.join(HERE, "results", "lammps.json"))
    args = ap.parse_args(argv)
    plugin = args.plugin or build_plugin(os.path.join(ROOT, "build", "lammps"))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    print("machine:", machine(), f"threads {args.threads}, ranks {args.ranks}")
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "aspirin.data")
        subprocess.run([sys.executable, os.path.join(ROOT, "examples", "lammps", "make_data.py"), args.geometries,
                        data], check=True, capture_output=True)
        step = statistics.median(lammps_step_seconds(args, plugin, data, env) for _ in range(args.repeats))
    core_median, core_min = (float(v) for v in subprocess.run(
        [sys.executable, "-c", CORE_TIMER, args.model, args.geometries, str(args.steps)], capture_output=True,
        text=True, env=env, check=True).stdout.split())
    ratio = step / core_median
    print(f"LAMMPS step (median of {args.repeats} runs of {args.steps} steps): {step * 1e6:8.1f} us")
    print(f"core prediction of one geometry (libfastgdml, median):  {core_median * 1e6:8.1f} us (min {core_min * 1e6:.1f} us)")
    print(f"ratio LAMMPS step / core prediction: {ratio:.3f}  (claim: <= 1.2)")
    write_json(args.json, {"benchmark": "lammps", "machine": machine(), "model": args.model, "threads": args.threads,
                           "ranks": args.ranks, "steps": args.steps, "lammps_step_s": step,
                           "core_predict_median_s": core_median, "core_predict_min_s": core_min, "ratio": ratio})


if __name__ == "__main__":
    main()
