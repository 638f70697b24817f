"""Unit labels of sGDML files (``e_unit``, ``r_unit``) and their values in ASE's units (eV, Angstrom).

One table for everything that converts: the ASE calculator (:mod:`fastgdml.calculator`) and the dataset
readers/writers (:mod:`fastgdml.ase_io`). Values are ASE's constants (CODATA, as ASE defines them), so results
agree with ASE's own conversions. Labels are matched case-insensitively, surrounding spaces ignored.
"""
from __future__ import annotations

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


def _lookup(label, table: dict, kind: str, known: str) -> float:
    if not isinstance(label, str):
        raise ValueError(f"{kind} unit must be a label ({known}), got {label!r}")
    key = label.strip().lower()
    if key not in table:
        raise ValueError(f"unknown {kind} unit {label!r}; use one of {known}")
    return table[key]


def ev_per(label: str) -> float:
    """eV per ``label`` (an energy unit label; :data:`ENERGY_LABELS`)."""
    return _lookup(label, energy_units(), "energy", ENERGY_LABELS)


def angstrom_per(label: str) -> float:
    """Angstrom per ``label`` (a length unit label; :data:`LENGTH_LABELS`)."""
    return _lookup(label, length_units(), "length", LENGTH_LABELS)
