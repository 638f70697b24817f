"""Chemical elements: symbols and covalent radii, by atomic number."""
from __future__ import annotations

# Covalent radii in Angstrom (Cordero et al., Dalton Trans. 2008), for bond detection (others: 1.5, see
# covalent_radius).
COVALENT_RADII = {
    1: 0.31, 2: 0.28, 3: 1.28, 4: 0.96, 5: 0.84, 6: 0.76, 7: 0.71, 8: 0.66, 9: 0.57, 10: 0.58, 11: 1.66,
    12: 1.41, 13: 1.21, 14: 1.11, 15: 1.07, 16: 1.05, 17: 1.02, 18: 1.06, 19: 2.03, 20: 1.76, 21: 1.70,
    22: 1.60, 23: 1.53, 24: 1.39, 25: 1.39, 26: 1.32, 27: 1.26, 28: 1.24, 29: 1.32, 30: 1.22, 31: 1.22,
    32: 1.20, 33: 1.19, 34: 1.20, 35: 1.20, 36: 1.16, 53: 1.39,
}
SYMBOLS = ["X", "H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
           "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se",
           "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te",
           "I", "Xe"]


def element_symbol(zi: int) -> str:
    """Chemical symbol of atomic number zi (Z<n> beyond xenon)."""
    return SYMBOLS[zi] if 0 < zi < len(SYMBOLS) else f"Z{zi}"


def covalent_radius(zi: int) -> float:
    """Covalent radius in Angstrom of atomic number zi (1.5 for elements missing from :data:`COVALENT_RADII`)."""
    return COVALENT_RADII.get(zi, 1.5)
