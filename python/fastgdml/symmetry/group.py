"""Atom permutations (the molecule's symmetry group): the check that they form a group, their descriptor index
table, and permutations read from a file."""
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
    bad = np.flatnonzero(~(np.sort(p, axis=1) == ref).all(axis=1))
    if len(bad):
        raise error(f"{where}[{int(bad[0])}] is not a permutation of 0..{n_atoms - 1}")
    # Rows are found by a hash (a fixed random projection, wrapping int64) and then compared exactly: closure
    # costs P vectorised (P, N) steps instead of P^2 Python-level lookups (a file may hold thousands of rows).
    weights = np.random.default_rng(12345).integers(1, 2**62, size=n_atoms, dtype=np.int64)
    with np.errstate(over="ignore"):
        keys = p @ weights
    order = np.argsort(keys, kind="stable")
    sorted_keys, sorted_rows = keys[order], p[order]
    if len(np.unique(p, axis=0)) != len(p):
        raise error(f"{where} has duplicate rows")
    if not (p == ref).all(axis=1).any():
        raise error(f"{where} must contain the identity permutation")
    for a in p:
        products = a[p]  # row k: a composed with p[k]
        with np.errstate(over="ignore"):
            pk = products @ weights
        at = np.minimum(np.searchsorted(sorted_keys, pk), len(p) - 1)
        if not (sorted_keys[at] == pk).all() or not (sorted_rows[at] == products).all():
            # a hash hit on a different row would need the exact compare above to fail: fall back per row
            rows = {tuple(r) for r in p}
            if any(tuple(r) not in rows for r in products):
                raise error(f"{where} is not closed under composition (not a group): add the missing products "
                            f"or pass the full group")
    identity = int(np.flatnonzero((p == ref).all(axis=1))[0])
    order = [identity] + [i for i in range(len(p)) if i != identity]
    return p[order]


def read_perms(path: str, z: np.ndarray, molecule: str = "the dataset", error=ValueError) -> np.ndarray:
    """The validated permutations (key ``perms``) of a dataset or model file at ``path``, for the molecule of
    atomic numbers ``z`` (``molecule`` names it in errors). The file's ``z``, when it has one, must be ``z``."""
    from ..io.npz import load_npz

    src = load_npz(path)
    if "perms" not in src:
        raise error(f"{path} has no key 'perms'")
    file_z = np.asarray(src.get("z", z))
    if file_z.shape != np.shape(z) or not np.array_equal(file_z, z):
        raise error(f"{path} describes another molecule than {molecule} (its 'z' has {file_z.size} atoms"
                    f"{'' if file_z.size != np.size(z) else ' in another order'}); take the permutations from a "
                    f"file of this molecule")
    return validate_perms(src["perms"], np.size(z), where=f"{path}: 'perms'", error=error)


def descriptor_permutation_table(perms: np.ndarray, n_atoms: int, mask=None) -> np.ndarray:
    """``tril_perms_lin`` of the sGDML model format (FORMATS.md §2.2): entry d*P + p = delta_p[d] + p*D."""
    from .. import _core

    maps = _core.permutation_maps(n_atoms, np.asarray(perms, dtype=np.int64), mask=mask).astype(np.int64)
    P, D = maps.shape
    return (maps + (np.arange(P) * D)[:, None]).ravel(order="F")
