"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.clients.ase_calculator`."""
from .clients.ase_calculator import ENERGY_UNITS, LENGTH_UNITS, Calculator  # noqa: F401
