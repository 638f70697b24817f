"""ASE calculator: energies and forces of a fastgdml/sGDML model in eV and eV/Angstrom."""
from __future__ import annotations

import threading
from typing import Optional, Union

import numpy as np
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import all_changes

from ..geometry import same_lattice
from ..model import Model
from ..units import angstrom_per, energy_units, ev_per, length_units

# Energy units in eV and length units in Angstrom, by the labels sGDML files use (the table of fastgdml.units).
ENERGY_UNITS = energy_units()
LENGTH_UNITS = length_units()


class Calculator(_AseCalculator):
    """ASE calculator for a GDML/sGDML model.

    Parameters
    ----------
    model : Model or path
        A :class:`fastgdml.Model` or the path of a model file.
    energy_unit : str or float, optional
        The model's energy unit, as a label (``"kcal/mol"``, ``"eV"``, ``"Ha"``, ``"kJ/mol"``) or its value in
        eV. Default: the model's ``e_unit``, else kcal/mol (the sGDML convention).
    length_unit : str or float, optional
        The model's length unit (``"Ang"``, ``"bohr"``, ``"nm"``) or its value in Angstrom. Default: the
        model's ``r_unit``, else Angstrom.
    backend : str
        Compute backend when ``model`` is a path (:func:`fastgdml.backends`; default ``"cpu"``). A Model object
        keeps its own backend.

    Positions (Angstrom) are converted to model units, and results back to eV and eV/Angstrom. Atoms whose
    count or atomic numbers differ from the model's are refused.

    One calculator may be shared by threads: an ASE calculator keeps the last atoms and results on itself, so
    :meth:`get_property` and :meth:`calculate` hold a lock (predictions of one calculator run one at a time).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress"]  # stress: periodic models only

    def __init__(self, model: Union[Model, str], energy_unit: Optional[Union[str, float]] = None,
                 length_unit: Optional[Union[str, float]] = None, backend: str = "cpu", **kwargs):
        # Reentrant: get_property calls calculate. Without it two threads interleave check_state, calculate and
        # the read of self.results, and one gets the other's energy.
        self._lock = threading.RLock()
        super().__init__(**kwargs)
        self.model = model if isinstance(model, Model) else Model.load(model, backend=backend)
        # "is None", not "or": a factor of 0 must be refused, not silently replaced by the model's unit.
        self.eV_per_energy = ev_per((self.model.e_unit or "kcal/mol") if energy_unit is None else energy_unit,
                                    numbers=True)
        self.ang_per_length = angstrom_per((self.model.r_unit or "Ang") if length_unit is None else length_unit,
                                           numbers=True)

    def _check_cell(self, atoms) -> None:
        """The Atoms' periodicity must be the model's: a molecular model in a periodic box would silently ignore
        the images, and a periodic model needs the cell it was trained in (its ``lattice``, vectors as columns,
        model length units; ASE's cell has the vectors as rows, in Angstrom)."""
        pbc = np.asarray(atoms.pbc, dtype=bool)
        lattice = self.model.lattice
        if lattice is None:
            if pbc.any():
                raise ValueError(f"the model is not periodic (no 'lattice') but the Atoms object has pbc={pbc.tolist()}; "
                                 f"use atoms.pbc = False for a molecule in vacuum, or a model trained with a lattice")
            return
        if not pbc.all():
            raise ValueError(f"the model is periodic (its 'lattice') but the Atoms object has pbc={pbc.tolist()}; set "
                             f"atoms.pbc = True and atoms.cell to the model's cell")
        want = lattice.T * self.ang_per_length  # rows = vectors, Angstrom
        have = np.asarray(atoms.cell[:], dtype=np.float64)
        if not same_lattice(have, want):
            raise ValueError(f"the Atoms' cell {np.round(have, 6).tolist()} (Ang, vectors as rows) differs from the "
                             f"model's lattice {np.round(want, 6).tolist()}; the model predicts only in the cell it was "
                             f"trained in (its stress is available, but predictions in a changing cell, as NPT or "
                             f"cell relaxation need, are not supported yet)")

    def calculate_batch(self, images) -> tuple:
        """Energies (eV) and forces (eV/Angstrom) of many Atoms objects in one batched prediction.

        For replicas, ensembles and path-integral beads: one call of :meth:`Model.predict` for all of them (the
        core's GEMM-shaped kernel sums run once over the batch) instead of one per Atoms object. Each Atoms is
        checked like :meth:`calculate` does (atom count, atomic numbers, periodicity). The Atoms objects and
        ``self.results`` are left unchanged.

        Returns
        -------
        energies : array (B,)
        forces : array (B, N, 3)
        """
        images = list(images)
        if not images:
            raise ValueError("calculate_batch needs at least one Atoms object")
        z = self.model.z
        R = np.empty((len(images), z.size, 3))
        for i, atoms in enumerate(images):
            if len(atoms) != z.size or not np.array_equal(atoms.get_atomic_numbers(), z):
                raise ValueError(f"image {i}: the model describes {z.size} atoms with atomic numbers {z.tolist()}, "
                                 f"the Atoms object has {atoms.get_atomic_numbers().tolist()}")
            self._check_cell(atoms)
            R[i] = atoms.get_positions() / self.ang_per_length
        E, F = self.model.predict(R)
        return E * self.eV_per_energy, F * (self.eV_per_energy / self.ang_per_length)

    def __getstate__(self) -> dict:
        # A lock cannot be pickled; the model pickles its arrays and rebuilds its core predictor.
        state = dict(self.__dict__)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def get_property(self, name, atoms=None, allow_calculation=True):
        """As ASE's, under the calculator's lock (see the class docstring)."""
        with self._lock:
            return super().get_property(name, atoms, allow_calculation)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        """Energy and forces of ``atoms`` into ``self.results`` (eV, eV/Angstrom), under the calculator's lock."""
        with self._lock:
            super().calculate(atoms, properties, system_changes)
            z = self.model.z
            if len(self.atoms) != z.size:
                raise ValueError(f"the model describes {z.size} atoms but the Atoms object has {len(self.atoms)}")
            numbers = self.atoms.get_atomic_numbers()
            if not np.array_equal(numbers, z):
                bad = int(np.flatnonzero(numbers != z)[0])
                raise ValueError(f"atomic numbers differ from the model's at atom {bad} (Atoms: {numbers[bad]}, "
                                 f"model: {z[bad]}); the atom order must match the training data")
            self._check_cell(self.atoms)
            R = self.atoms.get_positions() / self.ang_per_length
            periodic = self.model.lattice is not None
            E, F, *W = self.model.predict(R, strain=periodic)
            if periodic:  # stress = (dE/dstrain) / V, eV/Ang^3, Voigt order xx yy zz yz xz xy
                sigma = W[0][0] * self.eV_per_energy / abs(np.linalg.det(self.model.lattice * self.ang_per_length))
                self.results["stress"] = sigma[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            energy = float(E[0]) * self.eV_per_energy
            self.results["energy"] = energy
            self.results["free_energy"] = energy
            self.results["forces"] = F[0] * (self.eV_per_energy / self.ang_per_length)
