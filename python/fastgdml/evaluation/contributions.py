"""Per-atom energy contributions that add up to an energy difference: integrated gradients along a straight path.

For a geometry x and a reference geometry x_ref (both N × 3), the straight path x(t) = x_ref + t (x − x_ref),
t in [0, 1], and the model's forces F = −∇E:

    E(x) − E(x_ref) = ∫₀¹ ∇E(x(t)) · (x − x_ref) dt = Σ_i c_i,     c_i = −∫₀¹ F_i(x(t)) · (x_i − x_ref,i) dt

The sum is exact (the fundamental theorem of calculus along the path; the model's forces are the exact gradient of
its energy), so the c_i are an additive decomposition of E(x) − E(x_ref) over atoms: c_i is the work done on atom
i along the path. They depend on the path and on the reference, which are therefore stated with every result; they
do not have the ±10⁴ magnitudes of removing descriptor pairs from a model whose coefficients cancel (DESIGN.md §1).

The integral is Gauss–Legendre quadrature on [0, 1] with the forces of all nodes of all geometries in batched
predictions. The model's energy is smooth along the path (Matérn 5/2 kernels), so the quadrature converges fast;
the node count doubles from 16 (up to 256) until |Σ_i c_i − (E(x) − E(x_ref))| ≤ ``tol`` for every geometry, and that
remaining difference is returned (``quadrature_error``) so that every decomposition states how well it adds up.

The reference, as returned in ``reference``:
- a geometry (or one per geometry) you give, e.g. an optimised minimum; or
- a :class:`~fastgdml.data.dataset.Dataset`: for each geometry, the frame of that dataset closest to it in
  descriptor space, over the model's permutations (the model's training frames when the dataset is its training
  dataset by md5, otherwise all frames). A nearby reference gives a short path and small, local contributions.
With ``align`` (default for molecules), the reference is first rigidly superimposed on each geometry (Kabsch
rotation and translation, equal weights). Its energy is unchanged (E is invariant under rigid motions), the path is
the shortest straight path between the two shapes, and the contributions no longer depend on the frames in which
the two geometries are given. Periodic models are never aligned (a rotation would move the atoms against the
cell): their path is the difference of the positions as given.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import _core
from ..data.dataset import Dataset
from ..model import Model
from .metrics import trained_on

# Node counts tried in turn (Gauss-Legendre nodes are not nested: each count is a fresh evaluation).
_NODES = (16, 32, 64, 128, 256)
# Geometries per batched prediction of the path nodes (bounds the (geometries x nodes x N x 3) arrays).
_BATCH = 64


@dataclass
class EnergyContributions:
    """Additive per-atom energy contributions of M geometries (module docstring).

    ``contributions`` (M, N): c_i, in the model's energy unit; each row sums to ``energy − reference_energy`` up to
    ``quadrature_error``. ``energy``, ``reference_energy`` (M,): the model's energies of the geometries and of their
    references. ``quadrature_error`` (M,): Σ_i c_i − (E(x) − E(x_ref)). ``nodes`` (M,): Gauss–Legendre nodes used.
    ``reference`` (M, N, 3): the reference geometry of each path as used (permuted and aligned).
    ``reference_index`` (M,): the dataset frame chosen as reference, −1 for a given geometry.
    ``reference_permutation`` (M,): the index in ``model.perms`` of the permutation applied to that frame.
    """
    contributions: np.ndarray
    energy: np.ndarray
    reference_energy: np.ndarray
    quadrature_error: np.ndarray
    nodes: np.ndarray
    reference: np.ndarray
    reference_index: np.ndarray
    reference_permutation: np.ndarray


def _geometries(model: Model, R, what: str) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    N = model.n_atoms
    R = R[None] if R.shape == (N, 3) else R
    if R.ndim != 3 or R.shape[1:] != (N, 3) or len(R) == 0:
        raise ValueError(f"{what} must have shape (N, 3) or (M, N, 3) with N = {N} for this model, got {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError(f"{what} contains NaN/Inf positions")
    return R


def kabsch_align(R_ref: np.ndarray, R: np.ndarray) -> np.ndarray:
    """``R_ref`` (N, 3) rotated (proper rotation) and translated onto ``R`` (N, 3), least squares, equal weights."""
    c_ref, c = R_ref.mean(axis=0), R.mean(axis=0)
    A, B = R_ref - c_ref, R - c
    U, _, Vt = np.linalg.svd(A.T @ B)
    d = np.sign(np.linalg.det(U @ Vt)) or 1.0  # no reflection: E is reflection-invariant, but the path is not
    Q = U @ np.diag([1.0, 1.0, d]) @ Vt
    return A @ Q + c


def nearest_frames(model: Model, R: np.ndarray, dataset: Dataset):
    """For each geometry of R (M, N, 3), the frame of ``dataset`` closest in descriptor space over the model's
    permutations: (frame indices (M,), permutation indices (M,)). The candidates are the model's training frames if
    ``dataset`` is its training dataset (md5), else all frames."""
    if dataset.n_atoms != model.n_atoms or not np.array_equal(dataset.z, model.z):
        raise ValueError("the reference dataset holds a different molecule than the model (atomic numbers differ)")
    frames = (np.asarray(model.idxs_train, dtype=np.int64) if model.idxs_train is not None
              and trained_on(model, dataset) else np.arange(len(dataset)))
    mask, lattice = model.feature_mask, model.lattice
    X = _core.descriptors(np.ascontiguousarray(R), mask=mask, lattice=lattice)[0]
    best = np.full(len(R), np.inf)
    index = np.zeros(len(R), dtype=np.int64)
    perm = np.zeros(len(R), dtype=np.int64)
    for p, atoms in enumerate(np.asarray(model.perms)):
        C = _core.descriptors(np.ascontiguousarray(dataset.R[frames][:, atoms]), mask=mask, lattice=lattice)[0]
        d2 = (X ** 2).sum(1)[:, None] + (C ** 2).sum(1)[None] - 2.0 * X @ C.T
        j = np.argmin(d2, axis=1)
        better = d2[np.arange(len(R)), j] < best
        best[better], index[better], perm[better] = d2[np.arange(len(R)), j][better], frames[j[better]], p
    return index, perm


def _contributions(model: Model, R: np.ndarray, R_ref: np.ndarray, n: int) -> np.ndarray:
    """c (M, N) with an n-node Gauss-Legendre rule on [0, 1] for paths R_ref -> R."""
    u, w = np.polynomial.legendre.leggauss(n)
    t, w = 0.5 * (u + 1.0), 0.5 * w
    dR = R - R_ref                                                          # (M, N, 3)
    out = np.empty(R.shape[:2])
    for s in range(0, len(R), _BATCH):
        d = dR[s:s + _BATCH]
        path = R_ref[s:s + _BATCH, None] + t[None, :, None, None] * d[:, None]  # (m, n, N, 3)
        try:
            _, F = model.predict(path.reshape(-1, *R.shape[1:]))
        except ValueError as exc:
            raise ValueError(f"the straight path from its reference to one of geometries {s}..{s + len(d) - 1} "
                             f"cannot be predicted ({exc}); give a closer reference (or keep align=True)") from None
        F = F.reshape(path.shape)
        out[s:s + _BATCH] = -np.einsum("k,mkai,mai->ma", w, F, d)
    return out


def energy_contributions(model: Model, R, reference, align: Optional[bool] = None,
                         tol: float = 1e-6) -> EnergyContributions:
    """Per-atom contributions c_i with Σ_i c_i = E(R) − E(R_ref), by integrated forces along the straight path.

    Parameters
    ----------
    model : Model
    R : array (N, 3) or (M, N, 3)
        Geometries to decompose, in the model's length unit.
    reference : array (N, 3) or (M, N, 3), or Dataset
        The reference geometry (one for all, or one per geometry), or a dataset whose frame nearest to each geometry
        in descriptor space (over the model's permutations; its training frames if it is the model's training
        dataset) is that geometry's reference (module docstring).
    align : bool, optional
        Superimpose each reference rigidly on its geometry first (default: True for molecular models; periodic
        models are never aligned and refuse True).
    tol : float
        Target of |Σ_i c_i − (E − E_ref)| in the model's energy unit (default 1e-6); nodes double from 16 to 256
        until it is met. A geometry that misses it at 256 nodes gives a RuntimeWarning; ``quadrature_error``
        always holds the remaining difference.

    Returns
    -------
    EnergyContributions
    """
    R = _geometries(model, R, "R")
    periodic = model.lattice is not None
    if align is None:
        align = not periodic
    if align and periodic:
        raise ValueError("align=True would rotate the atoms of a periodic model against its cell; use align=False")
    M = len(R)
    if isinstance(reference, Dataset):
        index, perm = nearest_frames(model, R, reference)
        R_ref = np.stack([reference.R[i][np.asarray(model.perms)[p]] for i, p in zip(index, perm)])
    else:
        R_ref = _geometries(model, reference, "reference")
        if len(R_ref) not in (1, M):
            raise ValueError(f"reference must be one geometry or one per geometry ({M}), got {len(R_ref)}")
        R_ref = np.broadcast_to(R_ref, R.shape).copy()
        index, perm = np.full(M, -1, dtype=np.int64), np.zeros(M, dtype=np.int64)
    if align:
        R_ref = np.stack([kabsch_align(a, b) for a, b in zip(R_ref, R)])
    E = model.predict(R)[0]
    E_ref = model.predict(R_ref)[0]
    dE = E - E_ref
    c = np.zeros(R.shape[:2])
    nodes = np.zeros(M, dtype=np.int64)
    err = np.full(M, np.inf)
    todo = np.arange(M)
    for n in _NODES:
        c[todo] = _contributions(model, R[todo], R_ref[todo], n)
        nodes[todo] = n
        err[todo] = c[todo].sum(axis=1) - dE[todo]
        todo = todo[~(np.abs(err[todo]) <= tol)]
        if not len(todo):
            break
    if len(todo):
        warnings.warn(f"energy_contributions: {len(todo)} geometries miss tol={tol:g} at {_NODES[-1]} nodes (largest "
                      f"|sum - (E - E_ref)| {np.abs(err[todo]).max():.3g}); a closer reference shortens the path",
                      RuntimeWarning, stacklevel=2)
    return EnergyContributions(contributions=c, energy=E, reference_energy=E_ref, quadrature_error=err, nodes=nodes,
                               reference=R_ref, reference_index=index, reference_permutation=perm)
