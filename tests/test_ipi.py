"""Path-integral MD with i-PI 3.3 (a real i-PI run, 4 beads, 20 NVE steps) through both routes: the socket driver
(`fastgdml ipi`) and the in-process <ffdirect> PES with all beads in one batch. Each bead's forces and potential
equal Model.predict at the positions i-PI reports, the conserved quantity holds, i-PI exits cleanly."""
import os
import subprocess
import sys
import uuid

import numpy as np
import pytest

pytest.importorskip("ipi")

import fastgdml  # noqa: E402
from fastgdml.ipi import pes_path  # noqa: E402
from fastgdml.units import angstrom_per, ev_per  # noqa: E402

from conftest import TOY_PERMS, TOY_REF, TOY_Z, make_toy  # noqa: E402

NAMES = {1: "H", 6: "C", 8: "O"}
BEADS, STEPS = 4, 20
BOHR = angstrom_per("bohr")                          # Angstrom per Bohr
HA_PER_KCAL = ev_per("kcal/mol") / ev_per("hartree")  # Hartree per kcal/mol

INPUT = """<simulation verbosity='low'>
  <output prefix='sim'>
    <properties stride='1' filename='out'> [ step, conserved, potential, bead_potentials ] </properties>
    <trajectory filename='pos' stride='{steps}' format='bin'> positions </trajectory>
    <trajectory filename='frc' stride='{steps}' format='bin'> forces </trajectory>
  </output>
  <total_steps> {steps} </total_steps>
  <prng><seed> 31415 </seed></prng>
  {forcefield}
  <system>
    <initialize nbeads='{beads}'>
      <file mode='xyz'> init.xyz </file>
      <velocities mode='thermal' units='kelvin'> 300 </velocities>
    </initialize>
    <forces><force forcefield='fastgdml'> </force></forces>
    <motion mode='dynamics'><dynamics mode='nve'><timestep units='femtosecond'> 0.1 </timestep></dynamics></motion>
    <ensemble><temperature units='kelvin'> 300 </temperature></ensemble>
  </system>
</simulation>
"""


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    R, E, F = make_toy(M=40, seed=3)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, r_unit="Ang", e_unit="kcal/mol")
    path = tmp_path_factory.mktemp("ipi") / "model.npz"
    fastgdml.train(ds, 20, 1.2, lam=1e-8, perms=TOY_PERMS, n_valid=0).save(path)
    return str(path)


def prepare(tmp_path, forcefield: str):
    with open(tmp_path / "init.xyz", "w") as f:
        f.write("5\n# CELL(abcABC): 30.0 30.0 30.0 90.0 90.0 90.0 cell{angstrom} positions{angstrom}\n")
        for z, r in zip(TOY_Z, TOY_REF):
            f.write(f"{NAMES[z]} {r[0]:.10f} {r[1]:.10f} {r[2]:.10f}\n")
    (tmp_path / "input.xml").write_text(INPUT.format(steps=STEPS, beads=BEADS, forcefield=forcefield))


def run_ipi(tmp_path, driver_cmd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    ipi = subprocess.Popen(["i-pi", "input.xml"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=env)
    driver = None
    if driver_cmd:
        driver = subprocess.run(driver_cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    out, _ = ipi.communicate(timeout=180)
    assert ipi.returncode == 0, out[-3000:]
    if driver is not None:
        assert driver.returncode == 0, driver.stderr[-3000:]
        assert f"served {BEADS * (STEPS + 1)} geometries" in driver.stderr, driver.stderr
    return out


def read_last_bin_frame(path, frames: int) -> np.ndarray:
    """The (N, 3) array of the last frame of i-PI's binary trajectory (format='bin', full precision). A frame is
    the cell (9 doubles), an int64 atom count, 3N doubles, the names and a title of fixed width, so the frames
    of one file have one size; i-PI's own reader trips over the names on this NumPy."""
    data = open(path, "rb").read()
    assert len(data) % frames == 0, (len(data), frames)
    frame = data[(frames - 1) * (len(data) // frames):]
    nat = int(np.frombuffer(frame, dtype=np.int64, count=1, offset=72)[0])
    return np.frombuffer(frame, dtype=np.float64, count=3 * nat, offset=80).reshape(nat, 3)


def check_results(tmp_path, model_file):
    model = fastgdml.Model.load(model_file)
    table = np.loadtxt(tmp_path / "sim.out", ndmin=2)
    conserved, bead_pot = table[:, 1], table[-1, 3:3 + BEADS]
    # NVE ring polymer, 0.1 fs: the conserved quantity is flat to far below the potential's scale (measured 2e-9 Ha)
    assert np.ptp(conserved) < 1e-6 * abs(conserved).max() + 1e-7
    for b in range(BEADS):
        # frames at step 0 and step STEPS (stride STEPS); the last matches the last line of the properties
        q = read_last_bin_frame(tmp_path / f"sim.pos_{b}.bin", 2)
        frc = read_last_bin_frame(tmp_path / f"sim.frc_{b}.bin", 2)
        E, F = model.predict(q * BOHR)
        want = F[0] * HA_PER_KCAL * BOHR  # kcal/mol/Ang -> Ha/Bohr
        np.testing.assert_allclose(frc.reshape(-1, 3), want, rtol=1e-8, atol=1e-8 * np.abs(want).max())
        assert bead_pot[b] == pytest.approx(E[0] * HA_PER_KCAL, rel=1e-8)  # i-PI prints 9 digits (5e-9)


def test_pimd_through_the_socket_driver(model_file, tmp_path):
    name = f"fg{uuid.uuid4().hex[:10]}"
    prepare(tmp_path, f"<ffsocket name='fastgdml' mode='unix'><address> {name} </address></ffsocket>")
    try:
        run_ipi(tmp_path, [sys.executable, "-m", "fastgdml.cli", "ipi", model_file, "--unix", name])
    finally:
        if os.path.exists(f"/tmp/ipi_{name}"):
            os.unlink(f"/tmp/ipi_{name}")
    check_results(tmp_path, model_file)


def test_pimd_in_process_with_all_beads_in_one_batch(model_file, tmp_path):
    prepare(tmp_path, f"<ffdirect name='fastgdml'><pes> custom </pes><pes_path> {pes_path()} </pes_path>"
                      f"<parameters> {{model: {model_file}}} </parameters><batch_size> {BEADS} </batch_size>"
                      f"</ffdirect>")
    run_ipi(tmp_path)
    check_results(tmp_path, model_file)


def test_pes_evaluates_a_batch_in_one_prediction(model_file, monkeypatch):
    """What i-PI's <batch_size> hands the PES (lists of cells and positions) is one Model.predict call."""
    from fastgdml.ipi_pes import FastgdmlPES

    pes = FastgdmlPES(model=model_file)
    calls = []
    predict = pes.model.predict
    monkeypatch.setattr(pes.model, "predict", lambda R: calls.append(len(R)) or predict(R))
    pos = [(TOY_REF + 0.01 * i) / BOHR for i in range(BEADS)]
    cells = [np.eye(3) * 60.0] * BEADS
    batch = pes(cells, pos)
    assert calls == [BEADS]
    for (pot, force, vir, extra), p in zip(batch, pos):
        single = pes(cells[0], p)
        assert pot == pytest.approx(single[0], rel=1e-12) and np.allclose(force, single[1], rtol=1e-10)
        assert vir.shape == (3, 3) and not vir.any() and extra == "{}"


def test_driver_without_a_server_is_one_clear_error(model_file):
    out = subprocess.run([sys.executable, "-m", "fastgdml.cli", "ipi", model_file, "--unix",
                          f"none{uuid.uuid4().hex[:8]}", "--wait", "0.3"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "no i-PI server" in out.stderr, out.stderr


def test_wrong_atom_count_is_named(model_file):
    from fastgdml.ipi import IpiError, Units, evaluate

    model = fastgdml.Model.load(model_file)
    with pytest.raises(IpiError, match="i-PI sent 4 atoms but the model describes 5"):
        evaluate(model, Units(model), [np.eye(3) * 50], [np.zeros((4, 3))])
