"""The commands that train: train, learning-curve, prune."""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

from ..evaluation.metrics import errors_text, unused_frames
from ..units import unit_labels
from .commands import CliError, check_outputs


def cmd_train(args) -> int:
    """``fastgdml train``: output checks, one training or a sigma search, test errors, the report."""
    from ..data.dataset import Dataset
    from ..evaluation.report import report_paths
    from ..io.outputs import check_output, same_file
    from ..training.fit import train

    inputs = [args.dataset, args.perms_from, args.valid_dataset, args.test_dataset]
    reports = report_paths(args.output)
    check_outputs(args, ".npz", "model", reports.values() if not args.no_plots else [reports["json"]],
                   inputs=inputs)
    checkpoint = args.checkpoint or os.path.splitext(args.output)[0] + ".ckpt.npz"
    if args.resume and not os.path.exists(checkpoint):
        raise CliError(f"--resume but no checkpoint {checkpoint}")
    if args.solver != "cholesky" and (args.sigma is not None or args.n_valid == 0):  # CG may write it
        if same_file(checkpoint, args.output):
            raise CliError(f"--checkpoint {checkpoint} is the model file; give the checkpoint another name")
        if os.path.lexists(checkpoint) and not (args.resume or args.overwrite):
            raise CliError(f"{checkpoint} exists (the checkpoint of an interrupted training?); continue it with "
                           f"--resume or pass --overwrite to start over")
        check_output(checkpoint, inputs=inputs, suffixes=(".npz",), overwrite=True, what="checkpoint")
    dataset = Dataset.load(args.dataset)
    perms = None
    if args.perms_from:
        from ..symmetry.group import read_perms

        perms = read_perms(args.perms_from, dataset.z, molecule=args.dataset, error=CliError)
    lead = getattr(args, "lead_rank", True)  # MPI: rank 0 alone reports
    kw = dict(lam=args.lam, use_E=args.use_E, use_E_cstr=args.use_E_cstr, perms=perms, verbose=not args.quiet and lead,
              solver=args.solver, tol=args.tol,
              max_memory=None if args.max_memory is None else int(args.max_memory * 1e9), inducing=args.inducing,
              block_jacobi=args.block_jacobi, symmetries=args.symmetries, max_perms=args.max_perms,
              valid_dataset=None if args.valid_dataset is None else Dataset.load(args.valid_dataset),
              backend=args.backend)
    t0 = time.perf_counter()
    scan = None
    if args.sigma is None and args.n_valid != 0:
        if args.resume:
            raise CliError("--resume continues one training; give its --sigma")
        from ..training.sigma_search import search_sigma

        if args.search_n_train is not None and args.search_n_train > args.n_train:
            raise CliError(f"--search-n-train {args.search_n_train} is larger than --n-train {args.n_train}")
        model, scan = search_sigma(dataset, args.n_train, seed=args.seed, n_valid=args.n_valid, lams=args.lams,
                                   select=args.select, search_n_train=args.search_n_train, **kw)
        if lead:
            where = (f" on {scan.n_search} of the {scan.n_train} geometries, best sigma {scan.search_best:g} "
                     f"scaled to {scan.best:g}" if scan.scaled else f", best sigma {scan.best:g}")
            print(f"sigma search: {scan.trainings} trainings{where} (selected on {scan.select})\n{scan.table()}")
    else:
        if args.search_n_train is not None:
            raise CliError("--search-n-train sets the sigma search: leave out --sigma and keep --n-valid > 0")
        if args.lams:
            raise CliError("--lams is searched together with sigma: leave out --sigma and keep --n-valid > 0")
        if args.select != "combined":
            print("fastgdml: --select has no effect with --sigma or --n-valid 0 (no sigma search)", file=sys.stderr)
        if args.sigma is None:
            args.sigma = 20.0
            print("fastgdml: no --sigma and no validation set (--n-valid 0): using 20", file=sys.stderr)
        model = train(dataset, args.n_train, args.sigma, seed=args.seed, n_valid=args.n_valid, checkpoint=checkpoint,
                      checkpoint_interval=args.checkpoint_interval, resume=checkpoint if args.resume else None, **kw)
    if not lead:
        return 0  # MPI: every rank holds the model; rank 0 writes it and reports
    model.save(args.output)
    e_unit, f_unit, _ = unit_labels(dataset.e_unit, dataset.r_unit)
    f_err = model.arrays["f_err"].item()
    print(f"trained {model!r} in {time.perf_counter() - t0:.1f} s -> {args.output}")
    print(f"  symmetry group: {len(model.perms)} permutation(s)")
    if np.isfinite(f_err["mae"]):
        e_err = model.arrays["e_err"].item() if "e_err" in model.arrays else {"mae": np.nan, "rmse": np.nan}
        err = {"f_mae": f_err["mae"], "f_rmse": f_err["rmse"], "e_mae": e_err["mae"], "e_rmse": e_err["rmse"]}
        print(f"validation ({len(model.idxs_valid)} frames): {errors_text(err, e_unit, f_unit)}")
    train_seconds = time.perf_counter() - t0
    test_set = dataset if args.test_dataset is None else Dataset.load(args.test_dataset)
    if test_set.n_atoms != dataset.n_atoms or not np.array_equal(test_set.z, dataset.z):
        raise CliError(f"{args.test_dataset} holds a different molecule than {args.dataset}")
    unused = unused_frames(model, test_set)
    if args.n_test is not None and args.n_test < len(unused):
        unused = np.sort(np.random.default_rng(args.seed).choice(unused, args.n_test, replace=False))
    test = None
    if len(unused) and args.n_test != 0:
        from ..evaluation.metrics import prediction_errors

        test = prediction_errors(model, test_set, unused, keep=2000, progress=not args.quiet)
        where = "" if args.test_dataset is None else " of " + args.test_dataset
        print(f"test ({test['n']} unused frames{where}): {errors_text(test, e_unit, f_unit)}; force angle MAE "
              f"{test['f_angle_mae_deg']:.3g}°")
    from ..evaluation.report import write_report

    written = write_report(args.output, model, test, scan=scan, plots=not args.no_plots,
                           extra={"train_seconds": train_seconds, "dataset": os.path.abspath(args.dataset),
                                  "seed": args.seed})
    print("report: " + ", ".join(sorted(written.values())))
    if not model.converged:
        print(f"fastgdml: warning: CG did not converge; continue with --resume (checkpoint {checkpoint})",
              file=sys.stderr)
        return 3
    return 0


def cmd_learning_curve(args) -> int:
    """``fastgdml learning-curve``: test errors against n_train, JSON and plot."""
    from ..data.dataset import Dataset
    from ..io.npz import atomic_path
    from ..training.learning_curve import learning_curve, learning_curve_table, plot_learning_curve

    png = os.path.splitext(args.output)[0] + ".png"
    check_outputs(args, ".json", "learning curve", [png], inputs=[args.dataset])
    dataset = Dataset.load(args.dataset)
    rows = learning_curve(dataset, args.sizes, sigma=args.sigma, n_valid=args.n_valid, n_test=args.n_test,
                          seed=args.seed, verbose=not args.quiet, select=args.select, symmetries=args.symmetries,
                          backend=args.backend)
    print(learning_curve_table(rows, *unit_labels(dataset.e_unit, dataset.r_unit)[:2]))
    with atomic_path(args.output) as tmp:
        with open(tmp, "w") as f:
            json.dump({"dataset": os.path.abspath(args.dataset), "rows": rows}, f, indent=1)
    try:
        e_unit, _, r_unit = unit_labels(dataset.e_unit, dataset.r_unit)
        plot_learning_curve(rows, png, e_unit=e_unit, r_unit=r_unit)
        print(f"wrote {args.output} and {png}")
    except ImportError:
        print(f"wrote {args.output} (no plot: matplotlib is not installed)")
    return 0


def cmd_prune(args) -> int:
    """``fastgdml prune``: reduced descriptor of a model, its tests, maps and report."""
    from ..data.dataset import Dataset
    from ..evaluation.metrics import prediction_errors, unused_frames
    from ..model import Model
    from ..pruning.importance import interactions
    from ..pruning.report import prune_paths, write_prune_report
    from ..pruning.workflow import DEFAULT_FRACTIONS, prune

    derived = prune_paths(args.output).values() if not args.no_plots else [prune_paths(args.output)["prune"]]
    check_outputs(args, ".npz", "pruned model", derived, inputs=[args.model, args.dataset])
    model, dataset = Model.load(args.model, backend=args.backend), Dataset.load(args.dataset)
    t0 = time.perf_counter()
    best, result = prune(model, dataset, fractions=args.fractions or DEFAULT_FRACTIONS, n_score=args.n_score,
                         short_cutoff=args.short_cutoff, protect_short=args.protect_short, seed=args.seed,
                         verbose=not args.quiet, solver=args.solver, tol=args.tol,
                         max_memory=None if args.max_memory is None else int(args.max_memory * 1e9))
    best.save(args.output)
    print(f"pruning: {len(result.fractions)} kept fractions in {time.perf_counter() - t0:.1f} s (scores of "
          f"{len(result.scores)} features on {len(result.idxs_score)} geometries: {result.score_seconds:.1f} s)")
    e_unit, f_unit, _ = unit_labels(dataset.e_unit, dataset.r_unit)
    print(result.table(f_unit, e_unit))
    print(f"best: fraction {result.best:g} -> {args.output}")
    unused = np.setdiff1d(unused_frames(best, dataset), result.idxs_score)
    rng = np.random.default_rng(args.seed)
    if args.n_test is not None and args.n_test < len(unused):
        unused = np.sort(rng.choice(unused, args.n_test, replace=False))
    tests = {}
    if len(unused) and args.n_test != 0:
        for label, m in (("full", model), ("pruned", best)):
            tests[label] = prediction_errors(m, dataset, unused, progress=not args.quiet)
            print(f"test {label} model ({tests[label]['n']} frames): force MAE {tests[label]['f_mae']:.4g} "
                  f"RMSE {tests[label]['f_rmse']:.4g} [{f_unit}], energy MAE {tests[label]['e_mae']:.4g} [{e_unit}]")
    maps = None
    if args.interaction_frames:
        frames = np.sort(rng.choice(len(dataset), min(args.interaction_frames, len(dataset)), replace=False))
        # one reference for both models, so that their energy contributions are comparable
        ref = None if dataset.E is None else dataset.R[frames[int(np.argmin(dataset.E[frames]))]]
        maps = {"full": interactions(model, dataset.R[frames], ref), "pruned": interactions(best, dataset.R[frames], ref)}
    written = write_prune_report(args.output, best, result, tests, maps, short_cutoff=args.short_cutoff,
                                 plots=not args.no_plots,
                                 extra={"source_model": os.path.abspath(args.model),
                                        "dataset": os.path.abspath(args.dataset), "seed": args.seed,
                                        "seconds": time.perf_counter() - t0})
    print("report: " + ", ".join(sorted(written.values())))
    return 0
