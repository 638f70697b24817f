"""Unit labels of sGDML files (``e_unit``, ``r_unit``) and their values in ASE's units (eV, Angstrom).

One table for everything that converts: the ASE calculator (:mod:`fastgdml.clients.ase_calculator`) and the dataset
readers/writers (:mod:`fastgdml.data.ase_io`). Values are ASE's constants (CODATA, as ASE defines them), so results
agree with ASE's own conversions. Labels are matched case-insensitively, surrounding spaces ignored.
"""
from __future__ import annotations

import math

ENERGY_LABELS = "kcal/mol, kJ/mol, eV, meV, Hartree (Ha)"
LENGTH_LABELS = "Ang (Angstrom, A), Bohr (au), nm"


def _ase_units():
    try:
        from ase import units
    except ImportError:
        raise ImportError("unit conversions use ASE's constants: pip install ase") from None
    return units


def energy_units() -> dict:
    """eV per energy unit, by lower-case label."""
    u = _ase_units()
    return {"kcal/mol": u.kcal / u.mol, "kj/mol": u.kJ / u.mol, "ev": 1.0, "mev": 1e-3, "hartree": u.Hartree,
            "ha": u.Hartree}


def length_units() -> dict:
    """Angstrom per length unit, by lower-case label."""
    u = _ase_units()
    return {"ang": 1.0, "angstrom": 1.0, "a": 1.0, "bohr": u.Bohr, "au": u.Bohr, "nm": 10.0}


def _lookup(label, table: dict, kind: str, known: str, numbers: bool = False) -> float:
    """The value of unit ``label`` in ``table``; with ``numbers`` a finite factor > 0 is taken as the value itself."""
    if isinstance(label, str):
        key = label.strip().lower()
        if key not in table:
            or_number = ", or pass a number" if numbers else ""
            raise ValueError(f"unknown {kind} unit {label!r}; use one of {known}{or_number}")
        return table[key]
    if not numbers:
        raise ValueError(f"{kind} unit must be a label ({known}), got {label!r}")
    try:
        factor = float(label)
    except (TypeError, ValueError):
        raise ValueError(f"{kind} unit must be a label ({known}) or a number, got {label!r}") from None
    # 0 would zero every energy, inf/NaN poison them; a negative factor flips forces: all are typos, never units.
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"{kind} unit factor must be a finite number > 0, got {label!r}")
    return factor


def ev_per(label, numbers: bool = False) -> float:
    """eV per ``label`` (an energy unit label; :data:`ENERGY_LABELS`). With ``numbers``, a finite number > 0 is
    accepted as the value in eV itself (the ASE calculator's ``energy_unit``)."""
    return _lookup(label, energy_units(), "energy", ENERGY_LABELS, numbers)


def angstrom_per(label, numbers: bool = False) -> float:
    """Angstrom per ``label`` (a length unit label; :data:`LENGTH_LABELS`). With ``numbers``, a finite number > 0
    is accepted as the value in Angstrom itself."""
    return _lookup(label, length_units(), "length", LENGTH_LABELS, numbers)


def unit_labels(e_unit=None, r_unit=None) -> tuple:
    """Printable (energy, force, length) unit labels for a file's ``e_unit``/``r_unit`` labels.

    Absent labels are the sGDML convention, kcal/mol and Angstrom; Angstrom prints as "Å". Every printed error
    (``train``, ``test``, ``info``, learning curves, reports) takes its units from here.
    """
    e = e_unit or "kcal/mol"
    r = r_unit or "Ang"
    r = "Å" if r.strip().lower() in ("ang", "angstrom", "a") else r
    return e, f"{e}/{r}", r
