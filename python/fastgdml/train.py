"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.training.fit`."""
from .training.fit import train  # noqa: F401
