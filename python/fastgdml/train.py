"""Training a GDML/sGDML model (DESIGN.md §3, FORMATS.md §4, §7).

    y = [F ; -(E - mean E)] / std        (energy rows only with use_E_cstr; std over all label entries)
    (K + lam I) a~ = y                   K = Cov([F; -E]): dense Cholesky solve, or preconditioned CG with
                                         K v computed on the fly (iterative.py)
    alphas = -a~                         (stored sign convention of sGDML)
    R_d_desc_alpha[j] = J_j alphas_F[j]
    c = mean E (use_E_cstr) or mean(E_train - E_pred(c=0)) (GDML) or 0 (no energies)

The dense K needs (n 3N [+ n])^2 doubles; ``solver="auto"`` uses it when it fits the memory budget and CG
otherwise.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Optional

import numpy as np

from . import _core, iterative
from ._version import __version__
from ._memory import available_bytes
from .dataset import Dataset, coincident_atoms
from .metrics import prediction_errors, store_errors
from .model import SIGMA_RANGE, Model
from .sampling import stratified_sample
from .permutations import find_permutations
from .symmetry import descriptor_permutation_table, validate_perms


def train(dataset: Dataset, n_train: int, sigma: float = 20.0, lam: float = 1e-10, use_E: bool = True,
          use_E_cstr: bool = False, perms=None, seed: int = 0, n_valid: Optional[int] = None,
          idxs_train=None, mask=None, max_memory: Optional[int] = None, validate: bool = True,
          verbose: bool = False, solver: str = "auto", tol: float = 1e-4, inducing: Optional[int] = None,
          checkpoint: Optional[str] = None, checkpoint_interval: float = 300.0, resume: Optional[str] = None,
          max_iterations: int = 0, block_jacobi: bool = False, symmetries: str = "auto",
          max_perms: int = 100, valid_dataset: Optional[Dataset] = None,
          warm_start: Optional[Model] = None) -> Model:
    """Train a model on ``dataset`` (closed-form Cholesky or iterative CG solve).

    Parameters
    ----------
    dataset : Dataset
        Training data (positions, atomic numbers, forces, energies).
    n_train : int
        Number of training geometries (energy-stratified sample, reproducible with ``seed``).
    sigma : float
        Kernel length scale in descriptor space (default 20; useful range about 10-100: 20 suits ethanol, 60
        aspirin; compare validation errors to choose).
    lam : float
        Ridge regulariser lambda added to the diagonal of K.
    use_E : bool
        Use energies (integration constant, energy errors). Needs ``dataset.E``.
    use_E_cstr : bool
        Add energy constraints (energy rows/columns in K); implies ``use_E``.
    perms : array (P, N), optional
        Atom permutations (a group, identity included). Default: ``dataset.perms``, else as ``symmetries`` says.
    symmetries : {"auto", "none"}
        Without ``perms`` and without a ``perms`` key in the dataset: "auto" finds the permutation group from the
        geometries (up to 1000 frames of the dataset, training frames or not) (:func:`fastgdml.find_permutations`, at most ``max_perms`` elements); "none" uses the
        identity alone.
    max_perms : int
        Size budget of the automatic search (default 100; training cost grows linearly with the group size).
    valid_dataset : Dataset, optional
        Draw the validation geometries from this dataset (same molecule; recorded by its md5 in ``md5_valid``)
        instead of from the rest of ``dataset``.
    seed : int
        Seed of the train/validation sampling.
    n_valid : int, optional
        Validation geometries drawn from the rest of the dataset (default: up to 1000); 0 skips validation.
    idxs_train : array of int, optional
        Use exactly these training indices instead of sampling (then ``n_train`` must equal their count).
    mask : array of int, optional
        Descriptor feature mask (kept pair indices; must be a union of permutation orbits).
    max_memory : int, optional
        Memory budget in bytes for the solver (dense K, or the CG preconditioner). Default: 90% of the
        available memory for the dense solve, 50% for the iterative one.
    validate : bool
        Compute validation errors and store them in the model (``f_err``, ``e_err``).
    verbose : bool
        Report each stage (assembly, factorisation, validation) with its size and time on stderr, and CG
        progress (iteration, residual, rate, ETA).
    solver : {"auto", "cholesky", "cg"}
        Closed-form Cholesky solve, preconditioned conjugate gradient, or Cholesky when the dense matrix fits
        ``max_memory`` and CG otherwise.
    tol : float
        CG stopping tolerance on |r| / |y| (normalised labels).
    inducing : int, optional
        Inducing columns of the CG's Nyström preconditioner (default: 4% of the unknowns, at least 1700, within
        ``max_memory``). On a stall CG restarts with 1.2x as many, at most twice, while the budget allows.
    checkpoint : str, optional
        CG: write the current iterate to this file (atomically) every ``checkpoint_interval`` seconds and when
        the solve ends unconverged.
    resume : str, optional
        CG: continue from this checkpoint (it must belong to the same task: data, indices, sigma, lambda,
        permutations, energy constraints, mask, tol).
    max_iterations : int
        CG iteration limit (0: automatic).
    block_jacobi : bool
        CG: add the diagonal 3N x 3N blocks of what the Nyström part misses to the preconditioner. It lowers the
        condition number on flat spectra, but in measurements CG converged in fewer iterations without it
        (Ac-Ala3-NHMe, n_train = 300: 902 vs 1795 iterations), hence off by default.
    warm_start : Model, optional
        CG: start from this model's coefficients (rescaled by the least-squares factor), e.g. a model of the
        same training set at a neighbouring sigma or lambda; it must have the same training indices,
        permutations, energy constraints and mask. :func:`fastgdml.search_sigma` uses it between sigmas.

    Returns
    -------
    Model
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a fastgdml.Dataset, got {type(dataset).__name__}")
    M, N = len(dataset), dataset.n_atoms
    if use_E_cstr and not use_E:
        raise ValueError("use_E_cstr=True needs use_E=True (energy constraints are energy labels)")
    if use_E and dataset.E is None:
        raise ValueError(f"{dataset.source or 'dataset'} has no energies ('E'); train with use_E=False")
    if not (np.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma must be a positive number, got {sigma}")
    if not (np.isfinite(lam) and lam >= 0):
        raise ValueError(f"lam must be >= 0, got {lam}")
    rng = np.random.default_rng(seed)
    E_for_sampling = dataset.E
    if idxs_train is None:
        if not 1 <= n_train <= M:
            raise ValueError(f"n_train must be between 1 and the {M} geometries of the dataset, got {n_train}")
        idxs_train = stratified_sample(E_for_sampling, n_train, rng, n_total=M)
    else:
        idxs_train = np.asarray(idxs_train, dtype=np.int64)
        if idxs_train.ndim != 1 or len(np.unique(idxs_train)) != idxs_train.size or idxs_train.min() < 0 \
                or idxs_train.max() >= M:
            raise ValueError(f"idxs_train must be distinct indices in [0, {M})")
        if n_train != idxs_train.size:
            raise ValueError(f"n_train = {n_train} but {idxs_train.size} idxs_train were given")
    vds = dataset if valid_dataset is None else valid_dataset
    if vds is not dataset and (vds.n_atoms != N or not np.array_equal(vds.z, dataset.z)):
        raise ValueError(f"valid_dataset {vds.source or vds.name} holds another molecule (atomic numbers differ from "
                         f"{dataset.source or dataset.name})")
    same = vds is dataset or vds.md5 == dataset.md5
    n_rest = len(vds) - (len(idxs_train) if same else 0)
    n_valid = min(n_rest, 1000) if n_valid is None else int(n_valid)
    if not 0 <= n_valid <= n_rest:
        raise ValueError(f"n_valid must be between 0 and the {n_rest} geometries available for validation")
    idxs_valid = stratified_sample(vds.E, n_valid, rng, n_total=len(vds), exclude=idxs_train if same else None)

    if symmetries not in ("auto", "none"):
        raise ValueError(f"symmetries must be 'auto' or 'none', got {symmetries!r}")
    if perms is None and symmetries == "none":
        perms = np.arange(N)[None, :]
    elif perms is None and dataset.perms is not None:
        perms = dataset.perms
    elif perms is None:
        # Geometries only (no labels): up to 1000 frames of the whole dataset sharpen the local test (more frames,
        # closer nearest neighbours) beyond what a small training set allows.
        perms, search = find_permutations(dataset.R, dataset.z, lattice=dataset.lattice, max_frames=1000,
                                          max_size=max_perms, seed=seed, report=True)
        if verbose:
            print("fastgdml: symmetry search: " + search.describe(), file=sys.stderr, flush=True)
    perms = validate_perms(perms, N)

    n = len(idxs_train)
    n_rows = n * 3 * N + (n if use_E_cstr else 0)
    need = _core.closed_form_bytes(n, N, len(perms), use_E_cstr)  # the core's memory model
    if solver not in ("auto", "cholesky", "cg"):
        raise ValueError(f"solver must be 'auto', 'cholesky' or 'cg', got {solver!r}")
    if resume is not None and solver == "cholesky":
        raise ValueError("resume continues an iterative (CG) solve; use solver='cg' or 'auto'")
    dense_budget = int(0.9 * available_bytes()) if max_memory is None else int(max_memory)
    if solver == "auto":
        solver = "cholesky" if need <= dense_budget and resume is None else "cg"
    if solver == "cholesky" and need > dense_budget:
        raise MemoryError(f"the closed-form solver needs {need / 2**30:.1f} GiB for the {n_rows} x {n_rows} kernel "
                          f"matrix but only {dense_budget / 2**30:.1f} GiB are allowed; use fewer training points "
                          f"(n_train) or solver='cg'")
    if not (np.isfinite(tol) and 0 < tol < 1):
        raise ValueError(f"tol must be in (0, 1), got {tol}")
    if not SIGMA_RANGE[0] <= sigma <= SIGMA_RANGE[1]:
        raise ValueError(f"sigma = {sigma:g} is outside [{SIGMA_RANGE[0]:g}, {SIGMA_RANGE[1]:g}], where the kernel "
                         f"stays representable (useful values are ~1..1000)")

    R = dataset.R[idxs_train]
    hit = coincident_atoms(R, dataset.lattice)
    if hit is not None:
        raise ValueError(f"{dataset.source or 'dataset'}: frame {int(idxs_train[hit[0]])} has atoms {hit[2]} and "
                         f"{hit[1]} on the same point; remove that frame")
    y = dataset.F[idxs_train].ravel().copy()
    E_train = None if dataset.E is None else dataset.E[idxs_train]
    if use_E_cstr:
        y = np.concatenate([y, -(E_train - E_train.mean())])
    std = float(y.std())
    if not std > 0:
        raise ValueError("all training labels are zero: nothing to learn")
    y /= std

    log = _StageLog(verbose)
    solver_keys = {}
    if solver == "cholesky":
        log.start(f"assembling and factoring the {n_rows} x {n_rows} kernel matrix ({need / 2**30:.2f} GiB, "
                  f"{n_rows ** 3 / 3e9:.1f} GFLOP; n={n}, N={N}, {len(perms)} permutation(s))")
        op = _core.KernelOperator(R, perms, float(sigma), use_energy=use_E_cstr, mask=mask, lattice=dataset.lattice,
                                  cache_bytes=0)
        # assembly, + lambda I, Cholesky and its not-positive-definite policy: one driver in the core
        solution = _core.solve_closed_form(op, y, float(lam))
    else:
        cg_budget = int(0.5 * available_bytes()) if max_memory is None else int(max_memory)
        cg_plan = iterative.plan(n, N, len(perms), use_E_cstr, cg_budget, inducing, block_jacobi)
        log.start(f"descriptors and kernel weights for CG ({n_rows} unknowns; n={n}, N={N}, "
                  f"{len(perms)} permutation(s))")
        op = _core.KernelOperator(R, perms, float(sigma), use_energy=use_E_cstr, mask=mask, lattice=dataset.lattice,
                                  cache_bytes=cg_plan["cache_bytes"])
        log.done()
        task = iterative.task_fingerprint(dataset.md5, idxs_train, sigma, lam, perms, use_E_cstr, mask, tol)
        norm_y = float(np.linalg.norm(y))
        x_warm = None if warm_start is None else _warm_iterate(warm_start, idxs_train, perms, use_E_cstr, mask, std)
        solution, info = iterative.solve_cg(op, y, lam, tol, cg_plan, seed,
                                            task, checkpoint, checkpoint_interval, resume, verbose, max_iterations,
                                            block_jacobi, warm_start=x_warm)
        solver_keys = {"solver_name": np.array("cg"), "solver_tol": np.float64(tol),
                       "solver_iters": np.int64(info["iterations"]),
                       "solver_resid": np.float64(info["relative_residual"] * norm_y),
                       "norm_y_train": np.float64(norm_y), "inducing_pts_idxs": info["columns"],
                       "solver_converged": np.bool_(info["converged"]), "solver_restarts": np.int64(info["restarts"])}
        if not info["converged"]:
            warnings.warn(f"CG did not converge ({info['status']}): relative residual {info['relative_residual']:.3g} "
                          f"> tol {tol:g} after {info['iterations']} iterations and {info['restarts']} restart(s); the "
                          f"model is saved with solver_converged=False. Resume from the checkpoint, raise max_memory "
                          f"(more inducing columns) or sigma", RuntimeWarning, stacklevel=2)
        elif checkpoint is not None and os.path.exists(checkpoint):
            os.unlink(checkpoint)
    alphas = -solution
    alphas_F = alphas[: n * 3 * N]
    alphas_E = alphas[n * 3 * N:] if use_E_cstr else None
    R_d_desc_alpha = op.jacobian_rows(alphas_F)

    arrays = {
        "type": np.array("m"),
        "code_version": np.array(f"fastgdml {__version__}"),
        "dataset_name": np.array(dataset.name),
        "dataset_theory": np.array(dataset.theory),
        "solver_name": np.array("analytic"),
        "z": dataset.z.astype(np.int64),
        "idxs_train": idxs_train.astype(np.int64),
        "md5_train": np.array(dataset.md5.encode(), dtype="S32"),
        "idxs_valid": idxs_valid.astype(np.int64),
        "md5_valid": np.array(vds.md5.encode(), dtype="S32"),
        "n_test": np.array(0, dtype=np.int64),
        "md5_test": np.array(None, dtype=object),
        "f_err": np.array({"mae": np.nan, "rmse": np.nan}, dtype=object),
        "R_desc": np.ascontiguousarray(op.X.T),
        "R_d_desc_alpha": R_d_desc_alpha,
        "c": np.float64(0.0),
        "std": np.float64(std),
        "sig": np.int64(sigma) if float(sigma).is_integer() else np.float64(sigma),
        "lam": np.float64(lam),
        "alphas_F": alphas_F,
        "perms": perms,
        "tril_perms_lin": descriptor_permutation_table(perms, N, mask),
        "use_E": np.bool_(use_E),
    }
    if use_E:
        arrays["e_err"] = np.array({"mae": np.nan, "rmse": np.nan}, dtype=object)
    if alphas_E is not None:
        arrays["alphas_E"] = alphas_E
    arrays.update(solver_keys)
    if mask is not None:
        arrays["feature_mask"] = np.asarray(mask, dtype=np.int64)
    if dataset.lattice is not None:
        arrays["lattice"] = dataset.lattice
    if dataset.r_unit is not None and dataset.e_unit is not None:
        arrays["r_unit"], arrays["e_unit"] = np.array(dataset.r_unit), np.array(dataset.e_unit)

    model = Model(arrays)
    if use_E_cstr:
        c = float(E_train.mean())
    elif use_E:
        c = _integration_constant(model, R, E_train)
    else:
        c = 0.0
    arrays["c"] = np.float64(c)
    model = Model(arrays)
    if validate and n_valid > 0:
        log.start(f"validation on {n_valid} geometries")
        store_errors(model.arrays, prediction_errors(model, vds, idxs_valid))  # e_err exists iff use_E
    log.done()
    return model


class _StageLog:
    """One line per training stage on stderr, with the time the previous stage took."""

    def __init__(self, enabled: bool):
        self.enabled, self._t = enabled, None

    def start(self, what: str) -> None:
        self.done()
        if self.enabled:
            print(f"fastgdml: {what} ...", end="", file=sys.stderr, flush=True)
        self._t = time.perf_counter()

    def done(self) -> None:
        if self.enabled and self._t is not None:
            print(f" {time.perf_counter() - self._t:.1f} s", file=sys.stderr, flush=True)
        self._t = None


def _warm_iterate(model: Model, idxs_train, perms, use_E_cstr: bool, mask, std: float) -> np.ndarray:
    """The CG iterate (normalised units, sign of the solve) of ``model``, checked to belong to the same task."""
    a = model.arrays
    same_mask = np.array_equal(np.asarray(a.get("feature_mask", [])), np.asarray([] if mask is None else mask))
    if not (np.array_equal(a["idxs_train"], idxs_train) and np.array_equal(a["perms"], perms)
            and ("alphas_E" in a) == use_E_cstr and same_mask):
        raise ValueError("warm_start: the model was trained on another task (training indices, permutations, "
                         "energy constraints or feature mask differ)")
    alphas = [np.asarray(a["alphas_F"], dtype=np.float64).ravel()]
    if use_E_cstr:
        alphas.append(np.asarray(a["alphas_E"], dtype=np.float64).ravel())
    # Model alphas are -solution in units of std; the rescaling in solve_cg absorbs any remaining scale.
    return -np.concatenate(alphas) * (float(a["std"]) / std)


def _integration_constant(model: Model, R: np.ndarray, E_train: np.ndarray) -> float:
    """c = mean(E_ref - E_pred) at the training points, with the sGDML consistency diagnostics (§7.6)."""
    E_pred, _ = model.predict(R)  # model built with c = 0
    if len(E_train) > 1 and np.std(E_pred) > 0 and np.std(E_train) > 0:
        slope = np.polyfit(E_pred, E_train, 1)[0]
        corr = np.corrcoef(E_pred, E_train)[0, 1]
        if slope < 0:
            warnings.warn("energies and forces disagree in sign: the dataset may hold gradients instead of forces "
                          "(F must be -dE/dR)", stacklevel=3)
        elif corr < 0.95:
            warnings.warn(f"inconsistent energy labels: correlation of predicted and reference training energies "
                          f"is {corr:.3f} (< 0.95)", stacklevel=3)
        elif abs(slope - 1) > 0.1:
            warnings.warn(f"energy/force unit mismatch suspected: fitted slope of reference vs predicted training "
                          f"energies is {slope:.3f} (expected 1)", stacklevel=3)
    return float(np.mean(E_train - E_pred))
