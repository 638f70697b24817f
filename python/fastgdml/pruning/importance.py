"""Descriptor feature importance of a trained model (rGDML, Kabylda et al., Nat. Commun. 14, 3562 (2023)).

Removing feature k (a pair of atoms) from the descriptor of every geometry, with the model's coefficients kept,
changes each (query, training point, permutation) term only through two scalars: the squared distance r² loses
d_k² and the projection s = d·v_j loses d_k v_jk. So the masked predictions of *all* features follow from the
full one by corrections that are, for each query and permutation, two (orbits × n) · (n × D) products:
GEMM-shaped, not D separate predictions. The arithmetic runs in the C++ core (``_core.feature_deltas``,
cpp/include/fastgdml/feature_scores.hpp); this module prepares the orbits and turns the results into scores
and interaction maps.

With a permutation group, features are removed as whole orbits (the pairs {π(a), π(b)} of a pair {a, b}), so
the symmetrised kernel of the reduced model stays symmetric; orbit members share their orbit's score.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import _core
from ..geometry import distance_matrices
from ..model import Model

# Geometries per call of the core (progress is reported between calls).
_CHUNK = 8


def pair_atoms(n_atoms: int):
    """Atom indices (a, b), a > b, of every full-descriptor entry k = a(a−1)/2 + b."""
    return np.tril_indices(n_atoms, -1)


def feature_orbits(perms: np.ndarray, n_atoms: int, mask=None) -> np.ndarray:
    """Orbit index (0..n_orbits−1) of every entry of the (masked) descriptor layout under the permutations.

    Entries of one orbit are mapped onto each other by the group; a mask that keeps or drops whole orbits keeps
    the symmetrised kernel symmetric.
    """
    maps = _core.permutation_maps(n_atoms, np.asarray(perms, dtype=np.int64), mask=mask).astype(np.int64)
    # perms form a group, so the images of entry k under all of them are its whole orbit
    return np.unique(maps.min(axis=0), return_inverse=True)[1].ravel()


@dataclass
class _Terms:
    """One query's full-model quantities, shared by the masked corrections of every orbit."""
    g: np.ndarray       # (D,) force in descriptor space (F = std J^T g)
    jac: np.ndarray     # (D, 3) compressed descriptor Jacobian: J row k is -jac[k] on atom a_k, +jac[k] on b_k


class _Masking:
    """A model's arrays and orbits in the form the core's feature deltas take."""

    def __init__(self, model: Model):
        a = model.arrays
        self.model = model
        self.N = model.n_atoms
        self.X = np.ascontiguousarray(np.asarray(a["R_desc"], dtype=np.float64).T)        # (n, D)
        self.V = np.ascontiguousarray(np.asarray(a["R_d_desc_alpha"], dtype=np.float64))  # (n, D)
        self.b = None if "alphas_E" not in a else np.ascontiguousarray(a["alphas_E"], dtype=np.float64).ravel()
        self.orbit = feature_orbits(model.perms, self.N, model.feature_mask).astype(np.int64)
        self.n_orbits = int(self.orbit.max()) + 1
        full = np.arange(self.N * (self.N - 1) // 2) if model.feature_mask is None else model.feature_mask
        self.pairs = tuple(idx[full] for idx in pair_atoms(self.N))

    def core(self, R: np.ndarray, forces: bool = False) -> dict:
        """``_core.feature_deltas`` for geometries R (M, N, 3): scores, dE, g (and dF with ``forces``)."""
        m = self.model
        return _core.feature_deltas(self.N, self.X, self.V, self.b, m.perms, m.feature_mask, m.lattice, m.sigma,
                                    m.std, self.orbit, np.ascontiguousarray(R), forces=forces, backend=m.backend)

    def deltas(self, R: np.ndarray):
        """(full terms, dF (n_orbits, N, 3), dE (n_orbits,)) of one geometry: full minus masked prediction, per
        removed orbit, in the model's units."""
        out = self.core(R[None], forces=True)
        _, jac = _core.descriptors(R[None], mask=self.model.feature_mask, lattice=self.model.lattice)
        return _Terms(g=out["g"][0], jac=jac[0]), out["dF"][0], out["dE"][0]


def _as_geometries(model: Model, R) -> np.ndarray:
    R = np.asarray(R, dtype=np.float64)
    N = model.n_atoms
    if R.shape == (N, 3):
        R = R[None]
    if R.ndim != 3 or R.shape[1:] != (N, 3) or len(R) == 0:
        raise ValueError(f"R must have shape (M, {N}, 3) for this {N}-atom model, got {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError("R contains NaN/Inf positions")
    return R


def _to_full(model: Model, per_entry: np.ndarray) -> np.ndarray:
    """A value per entry of the model's (masked) layout as a (D,) array over the full descriptor (0 elsewhere)."""
    N = model.n_atoms
    out = np.zeros(N * (N - 1) // 2)
    if model.feature_mask is None:
        out[:] = per_entry
    else:
        out[model.feature_mask] = per_entry
    return out


def feature_scores(model: Model, R, progress: Optional[callable] = None) -> np.ndarray:
    """rGDML importance of every descriptor feature: L_k = Σ_i ‖F(x_i) − F_mask_k(x_i)‖² over the geometries R.

    F_mask_k is the same model (same coefficients) with feature k — with symmetries, its whole orbit of pairs —
    removed from the descriptor of every geometry.

    Parameters
    ----------
    model : Model
    R : array (M, N, 3)
        Scoring geometries (a few hundred suffice: the ranking barely depends on the count).
    progress : callable, optional
        Called with the number of geometries done after each one.

    Returns
    -------
    scores : array (D,), D = N(N−1)/2, in (force unit)². Members of one orbit share the orbit's score; features
        already removed from a reduced model score 0 (removing them changes nothing).
    """
    R = _as_geometries(model, R)
    m = _Masking(model)
    L = np.zeros(m.n_orbits)
    for start in range(0, len(R), _CHUNK):
        L += m.core(R[start:start + _CHUNK])["scores"]
        if progress is not None:
            progress(min(start + _CHUNK, len(R)))
    return _to_full(model, L[m.orbit])


def pair_forces(m: "_Masking", terms: _Terms) -> np.ndarray:
    """(D, 3): the force on atom a of each pair (a, b) from that pair's descriptor entry (atom b gets minus it)."""
    return -m.model.std * terms.g[:, None] * terms.jac


def interactions(model: Model, R, reference=None) -> dict:
    """Per-atom interaction analysis of the model's predictions, averaged over the geometries R (rGDML, Methods).

    Returns a dict of arrays:

    ``force`` (N, N)
        F_l^k: the norm of atom k's partial contribution to the force on atom l, i.e. of the term of pair (l, k)
        in F_l = σ_y Σ_k (∂x_lk/∂r_l) g_lk (g the force in descriptor space); symmetric, zero for pairs a
        reduced model does not keep.
    ``energy`` (N,)
        Per-atom energy contributions, additive: the mean over R of the integrated-force contributions of
        :func:`fastgdml.evaluation.contributions.energy_contributions` relative to ``reference`` (default: the
        geometry of R of lowest predicted energy, rigidly aligned to each geometry), so that they sum to
        ``energy_difference`` up to ``energy_quadrature_error``.
    ``energy_difference`` (scalar)
        Mean over R of E(x) − E(x_ref).
    ``energy_quadrature_error`` (scalar)
        Largest |Σ_i c_i − (E(x) − E(x_ref))| over R.
    ``distance`` (N, N)
        Mean interatomic distance (length unit of the model; minimum image for a periodic model).
    """
    from ..evaluation.contributions import energy_contributions

    R = _as_geometries(model, R)
    m = _Masking(model)
    N = model.n_atoms
    a_idx, b_idx = m.pairs
    force = np.zeros((N, N))
    _, jac = _core.descriptors(R, mask=model.feature_mask, lattice=model.lattice)
    for start in range(0, len(R), _CHUNK):
        out = m.core(R[start:start + _CHUNK])
        for g, jq in zip(out["g"], jac[start:start + _CHUNK]):
            force[a_idx, b_idx] += np.linalg.norm(pair_forces(m, _Terms(g=g, jac=jq)), axis=1)
    force = (force + force.T) / len(R)
    if reference is None:
        reference = R[int(np.argmin(model.predict(R)[0]))]
    parts = energy_contributions(model, R, reference)
    distance = distance_matrices(R, model.lattice).mean(axis=0)
    return {"force": force, "energy": parts.contributions.mean(axis=0),
            "energy_difference": float((parts.energy - parts.reference_energy).mean()),
            "energy_quadrature_error": float(np.abs(parts.quadrature_error).max()), "distance": distance}
