"""Training a GDML/sGDML model (DESIGN.md §3, FORMATS.md §4, §7).

    y = [F ; -(E - mean E)] / std        (energy rows only with use_E_cstr; std over all label entries)
    (K + lam I) a~ = y                   K = Cov([F; -E]): dense Cholesky solve, or preconditioned CG with
                                         K v computed on the fly (cg.py)
    alphas = -a~                         (stored sign convention of sGDML)
    R_d_desc_alpha[j] = J_j alphas_F[j]
    c = mean E (use_E_cstr) or mean(E_train - E_pred(c=0)) (GDML) or 0 (no energies)

The dense K needs (n 3N [+ n])^2 doubles; ``solver="auto"`` uses it when it fits the memory budget and is
estimated cheaper than CG, and CG otherwise.

:func:`train_task` solves a :class:`~fastgdml.training.task.TrainingTask` with
:class:`~fastgdml.training.task.SolverOptions`; :func:`train` is the keyword entry that builds both.
"""
from __future__ import annotations

import os
import sys
import time
import warnings
from typing import Optional

import numpy as np

from .. import _core, parallel
from .._version import __version__
from ..data.dataset import Dataset, coincident_atoms
from ..evaluation.metrics import prediction_errors, store_errors
from ..io.memory import available_bytes
from ..model import Model
from ..symmetry.group import descriptor_permutation_table
from ..symmetry.group_search import DEFAULT_MAX_PERMS
from . import cg
from .checkpoint import task_fingerprint
from .task import SolverOptions, TrainingTask


def train(dataset: Dataset, n_train: int, sigma: float = 20.0, lam: float = 1e-10, use_E: bool = True,
          use_E_cstr: bool = False, perms=None, seed: int = 0, n_valid: Optional[int] = None,
          idxs_train=None, mask=None, max_memory: Optional[int] = None, validate: bool = True,
          verbose: bool = False, solver: str = "auto", tol: float = 1e-4, inducing: Optional[int] = None,
          checkpoint: Optional[str] = None, checkpoint_interval: float = 300.0, resume: Optional[str] = None,
          max_iterations: int = 0, block_jacobi: bool = True, symmetries: str = "auto",
          max_perms: int = DEFAULT_MAX_PERMS, valid_dataset: Optional[Dataset] = None,
          warm_start: Optional[Model] = None, backend: str = "cpu", comm="auto") -> Model:
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
        geometries (up to 1000 frames of the dataset, training frames or not; :func:`fastgdml.find_permutations`,
        at most ``max_perms`` elements); "none" uses the identity alone.
    max_perms : int
        Size budget of the automatic search: the cost factor G of every training, prediction and feature score
        (default ``fastgdml.symmetry.group_search.DEFAULT_MAX_PERMS`` = 100). A larger group found is cut to the largest product of whole
        independent blocks (e.g. methyl rotors) within the budget, and a one-line note says how many permutations
        were left out and which ``max_perms`` keeps them (stderr with ``verbose``, else a RuntimeWarning).
        Measured on Ac-Ala3-NHMe, n_train 100 (bench/README.md, "Symmetry budget"): G 1 / 27 / 81 gave test
        force MAE 7.96 / 6.19 / 5.37 kcal/mol/A for 31 / 43 / 63 s of Cholesky training and 4 / 127 / 381 ms per
        100 predicted geometries.
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
        Closed-form Cholesky solve, preconditioned conjugate gradient, or (auto) Cholesky when the dense matrix
        fits ``max_memory`` and its estimated cost is below CG's (the core's ``choose_solver``: for aspirin,
        21 atoms, up to n_train 125; measured 3.0 s Cholesky vs 2.6 s CG at n_train 100, 20 s vs 11 s at 200),
        CG otherwise.
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
        CG: add the diagonal 3N x 3N blocks of what the Nyström part misses to the preconditioner (default on).
        It pays where the optimal sigma lies for large training sets, small sigma, and costs some iterations at
        large sigma, where CG converges fast anyway (bench/README.md, "Block-Jacobi"). Measured iterations to tol
        1e-3 without / with it: aspirin n_train 250, sigma 10 / 20 / 40: 991 (and a restart) / 475 / 129 against
        323 / 268 / 133; Ac-Ala3-NHMe n_train 300, sigma 20 / 60: 1500 unconverged / 551 against 943 / 938;
        aspirin n_train 1000, sigma 14, tol 1e-4: stalled at residual 0.83 without, 1428 iterations with it.
    warm_start : Model, optional
        CG: start from this model's coefficients (rescaled by the least-squares factor), e.g. a model of the
        same training set at a neighbouring sigma or lambda; it must have the same training indices,
        permutations, energy constraints and mask. :func:`fastgdml.search_sigma` uses it between sigmas.
    backend : str
        Compute backend for the kernel products and the returned model's predictions (one of
        :func:`fastgdml.backends`; default ``"cpu"``). An unknown or unavailable backend is an error, never a
        silent fallback.

    Returns
    -------
    Model
    """
    task = TrainingTask.sample(dataset, n_train, sigma=sigma, lam=lam, use_E=use_E, use_E_cstr=use_E_cstr,
                               perms=perms, seed=seed, n_valid=n_valid, idxs_train=idxs_train, mask=mask,
                               symmetries=symmetries, max_perms=max_perms, valid_dataset=valid_dataset,
                               verbose=verbose)
    options = SolverOptions(kind=solver, tol=tol, max_memory=max_memory, inducing=inducing,
                            block_jacobi=block_jacobi, max_iterations=max_iterations, checkpoint=checkpoint,
                            checkpoint_interval=checkpoint_interval, resume=resume, warm_start=warm_start, seed=seed,
                            verbose=verbose, backend=backend, comm=comm)
    return train_task(task, options, validate=validate)


def train_task(task: TrainingTask, options: Optional[SolverOptions] = None, validate: bool = True) -> Model:
    """Solve ``task`` as ``options`` say and return the model (built once).

    Parameters
    ----------
    task : TrainingTask
        The data, indices, kernel, permutations, energy constraints and mask.
    options : SolverOptions, optional
        Solver, memory budget, CG settings and checkpoints (default: ``SolverOptions()``).
    validate : bool
        Compute the errors on the task's validation frames and store them in the model (``f_err``, ``e_err``).

    Raises
    ------
    MemoryError
        Cholesky requested but the dense matrix exceeds the budget; or the requested inducing columns do not fit.
    ValueError
        Coincident atoms in a training frame, all-zero labels, a checkpoint of another task; RuntimeError when
        K + lam I is not positive definite (Cholesky).
    fastgdml.training.cg.CgInterrupted
        SIGINT/SIGTERM during CG (after the checkpoint is written).
    """
    options = SolverOptions() if options is None else options
    dataset, idxs_train, perms = task.dataset, task.idxs_train, task.perms
    N, n, n_rows = dataset.n_atoms, task.n_train, task.n_unknowns
    need = _core.closed_form_bytes(n, N, len(perms), task.use_E_cstr)  # the core's memory model
    comm = parallel.resolve(options.comm)
    solver = _choose_solver(options, task, comm)

    R = dataset.R[idxs_train]
    hit = coincident_atoms(R, dataset.lattice)
    if hit is not None:
        raise ValueError(f"{dataset.source or 'dataset'}: frame {int(idxs_train[hit[0]])} has atoms {hit[2]} and "
                         f"{hit[1]} on the same point; remove that frame")
    y, std = _labels(task)

    log = _StageLog(options.verbose and (comm is None or comm.rank == 0))  # one rank reports
    if solver == "cholesky":
        log.start(f"assembling and factoring the {n_rows} x {n_rows} kernel matrix ({need / 2**30:.2f} GiB, "
                  f"{n_rows ** 3 / 3e9:.1f} GFLOP; n={n}, N={N}, {len(perms)} permutation(s))")
        op = _core.KernelOperator(R, perms, float(task.sigma), use_energy=task.use_E_cstr, mask=task.mask,
                                  lattice=dataset.lattice, cache_bytes=0, backend=options.backend)
        # assembly, + lambda I, Cholesky and its not-positive-definite policy: one driver in the core
        solution = _core.solve_closed_form(op, y, float(task.lam))
        solver_keys = {}
    else:
        op, solution, solver_keys = _solve_cg(task, options, R, y, std, log, comm)

    model = Model(_model_arrays(task, op, solution, std, solver_keys), backend=options.backend)
    if task.use_E and not task.use_E_cstr:  # GDML: c from the model's own training energies (built with c = 0)
        model._set_integration_constant(_integration_constant(model, R, dataset.E[idxs_train]))
    if validate and task.idxs_valid.size > 0:
        log.start(f"validation on {task.idxs_valid.size} geometries")
        # e_err exists iff use_E
        store_errors(model.arrays, prediction_errors(model, task.validation_dataset, task.idxs_valid))
    log.done()
    return model


def _choose_solver(options: SolverOptions, task: TrainingTask, comm=None) -> str:
    """"cholesky" or "cg" by the core's rule (solver/memory_plan.hpp: the dense matrix within the budget, nothing
    resumed); the budget is the caller's: ``max_memory``, else 90% of the available memory. MemoryError when an
    explicit Cholesky does not fit. With several MPI ranks always CG (the closed form is not sharded)."""
    if comm is not None:
        if options.kind == "cholesky":
            raise ValueError(f"solver 'cholesky' runs in one process, but this training has {comm.size} MPI ranks; "
                             "use solver 'cg' or 'auto' (row-sharded CG)")
        return "cg"
    dense_budget = int(0.9 * available_bytes()) if options.max_memory is None else int(options.max_memory)
    try:
        return _core.choose_solver(task.n_train, task.dataset.n_atoms, len(task.perms), task.use_E_cstr,
                                   options.kind, dense_budget, options.resume is not None)
    except ValueError as exc:
        raise MemoryError(str(exc)) from None


def _labels(task: TrainingTask):
    """(y, std): the normalised labels [F; -(E - mean E)] / std of the training frames."""
    ds, idxs = task.dataset, task.idxs_train
    y = ds.F[idxs].ravel().copy()
    if task.use_E_cstr:
        E_train = ds.E[idxs]
        y = np.concatenate([y, -(E_train - E_train.mean())])
    std = float(y.std())
    if not std > 0:
        raise ValueError("all training labels are zero: nothing to learn")
    y /= std
    return y, std


def _solve_cg(task: TrainingTask, options: SolverOptions, R: np.ndarray, y: np.ndarray, std: float, log,
              comm=None):
    """(kernel operator, solution, solver keys of the model) of the CG solve; row-sharded over comm's ranks (each
    builds the operator of its training points' rows; the core gathers the solution, so every rank has all of it)."""
    dataset, perms, n, N = task.dataset, task.perms, task.n_train, task.dataset.n_atoms
    tol = options.tol
    budget = int(0.5 * available_bytes()) if options.max_memory is None else int(options.max_memory)
    first, count = parallel.share(n, comm.rank, comm.size) if comm is not None else (0, n)
    plan = cg.plan(count, N, len(perms), task.use_E_cstr, budget, options.inducing, options.block_jacobi)
    log.start(f"descriptors and kernel weights for CG ({task.n_unknowns} unknowns; n={n}, N={N}, "
              f"{len(perms)} permutation(s)" + (f"; {comm.size} MPI ranks" if comm is not None else "") + ")")
    op = _core.KernelOperator(R, perms, float(task.sigma), use_energy=task.use_E_cstr, mask=task.mask,
                              lattice=dataset.lattice, cache_bytes=plan["cache_bytes"], backend=options.backend,
                              first_point=first, local_points=count if comm is not None else 0)
    log.done()
    fingerprint = task_fingerprint(dataset.md5, task.idxs_train, task.sigma, task.lam, perms, task.use_E_cstr,
                                   task.mask, tol)
    norm_y = float(np.linalg.norm(y))
    x_warm = None if options.warm_start is None or comm is not None else _warm_iterate(options.warm_start, task, std)
    solution, info = cg.solve_cg(op, y, task.lam, tol, plan, options.seed, fingerprint, options.checkpoint,
                                 options.checkpoint_interval, options.resume,
                                 options.verbose and (comm is None or comm.rank == 0), options.max_iterations,
                                 options.block_jacobi, warm_start=x_warm, comm=comm)
    solver_keys = {"solver_name": np.array("cg"), "solver_tol": np.float64(tol),
                   "solver_iters": np.int64(info["iterations"]),
                   "solver_resid": np.float64(info["relative_residual"] * norm_y),
                   "norm_y_train": np.float64(norm_y), "inducing_pts_idxs": info["columns"],
                   "solver_converged": np.bool_(info["converged"]), "solver_restarts": np.int64(info["restarts"])}
    if not info["converged"]:
        _warn(f"CG did not converge ({info['status']}): relative residual {info['relative_residual']:.3g} "
                      f"> tol {tol:g} after {info['iterations']} iterations and {info['restarts']} restart(s); the "
                      f"model is saved with solver_converged=False. Resume from the checkpoint, raise max_memory "
                      f"(more inducing columns) or sigma", RuntimeWarning)
    elif options.checkpoint is not None and os.path.exists(options.checkpoint) and (comm is None or comm.rank == 0):
        os.unlink(options.checkpoint)
    return op, solution, solver_keys


def _model_arrays(task: TrainingTask, op, solution: np.ndarray, std: float, solver_keys: dict) -> dict:
    """The sGDML model keys of a solved task (integration constant c: mean E with energy constraints, else 0)."""
    dataset, N, n = task.dataset, task.dataset.n_atoms, task.n_train
    sigma, mask, perms = task.sigma, task.mask, task.perms
    alphas = -solution
    alphas_F = alphas[: n * 3 * N]
    arrays = {
        "type": np.array("m"),
        "code_version": np.array(f"fastgdml {__version__}"),
        "dataset_name": np.array(dataset.name),
        "dataset_theory": np.array(dataset.theory),
        "solver_name": np.array("analytic"),
        "z": dataset.z.astype(np.int64),
        "idxs_train": task.idxs_train.astype(np.int64),
        "md5_train": np.array(dataset.md5.encode(), dtype="S32"),
        "idxs_valid": task.idxs_valid.astype(np.int64),
        "md5_valid": np.array(task.validation_dataset.md5.encode(), dtype="S32"),
        "n_test": np.array(0, dtype=np.int64),
        "md5_test": np.array(None, dtype=object),
        "f_err": np.array({"mae": np.nan, "rmse": np.nan}, dtype=object),
        "R_desc": np.ascontiguousarray(op.X.T),
        "R_d_desc_alpha": op.jacobian_rows(alphas_F),
        "c": np.float64(float(dataset.E[task.idxs_train].mean()) if task.use_E_cstr else 0.0),
        "std": np.float64(std),
        "sig": np.int64(sigma) if float(sigma).is_integer() else np.float64(sigma),
        "lam": np.float64(task.lam),
        "alphas_F": alphas_F,
        "perms": perms,
        "tril_perms_lin": descriptor_permutation_table(perms, N, mask),
        "use_E": np.bool_(task.use_E),
    }
    if task.use_E:
        arrays["e_err"] = np.array({"mae": np.nan, "rmse": np.nan}, dtype=object)
    if task.use_E_cstr:
        arrays["alphas_E"] = alphas[n * 3 * N:]
    arrays.update(solver_keys)
    if mask is not None:
        arrays["feature_mask"] = np.asarray(mask, dtype=np.int64)
    if dataset.lattice is not None:
        arrays["lattice"] = dataset.lattice
    if dataset.r_unit is not None and dataset.e_unit is not None:
        arrays["r_unit"], arrays["e_unit"] = np.array(dataset.r_unit), np.array(dataset.e_unit)
    return arrays


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _warn(message: str, category=UserWarning) -> None:
    """``warnings.warn`` attributed to the first caller outside the package (whoever called train, train_task
    or search_sigma), as ``stacklevel`` would for a direct call."""
    frame, level = sys._getframe(0), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


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


def _warm_iterate(model: Model, task: TrainingTask, std: float) -> np.ndarray:
    """The CG iterate (normalised units, sign of the solve) of ``model``, checked to belong to the same task."""
    a = model.arrays
    idxs_train, perms, use_E_cstr, mask = task.idxs_train, task.perms, task.use_E_cstr, task.mask
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
            _warn("energies and forces disagree in sign: the dataset may hold gradients instead of forces "
                  "(F must be -dE/dR)")
        elif corr < 0.95:
            _warn(f"inconsistent energy labels: correlation of predicted and reference training energies "
                  f"is {corr:.3f} (< 0.95)")
        elif abs(slope - 1) > 0.1:
            _warn(f"energy/force unit mismatch suspected: fitted slope of reference vs predicted training "
                  f"energies is {slope:.3f} (expected 1)")
    return float(np.mean(E_train - E_pred))
