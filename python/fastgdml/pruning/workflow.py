"""Descriptor pruning (rGDML): score the features of a trained model, retrain on the most important fractions,
keep the best on the validation set.

Workflow of :func:`prune` (and ``fastgdml prune``):
1. scores of all features (:func:`fastgdml.feature_scores`) on ``n_score`` unused geometries;
2. for each kept fraction f: the orbits of pairs with the highest scores until f·D features are kept (short-range
   features, below ``protect_short`` in every sampled geometry, are always kept); the mask is a union of orbits,
   so symmetries stay exact;
3. retraining on the reduced descriptor with the model's training set, sigma, lambda, permutations and energy
   constraints; validation force/energy errors of every fraction; the best fraction wins (1.0 is the model
   itself).
"""
from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..evaluation.metrics import prediction_errors, trained_on, with_validation
from ..geometry import minimum_image
from ..model import Model
from .importance import feature_orbits, feature_scores, pair_atoms

DEFAULT_FRACTIONS = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2)


@dataclass
class PruneResult:
    """The whole pruning curve and what it was made from."""
    fractions: List[float] = field(default_factory=list)       # requested kept fractions
    kept: List[int] = field(default_factory=list)              # features kept at each (whole orbits: >= f D)
    short: List[int] = field(default_factory=list)             # of those, short-range (always below the cutoff)
    errors: List[Dict[str, float]] = field(default_factory=list)  # validation errors of each fraction
    seconds: List[float] = field(default_factory=list)         # training time of each fraction
    scores: Optional[np.ndarray] = None                        # (D,) feature scores
    short_range: Optional[np.ndarray] = None                   # (D,) bool: always below the cutoff
    best: float = 1.0                                          # chosen fraction
    masks: Dict[float, np.ndarray] = field(default_factory=dict)
    models: Dict[float, Model] = field(default_factory=dict)   # the (re)trained model of each fraction
    idxs_score: Optional[np.ndarray] = None                    # scoring geometries (dataset indices)
    score_seconds: float = 0.0

    def table(self, f_unit: str = "kcal/mol/Å", e_unit: str = "kcal/mol") -> str:
        """Every kept fraction with its features, validation errors and training time, the best marked; the units
        of the validation errors are printed under the header."""
        lines = ["  fraction  features  short  valid F RMSE  valid E RMSE  train s",
                 f"  {'':8}  {'':8}  {'':5}  {'[' + f_unit + ']':>12}  {'[' + e_unit + ']':>12}  {'[s]':>7}"]
        for f, k, s, e, t in zip(self.fractions, self.kept, self.short, self.errors, self.seconds):
            lines.append(f"  {f:8.2f}  {k:8d}  {s:5d}  {e['f_rmse']:12.4g}  {e['e_rmse']:12.4g}  {t:7.1f}"
                         + ("   <- best" if f == self.best else ""))
        return "\n".join(lines)


def short_range_features(dataset: Dataset, cutoff: float, max_frames: int = 1000, seed: int = 0) -> np.ndarray:
    """(D,) bool: pairs closer than ``cutoff`` (length unit of the dataset; minimum image with a lattice) in every
    one of up to ``max_frames`` sampled geometries."""
    rng = np.random.default_rng(seed)
    frames = np.sort(rng.choice(len(dataset), min(max_frames, len(dataset)), replace=False))
    a, b = pair_atoms(dataset.n_atoms)
    longest = np.zeros(len(a))
    for start in range(0, len(frames), 200):
        R = dataset.R[frames[start:start + 200]]
        d = minimum_image(R[:, a] - R[:, b], dataset.lattice)
        longest = np.maximum(longest, np.linalg.norm(d, axis=-1).max(axis=0))
    return longest < cutoff


def orbit_mask(scores: np.ndarray, orbit: np.ndarray, fraction: float, protected: Optional[np.ndarray] = None):
    """Kept descriptor indices (sorted): whole orbits by decreasing score until ``fraction`` of the features are
    kept; orbits with a protected member always first. ``None`` for the full descriptor."""
    D = len(scores)
    want = int(np.ceil(fraction * D - 1e-9))
    if want >= D:
        return None
    n_orbits = int(orbit.max()) + 1
    score = np.zeros(n_orbits)
    np.maximum.at(score, orbit, scores)
    first = np.zeros(n_orbits, dtype=bool)
    if protected is not None:
        first[orbit[protected]] = True
    order = np.lexsort((-score, ~first))  # protected orbits first, then by decreasing score
    size = np.bincount(orbit, minlength=n_orbits)
    count = np.cumsum(size[order])
    n_keep = int(np.searchsorted(count, want) + 1)
    n_keep = max(n_keep, int(first.sum()))
    keep = np.isin(orbit, order[:n_keep])
    return np.flatnonzero(keep)


def prune(model: Model, dataset: Dataset, fractions: Sequence[float] = DEFAULT_FRACTIONS, n_score: int = 300,
          short_cutoff: float = 5.0, protect_short: bool = False, n_valid: int = 1000, seed: int = 0,
          verbose: bool = False,
          **train_kw):
    """Prune the descriptor of ``model`` (rGDML) and keep the kept fraction of lowest validation force RMSE.

    Parameters
    ----------
    model : Model
        A trained model; its training set must be in ``dataset`` (matched by md5).
    dataset : Dataset
        The dataset the model was trained on.
    fractions : sequence of float in (0, 1]
        Kept fractions of the descriptor to retrain (default 1.0, 0.9, ..., 0.2); 1.0 is the model itself.
    n_score : int
        Geometries (unused by training and validation) to score the features on (default 300).
    short_cutoff : float
        Pairs closer than this (length unit of the dataset; default 5, for Å) in every one of up to 1000 sampled
        geometries count as short-range (reported per fraction).
    protect_short : bool
        Always keep the short-range pairs.
    n_valid : int
        Validation geometries when the model has none in this dataset (default: up to 1000 unused ones).
    seed : int
        Sampling of the scoring (and, if needed, validation) geometries.
    verbose : bool
        Progress of scoring and of each retraining on stderr.
    **train_kw
        Passed to :func:`fastgdml.train` for the retrainings (solver, max_memory, tol, ...).

    Returns
    -------
    model : Model
        The best model (its ``feature_mask`` holds the kept features; ``f_err``/``e_err`` its validation errors).
    result : PruneResult
    """
    from ..training.fit import train

    fractions = sorted({float(f) for f in fractions}, reverse=True)
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in (0, 1], got {fractions}")
    if dataset.n_atoms != model.n_atoms or not np.array_equal(dataset.z, model.z):
        raise ValueError(f"{dataset.source or dataset.name} holds another molecule than the model")
    if not trained_on(model, dataset, "md5_train") or model.idxs_train is None:
        raise ValueError(f"the model was not trained on {dataset.source or dataset.name} (md5 differs): pruning "
                         f"retrains on the model's training set, so give the dataset it was trained on")
    log = (lambda msg: print(f"fastgdml: {msg}", file=sys.stderr, flush=True)) if verbose else (lambda msg: None)
    rng = np.random.default_rng(seed)
    idxs_train = np.asarray(model.idxs_train, dtype=np.int64)
    rest = np.setdiff1d(np.arange(len(dataset)), idxs_train)
    if trained_on(model, dataset, "md5_valid") and model.idxs_valid is not None and len(model.idxs_valid):
        idxs_valid = np.asarray(model.idxs_valid, dtype=np.int64)
    else:
        idxs_valid = np.sort(rng.choice(rest, min(n_valid, len(rest)), replace=False))
    if len(idxs_valid) == 0:
        raise ValueError("pruning picks the kept fraction on validation geometries, but the dataset has none left")
    pool = np.setdiff1d(rest, idxs_valid)
    if len(pool) == 0:
        pool = rest
    idxs_score = np.sort(rng.choice(pool, min(n_score, len(pool)), replace=False))

    result = PruneResult()
    t = time.perf_counter()
    log(f"scoring {model.arrays['R_desc'].shape[0]} features on {len(idxs_score)} geometries")
    result.scores = feature_scores(model, dataset.R[idxs_score])
    result.idxs_score, result.score_seconds = idxs_score, time.perf_counter() - t
    log(f"scores in {result.score_seconds:.1f} s")
    D = len(result.scores)
    result.short_range = short_range_features(dataset, short_cutoff, seed=seed)
    orbit = feature_orbits(model.perms, model.n_atoms)
    protected = np.flatnonzero(result.short_range) if protect_short else None

    kw = dict(train_kw)
    kw.setdefault("lam", float(model.arrays.get("lam", 1e-10)))
    kw.setdefault("use_E", bool(np.asarray(model.arrays.get("use_E", True))))
    kw.setdefault("backend", model.backend)  # retrain where the model runs
    models = result.models
    for f in fractions:
        mask = orbit_mask(result.scores, orbit, f, protected)
        t = time.perf_counter()
        if mask is None and model.feature_mask is None:
            m = model
        else:
            log(f"retraining with {D if mask is None else len(mask)} of {D} features (fraction {f:g})")
            m = train(dataset, len(idxs_train), model.sigma, idxs_train=idxs_train, perms=model.perms, mask=mask,
                      use_E_cstr=model.use_E_cstr, n_valid=0, validate=False, verbose=verbose, seed=seed, **kw)
        seconds = time.perf_counter() - t
        err = prediction_errors(m, dataset, idxs_valid)
        kept = np.arange(D) if mask is None else mask
        result.fractions.append(f)
        result.kept.append(len(kept))
        result.short.append(int(result.short_range[kept].sum()))
        result.errors.append(err)
        result.seconds.append(seconds)
        result.masks[f] = kept
        models[f] = m
        log(f"fraction {f:g} ({len(kept)} features): validation F RMSE {err['f_rmse']:.4g}, E RMSE {err['e_rmse']:.4g}")
    i = int(np.argmin([e["f_rmse"] for e in result.errors]))
    result.best = result.fractions[i]
    if len(fractions) > 1 and result.best == min(fractions) < 1.0:
        warnings.warn(f"prune: the best kept fraction {result.best:g} is the smallest one tried; validation errors may "
                      f"fall further: try smaller fractions", RuntimeWarning, stacklevel=2)
    md5 = np.array(dataset.md5.encode(), dtype="S32")
    return with_validation(models[result.best], idxs_valid, md5, result.errors[i]), result
