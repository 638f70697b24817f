"""Automatic permutation-symmetry search: the group of atom permutations sGDML symmetrises the kernel over.

The reference package matches every pair of training frames (m^2/2 assignments, FORMATS.md §6). Here each
frame is matched to a few reference frames only (cost linear in the number of frames):

1. Frames: up to ``max_frames`` training geometries; distance matrices D (minimum image with a lattice).
2. References: ``n_references`` frames picked far apart (farthest-point sampling on D).
3. Matching: for every (frame i, reference r) the atoms of i are assigned to those of r, species-preserving,
   first on per-species sorted distance fingerprints, then refined on the distances to the already matched
   atoms (minimum-cost assignment, C++). The result is a permutation p with frame_r ~ frame_i[p].
4. Local candidates: p is split into components (its cycles, merged when their atoms lie within 3 bonds of
   each other); independent rotors in one frame pair become separate candidates.
5. Validation of each candidate q (support S): it preserves species and the bonded topology (bonds from
   covalent radii on the median geometry), and it maps a frame close to a reference *locally*: the distances
   from S to its 3-bond neighbourhood of frame_i[q] differ from those of the reference by at most
   ``tolerance`` times the distance of the reference's nearest frame without any permutation. Partial
   matches (a mirror image of a methyl group without the rest, a swap that only lowers the mismatch a
   little) fail this test; symmetries that the dynamics realise pass it.
6. Group: candidates with overlapping supports form blocks; each block's group is the closure of its
   candidates (most frequently seen first; a candidate whose closure would exceed ``max_size`` is left out).
   Blocks act on disjoint atoms, so the whole group is their direct product; when that exceeds ``max_size``
   the largest product of whole blocks within it is kept. Everything left out is reported, with the size of
   the whole group (each block's closure counted up to ``_FULL_SIZE_CAP``) so that the note can say how to
   keep it.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

from .. import _core
from ..data.elements import covalent_radius, element_symbol
from ..geometry import distance_matrices

_BOND_FACTOR = 1.2      # bonded: distance < 1.2 (r_a + r_b)
_LINK_BONDS = 3         # cycles within this many bonds belong to one candidate; also the neighbourhood size
_MAX_D_BYTES = 256 << 20
DEFAULT_MAX_PERMS = 100
"""Default symmetry budget of :func:`fastgdml.train` and the CLI (``max_perms`` / ``--max-perms``): the largest
group kept by the automatic search (the cost factor G of training, prediction and feature scores). From
``bench/symmetry.py --sweep`` (bench/README.md, "Symmetry budget"): on Ac-Ala3-NHMe at n_train 100 every factor
of 3 in G still lowered the test force MAE (G 1 / 3 / 9 / 27 / 81: 7.96 / 7.44 / 6.88 / 6.19 / 5.37 kcal/mol/A)
for at most 2x the Cholesky training time, so the budget stays at 100 (81 of that molecule's 486 kept); a lower
cap is not supported by the measurement at this size."""
_FULL_SIZE_CAP = 100_000  # the whole group's size is counted up to this many elements per block (for the report)


@dataclass
class SymmetrySearch:
    """What :func:`find_permutations` found: the group, its blocks, and what was left out and why."""
    perms: np.ndarray                       # (G, N), identity first
    z: np.ndarray
    n_frames: int
    seconds: float
    blocks: List[Tuple[Tuple[int, ...], int]] = field(default_factory=list)   # (atoms moved, group size)
    left_out: List[str] = field(default_factory=list)                          # one line per omission
    full_size: Optional[int] = None   # size of the whole group found, budget ignored (None: > _FULL_SIZE_CAP)
    max_size: int = 0                 # the budget the search ran with

    @property
    def n_left_out(self) -> Optional[int]:
        """Permutations of the whole group that the budget left out (None when the whole group is too large to
        count)."""
        return None if self.full_size is None else self.full_size - len(self.perms)

    def budget_note(self) -> Optional[str]:
        """One line saying how many permutations the size budget left out and how to keep them, or None when
        nothing was left out."""
        if not self.left_out:
            return None
        G = len(self.perms)
        cost = "training and prediction cost grow linearly with the count"
        if self.full_size is None:
            return (f"symmetry budget: kept {G} permutations of a group of more than {_FULL_SIZE_CAP:,} found "
                    f"(max_perms={self.max_size}; {cost})")
        return (f"symmetry budget: kept {G} of the {self.full_size} permutations found ({self.full_size - G} left "
                f"out; {cost}: x{G} instead of x{self.full_size}); max_perms={self.full_size} "
                f"(fastgdml train --max-perms {self.full_size}) keeps them all")

    def describe(self) -> str:
        """Human-readable summary: group size, the atoms each block permutes, omissions."""
        lines = [f"{len(self.perms)} permutation(s) (identity included) from {self.n_frames} frames in "
                 f"{self.seconds:.1f} s"]
        for atoms, size in self.blocks:
            names = ", ".join(f"{element_symbol(self.z[a])}{a}" for a in atoms)
            lines.append(f"  {{{names}}}: {size} permutations")
        lines += [f"  left out: {line}" for line in self.left_out]
        return "\n".join(lines)


def _bond_hops(D_median: np.ndarray, z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Adjacency of the bond graph and the number of bonds between atoms (N+1 where not connected)."""
    N = len(z)
    radii = np.array([covalent_radius(int(a)) for a in z])
    adj = D_median < _BOND_FACTOR * (radii[:, None] + radii[None, :])
    np.fill_diagonal(adj, False)
    hops = np.full((N, N), N + 1, dtype=np.int64)
    np.fill_diagonal(hops, 0)
    reach = np.eye(N, dtype=bool)
    for step in range(1, N):
        new = (reach.astype(np.int64) @ adj.astype(np.int64) > 0) & ~reach
        if not new.any():
            break
        hops[new] = step
        reach |= new
    return adj, hops


def _pick_references(D: np.ndarray, count: int, rng) -> List[int]:
    flat = D.reshape(len(D), -1)
    refs = [int(rng.integers(len(D)))]
    nearest = np.linalg.norm(flat - flat[refs[0]], axis=1)
    while len(refs) < min(count, len(D)):
        nxt = int(np.argmax(nearest))
        if nearest[nxt] == 0.0:
            break
        refs.append(nxt)
        nearest = np.minimum(nearest, np.linalg.norm(flat - flat[nxt], axis=1))
    return refs


def _match(D: np.ndarray, Fp: np.ndarray, r: int, penalty: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Permutations p (m, N) with frame_r ~ frame_i[p] for every frame i."""
    def cost(A, B):  # |A[a] - B[b]|^2 for all a, b, batched over frames
        return (A * A).sum(-1)[:, :, None] + (B * B).sum(-1)[None, None, :] - 2.0 * A @ B.T + penalty

    sigma = _core.linear_assignment(cost(Fp, Fp[r]))       # sigma[i, a]: atom of r matched to atom a of i
    for _ in range(rounds):
        p = np.argsort(sigma, axis=1)
        Dis = np.take_along_axis(D, p[:, None, :], axis=2)  # D_i[a, p[c]]: distances to the matched atoms
        new = _core.linear_assignment(cost(Dis, D[r]))
        if np.array_equal(new, sigma):
            break
        sigma = new
    return np.argsort(sigma, axis=1)


def _components(p: np.ndarray, hops: np.ndarray) -> List[np.ndarray]:
    """Split p into permutations acting on groups of its cycles that lie within _LINK_BONDS of each other."""
    N = len(p)
    seen = np.zeros(N, dtype=bool)
    cycles = []
    for a in range(N):
        if seen[a] or p[a] == a:
            continue
        cyc, b = [], a
        while not seen[b]:
            seen[b] = True
            cyc.append(b)
            b = p[b]
        cycles.append(cyc)
    groups: List[List[int]] = []
    for cyc in cycles:
        merged = [g for g in groups if hops[np.ix_(g, cyc)].min() <= _LINK_BONDS]
        new = list(cyc) + [a for g in merged for a in g]
        groups = [g for g in groups if not any(g is m for m in merged)] + [new]
    out = []
    for g in groups:
        q = np.arange(N)
        q[g] = p[g]
        out.append(q)
    return out


def _closure(generators: List[np.ndarray], N: int, cap: int) -> Optional[List[Tuple[int, ...]]]:
    """All products of the generators (identity first), or None when there are more than cap."""
    identity = tuple(range(N))
    elements = {identity: None}
    order = [identity]
    frontier = [np.arange(N)]
    while frontier:
        nxt = []
        for e in frontier:
            for g in generators:
                h = e[g]
                key = tuple(h)
                if key not in elements:
                    elements[key] = None
                    order.append(key)
                    if len(order) > cap:
                        return None
                    nxt.append(h)
        frontier = nxt
    return order


def _best_product(sizes: List[int], cap: int) -> List[int]:
    """Indices of the blocks whose size product is largest without exceeding cap (ties: fewer, earlier)."""
    best = {1: []}
    for b, s in enumerate(sizes):
        for prod, chosen in list(best.items()):
            new = prod * s
            if new <= cap and (new not in best or len(best[new]) > len(chosen) + 1):
                best[new] = chosen + [b]
    return best[max(best)]


def find_permutations(R, z, lattice=None, max_frames: int = 1000, max_size: int = 100, n_references: int = 6,
                      tolerance: float = 1.5, seed: int = 0, report: bool = False, warn: bool = True):
    """Permutation group of a molecule from its geometries (the "s" of sGDML).

    Parameters
    ----------
    R : array (M, N, 3)
        Geometries (Angstrom), e.g. the training frames. Symmetries are found only where the data realise
        them (a methyl rotor must have rotated in some frames).
    z : array (N,)
        Atomic numbers.
    lattice : array (3, 3), optional
        Lattice vectors as columns (periodic systems; minimum-image distances).
    max_frames : int
        Frames used (a seeded random subset of larger sets; default 1000).
    max_size : int
        Largest group returned (training cost grows linearly with it; default 100, the reference's cap is 99).
        When the found group is larger, the largest product of whole independent blocks that fits is kept, and
        the rest is reported (warning, and in the report).
    n_references : int
        Reference frames each frame is matched to (default 6).
    tolerance : float
        Local closeness test of step 5 (module docstring), in units of the nearest-frame distance (default 1.5).
    seed : int
        Seed of the frame subset and the first reference.
    report : bool
        Also return a :class:`SymmetrySearch` (blocks, omissions, timing, the whole group's size;
        ``.describe()`` and ``.budget_note()`` print them).
    warn : bool
        Warn (RuntimeWarning) when ``max_size`` leaves symmetries out (default True; :func:`fastgdml.train`
        prints its own note instead).

    Returns
    -------
    perms : int array (G, N)
        A closed group of species- and bond-preserving permutations, identity first (sGDML convention: a
        permuted geometry is ``R[:, perm]``). With ``report=True``: ``(perms, SymmetrySearch)``.
    """
    start = time.perf_counter()
    R = np.asarray(R, dtype=np.float64)
    z = np.asarray(z).astype(np.int64).ravel()
    if R.ndim != 3 or R.shape[2] != 3 or R.shape[1] != len(z):
        raise ValueError(f"R must have shape (M, {len(z)}, 3) for {len(z)} atoms, got {R.shape}")
    if not np.all(np.isfinite(R)):
        raise ValueError("R contains NaN or infinite coordinates")
    if max_size < 1 or max_frames < 1 or n_references < 1:
        raise ValueError("max_size, max_frames and n_references must be >= 1")
    M, N = R.shape[:2]
    rng = np.random.default_rng(seed)
    m = min(M, max_frames, max(2, _MAX_D_BYTES // (8 * 4 * N * N)))
    frames = np.sort(rng.choice(M, size=m, replace=False)) if m < M else np.arange(M)
    identity = np.arange(N)[None, :]
    search = SymmetrySearch(perms=identity, z=z, n_frames=len(frames), seconds=0.0, full_size=1, max_size=max_size)

    def done(perms):
        search.perms = np.asarray(perms, dtype=np.int64)
        search.seconds = time.perf_counter() - start
        return (search.perms, search) if report else search.perms

    if len(frames) < 2 or N < 2:
        return done(identity)
    D = distance_matrices(R[frames], lattice)
    adj, hops = _bond_hops(np.median(D, axis=0), z)
    species = [np.flatnonzero(z == s) for s in np.unique(z)]
    Fp = np.concatenate([np.sort(D[:, :, idx], axis=2) for idx in species], axis=2)
    scale = float(N * max(D.max(), 1.0) ** 2)
    penalty = np.where(z[:, None] != z[None, :], 10.0 * scale, 0.0)

    # Candidates: local components of the matches, with the (frame, reference) pairs that produced them.
    found = {}
    refs = _pick_references(D, n_references, rng)
    for r in refs:
        P = _match(D, Fp, r, penalty)
        for i in np.flatnonzero((P != np.arange(N)).any(axis=1)):
            if i == r or not np.array_equal(z[P[i]], z):
                continue
            for q in _components(P[i], hops):
                found.setdefault(tuple(q), []).append((int(i), r))

    # Validation: species, bonds, local closeness (step 5).
    accepted = []  # (count, permutation, support)
    nn0_cache = {}
    for key, pairs in found.items():
        q = np.asarray(key)
        if not np.array_equal(adj[np.ix_(q, q)], adj):
            continue
        S = np.flatnonzero(q != np.arange(N))
        Nb = np.flatnonzero(hops[S].min(axis=0) <= _LINK_BONDS)
        floor = 0.01 * np.sqrt(len(S) * len(Nb))  # 0.01 A per distance: duplicate frames are not evidence
        best = np.inf
        for i, r in pairs:
            ck = (r, tuple(S))
            if ck not in nn0_cache:
                local = np.linalg.norm((D[:, S][:, :, Nb] - D[r][np.ix_(S, Nb)]).reshape(len(D), -1), axis=1)
                local[r] = np.inf
                nn0_cache[ck] = max(local.min(), floor)
            res = np.linalg.norm(D[i][np.ix_(q[S], q[Nb])] - D[r][np.ix_(S, Nb)])
            best = min(best, res / nn0_cache[ck])
        if best <= tolerance:
            accepted.append((len(pairs), q, S))

    # Blocks of candidates with overlapping supports; closure per block within max_size.
    accepted.sort(key=lambda t: -t[0])
    blocks: List[dict] = []
    for count, q, S in accepted:
        hit = [b for b in blocks if b["atoms"] & set(S.tolist())]
        merged = {"atoms": set(S.tolist()), "gens": [(count, q)]}
        for b in hit:
            merged["atoms"] |= b["atoms"]
            merged["gens"] = b["gens"] + merged["gens"]
        blocks = [b for b in blocks if not any(b is h for h in hit)] + [merged]
    groups = []
    full_size: Optional[int] = 1
    for b in blocks:
        gens, kept = [], None
        everything = _closure([q for _, q in b["gens"]], N, max(_FULL_SIZE_CAP, max_size))
        full_size = None if everything is None or full_size is None else full_size * len(everything)
        for count, q in sorted(b["gens"], key=lambda t: -t[0]):
            trial = _closure(gens + [q], N, max_size)
            if trial is None:
                moved = ", ".join(f"{element_symbol(z[a])}{a}" for a in np.flatnonzero(q != np.arange(N)))
                search.left_out.append(f"permutation of {{{moved}}} (seen {count}x): its group would exceed "
                                       f"max_size={max_size}")
                continue
            gens.append(q)
            kept = trial
        if kept is not None and len(kept) > 1:
            groups.append((tuple(sorted(b["atoms"])), kept))
    chosen = _best_product([len(g) for _, g in groups], max_size)
    for b, (atoms, elems) in enumerate(groups):
        if b not in chosen:
            names = ", ".join(f"{element_symbol(z[a])}{a}" for a in atoms)
            search.left_out.append(f"block {{{names}}} ({len(elems)} permutations): the product with the other "
                                   f"blocks would exceed max_size={max_size}")
    search.full_size = full_size
    if search.left_out and warn:
        warnings.warn("find_permutations: symmetries left out (raise max_size to keep them; training cost grows "
                      "linearly with the group size):\n  " + "\n  ".join(search.left_out), RuntimeWarning,
                      stacklevel=2)

    # Direct product of the chosen blocks (disjoint supports: their elements commute).
    perms = [np.arange(N)]
    for b in chosen:
        atoms, elems = groups[b]
        search.blocks.append((atoms, len(elems)))
        perms = [p[np.asarray(e)] for p in perms for e in elems]
    return done(np.stack(perms))
