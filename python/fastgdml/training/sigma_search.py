"""Kernel length-scale (sigma) search on the validation set (issue: dataset to validated model).

The reference package trains on a fixed sigma grid, scanning upward with an early stop (FORMATS.md §7). Here
the selection score (below) is minimised over log(sigma) by bracketing (steps of a factor ``step`` from the
start value, upward first because small sigmas make the iterative solver slow, until the best sigma has a worse
neighbour on both sides) and then golden-section search to a relative width of ``rtol``: about 9-11 trainings
instead of a grid's 20-30. Training indices, validation indices and permutations are sampled once, before the
first training, so every sigma is scored on the same task.
A best sigma on the limit of the allowed range [lo, hi] is reported with a warning, never returned silently.

**Search on a subset, then scale** (``search_n_train``). The trainings of the search use an energy-stratified
subset of the training set (by default a quarter of it, at least 50 and at most 250 geometries; the whole set
below 100), and the best sigma found there is scaled to the full set by ``(n_search / n_train) ** 0.25``
(``SIGMA_EXPONENT``): the optimal length scale shrinks as data fill the descriptor space. One training at the full
size follows, validated on the same frames. Measured on aspirin with the combined criterion: the best sigma went
37.6 -> 31.9 from n_train 50 to 200 (exponent 0.12) and 24.5 -> 17.0 from 250 to 1000 (0.26; forces alone gave 17.0
at 1000); on ethanol the force optimum went 20 / 13 / 11 at 100 / 200 / 400 (0.62, 0.24). An exponent of 0.4 put
aspirin n_train 200 at sigma 21.4 (test F RMSE 1.704 against 1.678 at the full-size search's 31.9) and n_train 1000
at 14.1, where CG needs 1428 iterations. Validation errors change by 1-3% across a factor of 2 in sigma near the
optimum, so the scaled value loses little, while the search costs about (n_search / n_train)^2 of a search at full
size. ``search_n_train=n_train`` searches at full size.

With the iterative solver the search trains to a looser CG tolerance (``search_tol``, 1e-3) and solves once more
at the requested one for the chosen sigma, starting from the search's solution. Measured on aspirin
(n_train = 200, sigma 20 / 41.6 / 80): validation force RMSE at tol 1e-3 within 0.07% of tol 1e-4 (the search
resolves ~0.5%), with 25% fewer CG iterations. Warm starts between different sigmas save little (aspirin
n_train = 200: 3% of the iterations; a 6% change of sigma leaves a rescaled start at 68% of the initial residual),
and reusing a neighbour's preconditioner costs more iterations (+57 at a 6% step) than its rebuild saves.

What is minimised (``select``, :func:`selection_score`):

- ``"combined"`` (the default): log(F RMSE) + log(E RMSE) on the validation set, i.e. the product of the two
  errors. It needs no weights and no units (rescaling either error, or changing units, moves every sigma's score
  by the same constant), it is one scalar, so the search costs what a force-only search costs, and it trades a 1%
  gain in one error against a 1% loss in the other. Selecting on forces alone can cost much more in energies than
  it gains in forces: on one molecule the validation E RMSE was 0.36 kcal/mol at sigma 10 and 0.54 at the
  force-optimal sigma 28.8, for 1.5% in forces (issue 18); the product prefers sigma 10 there. Measured on a dense
  grid (17 sigmas from 2 to 160, n_train 100, 500 validation and 1000 test frames of ethanol_xtb over 4 seeds and
  aspirin_xtb over 2): against the force-selected sigma, the combined choice had a test force RMSE 1.0-4.7% higher
  and a test energy RMSE 7-29% lower. (The lowest energy RMSE among sigmas whose force RMSE is within 2% of the lowest,
  the alternative, gave +0.6-2.7% and -5 to -17%, but needs the search to locate a second optimum.)
- ``"forces"``: the validation force RMSE (the reference package's choice).
- ``"energies"``: the validation energy RMSE.

Without energies (no ``E`` in the training or validation dataset, or ``use_E=False``), ``"combined"`` falls back
to forces and says so (``SigmaScan.select_note``); ``"energies"`` is an error. Ties are broken by the lower force
RMSE, then by the larger sigma (smoother, and the faster CG solve).
"""
from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..data.dataset import Dataset
from ..evaluation.metrics import prediction_errors, with_validation
from ..model import Model
from ..units import unit_labels
from .fit import train
from .task import TrainingTask

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0

SUBSET_MIN, SUBSET_MAX, SUBSET_FRACTION = 50, 250, 0.25
"""The default search subset: ``SUBSET_FRACTION`` of n_train within [SUBSET_MIN, SUBSET_MAX]; below
2 * SUBSET_MIN training geometries the search uses them all (module docstring)."""
SIGMA_EXPONENT = 0.25
"""sigma(n_train) = sigma(n_search) * (n_search / n_train) ** SIGMA_EXPONENT (module docstring)."""
START_FACTOR = 50.0
"""The default start of the search: START_FACTOR x the median descriptor distance between the search's training
geometries. The optimum sat at 40-80 times that distance on ethanol, aspirin, Ac-Ala3-NHMe and DHA (median
distances 0.28, 0.48, 1.19, 1.77; optimal sigma 10-13, 30-40, 40-60, 136), and Ac-Ala10-NHMe's distance is 1.59:
a fixed start of 20 cost DHA five bracketing trainings (20, 40, 80, 160, 320)."""

SELECT_CRITERIA = ("combined", "forces", "energies")


def has_energies(errors: Sequence[Dict[str, float]]) -> bool:
    """Whether every entry of ``errors`` (:func:`fastgdml.evaluation.metrics.prediction_errors` results) has a
    finite energy RMSE."""
    return len(errors) > 0 and all(math.isfinite(e["e_rmse"]) for e in errors)


def resolve_select(select: str, energies: bool) -> Tuple[str, str]:
    """The criterion a search uses for ``select`` and a note when it differs ("" otherwise).

    ``energies``: whether validation energies exist (and the models are trained with them). Without them
    ``"combined"`` becomes ``"forces"`` (with a note) and ``"energies"`` is a ``ValueError``.
    """
    if select not in SELECT_CRITERIA:
        raise ValueError(f"select must be one of {', '.join(SELECT_CRITERIA)}, got {select!r}")
    if energies or select == "forces":
        return select, ""
    if select == "energies":
        raise ValueError("select='energies' needs energies: the dataset (or the validation dataset) has no 'E', "
                         "or use_E is False; select on 'forces' instead")
    return "forces", "no validation energies: sigma selected on the validation force RMSE alone"


def selection_score(err: Dict[str, float], select: str) -> float:
    """The number a search minimises for one trained sigma (lower is better; module docstring).

    ``forces``: F RMSE; ``energies``: E RMSE; ``combined``: log(F RMSE) + log(E RMSE) (an error of exactly 0 is
    -inf, the best possible). ``select`` must already be resolved (:func:`resolve_select`).
    """
    if select == "forces":
        return float(err["f_rmse"])
    if select == "energies":
        return float(err["e_rmse"])
    f, e = float(err["f_rmse"]), float(err["e_rmse"])
    if not (math.isfinite(f) and math.isfinite(e)):
        raise ValueError("select='combined' needs finite force and energy RMSEs; resolve_select() falls back to "
                         "forces without energies")
    return -math.inf if f == 0 or e == 0 else math.log(f) + math.log(e)


def select_best(sigmas: Sequence[float], errors: Sequence[Dict[str, float]], select: str = "combined"):
    """Index of the chosen sigma of a scan, and the criterion used (``select`` after :func:`resolve_select`).

    The lowest :func:`selection_score`; ties go to the lower force RMSE, then to the larger sigma. Energies count as
    missing when any entry's E RMSE is not finite.
    """
    if len(sigmas) != len(errors) or not len(sigmas):
        raise ValueError(f"need one error dict per sigma and at least one sigma; got {len(sigmas)} sigmas and "
                         f"{len(errors)} errors")
    used, _ = resolve_select(select, has_energies(errors))
    best = min(range(len(sigmas)),
               key=lambda i: (selection_score(errors[i], used), float(errors[i]["f_rmse"]), -float(sigmas[i])))
    return best, used


def search_size(n_train: int, requested: Optional[int] = None) -> int:
    """Training geometries of each training of the sigma search for a model of ``n_train`` (module docstring).

    ``requested``: an explicit size in [1, n_train] (``n_train``: search at full size); None: the default,
    ``SUBSET_FRACTION * n_train`` within [``SUBSET_MIN``, ``SUBSET_MAX``], or all of them below ``2 * SUBSET_MIN``.
    """
    if requested is not None:
        if not 1 <= int(requested) <= n_train:
            raise ValueError(f"search_n_train must be between 1 and n_train = {n_train}, got {requested}")
        return int(requested)
    if n_train < 2 * SUBSET_MIN:
        return int(n_train)
    return int(min(max(SUBSET_MIN, round(SUBSET_FRACTION * n_train)), SUBSET_MAX))


def scaled_sigma(sigma: float, n_search: int, n_train: int, exponent: float = SIGMA_EXPONENT) -> float:
    """The sigma for ``n_train`` geometries from the best one on ``n_search``: ``sigma * (n_search / n_train) **
    exponent`` (6 significant digits)."""
    return float(f"{sigma * (n_search / n_train) ** exponent:.6g}")


def search_subset(dataset: Dataset, idxs_train: np.ndarray, size: int) -> np.ndarray:
    """``size`` of the training indices, spread evenly over their energies (every (n/size)-th in energy order;
    in index order without energies), sorted. All of them when ``size`` is their count."""
    idxs_train = np.asarray(idxs_train, dtype=np.int64)
    if size >= len(idxs_train):
        return idxs_train
    order = (idxs_train[np.argsort(dataset.E[idxs_train], kind="stable")] if dataset.E is not None
             else np.sort(idxs_train))
    # floor(i * step + 1/2) with step >= 1 is strictly increasing: distinct picks
    picks = np.floor(np.arange(size) * ((len(order) - 1) / max(size - 1, 1)) + 0.5).astype(np.int64)
    return np.sort(order[picks])


def start_sigma(dataset: Dataset, idxs: np.ndarray, mask=None) -> float:
    """The default first sigma of a search on the frames ``idxs``: ``START_FACTOR`` x their median pairwise
    descriptor distance (3 significant digits; 20 when all frames coincide in descriptor space)."""
    from .. import _core

    R = np.ascontiguousarray(dataset.R[np.asarray(idxs)[:SUBSET_MAX]])
    X = _core.descriptors(R, mask=None if mask is None else np.asarray(mask, dtype=np.int64),
                          lattice=dataset.lattice)[0]
    sq = (X ** 2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * X @ X.T
    upper = np.sqrt(np.maximum(d2[np.triu_indices(len(X), 1)], 0.0))
    median = float(np.median(upper)) if upper.size else 0.0
    return float(f"{START_FACTOR * median:.3g}") if median > 0 else 20.0


def remaining_trainings(width: float, rtol: float) -> int:
    """About how many golden-section trainings shrink a bracket of ``width`` (in log sigma) to ``log(rtol)``."""
    target = math.log(rtol)
    return 0 if width <= target else math.ceil(math.log(target / width) / math.log(_GOLDEN))


@dataclass
class SigmaScan:
    """Every sigma trained, with its validation errors, and the chosen one."""
    sigmas: List[float] = field(default_factory=list)
    errors: List[Dict[str, float]] = field(default_factory=list)   # prediction_errors() of each sigma
    best: float = float("nan")
    at_limit: bool = False
    lambdas: List[Tuple[float, Dict[str, float]]] = field(default_factory=list)  # (lambda, errors) at best sigma
    best_lambda: Optional[float] = None  # set when lambdas were searched
    select: str = "combined"          # the criterion used (after the fallback without energies)
    select_note: str = ""             # why it differs from the one asked for, or ""
    units: Tuple[str, str] = ("kcal/mol", "kcal/mol/Å")  # printable (energy, force) units of the errors
    n_search: int = 0                 # training geometries of the search's trainings
    n_train: int = 0                  # training geometries of the model
    search_best: float = float("nan")  # the best sigma of the rows (= best when n_search == n_train)
    final_errors: Optional[Dict[str, float]] = None  # validation errors of the model at ``best``

    @property
    def trainings(self) -> int:
        """Number of trainings of the search (one per sigma)."""
        return len(self.sigmas)

    @property
    def scaled(self) -> bool:
        """Whether the search ran on a subset and ``best`` is its best sigma scaled to ``n_train``."""
        return 0 < self.n_search < self.n_train

    def lowest(self, key: str) -> float:
        """The sigma of lowest validation ``key`` (``"f_rmse"`` or ``"e_rmse"``); NaN without finite values."""
        finite = [(e[key], s) for s, e in zip(self.sigmas, self.errors) if math.isfinite(e[key])]
        return min(finite)[1] if finite else float("nan")

    def table(self) -> str:
        """Every sigma (and lambda) tried with its validation errors in their units, the chosen one marked."""
        e_unit, f_unit = self.units
        head = f"valid F RMSE ({f_unit})   valid E RMSE ({e_unit})"
        wf, we = len(f"valid F RMSE ({f_unit})"), len(f"valid E RMSE ({e_unit})")

        def row(x, e, fmt, chosen):
            return (f"  {x:{fmt}}   {e['f_rmse']:{wf}.4g}   {e['e_rmse']:{we}.4g}"
                    + (f"   <- best ({self.select})" if chosen else ""))

        lines = ([f"  on {self.n_search} of the {self.n_train} training geometries:"] if self.scaled else [])
        lines += [f"    sigma   {head}"] + [row(s, e, "7.3g", s == self.search_best)
                                           for s, e in sorted(zip(self.sigmas, self.errors))]
        lines.append(f"  lowest F RMSE at sigma {self.lowest('f_rmse'):.4g}, lowest E RMSE at sigma "
                     f"{self.lowest('e_rmse'):.4g}" + (f"; {self.select_note}" if self.select_note else ""))
        if self.scaled:
            lines.append(f"  chosen for {self.n_train}: sigma {self.search_best:.4g} x ({self.n_search}/{self.n_train})"
                         f"^{SIGMA_EXPONENT:g} = {self.best:.4g}"
                         + (f"; {_errors_text(self.final_errors, self.units)}" if self.final_errors else ""))
        if self.lambdas:
            lines += [f"   lambda   {head}   (at the chosen sigma)"]
            lines += [row(lam, e, "7.1e", lam == self.best_lambda) for lam, e in self.lambdas]
        return "\n".join(lines)


def _errors_text(err: Dict[str, float], units: Tuple[str, str]) -> str:
    """Validation force and energy RMSE with their units, for progress lines."""
    text = f"validation F RMSE {err['f_rmse']:.4g} {units[1]}"
    return text + ("" if math.isnan(err["e_rmse"]) else f", E RMSE {err['e_rmse']:.4g} {units[0]}")


def _search_lambda(model, err, lams, scan, dataset, valid_ds, task, seed, tol, verbose, kw):
    """Train the chosen sigma with each lambda of ``lams`` (warm-started from the best so far); keep the best.
    ``task``: the search's TrainingTask (training and validation frames); ``kw``: the other train() arguments."""
    base = float(model.arrays["lam"])
    scan.lambdas = [(base, err)]
    best = (selection_score(err, scan.select), model, err)
    for lam in sorted(set(float(x) for x in lams) - {base}):
        m = train(dataset, task.n_train, scan.best, lam=lam, seed=seed, idxs_train=task.idxs_train, n_valid=0,
                  validate=False, verbose=verbose, tol=tol, warm_start=best[1], **kw)
        e = prediction_errors(m, valid_ds, task.idxs_valid)
        scan.lambdas.append((lam, e))
        if verbose:
            print(f"fastgdml: lambda {lam:8.2g} at sigma {scan.best:g}: {_errors_text(e, scan.units)}",
                  file=sys.stderr, flush=True)
        if selection_score(e, scan.select) < best[0]:
            best = (selection_score(e, scan.select), m, e)
    scan.lambdas.sort(key=lambda t: t[0])
    scan.best_lambda = float(best[1].arrays["lam"])
    return best[1], best[2]


def search_sigma(dataset: Dataset, n_train: int, sigma0: Optional[float] = None, step: float = 2.0,
                 rtol: float = 1.15,
                 lo: float = 0.5, hi: float = 5000.0, n_valid: Optional[int] = None, seed: int = 0,
                 verbose: bool = False, warm_start: bool = True, search_tol: float = 1e-3,
                 lams: Optional[Sequence[float]] = None, select: str = "combined",
                 search_n_train: Optional[int] = None, **train_kw):
    """Train with the sigma of lowest validation error (``select``). Returns ``(model, SigmaScan)``.

    Parameters
    ----------
    dataset, n_train, seed
        As for :func:`fastgdml.train`: the training and validation sets are sampled (and the permutations found)
        once, before the first training; every training of the search uses them.
    search_n_train : int, optional
        Training geometries of the search's trainings: an energy-stratified subset of the training set; the best
        sigma there is scaled to ``n_train`` (:func:`scaled_sigma`) and one training at full size follows (module
        docstring). Default (None): :func:`search_size` (a quarter, within 50-250; all below 100 geometries).
        ``n_train`` searches at full size.
    sigma0 : float, optional
        Start of the search (default: :func:`start_sigma`, 50 x the median descriptor distance between the
        search's training geometries, within [lo, hi]).
    step : float
        Factor between the first sigmas tried while bracketing (default 2).
    rtol : float
        Stop when the bracket [a, c] around the best sigma has c / a <= rtol (default 1.15).
    lo, hi : float
        Allowed range of sigma; a best sigma at a limit gives a warning and ``scan.at_limit``.
    n_valid : int, optional
        Validation geometries (default: up to 1000 of the rest); must be > 0.
    select : {"combined", "forces", "energies"}
        What the search minimises on the validation set (module docstring): ``"combined"`` (default) the product
        of the force and the energy RMSE, ``"forces"`` the force RMSE, ``"energies"`` the energy RMSE. Without
        energies ``"combined"`` falls back to forces (``scan.select``, ``scan.select_note``, printed with
        ``verbose``) and ``"energies"`` raises ``ValueError`` before any training.
    lams : sequence of float, optional
        After the sigma search, also train the chosen sigma with each of these ridge parameters lambda (the
        given ``lam``, default 1e-10, is always included) and keep the best one by the same criterion
        (``scan.lambdas``, ``scan.best_lambda``). Larger lambdas help on noisy labels and make CG faster.
    search_tol : float
        CG tolerance of the search's trainings (at least ``tol``); the model is then solved to ``tol`` (default
        1e-4): from the search's solution when the search ran at full size. No effect on closed-form (Cholesky)
        trainings.
    warm_start : bool
        Start each CG solve from the solution at the nearest sigma already trained (rescaled; see
        :func:`fastgdml.train`). No effect on closed-form (Cholesky) trainings.
    verbose : bool
        The training stages and CG progress of each training, one line per sigma (validation errors with units,
        the training's time and, once the optimum is bracketed, about how many trainings remain and an ETA from
        the mean time per training) and the scan table at the end, on stderr.
    **train_kw
        Passed to :func:`fastgdml.train` (lam, use_E_cstr, solver, max_memory, symmetries, ...).

    Returns
    -------
    model : Model
        Trained with the chosen sigma on all ``n_train`` geometries; ``idxs_valid``, ``f_err`` and ``e_err``
        hold its validation set and errors.
    scan : SigmaScan
    """
    if not 0 < lo <= hi or (sigma0 is not None and not lo <= sigma0 <= hi) or step <= 1 or rtol <= 1:
        raise ValueError(f"need 0 < lo <= sigma0 <= hi, step > 1, rtol > 1; got lo={lo}, sigma0={sigma0}, hi={hi}, "
                         f"step={step}, rtol={rtol}")
    for key in ("idxs_train", "validate", "n_valid", "warm_start"):
        if key in train_kw:
            raise TypeError(f"search_sigma chooses {key} itself")
    valid_ds = train_kw.get("valid_dataset") or dataset
    energies = dataset.E is not None and valid_ds.E is not None and bool(train_kw.get("use_E", True))
    used, note = resolve_select(select, energies)
    tol = float(train_kw.pop("tol", 1e-4))
    scan_tol = max(tol, float(search_tol))
    # The task of every training: sampled once, as train() would for the first one.
    sample_keys = ("lam", "use_E", "use_E_cstr", "perms", "mask", "symmetries", "max_perms", "valid_dataset")
    task = TrainingTask.sample(dataset, n_train, sigma=20.0 if sigma0 is None else sigma0, seed=seed,
                               n_valid=n_valid, verbose=verbose,
                               **{k: train_kw[k] for k in sample_keys if k in train_kw})
    if task.idxs_valid.size == 0:
        raise ValueError("search_sigma needs validation geometries (n_valid > 0 and a dataset larger than n_train)")
    idxs_valid = task.idxs_valid
    n_search = search_size(n_train, search_n_train)
    scan = SigmaScan(select=used, select_note=note, units=unit_labels(dataset.e_unit, dataset.r_unit)[:2],
                     n_search=n_search, n_train=n_train)
    if note and verbose:
        print(f"fastgdml: {note}", file=sys.stderr, flush=True)
    subset = search_subset(dataset, task.idxs_train, n_search)
    if sigma0 is None:
        sigma0 = min(max(start_sigma(dataset, subset, train_kw.get("mask")), lo), hi)
    # train() arguments of every training: the task's permutations (perms=None, the CLI's default, would search
    # the symmetries again) and no valid_dataset (the validation set is fixed and scored here)
    kw = {k: v for k, v in train_kw.items() if k != "valid_dataset"}
    kw["perms"] = task.perms
    if verbose and scan.scaled:
        print(f"fastgdml: sigma search on {n_search} of the {n_train} training geometries (energy-stratified), "
              f"then one training on all of them", file=sys.stderr, flush=True)
    models: Dict[float, Model] = {}
    # For the ETA: golden-section trainings left once the optimum is bracketed (None while bracketing), the time
    # of every training so far.
    remaining = {"golden": None, "seconds": []}

    def progress_text(seconds: float) -> str:
        """This training's time and, once bracketed, the trainings left and an ETA at the mean time so far."""
        remaining["seconds"].append(seconds)
        text = f"training {len(remaining['seconds'])}, {seconds:.1f} s"
        if remaining["golden"] is None:
            return text + "; bracketing the optimum"
        final = scan.scaled or (any(str(m.arrays.get("solver_name", "")) == "cg" for m in models.values())
                                and scan_tol > tol)
        left = remaining["golden"] + int(final) + len(set(map(float, lams or ())))
        mean = sum(remaining["seconds"]) / len(remaining["seconds"])
        eta = f"ETA {left * mean:.0f} s" + (" + the full-size training" if scan.scaled else "")
        return text + f"; about {left} more, {eta}"

    def score(log_sigma: float) -> float:
        sigma = float(f"{float(np.exp(log_sigma)):.6g}")
        if sigma in models:
            return selection_score(scan.errors[scan.sigmas.index(sigma)], used)
        started = time.perf_counter()
        extra = {}
        if warm_start and models:
            extra["warm_start"] = models[min(models, key=lambda s: abs(math.log(s / sigma)))]
        model = train(dataset, len(subset), sigma, seed=seed, idxs_train=subset, n_valid=0, validate=False,
                      verbose=verbose, tol=scan_tol, **kw, **extra)
        err = prediction_errors(model, valid_ds, idxs_valid)
        models[sigma] = model
        scan.sigmas.append(sigma)
        scan.errors.append(err)
        if verbose:
            print(f"fastgdml: sigma {sigma:8.4g}: {_errors_text(err, scan.units)} "
                  f"({progress_text(time.perf_counter() - started)})", file=sys.stderr, flush=True)
        return selection_score(err, used)

    _bracket_and_golden(score, scan, sigma0, step, rtol, lo, hi, remaining)
    scan.search_best = scan.sigmas[select_best(scan.sigmas, scan.errors, used)[0]]
    if scan.at_limit:
        warnings.warn(f"search_sigma: the best sigma {scan.search_best:g} lies at the limit of the allowed range "
                      f"[{lo:g}, {hi:g}]; widen lo/hi (validation errors still fall beyond it)", RuntimeWarning,
                      stacklevel=2)
    # The model: one training on all frames at the scaled sigma after a subset search; after a full-size search the
    # chosen sigma's model, solved again to tol from its search solution when the search's CG was looser.
    if scan.scaled:
        scan.best = min(max(scaled_sigma(scan.search_best, n_search, n_train), lo), hi)
        model = err = start = None
        retrain = True
        message = (f"sigma {scan.search_best:g} on {n_search} geometries -> {scan.best:g} for {n_train} "
                   f"(x ({n_search}/{n_train})^{SIGMA_EXPONENT:g}); training on all of them")
    else:
        scan.best = scan.search_best
        model, err = models[scan.best], scan.errors[scan.sigmas.index(scan.best)]
        start = model if str(model.arrays.get("solver_name", "")) == "cg" and scan_tol > tol else None
        retrain = start is not None
        message = f"final solve at sigma {scan.best:g} to tol {tol:g} (search used {scan_tol:g})"
    if retrain:
        if verbose:
            print(f"fastgdml: {message}", file=sys.stderr, flush=True)
        model = train(dataset, n_train, scan.best, seed=seed, idxs_train=task.idxs_train, n_valid=0,
                      validate=False, verbose=verbose, tol=tol, warm_start=start, **kw)
        err = prediction_errors(model, valid_ds, idxs_valid)
    scan.final_errors = err
    if verbose:
        print("fastgdml: sigma scan\n" + scan.table(), file=sys.stderr, flush=True)
    if lams:
        lam_kw = dict(kw)
        lam_kw.pop("lam", None)
        model, err = _search_lambda(model, err, lams, scan, dataset, valid_ds, task, seed, tol, verbose, lam_kw)
        scan.final_errors = err
    return with_validation(model, idxs_valid, np.array(valid_ds.md5.encode(), dtype="S32"), err), scan


def _bracket_and_golden(score, scan: SigmaScan, sigma0: float, step: float, rtol: float, lo: float, hi: float,
                        remaining: dict) -> None:
    """Minimise ``score(log sigma)`` (cached by the caller): bracket by steps of ``step`` from ``sigma0`` (upward
    first), then golden-section search to a width of ``rtol``. Sets ``scan.at_limit`` when the minimum lies at
    ``lo`` or ``hi``; ``remaining["golden"]``: trainings left, for the ETA."""
    # Bracket in x = log(sigma): walk downhill in steps of log(step) until both neighbours are worse.
    h, x_lo, x_hi = math.log(step), math.log(lo), math.log(hi)
    x = math.log(sigma0)
    pts = {x: score(x)}
    if x + h <= x_hi:  # upward first: below the optimum sigma the CG needs many more iterations
        pts[x + h] = score(x + h)
    while True:
        xs = sorted(pts)
        best = min(xs, key=pts.get)
        i = xs.index(best)
        if 0 < i < len(xs) - 1:
            a, b, c = xs[i - 1], best, xs[i + 1]
            break
        nxt = best - h if i == 0 else best + h
        if not x_lo <= nxt <= x_hi:
            nxt = min(max(nxt, x_lo), x_hi)
            if nxt in pts or abs(nxt - best) < 1e-12:
                scan.at_limit = True  # optimum at a limit of the allowed range
                return
        pts[nxt] = score(nxt)

    # Golden-section search on [a, c] with b inside: probe the larger side (scores are cached per sigma).
    while c - a > math.log(rtol):
        remaining["golden"] = max(remaining_trainings(c - a, rtol) - 1, 0)
        left = b - a > c - b
        t = b - (1 - _GOLDEN) * (b - a) if left else b + (1 - _GOLDEN) * (c - b)
        if score(t) < score(b):
            a, b, c = (a, t, b) if left else (b, t, c)
        else:
            a, c = (t, c) if left else (a, t)
