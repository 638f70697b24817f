"""The commands that read and convert files or serve a model: test, info, convert, ipi; and what every
command shares (:class:`CliError`, the output checks)."""
from __future__ import annotations

import json
import sys
import time
from typing import Optional, Tuple

import numpy as np

from ..units import unit_labels


class CliError(Exception):
    """A problem with the command line or its files, reported as one 'fastgdml: error:' line (exit status 2)."""


def check_outputs(args, suffixes, what: str, derived, inputs) -> None:
    """Refuse, before any loading or training, an output that would fail or do harm only at the end.

    ``args.output`` must end in ``suffixes`` (the format follows the extension), and neither it nor the files
    ``derived`` from its name (reports, plots) may be an input, a directory, unwritable, or an existing file
    without ``--overwrite``. See :func:`fastgdml.io.outputs.check_output`.
    """
    from ..io.outputs import check_output

    suffixes = (suffixes,) if isinstance(suffixes, str) else tuple(suffixes)
    check_output(args.output, inputs=inputs, suffixes=suffixes, overwrite=args.overwrite, what=what)
    for path in derived:
        check_output(path, inputs=inputs, overwrite=args.overwrite, what=f"files written next to {args.output}")


def _same_molecule(model, dataset, model_path: str, dataset_path: str) -> None:
    """CliError unless ``dataset`` holds the molecule of ``model`` (atom count and atomic numbers)."""
    if dataset.n_atoms != model.n_atoms or not np.array_equal(dataset.z, model.z):
        raise CliError(f"{dataset_path} holds a different molecule than {model_path} (atomic numbers differ)")


def cmd_contributions(args) -> int:
    """``fastgdml contributions``: per-atom energy contributions of dataset frames from a stated reference."""
    from ..data.dataset import Dataset
    from ..data.elements import element_symbol
    from ..evaluation.contributions import energy_contributions
    from ..io.npz import atomic_path
    from ..io.outputs import check_output
    from ..model import Model

    if args.json:
        check_output(args.json, inputs=[args.model, args.dataset], suffixes=(".json",), overwrite=args.overwrite,
                     what="contributions JSON")
    model, dataset = Model.load(args.model), Dataset.load(args.dataset)
    _same_molecule(model, dataset, args.model, args.dataset)
    frames = np.asarray(args.frames, dtype=np.int64)
    if frames.max() >= len(dataset):
        raise CliError(f"--frames {int(frames.max())} is out of range: {args.dataset} has {len(dataset)} frames")
    if args.reference == "nearest":
        reference, stated = dataset, "the nearest frame in descriptor space"
    elif args.reference == "lowest":
        if dataset.E is None:
            raise CliError(f"--reference lowest needs energies, and {args.dataset} has no 'E'; give a frame index")
        i = int(np.argmin(dataset.E))
        reference, stated = dataset.R[i], f"frame {i} (lowest energy of the dataset)"
    else:
        try:
            i = int(args.reference)
        except ValueError:
            raise CliError(f"--reference must be nearest, lowest or a frame index, got {args.reference!r}") from None
        if not 0 <= i < len(dataset):
            raise CliError(f"--reference {i} is out of range: {args.dataset} has {len(dataset)} frames")
        reference, stated = dataset.R[i], f"frame {i}"
    # a path that cannot be predicted is a ValueError: one error line from the entry point, like every command's
    result = energy_contributions(model, dataset.R[frames], reference, align=args.align and model.lattice is None)
    e_unit = unit_labels(model.e_unit or dataset.e_unit, model.r_unit or dataset.r_unit)[0]
    symbols = [element_symbol(int(z)) for z in model.z]
    rows = []
    for k, frame in enumerate(frames):
        ref_text = stated if result.reference_index[k] < 0 else (
            f"frame {int(result.reference_index[k])} (nearest; permutation {int(result.reference_permutation[k])})")
        c = result.contributions[k]
        print(f"frame {int(frame)}: E - E_ref = {result.energy[k] - result.reference_energy[k]:.6g} {e_unit} "
              f"(E = {result.energy[k]:.8g}, E_ref = {result.reference_energy[k]:.8g} {e_unit}; reference {ref_text}"
              f"{', aligned' if args.align and model.lattice is None else ''}); sum of contributions "
              f"{c.sum():.6g} {e_unit}, quadrature error {result.quadrature_error[k]:.2g} {e_unit} "
              f"({int(result.nodes[k])} nodes)")
        print(f"  atom  element   contribution ({e_unit})")
        for a in np.argsort(-np.abs(c)):
            print(f"  {a:4d}  {symbols[a]:>7}   {c[a]:+.6g}")
        rows.append({"frame": int(frame), "reference": ref_text, "energy": float(result.energy[k]),
                     "reference_energy": float(result.reference_energy[k]),
                     "quadrature_error": float(result.quadrature_error[k]), "nodes": int(result.nodes[k]),
                     "contributions": [float(x) for x in c]})
    if args.json:
        with atomic_path(args.json) as tmp:
            with open(tmp, "w") as f:
                json.dump({"model": args.model, "dataset": args.dataset, "energy_unit": e_unit, "elements": symbols,
                           "aligned": bool(args.align and model.lattice is None), "frames": rows}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


def cmd_test(args) -> int:
    """``fastgdml test``: errors of a model on the frames of a dataset it has not seen."""
    from ..data.dataset import Dataset
    from ..evaluation.metrics import prediction_errors, unused_frames
    from ..model import Model

    model = Model.load(args.model, backend=args.backend)
    dataset = Dataset.load(args.dataset)
    _same_molecule(model, dataset, args.model, args.dataset)
    idxs = unused_frames(model, dataset)
    if args.n_test is not None:
        if args.n_test > len(idxs):
            raise CliError(f"--n-test {args.n_test} but only {len(idxs)} frames are available")
        idxs = np.sort(np.random.default_rng(args.seed).choice(idxs, args.n_test, replace=False))
    if len(idxs) == 0:
        raise CliError("no test frames left (all were used for training/validation)")
    err = prediction_errors(model, dataset, idxs, progress=not args.json)
    energies_defined = bool(model.arrays.get("use_E", True))
    if not energies_defined:  # trained on forces alone: its energies hold an arbitrary constant, no error means much
        err = dict(err, e_mae=float("nan"), e_rmse=float("nan"))
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in err.items()}))
    else:
        e_unit, f_unit, _ = unit_labels(model.e_unit or dataset.e_unit, model.r_unit or dataset.r_unit)
        print(f"{err['n']} test frames ({len(dataset) - len(idxs)} training/validation frames left out)")
        if not energies_defined:
            print("energy: not tested (the model was trained without energies, --no-E: its energies are defined "
                  "only up to a constant)")
        elif np.isfinite(err["e_mae"]):
            print(f"energy: MAE {err['e_mae']:.5g}  RMSE {err['e_rmse']:.5g}  [{e_unit}]")
        else:
            print("energy: no reference energies in the dataset")
        print(f"forces: MAE {err['f_mae']:.5g}  RMSE {err['f_rmse']:.5g}  [{f_unit}, per component]")
        print(f"forces: magnitude MAE {err['f_mag_mae']:.5g} [{f_unit}, per atom]  angle MAE "
              f"{err['f_angle_mae_deg']:.4g} [degrees, per atom]")
    return 0


def installation() -> None:
    """Print version, backends, BLAS and threads (``fastgdml info`` without a file)."""
    from .. import _core
    from .._version import __version__

    print(f"fastgdml {__version__}")
    from ..backend_choice import backend_report

    for name, usable, detail in backend_report():
        print(f"  backend {name}: {detail if usable else 'not available: ' + detail}")
    print(f"  BLAS: {_core.blas_name()} ({_core.blas_threads()} threads)   OpenMP threads: {_core.get_num_threads()}")
    from .._c_library import get_include, get_library

    try:
        print(f"  C ABI: header {get_include()}/fastgdml/c_api.h, library {get_library()}")
    except FileNotFoundError as exc:
        print(f"  C ABI: not installed ({exc})")


def cmd_config(args) -> int:
    """``fastgdml config``: where the C ABI is, for build systems (one value per option, nothing else)."""
    from .. import _c_library as c

    try:
        value = {"include": c.get_include, "library": c.get_library, "cflags": c.compile_flags,
                 "libs": c.link_flags}[args.what]()
    except FileNotFoundError as exc:
        raise CliError(str(exc)) from None
    print(value)
    return 0


def cmd_info(args) -> int:
    """``fastgdml info [FILE]``: summary of a dataset or model file, or of this installation."""
    from ..io.npz import MODEL_OBJECT_KEYS, as_str, load_npz

    if args.file is None:
        installation()
        return 0
    d = load_npz(args.file, object_keys=MODEL_OBJECT_KEYS)
    kind = as_str(d["type"]) if "type" in d else ("d" if "R" in d else "?")
    if kind == "d":
        from ..data.dataset import Dataset

        ds = Dataset.load(args.file)
        e_unit, f_unit, _ = unit_labels(ds.e_unit, ds.r_unit)
        assumed = "" if ds.e_unit and ds.r_unit else " (not recorded: the sGDML convention is assumed below)"
        print(f"dataset {args.file}")
        print(f"  name: {ds.name}   theory: {ds.theory}   units: {ds.e_unit or '?'} / {ds.r_unit or '?'}{assumed}")
        print(f"  geometries: {len(ds)}   atoms: {ds.n_atoms}   z: {ds.z.tolist()}")
        if ds.E is not None:
            print(f"  energies: min {ds.E.min():.6g}  max {ds.E.max():.6g}  std {ds.E.std():.4g}  [{e_unit}]")
        print(f"  forces: std {ds.F.std():.4g} [{f_unit}]   lattice: {'yes' if ds.lattice is not None else 'no'}")
        print(f"  md5: {ds.md5}" + ("" if "md5" not in d or as_str(d["md5"]) == ds.md5 else
                                    f"  (stored md5 {as_str(d['md5'])} differs!)"))
    elif kind == "m":
        from ..model import Model

        m = Model.load(args.file)
        e_unit, f_unit, r_unit = unit_labels(m.e_unit, m.r_unit)
        print(f"model {args.file}")
        print(f"  atoms: {m.n_atoms}   training points: {m.n_train}   permutations: {len(m.perms)}")
        D = m.n_atoms * (m.n_atoms - 1) // 2
        if m.feature_mask is not None:
            print(f"  reduced descriptor: {len(m.feature_mask)} of {D} features (key 'feature_mask')")
        print(f"  sigma: {m.sigma:g} [descriptor space, 1/{r_unit}]   lambda: {float(m.arrays.get('lam', np.nan)):g}   "
              f"energy constraints: {'yes' if m.use_E_cstr else 'no'}   solver: "
              f"{as_str(m.arrays['solver_name']) if 'solver_name' in m.arrays else '?'}")
        if "dataset_name" in m.arrays:
            print(f"  trained on: {as_str(m.arrays['dataset_name'])} "
                  f"(md5 {as_str(m.arrays['md5_train']) if 'md5_train' in m.arrays else '?'})")
        for key, label, unit in (("f_err", "force", f_unit), ("e_err", "energy", e_unit)):
            e = m.arrays[key].item() if key in m.arrays and np.asarray(m.arrays[key]).size == 1 else None
            try:
                print(f"  {label} error (validation/test): MAE {float(e['mae']):.4g}  RMSE {float(e['rmse']):.4g}"
                      f"  [{unit}]")
            except (TypeError, KeyError, ValueError, IndexError):
                if key in m.arrays:
                    print(f"  {label} error: unreadable '{key}' entry (expected a dict with 'mae' and 'rmse')")
    else:
        raise CliError(f"{args.file} is neither a dataset nor a model (type '{kind}')")
    return 0


def cmd_convert(args) -> int:
    """``fastgdml convert``: dataset ``.npz`` to extxyz, or any trajectory ASE reads to a dataset."""
    from ..data import ase_io
    from ..data.dataset import Dataset

    # The format written follows the direction: a dataset becomes extxyz, anything else a dataset.
    to_xyz = args.input.lower().endswith(".npz")
    ase_io.energy_factor(args.e_unit), ase_io.length_factor(args.r_unit)  # a typo is refused either way
    check_outputs(args, (".xyz", ".extxyz") if to_xyz else ".npz", "trajectory (extxyz)" if to_xyz else "dataset",
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


def main_driver(model_path: str, unix: Optional[str], host: Optional[str], port: Optional[int],
                energy_unit: Optional[str], length_unit: Optional[str], wait: float, quiet: bool,
                backend: str = "cpu") -> Tuple[int, float]:
    """The ``fastgdml ipi`` command: load, connect, serve; (geometries served, seconds)."""
    from ..clients.ipi_driver import connect, run_driver
    from ..model import Model

    model = Model.load(model_path, backend=backend)
    sock = connect(unix=unix, host=host, port=port, wait=wait)
    log = None if quiet else (lambda text: print(f"fastgdml ipi: {text}", file=sys.stderr, flush=True))
    start = time.perf_counter()
    served = run_driver(model, sock, energy_unit, length_unit, log)
    return served, time.perf_counter() - start


def cmd_ipi(args) -> int:
    """``fastgdml ipi``: serve a model to an i-PI server over its socket."""
    if args.host is not None and args.port is None:
        raise CliError("--host needs --port")
    served, seconds = main_driver(args.model, args.unix, args.host, args.port, args.energy_unit, args.length_unit,
                                  args.wait, args.quiet, args.backend)
    if not args.quiet:
        rate = f", {served / seconds:.1f} per s" if seconds > 0 and served else ""
        print(f"fastgdml ipi: served {served} geometries in {seconds:.1f} s{rate}", file=sys.stderr)
    return 0
