"""Periodic cells: the one lattice check and the one minimum image of the Python layer (the C++ core has its own
for the descriptor, cpp/include/fastgdml/math/descriptor.hpp). Lattice vectors are the matrix's columns
(FORMATS.md §1 of the sGDML format): a position r has fractional coordinates L^-1 r.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def check_lattice(lattice, where: str, error=ValueError) -> np.ndarray:
    """``lattice`` as a float64 (3, 3) array, or ``error`` naming ``where`` and the key: it must hold real,
    finite numbers and be invertible (|det| >= 1e-12)."""
    lat = np.asarray(lattice)
    if lat.dtype.kind not in "biuf" or lat.shape != (3, 3):
        raise error(f"{where}: 'lattice' must be a (3, 3) matrix of real numbers (vectors as columns), got "
                    f"{lat.dtype} of shape {lat.shape}")
    lat = lat.astype(np.float64)
    if not np.all(np.isfinite(lat)) or abs(np.linalg.det(lat)) < 1e-12:
        raise error(f"{where}: 'lattice' must be an invertible (3, 3) matrix (vectors as columns)")
    return lat


def minimum_image(d: np.ndarray, lattice: Optional[np.ndarray]) -> np.ndarray:
    """Difference vectors ``d`` (..., 3) wrapped to their nearest periodic image (unchanged without a lattice)."""
    if lattice is None:
        return d
    L = np.asarray(lattice, dtype=np.float64)
    frac = d @ np.linalg.inv(L).T
    return (frac - np.rint(frac)) @ L.T
