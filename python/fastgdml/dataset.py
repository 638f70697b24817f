"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.data.dataset`."""
from .data.dataset import Dataset, DatasetError, coincident_atoms, dataset_md5  # noqa: F401
