"""The ASE calculator: units, forces consistent with energies, refusal of the wrong molecule."""
import os

import numpy as np
import pytest

ase = pytest.importorskip("ase")
from ase import Atoms, units  # noqa: E402

import fastgdml  # noqa: E402

from conftest import DATA  # noqa: E402


@pytest.fixture(scope="module")
def model():
    return fastgdml.Model.load(os.path.join(DATA, "ethanol_sgdml_sym.npz"))


def ethanol_atoms(model):
    R = np.load(os.path.join(DATA, "ethanol_sgdml_sym_predictions.npz"))["R"][0]
    return Atoms(numbers=model.z, positions=R)


def test_energy_and_forces_in_ev(model):
    atoms = ethanol_atoms(model)
    atoms.calc = fastgdml.Calculator(model)
    E, F = model.predict(atoms.get_positions())
    kcal = units.kcal / units.mol
    assert atoms.get_potential_energy() == pytest.approx(E[0] * kcal, rel=1e-14)
    assert isinstance(atoms.get_potential_energy(), float)
    np.testing.assert_allclose(atoms.get_forces(), F[0] * kcal, rtol=1e-14)
    assert atoms.calc.get_property("free_energy") == pytest.approx(E[0] * kcal)
    # central differences of the energy through ASE agree with the forces
    fd = np.zeros((len(atoms), 3))
    for a in range(len(atoms)):
        for c in range(3):
            e = []
            for h in (1e-4, -1e-4):
                shifted = atoms.copy()
                shifted.calc = atoms.calc
                shifted.positions[a, c] += h
                e.append(shifted.get_potential_energy())
            fd[a, c] = -(e[0] - e[1]) / 2e-4
    assert np.abs(fd - atoms.get_forces()).max() <= 1e-5 * np.abs(fd).max()


def test_explicit_units(model):
    atoms = ethanol_atoms(model)
    atoms.calc = fastgdml.Calculator(model, energy_unit="Ha", length_unit="bohr")
    R_model = atoms.get_positions() / units.Bohr
    E, F = model.predict(R_model)
    assert atoms.get_potential_energy() == pytest.approx(E[0] * units.Hartree, rel=1e-14)
    np.testing.assert_allclose(atoms.get_forces(), F[0] * units.Hartree / units.Bohr, rtol=1e-13)
    with pytest.raises(ValueError, match="unknown energy unit"):
        fastgdml.Calculator(model, energy_unit="furlong")


def test_wrong_molecule_is_refused(model):
    atoms = ethanol_atoms(model)
    atoms.calc = fastgdml.Calculator(os.path.join(DATA, "ethanol_sgdml_sym.npz"))
    bad = atoms.copy()
    bad.numbers[0] = 7
    bad.calc = atoms.calc
    with pytest.raises(ValueError, match="atomic numbers differ"):
        bad.get_potential_energy()
    short = atoms[:-1]
    short.calc = fastgdml.Calculator(model)
    with pytest.raises(ValueError, match="9 atoms"):
        short.get_potential_energy()


def test_short_md_conserves_energy(model):
    from ase.md.verlet import VelocityVerlet

    atoms = ethanol_atoms(model)
    atoms.calc = fastgdml.Calculator(model)
    kT = 300 * units.kB  # Maxwell-Boltzmann velocities at 300 K
    masses = atoms.get_masses()[:, None]
    atoms.set_momenta(np.random.default_rng(0).standard_normal((len(atoms), 3)) * np.sqrt(masses * kT))
    dyn = VelocityVerlet(atoms, timestep=0.2 * units.fs)
    e0 = atoms.get_total_energy()
    dyn.run(50)
    assert abs(atoms.get_total_energy() - e0) < 2e-3  # eV; exact gradients conserve energy


# -- periodicity: the Atoms' cell and pbc must be the model's -----------------------------------------------
def _periodic_model():
    from conftest import TOY_Z, make_toy

    R, E, F = make_toy(M=30, seed=5)
    lattice = np.diag([4.0, 4.5, 5.0])  # vectors as columns, model length unit (Ang)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, lattice=lattice, r_unit="Ang", e_unit="kcal/mol")
    return fastgdml.train(ds, 12, 1.2, lam=1e-6, n_valid=0, symmetries="none"), R


def test_periodic_model_needs_its_cell_and_pbc():
    from conftest import TOY_Z

    model, R = _periodic_model()
    calc = fastgdml.Calculator(model)
    atoms = Atoms(numbers=TOY_Z, positions=R[0], cell=model.lattice.T, pbc=True)
    atoms.calc = calc
    E = atoms.get_potential_energy()
    want = model.predict(R[0])[0][0] * calc.eV_per_energy
    assert E == pytest.approx(want, rel=1e-12)
    for cell, pbc, pattern in ((np.diag([4.0, 4.5, 6.0]), True, "differs from the model's lattice"),
                               (model.lattice.T, False, r"is periodic .* pbc=\[False, False, False\]"),
                               (model.lattice.T, [True, True, False], r"pbc=\[True, True, False\]")):
        bad = Atoms(numbers=TOY_Z, positions=R[0], cell=cell, pbc=pbc)
        bad.calc = fastgdml.Calculator(model)
        with pytest.raises(ValueError, match=pattern):
            bad.get_potential_energy()


def test_molecular_model_refuses_a_periodic_box():
    from conftest import TOY_PERMS, TOY_Z, make_toy

    R, E, F = make_toy(M=20, seed=6)
    model = fastgdml.train(fastgdml.Dataset(R, TOY_Z, F, E=E), 10, 1.2, perms=TOY_PERMS, n_valid=0)
    atoms = Atoms(numbers=TOY_Z, positions=R[0], cell=[5.0, 5.0, 5.0], pbc=True)
    atoms.calc = fastgdml.Calculator(model)
    with pytest.raises(ValueError, match=r"the model is not periodic .* pbc=\[True, True, True\]"):
        atoms.get_potential_energy()
    atoms.pbc = False  # a cell without periodicity is only a box: fine
    assert np.isfinite(atoms.get_potential_energy())


def test_calculate_batch_equals_one_call_per_atoms_and_checks_each_image():
    from conftest import TOY_PERMS, TOY_Z, make_toy

    R, E, F = make_toy(M=20, seed=7)
    model = fastgdml.train(fastgdml.Dataset(R, TOY_Z, F, E=E), 10, 1.2, perms=TOY_PERMS, n_valid=0)
    calc = fastgdml.Calculator(model)
    images = [Atoms(numbers=TOY_Z, positions=r) for r in R[10:16]]
    energies, forces = calc.calculate_batch(images)
    for i, atoms in enumerate(images):
        atoms.calc = fastgdml.Calculator(model)
        assert energies[i] == pytest.approx(atoms.get_potential_energy(), rel=1e-12)
        np.testing.assert_allclose(forces[i], atoms.get_forces(), rtol=1e-10, atol=1e-12 * np.abs(forces).max())
    wrong = images[:2] + [Atoms(numbers=TOY_Z[::-1], positions=R[0])]
    with pytest.raises(ValueError, match=r"image 2: the model describes 5 atoms"):
        calc.calculate_batch(wrong)
    with pytest.raises(ValueError, match="at least one"):
        calc.calculate_batch([])
