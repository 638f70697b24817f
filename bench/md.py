"""Molecular dynamics with a model: NVE energy conservation and cost per step against the public sgdml package's
ASE calculator (same model, same run), Langevin stability at 500 K, and path-integral MD throughput through i-PI.

- NVE: velocity Verlet at 0.5 fs; drift (slope of the total energy, meV/ps) and fluctuation (std, meV) of the
  total energy, time per step; the same with sgdml's ASE calculator on a shorter run (it is slower).
- Langevin at 500 K (ASE Langevin, fixcm=False with FixCom as ASE recommends): every bond of the start geometry
  stays below 1.5x its initial length, mean temperature within 10% of 500 K.
- PIMD with 32 beads through i-PI 3.3: bead-steps per second with the in-process batched PES (<ffdirect>,
  batch_size 32), with the socket driver (`fastgdml ipi`), and with ASE's SocketClient running the fastgdml
  calculator one bead at a time; the cost per step is i-PI's own average over steps 101-200.

The model defaults to the sgdml-made aspirin fixture of tests/data (n_train 100, 6 permutations), so both
calculators evaluate the same model.

    python bench/md.py [--nve-ps 20] [--sgdml-ps 2] [--langevin-ps 100] [--ala3 N_TRAIN] [--beads 32]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _common import write_json  # noqa: E402

import fastgdml  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(HERE, "..", "tests", "data", "aspirin_sgdml_sym.npz")
DEFAULT_GEOMETRIES = os.path.join(HERE, "..", "tests", "data", "aspirin_sgdml_sym_predictions.npz")
SYMBOLS = {1: "H", 6: "C", 7: "N", 8: "O"}


def start_atoms(model, R0, temperature):
    from ase import Atoms
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation

    atoms = Atoms(numbers=model.z, positions=R0)
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(0))
    Stationary(atoms)
    ZeroRotation(atoms)
    return atoms


def nve(model_path, calc_factory, R0, picoseconds, label):
    from ase import units
    from ase.md.verlet import VelocityVerlet

    model = fastgdml.Model.load(model_path)
    atoms = start_atoms(model, R0, 300)
    atoms.calc = calc_factory()
    steps = int(round(picoseconds * 1000 / 0.5))
    energies = []
    dyn = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    dyn.attach(lambda: energies.append(float(np.ravel(atoms.get_total_energy())[0])), interval=10)
    t = time.perf_counter()
    dyn.run(steps)
    seconds = time.perf_counter() - t
    e = np.array(energies) * 1000.0  # meV
    times = np.arange(len(e)) * 10 * 0.5e-3  # ps
    slope = float(np.polyfit(times, e, 1)[0]) if len(e) > 2 else float("nan")
    out = {"steps": steps, "ms_per_step": 1e3 * seconds / steps, "drift_meV_per_ps": slope,
           "fluctuation_meV": float(np.std(e - np.polyval(np.polyfit(times, e, 1), times)))}
    print(f"NVE {label:8s} {picoseconds:g} ps: {out['ms_per_step']:.3f} ms/step, drift {slope:+.3f} meV/ps, "
          f"fluctuation {out['fluctuation_meV']:.3f} meV", flush=True)
    return out


def ala3_model(n_train: int, sigma: float) -> tuple:
    """A model of Ac-Ala3-NHMe (../shared/data/ala3_xtb.npz) trained here, and a start geometry."""
    from _common import SHARED_DATA

    ds = fastgdml.Dataset.load(os.path.join(SHARED_DATA, "ala3_xtb.npz"))
    t = time.perf_counter()
    model = fastgdml.train(ds, n_train, sigma, n_valid=200, symmetries="none", seed=0)
    path = os.path.join(tempfile.mkdtemp(), "ala3_model.npz")
    model.save(path)
    f_err = model.arrays["f_err"].item()
    print(f"Ac-Ala3-NHMe model: n_train {n_train}, sigma {sigma:g}, {time.perf_counter() - t:.0f} s, validation "
          f"force MAE {f_err['mae']:.3f} kcal/mol/Ang", flush=True)
    unused = np.setdiff1d(np.arange(len(ds)), np.concatenate([model.idxs_train, model.idxs_valid]))
    return path, ds.R[unused[0]], {"n_train": n_train, "sigma": sigma, "valid_f_mae": f_err["mae"]}


def langevin(model_path, R0, picoseconds):
    from ase import units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin

    model = fastgdml.Model.load(model_path)
    atoms = start_atoms(model, R0, 500)
    atoms.set_constraint(FixCom())
    atoms.calc = fastgdml.Calculator(model)
    d0 = np.linalg.norm(R0[:, None] - R0[None], axis=-1)
    bonds = np.argwhere(np.triu(d0 < 1.6, 1))
    worst, temps = [0.0], []

    def watch():
        R = atoms.get_positions()
        d = np.linalg.norm(R[bonds[:, 0]] - R[bonds[:, 1]], axis=1) / d0[bonds[:, 0], bonds[:, 1]]
        worst[0] = max(worst[0], float(d.max()))
        temps.append(atoms.get_temperature())

    steps = int(round(picoseconds * 1000 / 0.5))
    dyn = Langevin(atoms, 0.5 * units.fs, temperature_K=500, friction=0.01 / units.fs, fixcm=False,
                   rng=np.random.default_rng(1))
    dyn.attach(watch, interval=20)
    t = time.perf_counter()
    try:
        dyn.run(steps)
    except ValueError as exc:  # the model refuses what it cannot describe (atoms far too close): not stable
        print(f"Langevin 500 K: stopped at step {dyn.nsteps}: {exc}", flush=True)
        return {"steps": int(dyn.nsteps), "bonds": int(len(bonds)), "max_bond_stretch": worst[0],
                "stable": False, "error": str(exc)}
    seconds = time.perf_counter() - t
    T = float(np.mean(temps[len(temps) // 5:]))  # after the first fifth (equilibration)
    stable = worst[0] < 1.5 and abs(T - 500) < 50
    print(f"Langevin 500 K {picoseconds:g} ps: {len(bonds)} bonds, longest stretch {worst[0]:.3f}x, mean T {T:.1f} K, "
          f"{1e3 * seconds / steps:.3f} ms/step: {'stable' if stable else 'NOT STABLE'}", flush=True)
    return {"steps": steps, "bonds": int(len(bonds)), "max_bond_stretch": worst[0], "mean_T": T, "stable": stable}


IPI_INPUT = """<simulation verbosity='medium'>
  <output prefix='sim'><properties stride='100' filename='out'> [ step, conserved ] </properties></output>
  <total_steps> {steps} </total_steps>
  <prng><seed> 31415 </seed></prng>
  {forcefield}
  <system>
    <initialize nbeads='{beads}'><file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities></initialize>
    <forces><force forcefield='fastgdml'> </force></forces>
    <motion mode='dynamics'><dynamics mode='nvt'><timestep units='femtosecond'> 0.25 </timestep>
      <thermostat mode='pile_l'><tau units='femtosecond'> 100 </tau></thermostat></dynamics></motion>
    <ensemble><temperature units='kelvin'> 300 </temperature></ensemble>
  </system>
</simulation>
"""

ASE_CLIENT = r'''
import sys
from ase import Atoms
from ase.calculators.socketio import SocketClient
import fastgdml, numpy as np
model = fastgdml.Model.load(sys.argv[1])
atoms = Atoms(numbers=model.z, positions=np.load(sys.argv[3]))
atoms.calc = fastgdml.Calculator(model)
SocketClient(unixsocket=sys.argv[2]).run(atoms)
'''


def ipi_run(model_path, R0, beads, steps, route) -> float:
    """Seconds per PIMD step through ``route`` (ffdirect, socket, ase): i-PI's own average over steps 101-200
    (its 'Average timings' line at verbosity medium), so start-up and the first steps do not count."""
    with tempfile.TemporaryDirectory() as tmp:
        name = f"fgb{uuid.uuid4().hex[:8]}"
        model = fastgdml.Model.load(model_path)
        with open(os.path.join(tmp, "init.xyz"), "w") as f:
            f.write(f"{len(R0)}\n# CELL(abcABC): 40 40 40 90 90 90 cell{{angstrom}} positions{{angstrom}}\n")
            for z, r in zip(model.z, R0):
                f.write(f"{SYMBOLS.get(int(z), 'X')} {r[0]:.8f} {r[1]:.8f} {r[2]:.8f}\n")
        if route == "ffdirect":
            from fastgdml.clients.ipi_driver import pes_path

            ff = (f"<ffdirect name='fastgdml'><pes> custom </pes><pes_path> {pes_path()} </pes_path><parameters> "
                  f"{{model: {os.path.abspath(model_path)}}} </parameters><batch_size> {beads} </batch_size></ffdirect>")
        else:
            ff = f"<ffsocket name='fastgdml' mode='unix'><address> {name} </address></ffsocket>"
        with open(os.path.join(tmp, "input.xml"), "w") as f:
            f.write(IPI_INPUT.format(steps=steps, beads=beads, forcefield=ff))
        np.save(os.path.join(tmp, "R0.npy"), R0)
        server = subprocess.Popen(["i-pi", "input.xml"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True)
        client = None
        try:
            if route == "socket":
                client = subprocess.Popen([sys.executable, "-m", "fastgdml.cli", "ipi",
                                           os.path.abspath(model_path), "--unix", name, "-q"], cwd=tmp)
            elif route == "ase":
                deadline = time.monotonic() + 60
                while not os.path.exists(f"/tmp/ipi_{name}"):  # ASE's client does not retry
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("i-PI did not open its socket")
                    time.sleep(0.05)
                client = subprocess.Popen([sys.executable, "-c", ASE_CLIENT, os.path.abspath(model_path), name,
                                           "R0.npy"], cwd=tmp)
            out, _ = server.communicate(timeout=1800)
        finally:
            for proc in (server, client):
                if proc is not None and proc.poll() is None:
                    proc.kill()
            if os.path.exists(f"/tmp/ipi_{name}"):
                os.unlink(f"/tmp/ipi_{name}")
        if server.returncode != 0:
            raise RuntimeError(f"i-PI failed ({route}): {out[-2000:]}")
        timings = [float(line.split("t/step:")[1]) for line in out.splitlines() if "t/step:" in line]
        return timings[-1]


def pimd(model_path, R0, beads):
    out = {}
    for route in ("ffdirect", "socket", "ase"):
        per_step = ipi_run(model_path, R0, beads, 201, route)
        out[route] = {"seconds_per_step": per_step, "bead_steps_per_s": beads / per_step}
        print(f"PIMD {beads} beads, {route:8s}: {1e3 * per_step:7.2f} ms/step, {beads / per_step:8.0f} bead-steps/s",
              flush=True)
    for route in ("ffdirect", "socket"):
        ratio = out["ase"]["seconds_per_step"] / out[route]["seconds_per_step"]
        out[route]["speedup_over_ase_one_at_a_time"] = ratio
        print(f"  {route} vs ASE SocketClient one bead at a time: {ratio:.2f}x", flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--nve-ps", type=float, default=20.0)
    ap.add_argument("--sgdml-ps", type=float, default=2.0, help="NVE length with sgdml's calculator (0: skip)")
    ap.add_argument("--langevin-ps", type=float, default=100.0)
    ap.add_argument("--ala3", type=int, default=0, metavar="N_TRAIN",
                    help="also run Langevin with an Ac-Ala3-NHMe model trained on N_TRAIN geometries (needs ../shared)")
    ap.add_argument("--ala3-sigma", type=float, default=40.0)
    ap.add_argument("--skip-nve", action="store_true")
    ap.add_argument("--skip-fixture-langevin", action="store_true", help="Langevin only with the --ala3 model")
    ap.add_argument("--beads", type=int, default=32)
    ap.add_argument("--json", default=os.path.join(HERE, "results", "md.json"))
    args = ap.parse_args(argv)

    R0 = np.load(DEFAULT_GEOMETRIES)["R"][0]
    results = {"model": args.model}
    if not args.skip_nve:
        results["nve_fastgdml"] = nve(args.model, lambda: fastgdml.Calculator(args.model), R0, args.nve_ps,
                                      "fastgdml")
    if args.sgdml_ps > 0 and not args.skip_nve:
        try:
            if not hasattr(np, "in1d"):  # sgdml 1.0.3 calls np.in1d, removed in NumPy 2.4
                np.in1d = lambda a, b, **kw: np.isin(np.ravel(a), b, **kw)
            from sgdml.intf.ase_calc import SGDMLCalculator

            results["nve_sgdml"] = nve(args.model, lambda: SGDMLCalculator(args.model, max_processes=1), R0,
                                       args.sgdml_ps, "sgdml")
            ratio = results["nve_sgdml"]["ms_per_step"] / results["nve_fastgdml"]["ms_per_step"]
            results["nve_time_per_step_ratio"] = ratio
            print(f"  time per step: sgdml / fastgdml = {ratio:.2f}x", flush=True)
        except ImportError:
            print("  (sgdml not installed: no reference calculator)")
    if args.langevin_ps > 0:
        if not args.skip_fixture_langevin:
            results["langevin_500K"] = langevin(args.model, R0, args.langevin_ps)
        if args.ala3:
            path, R_ala3, info = ala3_model(args.ala3, args.ala3_sigma)
            results["langevin_500K_ala3"] = {**info, **langevin(path, R_ala3, args.langevin_ps)}
    if args.beads > 0:
        results["pimd"] = pimd(args.model, R0, args.beads)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
