"""The ``fastgdml`` argument parser: commands, options, and the argument types argparse checks."""
from __future__ import annotations

import argparse

from ..symmetry.group_search import DEFAULT_MAX_PERMS


def _backend(name: str) -> str:
    """A registered compute backend (fastgdml.backends()); argparse reports anything else with the list."""
    from ..backend_choice import require_backend

    try:
        return require_backend(name)
    except (ValueError, RuntimeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_backend(p, what: str) -> None:
    p.add_argument("--backend", type=_backend, default="cpu",
                   help=f"compute backend for {what} (default cpu; 'fastgdml info' lists the available ones)")


def _add_select(p) -> None:
    p.add_argument("--select", choices=("combined", "forces", "energies"), default="combined",
                   help="what the sigma search minimises on the validation set: combined = the product of the "
                        "force and the energy RMSE (a 1%% gain in one is worth a 1%% loss in the other), forces = "
                        "the force RMSE, energies = the energy RMSE (default: combined; without energies in the "
                        "data, combined uses forces and says so)")


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



def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``fastgdml`` command and its sub-commands."""
    from .._version import __version__

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
                        "starting at 50 x the median descriptor distance: bracketing + golden section in log sigma, "
                        "about 10 trainings on a subset "
                        "(--search-n-train), then one on all; without validation geometries (--n-valid 0) 20 is "
                        "used)")
    t.add_argument("--search-n-train", type=_positive_int, default=None, metavar="N",
                   help="training geometries of each training of the sigma search: an energy-stratified subset; "
                        "its best sigma is scaled to --n-train by (N / n_train)^0.25 and trained once on all "
                        "(default: a quarter of --n-train within 50..250, all below 100; --search-n-train equal to "
                        "--n-train searches at full size)")
    t.add_argument("--lam", type=_nonnegative_float, default=1e-10, help="ridge regulariser lambda (default: 1e-10)")
    t.add_argument("--lams", type=_nonnegative_float, nargs="+", default=None, metavar="LAM",
                   help="with the sigma search: also train the chosen sigma with each of these lambdas (and --lam) "
                        "and keep the best on the validation set, e.g. --lams 1e-8 1e-6 (default: --lam only)")
    t.add_argument("--n-valid", type=_count, default=None,
                   help="validation geometries from the rest of the dataset (default: up to 1000; 0: none)")
    _add_select(t)
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
    t.add_argument("--max-perms", type=_positive_int, default=DEFAULT_MAX_PERMS,
                   help=f"size budget of the automatic symmetry search: the largest group kept, cut to whole "
                        f"independent blocks, with a note of what was left out (default: {DEFAULT_MAX_PERMS}; "
                        f"training and prediction cost grow linearly with it)")
    t.add_argument("--seed", type=_count, default=0, help="seed of the train/validation sampling (default: 0)")
    t.add_argument("-o", "--output", required=True, help="model file to write (.npz)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    t.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    t.add_argument("--solver", choices=("auto", "cholesky", "cg"), default="auto",
                   help="closed-form Cholesky, preconditioned CG, or auto: Cholesky when the dense kernel matrix "
                        "fits --max-memory and is estimated cheaper than CG (small problems), else CG (default: auto)")
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
    t.add_argument("--block-jacobi", action=argparse.BooleanOptionalAction, default=True,
                   help="CG: add a block-Jacobi correction (K's diagonal 3N x 3N blocks) to the Nyström "
                        "preconditioner: far fewer iterations at small sigma, a few more at large sigma (default: "
                        "on; --no-block-jacobi turns it off)")

    _add_backend(t, "the kernel products of training and the validation predictions")

    s = sub.add_parser("test", help="errors of a model on a dataset",
                       description="Predict the geometries of a dataset and report energy and force errors. "
                                   "Training and validation frames are left out when the dataset is the one the "
                                   "model was trained on.")
    s.add_argument("model", help="model .npz (fastgdml or sgdml)")
    s.add_argument("dataset", help="sGDML dataset .npz")
    s.add_argument("--n-test", type=_positive_int, default=None, help="test on this many frames (default: all)")
    s.add_argument("--seed", type=_count, default=0, help="seed for choosing --n-test frames (default: 0)")
    s.add_argument("--json", action="store_true", help="print one JSON line with e_mae, e_rmse, f_mae, f_rmse")

    _add_backend(s, "the predictions")

    ec = sub.add_parser("contributions", help="per-atom energy contributions of geometries (they add up to E - E_ref)",
                        description="Additive per-atom energy contributions: the work done on each atom along the "
                                    "straight path from a reference geometry (integrated forces, "
                                    "fastgdml.energy_contributions); each geometry's contributions sum to E - E_ref "
                                    "to within the printed quadrature error.")
    ec.add_argument("model", help="model .npz (fastgdml or sgdml)")
    ec.add_argument("dataset", help="sGDML dataset .npz holding the geometries (and the reference frames)")
    ec.add_argument("--frames", type=_count, nargs="+", default=[0], metavar="I",
                    help="indices of the dataset frames to decompose (default: 0)")
    ec.add_argument("--reference", default="nearest", metavar="nearest|lowest|I",
                    help="reference geometry: nearest = each geometry's closest frame in descriptor space (among the "
                         "model's training frames when DATASET is its training set), lowest = the dataset frame of "
                         "lowest energy, or a frame index (default: nearest)")
    ec.add_argument("--no-align", dest="align", action="store_false",
                    help="do not superimpose the reference rigidly on each geometry first (molecules are aligned by "
                         "default; periodic models never)")
    ec.add_argument("--json", metavar="FILE", help="also write every number to this JSON file")
    ec.add_argument("--overwrite", action="store_true", help="replace an existing --json file")

    i = sub.add_parser("info", help="describe a dataset or model file, or (without FILE) this installation",
                       description="Summary of a dataset or model file; without FILE: version, compute backends, "
                                   "BLAS and threads of this installation.")
    i.add_argument("file", nargs="?", help="dataset or model .npz")

    cf = sub.add_parser("config", help="paths of the C ABI (header, library) for compiling C/C++ programs",
                        description="Print one value for build systems, e.g. "
                                    "cc prog.c $(fastgdml config --cflags) $(fastgdml config --libs).")
    what = cf.add_mutually_exclusive_group(required=True)
    what.add_argument("--include", dest="what", action="store_const", const="include",
                      help="the include directory (holds fastgdml/c_api.h)")
    what.add_argument("--library", dest="what", action="store_const", const="library",
                      help="the shared library libfastgdml.so")
    what.add_argument("--cflags", dest="what", action="store_const", const="cflags", help="-I<include directory>")
    what.add_argument("--libs", dest="what", action="store_const", const="libs",
                      help="-L<dir> -lfastgdml -Wl,-rpath,<dir>")

    lc = sub.add_parser("learning-curve", help="test errors against n_train (choosing a training budget)",
                        description="Trains at each --sizes value and tests on the same held-out frames; writes "
                                    "OUTPUT (.json) and a log-log plot next to it (.png, needs matplotlib).")
    lc.add_argument("dataset", help="sGDML dataset .npz")
    lc.add_argument("--sizes", type=_positive_int, nargs="+", required=True, help="training-set sizes")
    lc.add_argument("--sigma", type=_positive_float, default=None, help="fixed sigma (default: searched per size)")
    lc.add_argument("--n-valid", type=_positive_int, default=200, help="validation frames of the sigma search (default 200)")
    lc.add_argument("--n-test", type=_positive_int, default=1000, help="common test frames (default 1000)")
    _add_select(lc)
    lc.add_argument("--symmetries", choices=("auto", "none"), default="auto", help="as for train (default: auto)")
    lc.add_argument("--seed", type=_count, default=0)
    lc.add_argument("-o", "--output", required=True, help="JSON file to write (.json; the plot goes next to it)")
    lc.add_argument("--overwrite", action="store_true", help="replace existing output files")
    lc.add_argument("-q", "--quiet", action="store_true")

    _add_backend(lc, "the trainings")

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

    _add_backend(pr, "scoring and retraining")

    ip = sub.add_parser("ipi", help="serve a model to an i-PI server over its socket protocol (PIMD, MD)",
                        description="Connects to a running i-PI server (<ffsocket> in its input) and evaluates the "
                                    "geometries it sends, one at a time, until i-PI ends the simulation. For all "
                                    "beads in one batch use i-PI's <ffdirect> route instead "
                                    "(fastgdml.clients.ipi_driver.pes_path()).")
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

    _add_backend(ip, "the served predictions")

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
