"""Datasets from and to ASE: trajectories with energies and forces (extxyz, ASE db, .traj, ...), and labelling
geometries with an ASE calculator. Needs ``ase`` (``pip install "fastgdml[ase]"``).

Units are explicit: ASE works in eV and Angstrom; datasets here default to the sGDML convention kcal/mol and
Angstrom (``e_unit``/``r_unit`` keys). Conversions use ASE's constants.
"""
from __future__ import annotations

import os
from typing import Iterable, Optional

import numpy as np

from ..io.npz import require_regular_file
from ..units import angstrom_per, ev_per
from .dataset import Dataset, DatasetError


def _ase():
    try:
        import ase  # noqa: F401
        from ase import units
    except ImportError:
        raise ImportError("reading and writing trajectories needs ASE: pip install ase") from None
    return units


def energy_factor(unit: str) -> float:
    """eV per ``unit`` (kcal/mol, kJ/mol, eV, Hartree/Ha, meV; :mod:`fastgdml.units`).

    Units are labels, never bare factors: a dataset records its unit by name (``e_unit``/``r_unit``), and a
    number (0, inf, a negative one) would be a silent scaling error rather than a unit.
    """
    _ase()
    return ev_per(unit)


def length_factor(unit: str) -> float:
    """Angstrom per ``unit`` (Ang/Angstrom, Bohr/au, nm; :mod:`fastgdml.units`)."""
    _ase()
    return angstrom_per(unit)


def from_images(images: Iterable, source: str = "images", e_unit: str = "kcal/mol", r_unit: str = "Ang",
                name: Optional[str] = None, theory: str = "unknown") -> Dataset:
    """Dataset from ASE Atoms that carry energies and forces (a calculator or stored results, in eV / eV/Ang).

    Energies and forces are converted to ``e_unit`` and ``e_unit``/``r_unit``, positions to ``r_unit``. Errors
    name ``source``, the frame and the problem: missing energy or forces, a changing atom count or species,
    non-finite values.
    """
    ef, lf = energy_factor(e_unit), length_factor(r_unit)
    R, E, F = [], [], []
    z0 = lattice = None
    for k, atoms in enumerate(images):
        where = f"{source}, frame {k}"
        z = atoms.get_atomic_numbers()
        if z0 is None:
            z0 = z
            if atoms.pbc.any():
                lattice = np.asarray(atoms.cell.array, dtype=np.float64).T / lf  # vectors as columns
        elif len(z) != len(z0):
            raise DatasetError(f"{where}: {len(z)} atoms, but frame 0 has {len(z0)}; a dataset needs one molecule")
        elif not np.array_equal(z, z0):
            raise DatasetError(f"{where}: the atomic numbers differ from frame 0 (atoms reordered?)")
        try:
            e = atoms.get_potential_energy()
            f = atoms.get_forces()
        except Exception as exc:  # no calculator / no stored results
            raise DatasetError(f"{where}: no energy and forces ({type(exc).__name__}: {exc}); the trajectory must "
                               f"store both (e.g. extxyz with energy= and forces columns)") from None
        if f is None or e is None:
            raise DatasetError(f"{where}: missing {'forces' if f is None else 'energy'}")
        if not (np.isfinite(e) and np.all(np.isfinite(f)) and np.all(np.isfinite(atoms.positions))):
            raise DatasetError(f"{where}: NaN or infinite energy, forces or positions")
        R.append(atoms.positions / lf)
        E.append(e / ef)
        F.append(np.asarray(f) / ef * lf)
    if z0 is None:
        raise DatasetError(f"{source}: no frames")
    return Dataset(np.array(R), z0, np.array(F), E=np.array(E), name=name or "dataset", theory=theory,
                   r_unit=r_unit, e_unit=e_unit, lattice=lattice)


def read_trajectory(path, index=":", e_unit: str = "kcal/mol", r_unit: str = "Ang", name: Optional[str] = None,
                    theory: str = "unknown") -> Dataset:
    """Dataset from any file ASE reads with energies and forces (extxyz, .traj, ASE db, ...).

    ``index`` selects frames as in ``ase.io.read`` (default all). See :func:`from_images` for units and errors.
    A path that is not a regular file (a directory, FIFO or device) is refused before ASE opens it.
    """
    _ase()
    from ase.io import read

    path = os.fspath(path)
    energy_factor(e_unit), length_factor(r_unit)  # bad units are refused before a long read
    require_regular_file(path, DatasetError, "a trajectory file")
    try:
        images = read(path, index=index)
    except Exception as exc:
        raise DatasetError(f"{path}: ASE cannot read it ({type(exc).__name__}: {exc})") from None
    if not isinstance(images, list):
        images = [images]
    stem = os.path.splitext(os.path.basename(path))[0]
    return from_images(images, source=path, e_unit=e_unit, r_unit=r_unit, name=name or stem, theory=theory)


def to_images(dataset: Dataset, e_unit: Optional[str] = None, r_unit: Optional[str] = None) -> list:
    """ASE Atoms (eV, eV/Ang, Ang) with the dataset's energies and forces as stored results.

    The dataset's units come from its ``e_unit``/``r_unit`` (default kcal/mol and Ang when it has none).
    """
    _ase()
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    # "is None", not "or": an explicit e_unit=0 is refused by energy_factor, not replaced by the dataset's unit.
    ef = energy_factor((dataset.e_unit or "kcal/mol") if e_unit is None else e_unit)
    lf = length_factor((dataset.r_unit or "Ang") if r_unit is None else r_unit)
    cell = None if dataset.lattice is None else np.asarray(dataset.lattice).T * lf
    images = []
    for k in range(len(dataset)):
        atoms = Atoms(numbers=dataset.z, positions=dataset.R[k] * lf, cell=cell, pbc=cell is not None)
        energy = None if dataset.E is None else float(np.ravel(dataset.E[k])[0]) * ef
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=dataset.F[k] * ef / lf)
        images.append(atoms)
    return images


def write_extxyz(dataset: Dataset, path, e_unit: Optional[str] = None, r_unit: Optional[str] = None) -> None:
    """Write the dataset as extended XYZ in eV, eV/Ang and Ang (ASE's convention), atomically."""
    from ase.io import write

    from ..io.npz import atomic_path

    with atomic_path(os.fspath(path)) as tmp:
        write(tmp, to_images(dataset, e_unit, r_unit), format="extxyz")


def label(images: Iterable, calculator, e_unit: str = "kcal/mol", r_unit: str = "Ang", name: str = "dataset",
          theory: Optional[str] = None) -> Dataset:
    """Dataset made by running an ASE ``calculator`` on each geometry (ASE Atoms) of ``images``."""
    labelled = []
    for atoms in images:
        atoms = atoms.copy()
        atoms.calc = calculator
        atoms.get_potential_energy()
        labelled.append(atoms)
    return from_images(labelled, source=f"{type(calculator).__name__} labels", e_unit=e_unit, r_unit=r_unit,
                       name=name, theory=theory or type(calculator).__name__)
