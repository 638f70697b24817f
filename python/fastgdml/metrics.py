"""Prediction errors of a model on dataset frames (the sGDML error measures, FORMATS.md §7.7)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ._progress import Progress


def prediction_errors(model, dataset, idxs: Optional[np.ndarray] = None, batch_size: int = 256,
                      progress: bool = False) -> dict:
    """Energy MAE/RMSE over geometries and force MAE/RMSE over all components.

    Energy errors are NaN when the dataset has no energies. Predictions run in batches of ``batch_size``.
    """
    idxs = np.arange(len(dataset)) if idxs is None else np.asarray(idxs, dtype=np.int64)
    e_abs = e_sq = f_abs = f_sq = 0.0
    n_f = 0
    bar = Progress(len(idxs), "predicting", enabled=progress)
    for start in range(0, len(idxs), batch_size):
        chunk = idxs[start:start + batch_size]
        E, F = model.predict(dataset.R[chunk])
        dF = F - dataset.F[chunk]
        f_abs += np.abs(dF).sum()
        f_sq += (dF ** 2).sum()
        n_f += dF.size
        if dataset.E is not None:
            dE = E - dataset.E[chunk]
            e_abs += np.abs(dE).sum()
            e_sq += (dE ** 2).sum()
        bar.update(len(chunk))
    bar.close()
    n = max(len(idxs), 1)
    has_E = dataset.E is not None and len(idxs) > 0
    return {
        "n": int(len(idxs)),
        "e_mae": e_abs / n if has_E else float("nan"),
        "e_rmse": float(np.sqrt(e_sq / n)) if has_E else float("nan"),
        "f_mae": f_abs / max(n_f, 1),
        "f_rmse": float(np.sqrt(f_sq / max(n_f, 1))),
    }
