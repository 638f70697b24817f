"""Kernel length-scale (sigma) search on the validation set (issue: dataset to validated model).

The reference package trains on a fixed sigma grid, scanning upward with an early stop (FORMATS.md §7). Here
the validation force RMSE is minimised over log(sigma) by bracketing (steps of a factor ``step`` from the
start value, upward first because small sigmas make the iterative solver slow, until the best sigma has a worse
neighbour on both sides) and then golden-section search to a
relative width of ``rtol``: about 9-11 trainings instead of a grid's 20-30. Training indices, validation
indices and permutations are fixed after the first training, so every sigma is scored on the same task.
A best sigma on the limit of the allowed range [lo, hi] is reported with a warning, never returned silently.

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

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0

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

    @property
    def trainings(self) -> int:
        """Number of trainings of the search (one per sigma)."""
        return len(self.sigmas)

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

        lines = [f"    sigma   {head}"] + [row(s, e, "7.3g", s == self.best) for s, e in sorted(zip(self.sigmas,
                                                                                              self.errors))]
        lines.append(f"  lowest F RMSE at sigma {self.lowest('f_rmse'):.4g}, lowest E RMSE at sigma "
                     f"{self.lowest('e_rmse'):.4g}" + (f"; {self.select_note}" if self.select_note else ""))
        if self.lambdas:
            lines += [f"   lambda   {head}   (at the chosen sigma)"]
            lines += [row(lam, e, "7.1e", lam == self.best_lambda) for lam, e in self.lambdas]
        return "\n".join(lines)


def _errors_text(err: Dict[str, float], units: Tuple[str, str]) -> str:
    """Validation force and energy RMSE with their units, for progress lines."""
    text = f"validation F RMSE {err['f_rmse']:.4g} {units[1]}"
    return text + ("" if math.isnan(err["e_rmse"]) else f", E RMSE {err['e_rmse']:.4g} {units[0]}")


def _search_lambda(model, err, lams, scan, dataset, valid_ds, task, n_train, seed, tol, verbose, kw):
    """Train the chosen sigma with each lambda of ``lams`` (warm-started from the best so far); keep the best.
    ``kw``: the other train() arguments of the task."""
    base = float(model.arrays["lam"])
    scan.lambdas = [(base, err)]
    best = (selection_score(err, scan.select), model, err)
    for lam in sorted(set(float(x) for x in lams) - {base}):
        m = train(dataset, n_train, scan.best, lam=lam, seed=seed, idxs_train=task["idxs_train"], n_valid=0,
                  validate=False, verbose=verbose, tol=tol, warm_start=best[1], **kw)
        e = prediction_errors(m, valid_ds, task["idxs_valid"])
        scan.lambdas.append((lam, e))
        if verbose:
            print(f"fastgdml: lambda {lam:8.2g} at sigma {scan.best:g}: {_errors_text(e, scan.units)}",
                  file=sys.stderr, flush=True)
        if selection_score(e, scan.select) < best[0]:
            best = (selection_score(e, scan.select), m, e)
    scan.lambdas.sort(key=lambda t: t[0])
    scan.best_lambda = float(best[1].arrays["lam"])
    return best[1], best[2]


def search_sigma(dataset: Dataset, n_train: int, sigma0: float = 20.0, step: float = 2.0, rtol: float = 1.15,
                 lo: float = 0.5, hi: float = 5000.0, n_valid: Optional[int] = None, seed: int = 0,
                 verbose: bool = False, warm_start: bool = True, search_tol: float = 1e-3,
                 lams: Optional[Sequence[float]] = None, select: str = "combined", **train_kw):
    """Train with the sigma of lowest validation error (``select``). Returns ``(model, SigmaScan)``.

    Parameters
    ----------
    dataset, n_train, seed
        As for :func:`fastgdml.train`; the first training samples the training and validation sets (and finds
        the permutations), all later ones reuse them.
    sigma0 : float
        Start of the search (default 20).
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
        CG tolerance of the search's trainings (at least ``tol``); the chosen sigma is then solved to ``tol``
        (default 1e-4) from the search's solution. No effect on closed-form (Cholesky) trainings.
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
        Trained with the best sigma; ``idxs_valid``, ``f_err`` and ``e_err`` hold its validation set and errors.
    scan : SigmaScan
    """
    if not (0 < lo <= sigma0 <= hi) or step <= 1 or rtol <= 1:
        raise ValueError(f"need 0 < lo <= sigma0 <= hi, step > 1, rtol > 1; got lo={lo}, sigma0={sigma0}, hi={hi}, "
                         f"step={step}, rtol={rtol}")
    for key in ("idxs_train", "validate", "n_valid", "warm_start"):
        if key in train_kw:
            raise TypeError(f"search_sigma chooses {key} itself")
    valid_ds = train_kw.get("valid_dataset") or dataset
    energies = dataset.E is not None and valid_ds.E is not None and bool(train_kw.get("use_E", True))
    used, note = resolve_select(select, energies)
    scan = SigmaScan(select=used, select_note=note, units=unit_labels(dataset.e_unit, dataset.r_unit)[:2])
    if note and verbose:
        print(f"fastgdml: {note}", file=sys.stderr, flush=True)
    models: Dict[float, Model] = {}
    task: dict = {}
    tol = float(train_kw.pop("tol", 1e-4))
    scan_tol = max(tol, float(search_tol))
    # For the ETA: golden-section trainings left once the optimum is bracketed (None while bracketing), the time
    # of every training so far.
    remaining = {"golden": None, "seconds": []}

    def task_kw() -> dict:
        """train() arguments of every training after the first: the fixed task's permutations, no valid_dataset
        (the validation set is fixed and scored here)."""
        kw = {k: v for k, v in train_kw.items() if k != "valid_dataset"}
        if kw.get("perms") is None:  # perms=None (the CLI's default) would search the symmetries again
            kw["perms"] = task["perms"]
        return kw

    def progress_text(seconds: float) -> str:
        """This training's time and, once bracketed, the trainings left and an ETA at the mean time so far."""
        remaining["seconds"].append(seconds)
        text = f"training {len(remaining['seconds'])}, {seconds:.1f} s"
        if remaining["golden"] is None:
            return text + "; bracketing the optimum"
        final = any(str(m.arrays.get("solver_name", "")) == "cg" for m in models.values()) and scan_tol > tol
        left = remaining["golden"] + int(final) + len(set(map(float, lams or ())))
        mean = sum(remaining["seconds"]) / len(remaining["seconds"])
        return text + f"; about {left} more, ETA {left * mean:.0f} s"

    def score(log_sigma: float) -> float:
        sigma = float(np.exp(log_sigma))
        sigma = float(f"{sigma:.6g}")
        if sigma in models:
            return selection_score(scan.errors[scan.sigmas.index(sigma)], used)
        started = time.perf_counter()
        if not task:
            model = train(dataset, n_train, sigma, seed=seed, n_valid=n_valid, validate=False, verbose=verbose,
                          tol=scan_tol, **train_kw)
            task.update(idxs_train=model.idxs_train, idxs_valid=model.idxs_valid, perms=model.perms,
                        md5_valid=model.arrays["md5_valid"])
            if len(task["idxs_valid"]) == 0:
                raise ValueError("search_sigma needs validation geometries (n_valid > 0 and a dataset larger "
                                 "than n_train)")
        else:
            kw = task_kw()
            if warm_start:
                kw["warm_start"] = models[min(models, key=lambda s: abs(math.log(s / sigma)))]
            model = train(dataset, n_train, sigma, seed=seed, idxs_train=task["idxs_train"], n_valid=0,
                          validate=False, verbose=verbose, tol=scan_tol, **kw)
        err = prediction_errors(model, valid_ds, task["idxs_valid"])
        models[sigma] = model
        scan.sigmas.append(sigma)
        scan.errors.append(err)
        if verbose:
            print(f"fastgdml: sigma {sigma:8.4g}: {_errors_text(err, scan.units)} "
                  f"({progress_text(time.perf_counter() - started)})", file=sys.stderr, flush=True)
        return selection_score(err, used)

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
                a = b = c = best  # optimum at a limit of the allowed range
                scan.at_limit = True
                break
        pts[nxt] = score(nxt)

    # Golden-section search on [a, c] with b inside: probe the larger side (scores are cached per sigma).
    while not scan.at_limit and c - a > math.log(rtol):
        remaining["golden"] = max(remaining_trainings(c - a, rtol) - 1, 0)
        left = b - a > c - b
        t = b - (1 - _GOLDEN) * (b - a) if left else b + (1 - _GOLDEN) * (c - b)
        if score(t) < score(b):
            a, b, c = (a, t, b) if left else (b, t, c)
        else:
            a, c = (t, c) if left else (a, t)

    scan.best = scan.sigmas[select_best(scan.sigmas, scan.errors, used)[0]]
    if scan.at_limit:
        warnings.warn(f"search_sigma: the best sigma {scan.best:g} lies at the limit of the allowed range "
                      f"[{lo:g}, {hi:g}]; widen lo/hi (validation errors still fall beyond it)", RuntimeWarning,
                      stacklevel=2)
    if verbose:
        print("fastgdml: sigma scan\n" + scan.table(), file=sys.stderr, flush=True)
    model = models[scan.best]
    err = scan.errors[scan.sigmas.index(scan.best)]
    if str(model.arrays.get("solver_name", "")) == "cg" and scan_tol > tol:
        kw = task_kw()
        if verbose:
            print(f"fastgdml: final solve at sigma {scan.best:g} to tol {tol:g} (search used {scan_tol:g})",
                  file=sys.stderr, flush=True)
        model = train(dataset, n_train, scan.best, seed=seed, idxs_train=task["idxs_train"], n_valid=0,
                      validate=False, verbose=verbose, tol=tol, warm_start=model, **kw)
        err = prediction_errors(model, valid_ds, task["idxs_valid"])
    if lams:
        kw = task_kw()
        kw.pop("lam", None)
        model, err = _search_lambda(model, err, lams, scan, dataset, valid_ds, task, n_train, seed, tol, verbose, kw)
    return with_validation(model, task["idxs_valid"], task["md5_valid"], err), scan
