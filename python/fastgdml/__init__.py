"""fastgdml: fast global machine-learned force fields of the sGDML family.

Main entry points
-----------------
Dataset      load/save/validate sGDML dataset ``.npz`` files
train        fit a model (closed-form Cholesky solve)
Model        load/save sGDML model files, predict energies and forces
Calculator   ASE calculator (eV / Angstrom)
"""
from ._version import __version__
from . import _blas  # noqa: F401  (loads the BLAS library before the C++ core)
from ._core import set_num_threads, get_num_threads
from .dataset import Dataset, DatasetError
from .model import Model, ModelError
from .train import train
from .permutations import find_permutations
from .search import search_sigma

__all__ = [
    "__version__",
    "Dataset",
    "DatasetError",
    "Model",
    "ModelError",
    "train",
    "find_permutations",
    "search_sigma",
    "Calculator",
    "set_num_threads",
    "get_num_threads",
]


def __getattr__(name):
    # The ASE calculator imports ase lazily, so `import fastgdml` works without ase installed.
    if name == "Calculator":
        from .calculator import Calculator

        return Calculator
    raise AttributeError(f"module 'fastgdml' has no attribute {name!r}")
