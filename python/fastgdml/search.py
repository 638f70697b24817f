"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.training.sigma_search`."""
from .training.sigma_search import SigmaScan, search_sigma  # noqa: F401
