"""Learning curve: test errors against the training-set size, for choosing a training budget.

All sizes are tested on the same held-out frames. Size n trains on the first n + n_valid frames of one fixed
random order of the rest (growing pools): with a given sigma on the first n of them, otherwise with a sigma
search that splits the pool into n training and n_valid validation frames.
"""
from __future__ import annotations

import sys
from typing import List, Optional

import numpy as np

from ..data.dataset import Dataset
from ..data.sampling import stratified_sample
from ..evaluation.metrics import errors_text, prediction_errors
from ..units import unit_labels
from .fit import train
from .sigma_search import search_sigma


def learning_curve(dataset: Dataset, sizes: List[int], sigma: Optional[float] = None, n_valid: int = 200,
                   n_test: int = 1000, seed: int = 0, verbose: bool = False, select: str = "combined",
                   **train_kw) -> List[dict]:
    """Train at each size in ``sizes`` and test on ``n_test`` common held-out frames.

    ``select`` is the sigma search's criterion (:func:`fastgdml.search_sigma`; unused with a fixed ``sigma``).
    Returns one dict per size: ``n_train``, ``sigma``, ``n_perms``, ``train_s`` (seconds) and the test errors of
    :func:`fastgdml.evaluation.metrics.prediction_errors` (without samples).
    """
    import time

    sizes = sorted(int(s) for s in sizes)
    M = len(dataset)
    if not sizes or sizes[0] < 1:
        raise ValueError("sizes must be positive training-set sizes")
    if sizes[-1] + n_valid + n_test > M:
        raise ValueError(f"the largest size {sizes[-1]} plus n_valid={n_valid} and n_test={n_test} exceeds the "
                         f"{M} frames of {dataset.source or 'the dataset'}")
    rng = np.random.default_rng(seed)
    test = stratified_sample(dataset.E, n_test, rng, n_total=M)
    order = rng.permutation(np.setdiff1d(np.arange(M), test))
    rows = []
    for n in sizes:
        t = time.perf_counter()
        if sigma is None and n_valid > 0:
            model, _ = search_sigma(dataset.subset(np.sort(order[:n + n_valid])), n, n_valid=n_valid, seed=seed,
                                    select=select, **train_kw)
        else:
            model = train(dataset.subset(np.sort(order[:n])), n, 20.0 if sigma is None else sigma,
                          idxs_train=np.arange(n), n_valid=0, validate=False, **train_kw)
        err = prediction_errors(model, dataset, test)
        row = {"n_train": n, "sigma": float(model.sigma), "n_perms": int(len(model.perms)),
               "train_s": time.perf_counter() - t, **err}
        rows.append(row)
        if verbose:
            e_unit, f_unit, _ = unit_labels(dataset.e_unit, dataset.r_unit)
            print(f"fastgdml: n_train {n}: sigma {row['sigma']:.4g}, test {errors_text(err, e_unit, f_unit)} "
                  f"({row['train_s']:.1f} s)", file=sys.stderr, flush=True)
    return rows


def learning_curve_table(rows: List[dict], e_unit: str = "kcal/mol", f_unit: str = "kcal/mol/Å") -> str:
    """The rows of :func:`learning_curve` as a text table with units in the headers."""
    cols = [("n_train", "n_train", "d"), ("sigma", "sigma", ".3g"), (f"test F MAE ({f_unit})", "f_mae", ".4g"),
            (f"test F RMSE ({f_unit})", "f_rmse", ".4g"), (f"test E MAE ({e_unit})", "e_mae", ".4g"),
            (f"test E RMSE ({e_unit})", "e_rmse", ".4g"), ("train (s)", "train_s", ".1f")]
    lines = ["  " + "  ".join(head for head, _, _ in cols)]
    lines += ["  " + "  ".join(f"{r[key]:{len(head)}{fmt}}" for head, key, fmt in cols) for r in rows]
    return "\n".join(lines)


def plot_learning_curve(rows: List[dict], path: str, e_unit: str = "kcal/mol", r_unit: str = "Å") -> None:
    """Log-log plot of test force (and energy) MAE against n_train."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..io.npz import atomic_path

    n = [r["n_train"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(n, [r["f_mae"] for r in rows], "o-", label=f"forces ({e_unit}/{r_unit})")
    if not np.isnan(rows[0]["e_mae"]):
        ax.loglog(n, [r["e_mae"] for r in rows], "s--", label=f"energies ({e_unit})")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        axis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.tick_params(which="minor", labelsize=7)
    ax.set_xlabel("training geometries n_train")
    ax.set_ylabel("test MAE")
    ax.set_title("learning curve")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
