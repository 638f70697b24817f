"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.data.sampling`."""
from .data.sampling import stratified_sample  # noqa: F401
