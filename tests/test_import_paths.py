"""Old import paths keep working: every public name of the flat package (before it was grouped by concern) is
importable from its old module and is the very object the new module holds."""
import importlib
import subprocess
import sys
import types

import pytest

# old module -> (new module, public names it held). Names of the old flat modules, taken from the tree before the
# split; a few moved to another concern (noted).
MOVED = {
    "fastgdml.dataset": ("fastgdml.data.dataset", ["Dataset", "DatasetError", "coincident_atoms", "dataset_md5"]),
    "fastgdml.sampling": ("fastgdml.data.sampling", ["stratified_sample"]),
    "fastgdml.ase_io": ("fastgdml.data.ase_io", ["energy_factor", "length_factor", "from_images", "read_trajectory",
                                                 "to_images", "write_extxyz", "label"]),
    "fastgdml.calculator": ("fastgdml.clients.ase_calculator", ["Calculator", "ENERGY_UNITS", "LENGTH_UNITS"]),
    "fastgdml.ipi": ("fastgdml.clients.ipi_driver", ["HEADER", "IpiError", "Units", "evaluate", "connect",
                                                     "run_driver", "pes_path"]),
    "fastgdml.ipi_pes": ("fastgdml.clients.ipi_pes", ["FastgdmlPES", "__DRIVER_NAME__", "__DRIVER_CLASS__"]),
    "fastgdml.train": ("fastgdml.training.fit", ["train"]),
    "fastgdml.iterative": ("fastgdml.training.cg", ["plan", "scaled_start", "CgInterrupted", "solve_cg"]),
    "fastgdml.search": ("fastgdml.training.sigma_search", ["SigmaScan", "search_sigma"]),
    "fastgdml.learning_curve": ("fastgdml.training.learning_curve", ["learning_curve", "plot_learning_curve"]),
    "fastgdml.permutations": ("fastgdml.symmetry.group_search", ["SymmetrySearch", "find_permutations"]),
    "fastgdml.symmetry": ("fastgdml.symmetry.group", ["validate_perms", "descriptor_permutation_table"]),
    "fastgdml.features": ("fastgdml.pruning.importance", ["pair_atoms", "feature_orbits", "feature_scores",
                                                          "pair_forces", "interactions"]),
    "fastgdml.prune": ("fastgdml.pruning.workflow", ["DEFAULT_FRACTIONS", "PruneResult", "short_range_features",
                                                     "orbit_mask", "prune"]),
    "fastgdml.prune_report": ("fastgdml.pruning.report", ["prune_paths", "write_prune_report"]),
    "fastgdml.metrics": ("fastgdml.evaluation.metrics", ["store_errors", "with_validation", "prediction_errors"]),
    "fastgdml.report": ("fastgdml.evaluation.report", ["report_paths", "write_report", "write_json_and_plots"]),
    "fastgdml.cli": ("fastgdml.cli.entry", ["main"]),
}
# names whose new home is another concern than the rest of their old module
MOVED_NAMES = [
    ("fastgdml.iterative", "CheckpointError", "fastgdml.training.checkpoint"),
    ("fastgdml.iterative", "task_fingerprint", "fastgdml.training.checkpoint"),
    ("fastgdml.iterative", "load_checkpoint", "fastgdml.training.checkpoint"),
    ("fastgdml.permutations", "element_symbol", "fastgdml.data.elements"),
    ("fastgdml.ipi", "main_driver", "fastgdml.cli.commands"),
    ("fastgdml.cli", "CliError", "fastgdml.cli.commands"),
    ("fastgdml.cli", "unused_frames", "fastgdml.evaluation.metrics"),
]
# modules that did not move
STAYED = {
    "fastgdml.model": ["Model", "ModelError", "SIGMA_RANGE", "COINCIDENT", "predictor_bytes"],
    "fastgdml.units": ["ENERGY_LABELS", "LENGTH_LABELS", "energy_units", "length_units", "ev_per", "angstrom_per"],
    "fastgdml.geometry": ["check_lattice", "minimum_image"],
}
# everything `fastgdml` exported before, with the module that defines it now
PACKAGE = {
    "Dataset": "fastgdml.data.dataset", "DatasetError": "fastgdml.data.dataset", "Model": "fastgdml.model",
    "ModelError": "fastgdml.model", "train": "fastgdml.training.fit", "find_permutations":
    "fastgdml.symmetry.group_search", "search_sigma": "fastgdml.training.sigma_search",
    "feature_scores": "fastgdml.pruning.importance", "interactions": "fastgdml.pruning.importance",
    "prune": "fastgdml.pruning.workflow", "Calculator": "fastgdml.clients.ase_calculator",
    "set_num_threads": "fastgdml._core", "get_num_threads": "fastgdml._core", "backends": "fastgdml._core",
    "__version__": "fastgdml._version",
}
NEEDS = {"fastgdml.calculator": "ase", "fastgdml.clients.ase_calculator": "ase", "fastgdml.ipi_pes": "ipi",
         "fastgdml.clients.ipi_pes": "ipi"}


def _module(name):
    if name in NEEDS:
        pytest.importorskip(NEEDS[name])
    return importlib.import_module(name)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_old_module_path_gives_the_new_objects(old):
    new, names = MOVED[old]
    old_module, new_module = _module(old), _module(new)
    for name in names:
        assert getattr(old_module, name) is getattr(new_module, name), f"{old}.{name}"


@pytest.mark.parametrize("old, name, new", MOVED_NAMES)
def test_names_that_moved_to_another_concern(old, name, new):
    assert getattr(_module(old), name) is getattr(_module(new), name)


@pytest.mark.parametrize("module", sorted(STAYED))
def test_modules_that_stayed_keep_their_names(module):
    m = _module(module)
    for name in STAYED[module]:
        obj = getattr(m, name)  # a missing name fails here
        if isinstance(obj, (type, types.FunctionType)):
            assert obj.__module__ == module, name


@pytest.mark.parametrize("name", sorted(PACKAGE))
def test_package_exports_are_the_defining_objects(name):
    import fastgdml

    if name == "Calculator":
        pytest.importorskip("ase")
    assert getattr(fastgdml, name) is getattr(_module(PACKAGE[name]), name)
    assert name in fastgdml.__all__


def test_functions_keep_their_names_over_old_modules_of_the_same_name():
    """fastgdml.train and fastgdml.prune are functions although the old modules of those names are loaded."""
    import fastgdml
    import fastgdml.prune
    import fastgdml.train

    assert fastgdml.train is _module("fastgdml.training.fit").train
    assert fastgdml.prune is _module("fastgdml.pruning.workflow").prune


def test_old_attribute_paths_after_a_bare_import():
    """``import fastgdml`` alone made these modules attributes of the package (e.g. ``fastgdml.dataset.X``)."""
    code = ("import fastgdml\n"
            "for name in ('dataset', 'model', 'geometry', 'sampling', 'metrics', 'iterative', 'permutations',"
            " 'symmetry', 'search', 'features'):\n"
            "    assert hasattr(fastgdml, name), name\n"
            "assert callable(fastgdml.train) and callable(fastgdml.prune)\n"
            "assert fastgdml.dataset.DatasetError is fastgdml.DatasetError\n"
            "assert fastgdml.symmetry.validate_perms is fastgdml.symmetry.group.validate_perms\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_old_ipi_pes_file_loads_by_path_like_ipi_does():
    """i-PI inputs name fastgdml/ipi_pes.py by path; loaded outside the package it must give the PES class."""
    pytest.importorskip("ipi")
    import importlib.util
    import os

    import fastgdml
    from fastgdml.clients.ipi_driver import pes_path
    from fastgdml.clients.ipi_pes import FastgdmlPES

    def load(path):
        spec = importlib.util.spec_from_file_location("custom_pes_under_test", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        assert module.__DRIVER_NAME__ == "fastgdml"
        return getattr(module, module.__DRIVER_CLASS__)

    # the old file re-exports the package's class; the new one, loaded by path, defines its own copy of it
    assert load(os.path.join(os.path.dirname(fastgdml.__file__), "ipi_pes.py")) is FastgdmlPES
    fresh = load(pes_path())
    assert fresh is not FastgdmlPES and fresh.__qualname__ == "FastgdmlPES" and FastgdmlPES.__mro__[1] in fresh.__mro__


def test_new_training_api_is_exported():
    import fastgdml
    from fastgdml.training import fit, task

    assert fastgdml.train_task is fit.train_task
    assert fastgdml.TrainingTask is task.TrainingTask and fastgdml.SolverOptions is task.SolverOptions
