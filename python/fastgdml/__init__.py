"""fastgdml: fast global machine-learned force fields of the sGDML family.

Main entry points
-----------------
Dataset       load/save/validate sGDML dataset ``.npz`` files
train         fit a model (closed-form Cholesky or iterative CG solve); train_task with a TrainingTask and
              SolverOptions does the same from explicit objects
Model         load/save sGDML model files, predict energies and forces
Calculator    ASE calculator (eV / Angstrom)
search_sigma  kernel length scale chosen on a validation set
prune         reduced descriptors (rGDML): feature_scores, retraining on kept fractions, interactions
energy_contributions  per-atom energy contributions that sum to E(x) - E(x_ref) (integrated forces)
get_include   the C ABI's header directory; get_library: libfastgdml.so (C/C++ programs, LAMMPS plugin)

Subpackages, by concern: ``data`` (datasets, sampling, ASE trajectories), ``symmetry`` (permutation groups),
``training``, ``evaluation`` (errors, reports), ``pruning``, ``clients`` (ASE, i-PI), ``io`` (safe files,
memory budgets; internal), ``cli`` (the ``fastgdml`` command). The modules at the top level besides ``model``,
``units`` and ``geometry`` are the old module paths, kept so that existing imports keep working.
"""
from ._version import __version__
from . import _blas  # noqa: F401  (loads the BLAS library before the C++ core)
from ._openmp import default_wait_policy

with default_wait_policy():  # OpenMP reads it when the core loads (see _openmp.py)
    from ._core import backends, set_num_threads, get_num_threads
from ._c_library import get_include, get_library
from .data import Dataset, DatasetError
from .model import Model, ModelError
# The old modules fastgdml.train and fastgdml.prune share their names with the functions below: loaded first, so
# that the functions are what ``fastgdml.train`` and ``fastgdml.prune`` name (a later import of a submodule would
# replace the package attribute by the module).
from . import train as _train_module, prune as _prune_module  # noqa: F401,E401
from .training import SolverOptions, TrainingTask, search_sigma, train, train_task
from .symmetry import find_permutations
from .pruning import feature_scores, interactions, prune
from .evaluation import energy_contributions
# Old module paths that ``import fastgdml`` made attributes of the package before the split.
from . import dataset, features, geometry, iterative, metrics, permutations, sampling, search  # noqa: F401,E402

__all__ = [
    "__version__",
    "Dataset",
    "DatasetError",
    "Model",
    "ModelError",
    "train",
    "train_task",
    "TrainingTask",
    "SolverOptions",
    "find_permutations",
    "search_sigma",
    "feature_scores",
    "interactions",
    "energy_contributions",
    "prune",
    "Calculator",
    "set_num_threads",
    "backends",
    "get_num_threads",
    "get_include",
    "get_library",
]


def __getattr__(name):
    # The ASE calculator imports ase lazily, so `import fastgdml` works without ase installed.
    if name == "Calculator":
        from .clients.ase_calculator import Calculator

        return Calculator
    raise AttributeError(f"module 'fastgdml' has no attribute {name!r}")
