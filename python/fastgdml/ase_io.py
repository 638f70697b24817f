"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.data.ase_io`."""
from .data.ase_io import (  # noqa: F401
    energy_factor, from_images, label, length_factor, read_trajectory, to_images, write_extxyz,
)
