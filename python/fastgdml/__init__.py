"""fastgdml: fast global machine-learned force fields of the sGDML family.

Main entry points
-----------------
Dataset      load/save/validate sGDML dataset ``.npz`` files
train        fit a model (closed-form Cholesky or iterative CG solve)
Model        load/save sGDML model files, predict energies and forces
Calculator   ASE calculator (eV / Angstrom)
search_sigma kernel length scale chosen on a validation set
prune        reduced descriptors (rGDML): feature_scores, retraining on kept fractions, interactions
"""
from ._version import __version__
from . import _blas  # noqa: F401  (loads the BLAS library before the C++ core)
from ._openmp import default_wait_policy

with default_wait_policy():  # OpenMP reads it when the core loads (see _openmp.py)
    from ._core import backends, set_num_threads, get_num_threads
from .dataset import Dataset, DatasetError
from .model import Model, ModelError
from .train import train
from .permutations import find_permutations
from .search import search_sigma
from .features import feature_scores, interactions
from .prune import prune

__all__ = [
    "__version__",
    "Dataset",
    "DatasetError",
    "Model",
    "ModelError",
    "train",
    "find_permutations",
    "search_sigma",
    "feature_scores",
    "interactions",
    "prune",
    "Calculator",
    "set_num_threads",
    "backends",
    "get_num_threads",
]


def __getattr__(name):
    # The ASE calculator imports ase lazily, so `import fastgdml` works without ase installed.
    if name == "Calculator":
        from .calculator import Calculator

        return Calculator
    raise AttributeError(f"module 'fastgdml' has no attribute {name!r}")
