"""Training report: every number in one JSON file and PNG plots next to the model (issue: dataset to model).

Files for a model ``m.npz``: ``m.report.json``, ``m.sigma_scan.png`` (with a sigma search: validation force and
energy RMSE against sigma, the chosen sigma and its criterion), ``m.energies.png`` and ``m.forces.png`` (predicted
vs reference on the test set, and beside it the residual, predicted − reference, against the reference: a parity
plot of absolute energies hides errors below about 1% of their range), ``m.force_errors.png`` (force-component
error distribution per element). Plots need matplotlib (``pip install "fastgdml[report]"``); without it only the JSON
is written and the report says so.
"""
from __future__ import annotations

import json
import os
from typing import Optional

import numpy as np

from ..data.elements import element_symbol
from ..io.npz import atomic_path
from ..units import unit_labels



def report_paths(model_path: str) -> dict:
    """The files written next to a model: its JSON report and plots, by kind."""
    stem = model_path[:-4] if model_path.endswith(".npz") else model_path
    return {"json": stem + ".report.json", "sigma_scan": stem + ".sigma_scan.png", "energies": stem + ".energies.png",
            "forces": stem + ".forces.png", "force_errors": stem + ".force_errors.png"}


def _units(model):
    """(energy, length) unit labels of a model (:func:`fastgdml.units.unit_labels`)."""
    e, _, r = unit_labels(model.e_unit, model.r_unit)
    return e, r


def write_report(model_path: str, model, test: Optional[dict], scan=None, search=None, extra: Optional[dict] = None,
                 plots: bool = True) -> dict:
    """Write the JSON report (and plots) of ``model`` saved at ``model_path``; returns the paths written.

    test: the result of ``metrics.prediction_errors(..., keep=K)`` on the test set, or None.
    scan: a ``SigmaScan``; search: a ``SymmetrySearch``; extra: more key/values for the JSON.
    """
    paths = report_paths(model_path)
    e_unit, r_unit = _units(model)
    data = {"model": os.path.basename(model_path), "n_train": int(len(model.idxs_train)),
            "n_valid": int(len(model.idxs_valid)), "sigma": float(model.sigma),
            "lambda": float(model.arrays.get("lam", np.nan)), "n_perms": int(len(model.perms)),
            "units": {"energy": e_unit, "force": f"{e_unit}/{r_unit}"},
            "validation": {"f": model.arrays["f_err"].item()},
            "solver": str(model.arrays.get("solver_name", "analytic"))}
    if "e_err" in model.arrays:
        data["validation"]["e"] = model.arrays["e_err"].item()
    if test is not None:
        data["test"] = {k: v for k, v in test.items() if k != "samples"}
    if scan is not None:
        data["sigma_scan"] = [{"sigma": s, **{k: float(v) for k, v in e.items() if k != "samples"}}
                              for s, e in sorted(zip(scan.sigmas, scan.errors))]
        data["sigma_at_limit"] = bool(scan.at_limit)
        data["search"] = {"n_search": int(scan.n_search), "n_train": int(scan.n_train),
                          "best_on_search_set": float(scan.search_best), "scaled": bool(scan.scaled),
                          "trainings": int(scan.trainings)}
        data["selection"] = {"criterion": scan.select, "note": scan.select_note,
                             "lowest_f_rmse_sigma": scan.lowest("f_rmse"), "lowest_e_rmse_sigma": scan.lowest("e_rmse")}
        if scan.lambdas:
            data["lambda_scan"] = [{"lambda": lam, **{k: float(v) for k, v in e.items() if k != "samples"}}
                                   for lam, e in scan.lambdas]
    if search is not None:
        data["symmetry_search"] = {"size": int(len(search.perms)), "frames": search.n_frames,
                                   "seconds": search.seconds, "left_out": search.left_out,
                                   "blocks": [[list(map(int, a)), s] for a, s in search.blocks]}
    data.update(extra or {})
    return write_json_and_plots(paths["json"], data, lambda: _plots(paths, model, test, scan, e_unit, r_unit),
                                plots)


def write_json_and_plots(json_path: str, data: dict, make_plots, plots: bool = True) -> dict:
    """Run ``make_plots()`` (returns {name: path}) unless ``plots`` is False or matplotlib is missing (then the
    JSON says so), and write ``data`` to ``json_path`` atomically. Returns every path written, the JSON as "json"."""
    written = {}
    if plots:
        try:
            written = make_plots()
        except ImportError:
            data["plots"] = "not written: matplotlib is not installed (pip install matplotlib)"
    with atomic_path(json_path) as tmp:
        with open(tmp, "w") as f:
            json.dump(data, f, indent=1, default=float, ensure_ascii=False)
    written["json"] = json_path
    return written


def _save(fig, path):
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")


def _parity(plt, ref, pred, what, unit, mae, rmse, path) -> None:
    """Predicted against reference values with the diagonal, and beside it the residual against the reference."""
    fig, (ax, res) = plt.subplots(1, 2, figsize=(10, 4.6))
    ax.scatter(ref, pred, s=3, alpha=0.4)
    lo, hi = float(np.min(ref)), float(np.max(ref))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"reference {what} ({unit})")
    ax.set_ylabel(f"predicted {what} ({unit})")
    ax.set_title(f"test {what}: MAE {mae:.3g}, RMSE {rmse:.3g} {unit}", fontsize=10)
    res.scatter(ref, np.asarray(pred) - np.asarray(ref), s=3, alpha=0.4)
    res.axhline(0.0, color="k", ls="--", lw=1)
    for sign in (-1, 1):
        res.axhline(sign * rmse, color="gray", ls=":", lw=1)
    res.set_xlabel(f"reference {what} ({unit})")
    res.set_ylabel(f"residual, predicted − reference ({unit})")
    res.set_title(f"residuals (dotted: ± RMSE {rmse:.3g} {unit})", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _plots(paths, model, test, scan, e_unit, r_unit) -> dict:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = {}
    f_unit = f"{e_unit}/{r_unit}"
    if scan is not None and scan.trainings > 1:
        s, e = zip(*sorted(zip(scan.sigmas, scan.errors)))
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.plot(s, [x["f_rmse"] for x in e], "o-", label="forces")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.set_xlabel("kernel length scale σ (descriptor units)")
        ax.set_ylabel(f"validation force RMSE ({f_unit})")
        if scan.scaled:
            ax.axvline(scan.search_best, color="gray", ls=":",
                       label=f"best σ on {scan.n_search} = {scan.search_best:.3g} ({scan.select})")
        ax.axvline(scan.best, color="gray", ls="--", label=f"chosen σ = {scan.best:.3g}"
                   + (f" for {scan.n_train}" if scan.scaled else f" ({scan.select})"))
        handles = ax.get_lines()
        if not np.isnan(e[0]["e_rmse"]):
            ax2 = ax.twinx()
            handles += ax2.plot(s, [x["e_rmse"] for x in e], "s:", color="C1", label="energies (right axis)")
            ax2.set_ylabel(f"validation energy RMSE ({e_unit})", color="C1")
        ax.legend(handles=handles, loc="upper center")
        ax.set_title("σ search on the validation set"
                     + (f", trained on {scan.n_search} of the {scan.n_train} geometries" if scan.scaled else "")
                     + (f"\n{scan.select_note}" if scan.select_note else ""),
                     fontsize=10)
        fig.tight_layout()
        _save(fig, paths["sigma_scan"])
        plt.close(fig)
        written["sigma_scan"] = paths["sigma_scan"]
    if test is None or "samples" not in test:
        return written
    smp = test["samples"]
    if len(smp["E_ref"]):
        _parity(plt, smp["E_ref"], smp["E_pred"], "energy", e_unit, test["e_mae"], test["e_rmse"], paths["energies"])
        written["energies"] = paths["energies"]
    Fr, Fp = smp["F_ref"], smp["F_pred"]
    if len(Fr):
        _parity(plt, Fr.ravel(), Fp.ravel(), "force component", f_unit, test["f_mae"], test["f_rmse"],
                paths["forces"])
        written["forces"] = paths["forces"]
        z = np.asarray(model.arrays["z"])
        err = Fp - Fr  # (frames, N, 3)
        fig, ax = plt.subplots(figsize=(6, 4))
        for species in np.unique(z):
            vals = err[:, z == species, :].ravel()
            ax.hist(vals, bins=60, histtype="step", density=True,
                    label=f"{element_symbol(int(species))} (MAE {np.abs(vals).mean():.3g})")
        ax.set_xlabel(f"force component error, predicted − reference ({f_unit})")
        ax.set_ylabel("probability density")
        ax.set_title("test force errors per element")
        ax.legend()
        fig.tight_layout()
        _save(fig, paths["force_errors"])
        plt.close(fig)
        written["force_errors"] = paths["force_errors"]
    return written
