"""Descriptor feature importance of a trained model (rGDML, Kabylda et al., Nat. Commun. 14, 3562 (2023)).

Removing feature k (a pair of atoms) from the descriptor of every geometry, with the model's coefficients kept,
changes each (query, training point, permutation) term only through two scalars (DESIGN.md §2, last
paragraph): the squared distance r² loses d_k² and the projection s = d·v_j loses d_k v_jk. So the masked
predictions of *all* features follow from the full one by corrections that are, for each query and permutation,
two (orbits × n) · (n × D) products: GEMM-shaped, not D separate predictions.

With a permutation group, features are removed as whole orbits (the pairs {π(a), π(b)} of a pair {a, b}), so
the symmetrised kernel of the reduced model stays symmetric; orbit members share their orbit's score.

Notation as in DESIGN.md §2: X (n, D) training descriptors, V (n, D) rows v_j = J_j a_j, A_p = P_pᵀ x (the
query permuted), d_jp = A_p − x_j, u = √5 r / σ, e = exp(−u); the force in descriptor space is
g = Σ_p P_p Σ_j [W1 v_j + W2 d_jp] with W1 = −(5/(3σ²))(1+u)e and W2 = (25/(3σ⁴)) e s + b_j (5/(3σ²))(1+u)e.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _core
from .model import Model


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
    J: np.ndarray       # (D, N, 3) dense Jacobian of the query descriptor
    g: np.ndarray       # (D,) force in descriptor space (before sigma_y and J^T)


class _Masking:
    """The model's arrays in the form the masked corrections need."""

    def __init__(self, model: Model):
        a = model.arrays
        self.model = model
        self.N = model.n_atoms
        self.X = np.ascontiguousarray(np.asarray(a["R_desc"], dtype=np.float64).T)        # (n, D)
        self.V = np.ascontiguousarray(np.asarray(a["R_d_desc_alpha"], dtype=np.float64))  # (n, D)
        self.b = None if "alphas_E" not in a else np.asarray(a["alphas_E"], dtype=np.float64).ravel()
        self.maps = _core.permutation_maps(self.N, model.perms, mask=model.feature_mask).astype(np.int64)
        self.inverse = np.argsort(self.maps, axis=1)  # A_p = x[inverse[p]] = P_p^T x
        self.orbit = feature_orbits(model.perms, self.N, model.feature_mask)
        self.n_orbits = int(self.orbit.max()) + 1
        self.trivial = self.n_orbits == self.X.shape[1] and np.array_equal(self.orbit, np.arange(self.n_orbits))
        self.indicator = None
        if not self.trivial:
            self.indicator = np.zeros((self.X.shape[1], self.n_orbits))
            self.indicator[np.arange(self.X.shape[1]), self.orbit] = 1.0
        self.sig = model.sigma
        full = np.arange(self.N * (self.N - 1) // 2) if model.feature_mask is None else model.feature_mask
        self.pairs = tuple(idx[full] for idx in pair_atoms(self.N))

    def per_orbit(self, a: np.ndarray) -> np.ndarray:
        """Sums of the columns of a (n, D) over each orbit (the columns themselves without symmetries)."""
        return a if self.trivial else a @ self.indicator

    def weights(self, r2, s):
        """W1, W2 and the energy term of each (training point, ...) entry, for squared distances r2, projections s."""
        c = 5.0 / (3.0 * self.sig ** 2)
        u = np.sqrt(5.0 * np.maximum(r2, 0.0)) / self.sig
        e = np.exp(-u)
        w1 = -c * (1.0 + u) * e
        w2 = (25.0 / (3.0 * self.sig ** 4)) * e * s
        energy = c * (1.0 + u) * e * s
        if self.b is not None:
            b = self.b.reshape((-1,) + (1,) * (np.ndim(r2) - 1))
            w2 = w2 + b * c * (1.0 + u) * e
            energy = energy + b * (1.0 + u + u * u / 3.0) * e
        return w1, w2, energy

    def query(self, R: np.ndarray):
        """Descriptor and dense Jacobian (D, N, 3) of one geometry."""
        x, g = _core.descriptors(R[None], mask=self.model.feature_mask, lattice=self.model.lattice)
        x, g = x[0], g[0]
        J = np.zeros((x.size, self.N, 3))
        k = np.arange(x.size)
        J[k, self.pairs[0]] = -g
        J[k, self.pairs[1]] = g
        return x, J

    def deltas(self, R: np.ndarray):
        """(full terms, dF (n_orbits, N, 3), dE (n_orbits,)): full minus masked prediction, per removed orbit, in
        the model's units."""
        x, J = self.query(R)
        D = x.size
        g = np.zeros(D)
        dg = np.zeros((self.n_orbits, D))
        dE = np.zeros(self.n_orbits)
        for p in range(len(self.maps)):
            A = x[self.inverse[p]]
            Dd = A[None, :] - self.X                                   # (n, D): d_jp
            r2 = np.einsum("jd,jd->j", Dd, Dd)
            s = np.einsum("jd,jd->j", Dd, self.V)
            w1, w2, en = self.weights(r2, s)
            Z = w1 @ self.V + w2 @ Dd
            # per-orbit parts of r2 and s; the masked weights of every orbit at once
            q2, qs = self.per_orbit(Dd * Dd), self.per_orbit(Dd * self.V)  # (n, n_orbits)
            w1m, w2m, enm = self.weights(r2[:, None] - q2, s[:, None] - qs)
            dw1, dw2 = w1[:, None] - w1m, w2[:, None] - w2m
            dZ = dw1.T @ self.V + dw2.T @ Dd                           # (n_orbits, D): two GEMMs
            g += Z[self.maps[p]]
            dg += dZ[:, self.maps[p]]
            dE += (en[:, None] - enm).sum(axis=0)
        # the removed orbit's own entries drop out of the masked force entirely
        dg[self.orbit, np.arange(D)] = g
        std = self.model.std
        dF = (std * (dg @ J.reshape(D, -1))).reshape(self.n_orbits, self.N, 3)  # GEMM, not an einsum loop
        return _Terms(J=J, g=g), dF, std * dE


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
    for i, r in enumerate(R):
        _, dF, _ = m.deltas(r)
        L += np.square(dF).sum(axis=(1, 2))
        if progress is not None:
            progress(i + 1)
    return _to_full(model, L[m.orbit])


def pair_forces(m: "_Masking", terms: _Terms) -> np.ndarray:
    """(D, 3): the force on atom a of each pair (a, b) from that pair's descriptor entry (atom b gets minus it)."""
    return m.model.std * terms.g[:, None] * terms.J[np.arange(len(terms.g)), m.pairs[0]]


def interactions(model: Model, R) -> dict:
    """Per-atom interaction analysis of the model's predictions, averaged over the geometries R (rGDML, Methods).

    Returns a dict of arrays:

    ``force`` (N, N)
        F_l^k: the norm of atom k's partial contribution to the force on atom l, i.e. of the term of pair (l, k)
        in F_l = σ_y Σ_k (∂x_lk/∂r_l) g_lk (g the force in descriptor space); symmetric, zero for pairs a
        reduced model does not keep.
    ``energy`` (N,)
        Per-atom energy contributions: half the sum over the atom's pairs of the energy change when the pair is
        removed from the descriptor (with symmetries, an orbit's change shared equally by its pairs). The
        changes are large (the model's coefficients are large and cancel, DESIGN.md §1): read the pattern
        across atoms, not the absolute values.
    ``distance`` (N, N)
        Mean interatomic distance (length unit of the model).
    """
    R = _as_geometries(model, R)
    m = _Masking(model)
    N = model.n_atoms
    a_idx, b_idx = m.pairs
    force = np.zeros((N, N))
    pair_energy = np.zeros(len(a_idx))
    orbit_size = np.bincount(m.orbit)
    for r in R:
        terms, _, dE = m.deltas(r)
        force[a_idx, b_idx] += np.linalg.norm(pair_forces(m, terms), axis=1)
        pair_energy += dE[m.orbit] / orbit_size[m.orbit]
    force = (force + force.T) / len(R)
    energy = np.zeros(N)
    np.add.at(energy, a_idx, 0.5 * pair_energy / len(R))
    np.add.at(energy, b_idx, 0.5 * pair_energy / len(R))
    diff = R[:, :, None, :] - R[:, None, :, :]
    distance = np.linalg.norm(diff, axis=-1).mean(axis=0)
    return {"force": force, "energy": energy, "distance": distance}
