"""Iterative training: preconditioned CG in the C++ core, driven from here (DESIGN.md §3).

The core's training entry (``_core.train_iterative``, solver/iterative_training.hpp) runs CG with the Nyström
preconditioner, restarts on stalls and owns the checkpoint state: what a checkpoint holds, when one is due, how a
resume continues. This module gives it the file format (atomic ``.npz`` with the task's fingerprint), the stop
signal (SIGINT and SIGTERM stop CG with a checkpoint: :class:`CgInterrupted`), progress on stderr and warm starts.

Checkpoints (their format and checks: :mod:`fastgdml.training.checkpoint`) hold the iterate, the iteration count,
the inducing columns in use and the task they belong to.
"""
from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from typing import Optional

import numpy as np

from .. import _core
from ..io.npz import save_npz_atomic
from .checkpoint import load_checkpoint


def plan(n: int, n_atoms: int, n_perms: int, use_E_cstr: bool, budget: int, inducing: Optional[int],
         block_jacobi: bool) -> dict:
    """The CG plan of the core's memory model (cpp/include/fastgdml/solver/memory_plan.hpp) within ``budget``
    bytes: weight cache admitted, inducing columns (``inducing`` or the default: 4% of the unknowns, at least
    1700) and their growth on stalls. MemoryError when the requested columns do not fit.

    The default was measured on aspirin (sigma 60, 6 perms, tol 1e-4, float W, Cholesky-built R): n_train = 400
    (M = 25200): k = 1000 / 1388 / 1700 / 2000 / 2400 took 311 / 152 / 97 / 73 / 56 iterations and 11.7 / 8.0 /
    7.4 / 7.8 / 10.6 s; n_train = 200 (M = 12600): k = 700 / 1000 / 1388 / 1700 / 2000: 358 / 199 / 95 / 64 / 48
    iterations, 4.1 / 3.0 / 2.8 / 2.8 / 3.2 s. The preconditioner's build (O(M k^2)) dominates for large k, CG
    iterations for small k.
    """
    try:
        return _core.plan_iterative(n, n_atoms, n_perms, use_E_cstr, int(budget), inducing or 0, block_jacobi)
    except ValueError as exc:
        raise MemoryError(str(exc)) from None


def scaled_start(op, y: np.ndarray, lam: float, guess: np.ndarray):
    """(c * guess, relative residual) with c minimising |y - c (K + lam I) guess|; zeros (None) if that does not
    beat the zero start.

    Why the scale: the Hessian kernel scales like 1 / sigma^2, so coefficients at a neighbouring sigma are off by
    roughly (sigma / sigma')^2 as a whole; the least-squares factor corrects that and more for the cost of one K v.
    """
    guess = np.asarray(guess, dtype=np.float64)
    if guess.shape != y.shape or not np.all(np.isfinite(guess)):
        raise ValueError(f"warm start has shape {guess.shape}, expected {y.shape} (same training set and labels)")
    Ag = op.matvec(guess) + lam * guess
    denom = float(Ag @ Ag)
    if not denom > 0:
        return np.zeros_like(y), None
    c = float(y @ Ag) / denom
    rel = float(np.linalg.norm(y - c * Ag) / np.linalg.norm(y))
    if not rel < 1.0:
        return np.zeros_like(y), None
    return c * guess, rel


class CgInterrupted(KeyboardInterrupt):
    """CG stopped by SIGINT or SIGTERM, after writing its checkpoint.

    A KeyboardInterrupt, so code that handles Ctrl-C handles it. Attributes: ``signum`` (the signal),
    ``iteration`` (cumulative CG iterations done), ``checkpoint`` (the file written, None without one).
    """

    def __init__(self, signum: int, iteration: int, checkpoint: Optional[str]):
        self.signum, self.iteration, self.checkpoint = signum, iteration, checkpoint
        where = f"; checkpoint written to {checkpoint}" if checkpoint else " (no checkpoint file was set)"
        super().__init__(f"interrupted ({signal.Signals(signum).name}) at CG iteration {iteration}{where}")


@contextlib.contextmanager
def _signals_stop_cg():
    """While the block runs, SIGINT and SIGTERM only record themselves in the yielded list.

    The default SIGINT handler raises KeyboardInterrupt inside the CG callback and SIGTERM kills the process:
    either way the iterations since the last checkpoint (up to ``checkpoint_interval``, 300 s) are lost. With
    the signal recorded instead, the monitor stops CG at the next iteration and the checkpoint is written.
    Handlers can only be set in the main thread; elsewhere, and for a signal that is ignored (``nohup``, a
    background job's SIGINT) or whose handler was not set from Python, nothing changes. The previous handlers
    are restored on the way out.
    """
    caught = []
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) not in (signal.SIG_IGN, None):
                previous[sig] = signal.signal(sig, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Progress:
    """Iteration, residual, rate and ETA on stderr: one line refreshed every 0.5 s on a terminal, a new line
    every 30 s otherwise (log files of batch jobs)."""

    def __init__(self, tol: float, enabled: bool):
        self.tol, self.enabled = tol, enabled
        self.tty = sys.stderr.isatty()
        self.start = self.last_print = time.perf_counter()
        self.history = []  # (time, iteration, log10 residual)

    def update(self, it: int, rel: float) -> None:
        now = time.perf_counter()
        self.history.append((now, it, math.log10(max(rel, 1e-300))))
        if not self.enabled or now - self.last_print < (0.5 if self.tty else 30.0):
            return
        self.last_print = now
        t0, i0, l0 = self.history[max(0, len(self.history) - 50)]
        rate = (it - i0) / (now - t0) if now > t0 else 0.0
        slope = (l0 - self.history[-1][2]) / max(it - i0, 1)  # decades per iteration
        eta = ""
        if slope > 0 and rate > 0:
            eta = f"  eta {max(0.0, (self.history[-1][2] - math.log10(self.tol)) / slope / rate):6.0f} s"
        sys.stderr.write(f"{chr(13) if self.tty else ''}fastgdml CG: iteration {it:6d}  residual {rel:9.3e} "
                         f"(tol {self.tol:.0e})  {rate:6.2f} it/s{eta}   {'' if self.tty else chr(10)}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            sys.stderr.write("\n")


def solve_cg(op, y: np.ndarray, lam: float, tol: float, cg_plan: dict, seed: int, task: dict, checkpoint: Optional[str],
             checkpoint_interval: float, resume: Optional[str], verbose: bool, max_iterations: int = 0,
             block_jacobi: bool = False, warm_start: Optional[np.ndarray] = None, comm=None):
    """Solve (K + lam I) x = y with preconditioned CG. Returns (x, info dict).

    ``comm`` (:class:`fastgdml.parallel.MpiCommunicator`): row-sharded over its ranks; ``op`` is this rank's
    operator, ``y`` and the returned x hold all rows in K's order on every rank; rank 0 writes the checkpoints.

    ``warm_start``: a guess of x (e.g. the solution at a neighbouring sigma), rescaled by the factor that
    minimises the residual (one K v); used when it starts CG below |y|, ignored otherwise.

    SIGINT or SIGTERM while CG runs (main thread) stops it at the next iteration, writes the checkpoint (when
    ``checkpoint`` is set) and raises :class:`CgInterrupted`.
    """
    M = op.size
    inducing = cg_plan["inducing"]
    o = _core.IterativeOptions()
    o.lam, o.tol, o.inducing, o.max_inducing, o.seed = lam, tol, inducing, cg_plan["max_inducing"], seed
    o.block_jacobi = block_jacobi
    if max_iterations:
        o.max_iterations = max_iterations
    x0 = np.zeros(M)
    warm_residual = resumed = None
    if warm_start is not None and resume is None:
        x0, warm_residual = scaled_start(op, y, lam, warm_start)
    if resume is not None:  # the core continues with the checkpoint's iterate, iteration count and columns
        ck = load_checkpoint(resume, task)
        resumed = (np.asarray(ck["x"], dtype=np.float64), int(ck["iterations"]),
                   np.asarray(ck["columns"], dtype=np.int64))
    log = (lambda msg: print(f"fastgdml: {msg}", file=sys.stderr, flush=True)) if verbose else None
    if verbose:
        print(f"fastgdml: CG on {M} unknowns, preconditioner with {inducing} inducing columns (up to "
              f"{o.max_inducing} on stalls; {(cg_plan['fixed_bytes'] + o.max_inducing * cg_plan['bytes_per_column']) / 2**30:.2f} "
              f"GiB of the budget), tol {tol:g}"
              + (f", resuming at iteration {resumed[1]}" if resumed is not None else "")
              + (f", warm start at relative residual {warm_residual:.3g}" if warm_residual is not None else ""),
              file=sys.stderr, flush=True)
    progress = _Progress(tol, verbose)

    def save(x, iterations, columns):  # x: all rows in K's order (on every rank)
        if comm is None or comm.rank == 0:
            save_npz_atomic(checkpoint, {"x": x, "iterations": np.int64(iterations),
                                         "columns": np.asarray(columns, dtype=np.int64), **task})

    try:
        # The final save is inside too: a second Ctrl-C must not abort the checkpoint the first one asked for.
        with _signals_stop_cg() as caught:
            x, info = _core.train_iterative(
                op, y, x0, o, checkpoint_interval=checkpoint_interval, resume=resumed,
                write_checkpoint=save if checkpoint is not None else None,
                stop_requested=lambda: bool(caught), progress=progress.update, log=log, comm=comm)
            if comm is not None:  # every rank must take the same branch below (the save and the raise)
                flag = np.array([1.0 if caught else 0.0])
                comm.allreduce_sum(flag)
                if flag[0] > 0 and not caught:
                    caught.append(signal.SIGTERM)
            if caught and checkpoint is not None and info["converged"] and not info["stopped"]:
                # the signal came as the last iteration converged
                save(x, info["iterations"], info["columns"])
    finally:
        progress.close()
    if caught:
        raise CgInterrupted(caught[0], int(info["iterations"]), checkpoint)
    return x, info
