"""Prediction errors of a model on dataset frames (the sGDML error measures, FORMATS.md §7.7), how they are stored
in model files, and which frames of a dataset a model has not seen."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .._progress import Progress
from ..io.npz import as_str


def store_errors(arrays: dict, err: dict) -> None:
    """Write validation/test errors into model arrays as the sGDML format keeps them: ``f_err`` always, ``e_err``
    when the model has one (models trained with energies), each a pickled dict {'mae', 'rmse'}."""
    arrays["f_err"] = np.array({"mae": float(err["f_mae"]), "rmse": float(err["f_rmse"])}, dtype=object)
    if "e_err" in arrays:
        arrays["e_err"] = np.array({"mae": float(err["e_mae"]), "rmse": float(err["e_rmse"])}, dtype=object)


def trained_on(model, dataset, key: str = "md5_train") -> bool:
    """Whether the model's dataset fingerprint ``key`` (``md5_train`` or ``md5_valid``) is ``dataset``'s md5."""
    return key in model.arrays and as_str(model.arrays[key]) == dataset.md5


def unused_frames(model, dataset) -> np.ndarray:
    """Indices of the dataset's frames the model was neither trained nor validated on (matched by md5)."""
    excluded = [np.asarray(model.arrays[key_idx]) for key_md5, key_idx in
                (("md5_train", "idxs_train"), ("md5_valid", "idxs_valid"))
                if key_idx in model.arrays and trained_on(model, dataset, key_md5)]
    idxs = np.arange(len(dataset))
    return np.setdiff1d(idxs, np.concatenate(excluded)) if excluded else idxs


def errors_text(err: dict, e_unit: str, f_unit: str) -> str:
    """One line of force and energy errors with their units: ``force MAE a RMSE b <f_unit>, energy MAE c RMSE d
    <e_unit>`` (keys ``f_mae``, ``f_rmse``, ``e_mae``, ``e_rmse``; the energy part only when it is finite)."""
    text = f"force MAE {err['f_mae']:.4g} RMSE {err['f_rmse']:.4g} {f_unit}"
    if np.isfinite(err.get("e_mae", np.nan)):
        text += f", energy MAE {err['e_mae']:.4g} RMSE {err['e_rmse']:.4g} {e_unit}"
    return text


def with_validation(model, idxs_valid, md5_valid, err: dict):
    """A copy of ``model`` recording its validation set (indices, dataset md5) and errors."""
    from ..model import Model

    arrays = dict(model.arrays)
    arrays["idxs_valid"] = np.asarray(idxs_valid, dtype=np.int64)
    arrays["md5_valid"] = md5_valid
    store_errors(arrays, err)
    return Model(arrays)


def prediction_errors(model, dataset, idxs: Optional[np.ndarray] = None, batch_size: int = 256,
                      progress: bool = False, keep: int = 0) -> dict:
    """The sGDML error measures (FORMATS.md §7.7), streamed over batches of ``batch_size`` geometries.

    Returns ``n``, energy ``e_mae``/``e_rmse`` over geometries (NaN without energies), force-component
    ``f_mae``/``f_rmse``, per-atom force-magnitude error ``f_mag_mae`` (mean | |F^_a| - |F_a| |) and per-atom
    angle error ``f_angle_mae`` (mean arccos(cos)/pi, in [0, 1], as sGDML reports it) and the same in degrees,
    ``f_angle_mae_deg``. Energies are in the dataset's energy unit, forces in energy/length. With ``keep`` > 0 the
    result also has
    ``samples``: reference and predicted energies of all geometries and forces of up to ``keep`` of them
    (for plots).
    """
    idxs = np.arange(len(dataset)) if idxs is None else np.asarray(idxs, dtype=np.int64)
    e_abs = e_sq = f_abs = f_sq = mag_abs = ang = 0.0
    n_f = n_atoms = 0
    E_ref, E_pred, F_ref, F_pred = [], [], [], []
    bar = Progress(len(idxs), "predicting", enabled=progress)
    for start in range(0, len(idxs), batch_size):
        chunk = idxs[start:start + batch_size]
        E, F = model.predict(dataset.R[chunk])
        Fr = dataset.F[chunk]
        dF = F - Fr
        f_abs += np.abs(dF).sum()
        f_sq += (dF ** 2).sum()
        n_f += dF.size
        norm_p, norm_r = np.linalg.norm(F, axis=-1), np.linalg.norm(Fr, axis=-1)
        mag_abs += np.abs(norm_p - norm_r).sum()
        cos = (F * Fr).sum(-1) / np.maximum(norm_p * norm_r, np.finfo(float).tiny)
        ang += (np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi).sum()
        n_atoms += norm_p.size
        if dataset.E is not None:
            dE = E - dataset.E[chunk].ravel()
            e_abs += np.abs(dE).sum()
            e_sq += (dE ** 2).sum()
            if keep:
                E_ref.append(dataset.E[chunk].ravel())
                E_pred.append(E)
        if keep and start < keep:
            F_ref.append(Fr[: keep - start])
            F_pred.append(F[: keep - start])
        bar.update(len(chunk))
    bar.close()
    n = max(len(idxs), 1)
    has_E = dataset.E is not None and len(idxs) > 0
    out = {
        "n": int(len(idxs)),
        "e_mae": e_abs / n if has_E else float("nan"),
        "e_rmse": float(np.sqrt(e_sq / n)) if has_E else float("nan"),
        "f_mae": f_abs / max(n_f, 1),
        "f_rmse": float(np.sqrt(f_sq / max(n_f, 1))),
        "f_mag_mae": mag_abs / max(n_atoms, 1),
        "f_angle_mae": ang / max(n_atoms, 1),
        "f_angle_mae_deg": 180.0 * ang / max(n_atoms, 1),
    }
    if keep:
        cat = (lambda parts: np.concatenate(parts) if parts else np.zeros(0))
        out["samples"] = {"E_ref": cat(E_ref), "E_pred": cat(E_pred), "F_ref": cat(F_ref), "F_pred": cat(F_pred)}
    return out
