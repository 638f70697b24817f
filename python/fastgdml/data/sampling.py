"""Energy-stratified sampling of training/validation/test indices (FORMATS.md §7.1), seeded.

Like the reference sampler: Freedman–Diaconis bins over the energies (bin width 2 IQR / n^(1/3), at most n/2
bins), a per-bin quota proportional to the bin's population, uniform draws within each bin. Unlike it, every
random choice comes from the ``numpy.random.Generator`` passed in, so a seed reproduces the split.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def stratified_sample(E: Optional[np.ndarray], n: int, rng: np.random.Generator, n_total: Optional[int] = None,
                      exclude=None) -> np.ndarray:
    """Draw ``n`` distinct indices, stratified by the energies ``E`` (uniform when ``E`` is None).

    Parameters
    ----------
    E : array (M,) or None
        Energies of all frames.
    n : int
        How many indices to draw.
    rng : numpy.random.Generator
    n_total : int, optional
        Number of frames M (needed when ``E`` is None).
    exclude : array of int, optional
        Indices that must not be drawn (e.g. the training set when drawing validation points).
    """
    M = len(E) if E is not None else int(n_total)
    pool = np.arange(M) if exclude is None else np.setdiff1d(np.arange(M), np.asarray(exclude, dtype=np.int64))
    if n < 0 or n > pool.size:
        raise ValueError(f"cannot draw {n} frames: only {pool.size} are available "
                         f"({M} in the dataset{'' if exclude is None else f', {M - pool.size} excluded'})")
    if n == pool.size:
        return pool.copy()
    if E is None or n < 2:
        return np.sort(rng.choice(pool, size=n, replace=False))
    vals = np.asarray(E, dtype=np.float64).ravel()[pool]
    q75, q25 = np.percentile(vals, [75, 25])
    width = 2.0 * (q75 - q25) / n ** (1.0 / 3.0)
    span = vals.max() - vals.min()
    n_bins = 1 if width <= 0 or span <= 0 else int(np.ceil(span / width))
    n_bins = max(1, min(n_bins, n // 2))
    edges = np.linspace(vals.min(), vals.max(), n_bins, endpoint=False)
    bins = np.clip(np.digitize(vals, edges) - 1, 0, n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    quota = np.minimum(np.ceil(counts / pool.size * n).astype(np.int64), counts)
    while quota.sum() > n:  # take back from bins that keep at least one point
        weights = np.maximum(quota - 1, 0).astype(np.float64)
        quota[rng.choice(n_bins, p=weights / weights.sum())] -= 1
    while quota.sum() < n:  # add to bins with room left
        weights = (counts - quota).astype(np.float64)
        quota[rng.choice(n_bins, p=weights / weights.sum())] += 1
    picks = [rng.choice(pool[bins == b], size=quota[b], replace=False) for b in range(n_bins) if quota[b] > 0]
    return np.sort(np.concatenate(picks))
