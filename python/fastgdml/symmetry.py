"""Atom permutations (the molecule's symmetry group) and their descriptor index maps."""
from __future__ import annotations

import numpy as np


def validate_perms(perms, n_atoms: int, where: str = "perms", error=ValueError) -> np.ndarray:
    """Check that ``perms`` (P, N) are permutations forming a group with the identity first.

    Returns the perms as int64, identity moved to row 0. The symmetrised kernel is only symmetric (and the
    trained model only permutation-invariant) when the set is closed under composition, so a set that is not
    a group is an error, not a warning.
    """
    p = np.asarray(perms)
    if p.ndim != 2 or p.shape[1] != n_atoms or p.shape[0] < 1:
        raise error(f"{where} must have shape (P, {n_atoms}), got {p.shape}")
    if not np.issubdtype(p.dtype, np.integer):
        raise error(f"{where} must hold integer atom indices, got dtype {p.dtype}")
    p = p.astype(np.int64)
    ref = np.arange(n_atoms)
    for i, row in enumerate(p):
        if not np.array_equal(np.sort(row), ref):
            raise error(f"{where}[{i}] is not a permutation of 0..{n_atoms - 1}")
    rows = {tuple(r) for r in p}
    if len(rows) != len(p):
        raise error(f"{where} has duplicate rows")
    if tuple(ref) not in rows:
        raise error(f"{where} must contain the identity permutation")
    for a in p:
        for b in p:
            if tuple(a[b]) not in rows:
                raise error(f"{where} is not closed under composition (not a group): add the missing products "
                            f"or pass the full group")
    identity = int(np.flatnonzero((p == ref).all(axis=1))[0])
    order = [identity] + [i for i in range(len(p)) if i != identity]
    return p[order]


def descriptor_permutation_table(perms: np.ndarray, n_atoms: int, mask=None) -> np.ndarray:
    """``tril_perms_lin`` of the sGDML model format (FORMATS.md §2.2): entry d*P + p = delta_p[d] + p*D."""
    from . import _core

    maps = _core.permutation_maps(n_atoms, np.asarray(perms, dtype=np.int64), mask=mask).astype(np.int64)
    P, D = maps.shape
    return (maps + (np.arange(P) * D)[:, None]).ravel(order="F")
