"""The ``fastgdml`` command line: train, test, info, learning-curve, prune, convert, ipi."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time

import numpy as np


class CliError(Exception):
    """A problem with the command line or its files, reported as one 'fastgdml: error:' line (exit status 2)."""


def _int_at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an integer >= {low}, got {text}")
        return value
    return parse


def _float_in(low: float, high: float = float("inf"), low_open: bool = True, high_open: bool = True):
    """A finite float in the interval (low, high) (ends open or closed), checked by argparse."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
        ok = (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
        if not (ok and value == value and abs(value) != float("inf")):
            interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be a finite number in {interval}, got {text}")
        return value
    return parse


_positive_int, _count = _int_at_least(1), _int_at_least(0)
_positive_float, _nonnegative_float = _float_in(0.0), _float_in(0.0, low_open=False)


def _build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="fastgdml", description="Fast global machine-learned force fields "
                                     "(sGDML-compatible).")
    parser.add_argument("--version", action="version", version=f"fastgdml {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model on a dataset (closed form or preconditioned CG)",
                       description="Train a GDML/sGDML model on an sGDML dataset .npz and write the model .npz.")
    t.add_argument("dataset", help="sGDML dataset .npz")
    t.add_argument("--n-train", type=_positive_int, required=True, help="number of training geometries")
    t.add_argument("--sigma", type=_positive_float, default=None,
                   help="kernel length scale in descriptor space (default: searched on the validation set, "
                        "starting at 20: bracketing + golden section in log sigma, about 10 trainings; without "
                        "validation geometries (--n-valid 0) 20 is used)")
    t.add_argument("--lam", type=_nonnegative_float, default=1e-10, help="ridge regulariser lambda (default: 1e-10)")
    t.add_argument("--lams", type=_nonnegative_float, nargs="+", default=None, metavar="LAM",
                   help="with the sigma search: also train the chosen sigma with each of these lambdas (and --lam) "
                        "and keep the best on the validation set, e.g. --lams 1e-8 1e-6 (default: --lam only)")
    t.add_argument("--n-valid", type=_count, default=None,
                   help="validation geometries from the rest of the dataset (default: up to 1000; 0: none)")
    energy = t.add_mutually_exclusive_group()
    energy.add_argument("--no-E", dest="use_E", action="store_false", help="ignore energies (forces only)")
    energy.add_argument("--E-cstr", dest="use_E_cstr", action="store_true",
                        help="add energy constraints to the kernel")
    t.add_argument("--perms-from", metavar="FILE",
                   help="take the atom permutations from this dataset or model file (key 'perms')")
    t.add_argument("--n-test", type=_count, default=None,
                   help="test geometries from the unused rest of the dataset (default: all; 0: no test)")
    t.add_argument("--valid-dataset", metavar="FILE", default=None,
                   help="draw the validation frames from this dataset (same molecule; recorded by md5)")
    t.add_argument("--test-dataset", metavar="FILE", default=None,
                   help="test on this dataset (frames used for training/validation are left out when it is the "
                        "same dataset, by md5)")
    t.add_argument("--no-plots", action="store_true", help="write the JSON report without PNG plots")
    t.add_argument("--symmetries", choices=("auto", "none"), default="auto",
                   help="without --perms-from or a 'perms' key in the dataset: find the permutation group from the "
                        "training geometries (auto) or use none (default: auto)")
    t.add_argument("--max-perms", type=_positive_int, default=100,
                   help="size budget of the automatic symmetry search (default: 100; training cost grows "
                        "linearly with it)")
    t.add_argument("--seed", type=_count, default=0, help="seed of the train/validation sampling (default: 0)")
    t.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    t.add_argument("--solver", choices=("auto", "cholesky", "cg"), default="auto",
                   help="closed-form Cholesky, preconditioned CG, or auto: Cholesky when the dense kernel matrix "
                        "fits --max-memory (default: auto)")
    t.add_argument("--tol", type=_float_in(0.0, 1.0), default=1e-4, help="CG tolerance on |r|/|y| (default: 1e-4)")
    t.add_argument("--max-memory", type=_positive_float, default=None, metavar="GB",
                   help="memory budget of the solver in GB (default: 90%% of available memory for Cholesky, "
                        "50%% for CG)")
    t.add_argument("--inducing", type=_positive_int, default=None,
                   help="inducing columns of the CG preconditioner (default: 4%% of the unknowns, at least 1700, "
                        "within --max-memory)")
    t.add_argument("--checkpoint", default=None, metavar="FILE",
                   help="CG checkpoint file (default: OUTPUT with .ckpt.npz); removed after convergence")
    t.add_argument("--checkpoint-interval", type=_nonnegative_float, default=300.0, metavar="SECONDS",
                   help="seconds between CG checkpoints (default: 300)")
    t.add_argument("--resume", action="store_true", help="continue an interrupted CG run from its checkpoint")
    t.add_argument("--block-jacobi", action="store_true",
                   help="CG: add a block-Jacobi correction to the Nyström preconditioner (off by default)")

    s = sub.add_parser("test", help="errors of a model on a dataset",
                       description="Predict the geometries of a dataset and report energy and force errors. "
                                   "Training and validation frames are left out when the dataset is the one the "
                                   "model was trained on.")
    s.add_argument("model", help="model .npz (fastgdml or sgdml)")
    s.add_argument("dataset", help="sGDML dataset .npz")
    s.add_argument("--n-test", type=_positive_int, default=None, help="test on this many frames (default: all)")
    s.add_argument("--seed", type=_count, default=0, help="seed for choosing --n-test frames (default: 0)")
    s.add_argument("--json", action="store_true", help="print one JSON line with e_mae, e_rmse, f_mae, f_rmse")

    i = sub.add_parser("info", help="describe a dataset or model file, or (without FILE) this installation",
                       description="Summary of a dataset or model file; without FILE: version, compute backends, "
                                   "BLAS and threads of this installation.")
    i.add_argument("file", nargs="?", help="dataset or model .npz")

    lc = sub.add_parser("learning-curve", help="test errors against n_train (choosing a training budget)",
                        description="Trains at each --sizes value and tests on the same held-out frames; writes "
                                    "OUTPUT (.json) and a log-log plot next to it (.png, needs matplotlib).")
    lc.add_argument("dataset", help="sGDML dataset .npz")
    lc.add_argument("--sizes", type=_positive_int, nargs="+", required=True, help="training-set sizes")
    lc.add_argument("--sigma", type=_positive_float, default=None, help="fixed sigma (default: searched per size)")
    lc.add_argument("--n-valid", type=_positive_int, default=200, help="validation frames of the sigma search (default 200)")
    lc.add_argument("--n-test", type=_positive_int, default=1000, help="common test frames (default 1000)")
    lc.add_argument("--symmetries", choices=("auto", "none"), default="auto", help="as for train (default: auto)")
    lc.add_argument("--seed", type=_count, default=0)
    lc.add_argument("-o", "--output", required=True, help="JSON file to write (.json; the plot goes next to it)")
    lc.add_argument("--overwrite", action="store_true", help="replace existing output files")
    lc.add_argument("-q", "--quiet", action="store_true")

    pr = sub.add_parser("prune", help="reduce the descriptor of a model (rGDML): score features, retrain kept "
                                      "fractions, keep the best on validation",
                        description="Scores every descriptor feature of MODEL on unused geometries of DATASET, "
                                    "retrains on each kept fraction (whole symmetry orbits of atom pairs), picks "
                                    "the fraction of lowest validation force RMSE, tests the full and the chosen "
                                    "model on the remaining frames, and writes OUTPUT, OUTPUT.prune.json and PNG "
                                    "plots (curve, kept features by range, interaction maps).")
    pr.add_argument("model", help="trained model .npz (fastgdml or sgdml)")
    pr.add_argument("dataset", help="the dataset the model was trained on (checked by md5)")
    pr.add_argument("--fractions", type=_float_in(0.0, 1.0, high_open=False), nargs="+", default=None,
                    metavar="F", help="kept fractions to retrain (default: 1.0 0.9 ... 0.2)")
    pr.add_argument("--n-score", type=_positive_int, default=300,
                    help="geometries to score the features on (default: 300)")
    pr.add_argument("--short-cutoff", type=_positive_float, default=5.0, metavar="LENGTH",
                    help="pairs closer than this in every sampled geometry are short-range (default: 5, in the "
                         "dataset's length unit)")
    pr.add_argument("--protect-short", action="store_true", help="always keep the short-range pairs")
    pr.add_argument("--n-test", type=_count, default=None,
                    help="test frames (default: every frame not used for training, validation or scoring; 0: none)")
    pr.add_argument("--interaction-frames", type=_count, default=100,
                    help="geometries for the interaction maps (default: 100; 0: skip them)")
    pr.add_argument("--solver", choices=("auto", "cholesky", "cg"), default="auto", help="as for train")
    pr.add_argument("--max-memory", type=_positive_float, default=None, metavar="GB", help="as for train")
    pr.add_argument("--tol", type=_float_in(0.0, 1.0), default=1e-4, help="as for train (default: 1e-4)")
    pr.add_argument("--seed", type=_count, default=0, help="sampling of scoring/test frames (default: 0)")
    pr.add_argument("--no-plots", action="store_true", help="write the JSON report without PNG plots")
    pr.add_argument("-o", "--output", required=True, help="pruned model file to write (.npz)")
    pr.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    pr.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")

    ip = sub.add_parser("ipi", help="serve a model to an i-PI server over its socket protocol (PIMD, MD)",
                        description="Connects to a running i-PI server (<ffsocket> in its input) and evaluates the "
                                    "geometries it sends, one at a time, until i-PI ends the simulation. For all "
                                    "beads in one batch use i-PI's <ffdirect> route instead (fastgdml.ipi.pes_path()).")
    ip.add_argument("model", help="model .npz (fastgdml or sgdml)")
    where = ip.add_mutually_exclusive_group(required=True)
    where.add_argument("--unix", metavar="NAME", help="i-PI's <address> of a mode='unix' socket (/tmp/ipi_NAME)")
    where.add_argument("--host", help="host of a mode='inet' socket (with --port)")
    ip.add_argument("--port", type=_int_at_least(1), default=None, help="port of a mode='inet' socket")
    ip.add_argument("--energy-unit", default=None, help="the model's energy unit (default: its e_unit, else kcal/mol)")
    ip.add_argument("--length-unit", default=None, help="the model's length unit (default: its r_unit, else Ang)")
    ip.add_argument("--wait", type=_positive_float, default=60.0, metavar="SECONDS",
                    help="how long to retry connecting while i-PI starts (default: 60)")
    ip.add_argument("-q", "--quiet", action="store_true")

    c = sub.add_parser("convert", help="trajectory with energies and forces (any ASE format) <-> dataset .npz",
                       description="IN.npz -> OUT.xyz or OUT.extxyz (extxyz in eV, eV/Ang, Ang), or any file ASE "
                                   "reads with energies and forces (extxyz, .traj, ASE db, ...) -> OUT.npz. Needs "
                                   "ASE.")
    c.add_argument("input")
    c.add_argument("output")
    c.add_argument("--e-unit", default="kcal/mol",
                   help="energy unit of the dataset written (default: kcal/mol; also kJ/mol, eV, meV, Hartree)")
    c.add_argument("--r-unit", default="Ang", help="length unit of the dataset written (default: Ang; also Bohr, nm)")
    c.add_argument("--name", default=None, help="dataset name (default: the input's file name)")
    c.add_argument("--theory", default="unknown", help="level of theory recorded in the dataset")
    c.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    return parser


def _cmd_prune(args) -> int:
    from .dataset import Dataset
    from .features import interactions
    from .metrics import prediction_errors
    from .model import Model
    from .prune import DEFAULT_FRACTIONS, prune
    from .prune_report import prune_paths, write_prune_report

    derived = prune_paths(args.output).values() if not args.no_plots else [prune_paths(args.output)["prune"]]
    _check_outputs(args, ".npz", "pruned model", derived, inputs=[args.model, args.dataset])
    model, dataset = Model.load(args.model), Dataset.load(args.dataset)
    t0 = time.perf_counter()
    best, result = prune(model, dataset, fractions=args.fractions or DEFAULT_FRACTIONS, n_score=args.n_score,
                         short_cutoff=args.short_cutoff, protect_short=args.protect_short, seed=args.seed,
                         verbose=not args.quiet, solver=args.solver, tol=args.tol,
                         max_memory=None if args.max_memory is None else int(args.max_memory * 1e9))
    best.save(args.output)
    print(f"pruning: {len(result.fractions)} kept fractions in {time.perf_counter() - t0:.1f} s (scores of "
          f"{len(result.scores)} features on {len(result.idxs_score)} geometries: {result.score_seconds:.1f} s)")
    print(result.table())
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
                  f"RMSE {tests[label]['f_rmse']:.4g}, energy MAE {tests[label]['e_mae']:.4g}")
    maps = None
    if args.interaction_frames:
        frames = np.sort(rng.choice(len(dataset), min(args.interaction_frames, len(dataset)), replace=False))
        maps = {"full": interactions(model, dataset.R[frames]), "pruned": interactions(best, dataset.R[frames])}
    written = write_prune_report(args.output, best, result, tests, maps, short_cutoff=args.short_cutoff,
                                 plots=not args.no_plots,
                                 extra={"source_model": os.path.abspath(args.model),
                                        "dataset": os.path.abspath(args.dataset), "seed": args.seed,
                                        "seconds": time.perf_counter() - t0})
    print("report: " + ", ".join(sorted(written.values())))
    return 0


def _cmd_learning_curve(args) -> int:
    from ._npz import atomic_path
    from .dataset import Dataset
    from .learning_curve import learning_curve, plot_learning_curve

    png = os.path.splitext(args.output)[0] + ".png"
    _check_outputs(args, ".json", "learning curve", [png], inputs=[args.dataset])
    dataset = Dataset.load(args.dataset)
    rows = learning_curve(dataset, args.sizes, sigma=args.sigma, n_valid=args.n_valid, n_test=args.n_test,
                          seed=args.seed, verbose=not args.quiet, symmetries=args.symmetries)
    print("  n_train   sigma   test F MAE   test F RMSE   test E MAE")
    for r in rows:
        print(f"  {r['n_train']:7d} {r['sigma']:7.3g} {r['f_mae']:12.4g} {r['f_rmse']:13.4g} {r['e_mae']:12.4g}")
    with atomic_path(args.output) as tmp:
        with open(tmp, "w") as f:
            json.dump({"dataset": os.path.abspath(args.dataset), "rows": rows}, f, indent=1)
    try:
        plot_learning_curve(rows, png, e_unit=dataset.e_unit or "kcal/mol")
        print(f"wrote {args.output} and {png}")
    except ImportError:
        print(f"wrote {args.output} (no plot: matplotlib is not installed)")
    return 0


def _cmd_convert(args) -> int:
    from . import ase_io
    from .dataset import Dataset

    # The format written follows the direction: a dataset becomes extxyz, anything else a dataset.
    to_xyz = args.input.lower().endswith(".npz")
    ase_io.energy_factor(args.e_unit), ase_io.length_factor(args.r_unit)  # a typo is refused either way
    _check_outputs(args, (".xyz", ".extxyz") if to_xyz else ".npz", "trajectory (extxyz)" if to_xyz else "dataset",
                   [], inputs=[args.input])
    if to_xyz:
        ds = Dataset.load(args.input)
        ase_io.write_extxyz(ds, args.output)
        print(f"wrote {len(ds)} frames of {args.input} ({ds.e_unit or 'kcal/mol'}, {ds.r_unit or 'Ang'}) to "
              f"{args.output} (eV, eV/Ang, Ang)")
    else:
        ds = ase_io.read_trajectory(args.input, e_unit=args.e_unit, r_unit=args.r_unit, name=args.name,
                                    theory=args.theory)
        ds.save(args.output)
        print(f"wrote {ds!r} to {args.output} ({args.e_unit}, {args.r_unit})")
    return 0


def _cmd_train(args) -> int:
    from ._outputs import check_output, same_file
    from .dataset import Dataset
    from .report import report_paths
    from .train import train

    inputs = [args.dataset, args.perms_from, args.valid_dataset, args.test_dataset]
    reports = report_paths(args.output)
    _check_outputs(args, ".npz", "model", reports.values() if not args.no_plots else [reports["json"]],
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
        from ._npz import load_npz
        from .symmetry import validate_perms

        src = load_npz(args.perms_from)
        if "perms" not in src:
            raise CliError(f"{args.perms_from} has no key 'perms'")
        z = np.asarray(src.get("z", dataset.z))
        if z.shape != dataset.z.shape or not np.array_equal(z, dataset.z):
            raise CliError(f"{args.perms_from} describes another molecule than {args.dataset} (its 'z' has "
                           f"{z.size} atoms{'' if z.size != dataset.n_atoms else ' in another order'}); take the "
                           f"permutations from a file of this molecule")
        perms = validate_perms(src["perms"], dataset.n_atoms, where=f"{args.perms_from}: 'perms'", error=CliError)
    kw = dict(lam=args.lam, use_E=args.use_E, use_E_cstr=args.use_E_cstr, perms=perms, verbose=not args.quiet,
              solver=args.solver, tol=args.tol,
              max_memory=None if args.max_memory is None else int(args.max_memory * 1e9), inducing=args.inducing,
              block_jacobi=args.block_jacobi, symmetries=args.symmetries, max_perms=args.max_perms,
              valid_dataset=None if args.valid_dataset is None else Dataset.load(args.valid_dataset))
    t0 = time.perf_counter()
    scan = None
    if args.sigma is None and args.n_valid != 0:
        if args.resume:
            raise CliError("--resume continues one training; give its --sigma")
        from .search import search_sigma

        model, scan = search_sigma(dataset, args.n_train, seed=args.seed, n_valid=args.n_valid, lams=args.lams,
                                   **kw)
        print(f"sigma search: {scan.trainings} trainings, best sigma {scan.best:g}\n{scan.table()}")
    else:
        if args.lams:
            raise CliError("--lams is searched together with sigma: leave out --sigma and keep --n-valid > 0")
        if args.sigma is None:
            args.sigma = 20.0
            print("fastgdml: no --sigma and no validation set (--n-valid 0): using 20", file=sys.stderr)
        model = train(dataset, args.n_train, args.sigma, seed=args.seed, n_valid=args.n_valid, checkpoint=checkpoint,
                      checkpoint_interval=args.checkpoint_interval, resume=checkpoint if args.resume else None, **kw)
    model.save(args.output)
    f_err = model.arrays["f_err"].item()
    print(f"trained {model!r} in {time.perf_counter() - t0:.1f} s -> {args.output}")
    print(f"  symmetry group: {len(model.perms)} permutation(s)")
    if np.isfinite(f_err["mae"]):
        e_err = model.arrays.get("e_err")
        e_txt = "" if e_err is None else f", energy MAE {e_err.item()['mae']:.4g}"
        print(f"validation ({len(model.idxs_valid)} frames): force MAE {f_err['mae']:.4g}{e_txt}")
    train_seconds = time.perf_counter() - t0
    test_set = dataset if args.test_dataset is None else Dataset.load(args.test_dataset)
    if test_set.n_atoms != dataset.n_atoms or not np.array_equal(test_set.z, dataset.z):
        raise CliError(f"{args.test_dataset} holds a different molecule than {args.dataset}")
    unused = unused_frames(model, test_set)
    if args.n_test is not None and args.n_test < len(unused):
        unused = np.sort(np.random.default_rng(args.seed).choice(unused, args.n_test, replace=False))
    test = None
    if len(unused) and args.n_test != 0:
        from .metrics import prediction_errors

        test = prediction_errors(model, test_set, unused, keep=2000, progress=not args.quiet)
        e_txt = "" if np.isnan(test["e_mae"]) else f", energy MAE {test['e_mae']:.4g} RMSE {test['e_rmse']:.4g}"
        print(f"test ({test['n']} unused frames{'' if args.test_dataset is None else ' of ' + args.test_dataset}): force MAE {test['f_mae']:.4g} RMSE {test['f_rmse']:.4g}{e_txt}")
    from .report import write_report

    written = write_report(args.output, model, test, scan=scan, plots=not args.no_plots,
                           extra={"train_seconds": train_seconds, "dataset": os.path.abspath(args.dataset),
                                  "seed": args.seed})
    print("report: " + ", ".join(sorted(written.values())))
    if not model.converged:
        print(f"fastgdml: warning: CG did not converge; continue with --resume (checkpoint {checkpoint})",
              file=sys.stderr)
        return 3
    return 0


def _check_outputs(args, suffixes, what: str, derived, inputs) -> None:
    """Refuse, before any loading or training, an output that would fail or do harm only at the end.

    ``args.output`` must end in ``suffixes`` (the format follows the extension), and neither it nor the files
    ``derived`` from its name (reports, plots) may be an input, a directory, unwritable, or an existing file
    without ``--overwrite``. See ``_outputs.check_output``.
    """
    from ._outputs import check_output

    suffixes = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
    check_output(args.output, inputs=inputs, suffixes=suffixes, overwrite=args.overwrite, what=what)
    for path in derived:
        check_output(path, inputs=inputs, overwrite=args.overwrite, what=f"files written next to {args.output}")


def unused_frames(model, dataset) -> np.ndarray:
    """Indices of the dataset's frames the model was neither trained nor validated on (matched by md5)."""
    from ._npz import as_str

    excluded = [np.asarray(model.arrays[key_idx]) for key_md5, key_idx in
                (("md5_train", "idxs_train"), ("md5_valid", "idxs_valid"))
                if key_md5 in model.arrays and key_idx in model.arrays and as_str(model.arrays[key_md5]) == dataset.md5]
    idxs = np.arange(len(dataset))
    return np.setdiff1d(idxs, np.concatenate(excluded)) if excluded else idxs


def _cmd_test(args) -> int:
    from .dataset import Dataset
    from .metrics import prediction_errors
    from .model import Model

    model = Model.load(args.model)
    dataset = Dataset.load(args.dataset)
    if dataset.n_atoms != model.n_atoms or not np.array_equal(dataset.z, model.z):
        raise CliError(f"{args.dataset} holds a different molecule than {args.model} "
                         f"(atomic numbers differ)")
    idxs = unused_frames(model, dataset)
    if args.n_test is not None:
        if args.n_test > len(idxs):
            raise CliError(f"--n-test {args.n_test} but only {len(idxs)} frames are available")
        idxs = np.sort(np.random.default_rng(args.seed).choice(idxs, args.n_test, replace=False))
    if len(idxs) == 0:
        raise CliError("no test frames left (all were used for training/validation)")
    err = prediction_errors(model, dataset, idxs, progress=not args.json)
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in err.items()}))
    else:
        unit_e = model.e_unit or "energy units"
        print(f"{err['n']} test frames ({len(dataset) - len(idxs)} training/validation frames left out)")
        print(f"energy: MAE {err['e_mae']:.5g}  RMSE {err['e_rmse']:.5g}  [{unit_e}]")
        print(f"forces: MAE {err['f_mae']:.5g}  RMSE {err['f_rmse']:.5g}  [per component]")
    return 0


def _installation() -> None:
    from . import _core
    from ._version import __version__

    print(f"fastgdml {__version__}")
    print(f"  backends: {', '.join(_core.backends())}")
    print(f"  BLAS: {_core.blas_name()} ({_core.blas_threads()} threads)   OpenMP threads: {_core.get_num_threads()}")


def _cmd_ipi(args) -> int:
    from .ipi import main_driver

    if args.host is not None and args.port is None:
        raise CliError("--host needs --port")
    served, seconds = main_driver(args.model, args.unix, args.host, args.port, args.energy_unit, args.length_unit,
                                  args.wait, args.quiet)
    if not args.quiet:
        rate = f", {served / seconds:.1f} per s" if seconds > 0 and served else ""
        print(f"fastgdml ipi: served {served} geometries in {seconds:.1f} s{rate}", file=sys.stderr)
    return 0


def _cmd_info(args) -> int:
    from ._npz import MODEL_OBJECT_KEYS, as_str, load_npz

    if args.file is None:
        _installation()
        return 0
    d = load_npz(args.file, object_keys=MODEL_OBJECT_KEYS)
    kind = as_str(d["type"]) if "type" in d else ("d" if "R" in d else "?")
    if kind == "d":
        from .dataset import Dataset

        ds = Dataset.load(args.file)
        print(f"dataset {args.file}")
        print(f"  name: {ds.name}   theory: {ds.theory}   units: {ds.e_unit or '?'} / {ds.r_unit or '?'}")
        print(f"  geometries: {len(ds)}   atoms: {ds.n_atoms}   z: {ds.z.tolist()}")
        if ds.E is not None:
            print(f"  energies: min {ds.E.min():.6g}  max {ds.E.max():.6g}  std {ds.E.std():.4g}")
        print(f"  forces: std {ds.F.std():.4g}   lattice: {'yes' if ds.lattice is not None else 'no'}")
        print(f"  md5: {ds.md5}" + ("" if "md5" not in d or as_str(d["md5"]) == ds.md5 else
                                    f"  (stored md5 {as_str(d['md5'])} differs!)"))
    elif kind == "m":
        from .model import Model

        m = Model.load(args.file)
        print(f"model {args.file}")
        print(f"  atoms: {m.n_atoms}   training points: {m.n_train}   permutations: {len(m.perms)}")
        D = m.n_atoms * (m.n_atoms - 1) // 2
        if m.feature_mask is not None:
            print(f"  reduced descriptor: {len(m.feature_mask)} of {D} features (key 'feature_mask')")
        print(f"  sigma: {m.sigma:g}   lambda: {float(m.arrays.get('lam', np.nan)):g}   "
              f"energy constraints: {'yes' if m.use_E_cstr else 'no'}   solver: "
              f"{as_str(m.arrays['solver_name']) if 'solver_name' in m.arrays else '?'}")
        if "dataset_name" in m.arrays:
            print(f"  trained on: {as_str(m.arrays['dataset_name'])} "
                  f"(md5 {as_str(m.arrays['md5_train']) if 'md5_train' in m.arrays else '?'})")
        for key, label in (("f_err", "force"), ("e_err", "energy")):
            e = m.arrays[key].item() if key in m.arrays and np.asarray(m.arrays[key]).size == 1 else None
            try:
                print(f"  {label} error (validation/test): MAE {float(e['mae']):.4g}  RMSE {float(e['rmse']):.4g}")
            except (TypeError, KeyError, ValueError, IndexError):
                if key in m.arrays:
                    print(f"  {label} error: unreadable '{key}' entry (expected a dict with 'mae' and 'rmse')")
    else:
        raise CliError(f"{args.file} is neither a dataset nor a model (type '{kind}')")
    return 0


class _Terminated(KeyboardInterrupt):
    """SIGTERM as an exception, so that atomic writes remove their temporary files on the way out."""

    signum = signal.SIGTERM


@contextlib.contextmanager
def _sigterm_raises():
    """Raise _Terminated on SIGTERM while the block runs (the default kills the process and leaves a '.tmp-*'
    file). Main thread only (the only one that can set handlers); an ignored SIGTERM stays ignored."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGTERM) in (signal.SIG_IGN, None)):
        yield
        return

    def raise_terminated(signum, frame):
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _discard(*streams) -> None:
    """Point the streams' file descriptors at /dev/null, so that the flush at exit cannot fail once more (and
    print 'Exception ignored ... BrokenPipeError'); the recipe of the Python docs' note on SIGPIPE."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in streams:
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError, AttributeError):  # not a real file (captured in tests)
            pass
    os.close(devnull)


def _interrupted(exc: KeyboardInterrupt) -> str:
    """The one line for Ctrl-C or SIGTERM; after CG it says where the checkpoint is."""
    line = f"fastgdml: interrupted ({signal.Signals(getattr(exc, 'signum', signal.SIGINT)).name})"
    if getattr(exc, "iteration", None) is not None:  # iterative.CgInterrupted
        line += f" at CG iteration {exc.iteration}"
        if exc.checkpoint:
            line += f"; checkpoint written to {exc.checkpoint}; continue with --resume"
    return line


def _run(argv) -> int:
    args = _build_parser().parse_args(argv)
    from .dataset import DatasetError
    from .model import ModelError
    from ._npz import NpzError
    from ._outputs import OutputError, WriteError

    try:
        commands = {"train": _cmd_train, "test": _cmd_test, "info": _cmd_info, "convert": _cmd_convert,
                    "learning-curve": _cmd_learning_curve, "prune": _cmd_prune, "ipi": _cmd_ipi}
        return commands[args.command](args)
    except BrokenPipeError:
        raise  # main's business
    except KeyboardInterrupt as exc:
        print(_interrupted(exc), file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except WriteError as exc:
        print(f"fastgdml: error: cannot write {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2
    except (CliError, OutputError, FileNotFoundError, DatasetError, ModelError, NpzError, MemoryError, ValueError,
            RuntimeError, ImportError) as exc:
        print(f"fastgdml: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.filename is None:
            raise  # a stream write (stdout on a full disk) carries no file name: main reports it
        print(f"fastgdml: error: {exc.filename}: {exc.strerror}", file=sys.stderr)
        return 2


def main(argv=None) -> int:
    """Entry point of the ``fastgdml`` command; returns the exit status.

    0 done; 3 CG did not converge; 2 any error, reported in one 'fastgdml: error:' line on stderr; 130 after
    Ctrl-C, 143 after SIGTERM (one 'fastgdml: interrupted' line; temporary files removed, CG checkpointed);
    1, silently, when stdout is a pipe whose reader has gone (``fastgdml info x.npz | head -1``).
    """
    try:
        try:
            with _sigterm_raises():
                return _run(argv)
        finally:
            sys.stdout.flush()  # a closed pipe or a full disk shows here, not as an error at interpreter exit
    except BrokenPipeError:
        _discard(sys.stdout, sys.stderr)
        return 1
    except KeyboardInterrupt as exc:  # while parsing arguments or importing, before _run's handler
        print(_interrupted(exc), file=sys.stderr)
        return 128 + getattr(exc, "signum", signal.SIGINT)
    except OSError as exc:
        _discard(sys.stdout)
        with contextlib.suppress(OSError):  # stderr may be on the full device too
            print(f"fastgdml: error: cannot write standard output: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
