"""CG checkpoints: the file format and the check that a checkpoint belongs to the task being resumed.

Checkpoint file (``.npz``): the iterate ``x`` (normalised units, sign of the solve, not the model's alphas), the
cumulative ``iterations``, the inducing ``columns`` of the preconditioner in use and the task it belongs to
(``task_*`` keys: dataset md5, training indices, sigma, lambda, permutations, energy constraints, feature mask,
tolerance). A resume refuses a checkpoint of another task. Written by :func:`fastgdml.training.cg.solve_cg`.
"""
from __future__ import annotations

import numpy as np

from ..io.npz import NpzError, load_npz


class CheckpointError(ValueError):
    """A checkpoint that belongs to another training task or cannot be read."""


def task_fingerprint(dataset_md5: str, idxs_train, sigma, lam, perms, use_E_cstr, mask, tol) -> dict:
    """The ``task_*`` keys a checkpoint stores and :func:`load_checkpoint` compares (mask None: empty)."""
    return {"task_md5": np.array(dataset_md5), "task_idxs_train": np.asarray(idxs_train, dtype=np.int64),
            "task_sigma": np.float64(sigma), "task_lam": np.float64(lam), "task_perms": np.asarray(perms, np.int64),
            "task_use_E_cstr": np.bool_(use_E_cstr), "task_tol": np.float64(tol),
            "task_mask": np.asarray([] if mask is None else mask, dtype=np.int64)}


def load_checkpoint(path: str, task: dict) -> dict:
    """The checkpoint at ``path``, checked against ``task`` (raises CheckpointError naming the mismatch)."""
    try:
        ck = load_npz(path)
    except NpzError as exc:
        raise CheckpointError(str(exc)) from None
    for key, want in task.items():
        if key not in ck:
            raise CheckpointError(f"{path}: not a fastgdml checkpoint (missing '{key}')")
        have = ck[key]
        same = (np.array_equal(np.asarray(have), np.asarray(want)) if np.asarray(want).dtype.kind in "iub"
                else (str(have) == str(want) if np.asarray(want).dtype.kind == "U" else np.allclose(have, want)))
        if not same:
            raise CheckpointError(f"{path}: checkpoint belongs to another training task ('{key[5:]}' differs); "
                                  f"start without resume or use the matching settings")
    # The state itself, checked before the (long) preconditioner build: unknowns are 3N forces per training
    # point, plus one energy each with energy constraints.
    n, N = len(task["task_idxs_train"]), np.asarray(task["task_perms"]).shape[1]
    M = n * 3 * N + (n if bool(task["task_use_E_cstr"]) else 0)
    for key in ("x", "iterations", "columns"):
        if key not in ck:
            raise CheckpointError(f"{path}: not a fastgdml checkpoint (missing '{key}')")
    x, it, cols = np.asarray(ck["x"]), np.asarray(ck["iterations"]), np.asarray(ck["columns"])
    if x.shape != (M,) or x.dtype.kind != "f" or not np.all(np.isfinite(x)):
        raise CheckpointError(f"{path}: 'x' must hold {M} finite numbers (the CG iterate of this task), got "
                              f"{x.dtype} of shape {x.shape}{'' if x.dtype.kind != 'f' or np.all(np.isfinite(x)) else ' with NaN/Inf'}; "
                              f"the checkpoint is corrupt: delete it and start without --resume")
    if it.size != 1 or it.dtype.kind not in "iu" or int(it.ravel()[0]) < 0:
        raise CheckpointError(f"{path}: 'iterations' must be one count >= 0; the checkpoint is corrupt")
    if cols.ndim != 1 or (cols.size and (cols.dtype.kind not in "iu" or cols.min() < 0 or cols.max() >= M
                                         or len(np.unique(cols)) != cols.size)):
        raise CheckpointError(f"{path}: 'columns' must be distinct inducing column indices in [0, {M}); the "
                              f"checkpoint is corrupt")
    return ck
