"""Periodic cells and distances: the one lattice check, lattice comparison and minimum image of the Python layer
(the C++ core has its own for the descriptor, cpp/include/fastgdml/math/descriptor.hpp). Lattice vectors are the
matrix's columns (FORMATS.md §1 of the sGDML format): a position r has fractional coordinates L^-1 r.
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


def same_lattice(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two cells (3, 3) agree to 1e-6, relative and in units of the largest entry of ``b`` (the reference):
    the one comparison of cells (an MD engine's cell against a model's lattice, datasets that are merged)."""
    return bool(np.allclose(a, b, rtol=1e-6, atol=1e-6 * np.abs(b).max()))


def minimum_image(d: np.ndarray, lattice: Optional[np.ndarray]) -> np.ndarray:
    """Difference vectors ``d`` (..., 3) wrapped to their nearest periodic image (unchanged without a lattice)."""
    if lattice is None:
        return d
    L = np.asarray(lattice, dtype=np.float64)
    frac = d @ np.linalg.inv(L).T
    return (frac - np.rint(frac)) @ L.T


def distance_matrices(R: np.ndarray, lattice: Optional[np.ndarray] = None) -> np.ndarray:
    """Interatomic distances (M, N, N) of geometries R (M, N, 3), minimum image with a lattice."""
    d = minimum_image(R[:, :, None, :] - R[:, None, :, :], lattice)
    return np.sqrt((d * d).sum(-1))
