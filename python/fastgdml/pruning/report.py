"""Pruning report: JSON with the whole curve and PNG plots next to the pruned model (``fastgdml prune``).

Files for ``-o m.npz``: ``m.prune.json``; ``m.prune_curve.png`` (validation force/energy RMSE against the kept
fraction, like Fig. 2 of the rGDML paper); ``m.kept_features.png`` (short- and long-range features kept at each
fraction); ``m.interactions.png`` (per-atom force contributions F_l^k of the full and the pruned model next to
the mean interatomic distances, and additive per-atom energy contributions relative to the sample's lowest-energy
geometry).
"""
from __future__ import annotations

import numpy as np

from ..data.elements import element_symbol
from ..evaluation.report import _save, _units, write_json_and_plots


def prune_paths(model_path: str) -> dict:
    """The files written next to a pruned model: its JSON report and plots, by kind."""
    stem = model_path[:-4] if model_path.endswith(".npz") else model_path
    return {key: f"{stem}.{key}.{'json' if key == 'prune' else 'png'}"
            for key in ("prune", "prune_curve", "kept_features", "interactions")}


def write_prune_report(model_path: str, model, result, tests: dict, maps, extra: dict,
                       short_cutoff: float, plots: bool = True) -> dict:
    """JSON (and plots) of a pruning run; ``tests`` maps a label to test errors, ``maps`` holds the interaction
    analysis of the full ("full") and pruned ("pruned") models. Returns the paths written."""
    paths = prune_paths(model_path)
    e_unit, r_unit = _units(model)
    data = {"model": model_path, "units": {"energy": e_unit, "force": f"{e_unit}/{r_unit}", "length": r_unit},
            "best_fraction": result.best, "n_features": int(len(result.scores)),
            "short_range_cutoff": short_cutoff, "scoring_geometries": int(len(result.idxs_score)),
            "scoring_seconds": result.score_seconds,
            "curve": [{"fraction": f, "features": k, "short_range": s, "long_range": k - s, "train_seconds": t,
                       **{key: float(v) for key, v in e.items() if key != "samples"}}
                      for f, k, s, e, t in zip(result.fractions, result.kept, result.short, result.errors,
                                               result.seconds)],
            "test": {label: {k: v for k, v in t.items() if k != "samples"} for label, t in tests.items()},
            "scores": [float(x) for x in result.scores], "mask": [int(i) for i in result.masks[result.best]]}
    if maps:
        data["interactions"] = {label: {k: np.asarray(v).tolist() for k, v in m.items()} for label, m in maps.items()}
    data.update(extra)
    return write_json_and_plots(paths["prune"], data,
                                lambda: _plots(paths, model, result, maps, e_unit, r_unit, short_cutoff), plots)


def _plots(paths, model, result, maps, e_unit, r_unit, short_cutoff) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = {}
    f_unit = f"{e_unit}/{r_unit}"
    fr = np.array(result.fractions)
    fig, ax = plt.subplots(figsize=(6, 4))
    handles = ax.plot(fr, [e["f_rmse"] for e in result.errors], "o-", label="forces")
    ax.axvline(result.best, color="gray", ls="--", lw=1)
    handles += [ax.axhline(result.errors[int(np.argmax(fr))]["f_rmse"], color="C0", ls=":", lw=1,
                           label=f"full model (fraction {fr.max():g})")]
    if not np.isnan(result.errors[0]["e_rmse"]):
        ax2 = ax.twinx()
        handles += ax2.plot(fr, [e["e_rmse"] for e in result.errors], "s:", color="C1", label="energies (right axis)")
        ax2.set_ylabel(f"validation energy RMSE ({e_unit})", color="C1")
    ax.set_xlabel("kept fraction of descriptor features")
    ax.set_ylabel(f"validation force RMSE ({f_unit})")
    ax.set_title(f"descriptor pruning: best fraction {result.best:g} ({result.kept[list(fr).index(result.best)]} "
                 f"of {len(result.scores)} features)", fontsize=10)
    ax.invert_xaxis()
    ax.legend(handles=handles, loc="best", fontsize=8)
    fig.tight_layout()
    _save(fig, paths["prune_curve"])
    plt.close(fig)
    written["prune_curve"] = paths["prune_curve"]

    fig, ax = plt.subplots(figsize=(6, 4))
    short = np.array(result.short)
    long_ = np.array(result.kept) - short
    width = 0.6 * (np.min(np.diff(np.sort(fr))) if len(fr) > 1 else 0.1)
    ax.bar(fr, short, width, label=f"short range (always < {short_cutoff:g} {r_unit})")
    ax.bar(fr, long_, width, bottom=short, label="long range")
    ax.set_xlabel("kept fraction of descriptor features")
    ax.set_ylabel("features kept")
    ax.set_title("kept features by range")
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, paths["kept_features"])
    plt.close(fig)
    written["kept_features"] = paths["kept_features"]

    if maps:
        labels = [element_symbol(int(z)) + str(i) for i, z in enumerate(np.asarray(model.arrays["z"]))]
        N = len(labels)
        step = max(1, N // 24)  # at most ~24 tick labels per axis stay readable
        fig, axes = plt.subplots(2, 2, figsize=(11, 10))
        vmax = max(float(np.max(m["force"])) for m in maps.values())
        panels = [(axes[0, 0], maps["full"]["force"], f"full model: $F_l^k$, atom k's part of the force on l\n"
                   f"({f_unit})", vmax, "viridis"),
                  (axes[0, 1], maps["pruned"]["force"], f"pruned model: $F_l^k$ ({f_unit})", vmax, "viridis"),
                  (axes[1, 0], maps["full"]["distance"], f"mean interatomic distance ({r_unit})", None, "magma_r")]
        for ax, mat, title, top, cmap in panels:
            im = ax.imshow(mat, cmap=cmap, vmin=0, vmax=top)
            ax.set_title(title, fontsize=10)
            ax.set_xticks(range(0, N, step), labels[::step], rotation=90, fontsize=7)
            ax.set_yticks(range(0, N, step), labels[::step], fontsize=7)
            ax.set_xlabel("atom k")
            ax.set_ylabel("atom l")
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax = axes[1, 1]
        x = np.arange(N)
        ax.bar(x - 0.2, maps["full"]["energy"], 0.4, label="full")
        ax.bar(x + 0.2, maps["pruned"]["energy"], 0.4, label="pruned")
        ax.set_xticks(range(0, N, step), labels[::step], rotation=90, fontsize=7)
        ax.set_xlabel("atom")
        ax.set_ylabel(f"mean contribution to E − E_ref ({e_unit})", fontsize=9)
        ax.set_title(f"per-atom energy contributions (integrated forces; they sum to the mean E − E_ref, full "
                     f"{maps['full']['energy_difference']:.3g} {e_unit})", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        _save(fig, paths["interactions"])
        plt.close(fig)
        written["interactions"] = paths["interactions"]
    return written
