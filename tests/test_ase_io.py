"""Datasets from and to ASE trajectories (units explicit), and labelling with an ASE calculator."""
import numpy as np
import pytest

ase = pytest.importorskip("ase")
from ase import Atoms  # noqa: E402
from ase.calculators.emt import EMT  # noqa: E402
from ase.calculators.singlepoint import SinglePointCalculator  # noqa: E402
from ase.io import read, write  # noqa: E402
from ase.units import kcal, mol  # noqa: E402

import fastgdml  # noqa: E402
from fastgdml import ase_io  # noqa: E402
from fastgdml.cli import main  # noqa: E402
from fastgdml.dataset import DatasetError  # noqa: E402


def cu_cluster(count, seed):
    rng = np.random.default_rng(seed)
    base = np.array([[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0], [0, 0, 2.5], [2.5, 2.5, 0.2]], dtype=float)
    return [Atoms("Cu5", positions=base + rng.normal(0, 0.1, base.shape)) for _ in range(count)]


def test_extxyz_round_trip_keeps_positions_energies_forces(tmp_path):
    images = cu_cluster(6, 0)
    for a in images:
        a.calc = EMT()
        a.get_potential_energy()
    path = tmp_path / "traj.extxyz"
    write(path, images, format="extxyz")
    ds = ase_io.read_trajectory(path)                     # kcal/mol, Ang
    assert ds.e_unit == "kcal/mol" and ds.r_unit == "Ang" and len(ds) == 6
    eV_per_kcal = kcal / mol
    np.testing.assert_allclose(ds.E * eV_per_kcal, [a.get_potential_energy() for a in images], rtol=0, atol=1e-8)
    # extxyz stores 8 decimals (1e-8 eV/Ang)
    np.testing.assert_allclose(ds.F * eV_per_kcal, [a.get_forces() for a in images], rtol=0, atol=1e-8)
    out = tmp_path / "back.extxyz"
    ase_io.write_extxyz(ds, out)
    back = read(out, index=":")
    np.testing.assert_allclose([a.positions for a in back], [a.positions for a in images], rtol=0, atol=1e-8)
    np.testing.assert_allclose([a.get_potential_energy() for a in back], [a.get_potential_energy() for a in images],
                               rtol=0, atol=2e-8)
    np.testing.assert_allclose([a.get_forces() for a in back], [a.get_forces() for a in images], rtol=0, atol=2e-8)
    # explicit units: eV stays eV
    ds_ev = ase_io.read_trajectory(path, e_unit="eV")
    np.testing.assert_allclose(ds_ev.E, [a.get_potential_energy() for a in images], rtol=0, atol=1e-8)


def test_dataset_labelled_by_an_ase_calculator_trains_a_model():
    ds = ase_io.label(cu_cluster(60, 1), EMT(), name="cu5")
    assert ds.theory == "EMT"
    model = fastgdml.train(ds, 40, sigma=5.0, n_valid=10)
    test = np.setdiff1d(np.arange(60), np.concatenate([model.idxs_train, model.idxs_valid]))
    E, F = model.predict(ds.R[test])
    assert np.abs(F - ds.F[test]).mean() < 0.2 * np.abs(ds.F[test]).mean()


def test_errors_name_the_frame_and_problem(tmp_path):
    images = cu_cluster(3, 2)
    for a in images[:2]:
        a.calc = SinglePointCalculator(a, energy=1.0, forces=np.zeros((5, 3)))
    with pytest.raises(DatasetError, match="frame 2: no energy and forces"):
        ase_io.from_images(images, source="x.extxyz")
    images[2] = Atoms("Cu4", positions=np.eye(4, 3) * 2.5)
    images[2].calc = SinglePointCalculator(images[2], energy=1.0, forces=np.zeros((4, 3)))
    with pytest.raises(DatasetError, match="frame 2: 4 atoms"):
        ase_io.from_images(images, source="x.extxyz")
    images[2] = images[0].copy()
    images[2].calc = SinglePointCalculator(images[2], energy=np.nan, forces=np.zeros((5, 3)))
    with pytest.raises(DatasetError, match="frame 2: NaN"):
        ase_io.from_images(images, source="x.extxyz")
    with pytest.raises(ValueError, match="unknown energy unit"):
        ase_io.energy_factor("furlongs")


def test_cli_convert_both_ways(tmp_path, capsys):
    ds = ase_io.label(cu_cluster(5, 3), EMT(), name="cu5")
    npz = tmp_path / "cu.npz"
    ds.save(npz)
    xyz = tmp_path / "cu.extxyz"
    assert main(["convert", str(npz), str(xyz)]) == 0
    npz2 = tmp_path / "cu2.npz"
    assert main(["convert", str(xyz), str(npz2)]) == 0
    back = fastgdml.Dataset.load(npz2)
    np.testing.assert_allclose(back.E, ds.E, rtol=0, atol=1e-6)   # extxyz: 8 decimals in eV
    np.testing.assert_allclose(back.F, ds.F, rtol=0, atol=1e-6)
    assert main(["convert", str(npz), str(xyz)]) == 2  # refuses to overwrite
