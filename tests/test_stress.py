"""Stress of periodic models: dE/dstrain from the core equals the finite-difference derivative of the energy
when positions and cell are strained together; the ASE calculator's stress and i-PI's virial follow from it."""
import numpy as np
import pytest

import fastgdml

from conftest import TOY_Z, make_toy

LATTICE = np.array([[4.0, 0.3, 0.0], [0.0, 4.5, 0.2], [0.1, 0.0, 5.0]])  # vectors as columns (Ang), skewed


@pytest.fixture(scope="module")
def periodic():
    R, E, F = make_toy(M=30, seed=5)
    ds = fastgdml.Dataset(R, TOY_Z, F, E=E, lattice=LATTICE, r_unit="Ang", e_unit="kcal/mol")
    return fastgdml.train(ds, 12, 1.2, lam=1e-6, n_valid=0, symmetries="none"), make_toy(M=3, seed=9)[0]


def strained_energy(model, R, eps):
    A = np.eye(3) + eps
    m = fastgdml.Model(dict(model.arrays, lattice=A @ model.lattice), source="strained")
    return m.predict(R @ A.T)[0]


def test_strain_derivative_equals_finite_differences(periodic):
    model, R = periodic
    _, _, W = model.predict(R, strain=True)
    h = 1e-5
    for a in range(3):
        for b in range(3):
            eps = np.zeros((3, 3))
            eps[a, b] = h
            fd = (strained_energy(model, R, eps) - strained_energy(model, R, -eps)) / (2 * h)
            np.testing.assert_allclose(W[:, a, b], fd, rtol=1e-6, atol=1e-6 * np.abs(W).max())


def test_rotation_free_part_is_symmetric(periodic):
    """E is invariant under rotations, so dE/dstrain is symmetric (its antisymmetric part is a rotation)."""
    model, R = periodic
    W = model.predict(R, strain=True)[2]
    np.testing.assert_allclose(W, np.swapaxes(W, 1, 2), atol=1e-8 * np.abs(W).max())


def test_ase_stress_and_ipi_virial(periodic):
    pytest.importorskip("ase")
    from ase import Atoms

    from fastgdml.ipi import Units, evaluate
    from fastgdml.units import angstrom_per, ev_per

    model, R = periodic
    W = model.predict(R[:1], strain=True)[2][0]
    volume = abs(np.linalg.det(model.lattice))
    atoms = Atoms(numbers=TOY_Z, positions=R[0], cell=model.lattice.T, pbc=True)
    atoms.calc = fastgdml.Calculator(model)
    sigma = W / volume * ev_per("kcal/mol")  # eV / Ang^3
    voigt = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
    np.testing.assert_allclose(atoms.get_stress(), voigt, rtol=1e-10, atol=1e-12)
    units = Units(model)
    h_bohr = model.lattice / angstrom_per("bohr")
    _, _, vir = evaluate(model, units, [h_bohr], [R[0] / angstrom_per("bohr")])
    np.testing.assert_allclose(vir[0], -W * ev_per("kcal/mol") / ev_per("hartree"), rtol=1e-10,
                               atol=1e-14)
