"""Datasets: the sGDML dataset format, energy-stratified sampling, ASE trajectories, element data.

- :mod:`.dataset`: :class:`Dataset` (load/save/subset/merge, the sGDML md5), :class:`DatasetError`;
- :mod:`.sampling`: :func:`stratified_sample` (seeded, energy-stratified training/validation/test indices);
- :mod:`.ase_io`: datasets from and to ASE (needs ``ase``, imported when used);
- :mod:`.elements`: chemical symbols and covalent radii.
"""
from .dataset import Dataset, DatasetError, coincident_atoms, dataset_md5
from .sampling import stratified_sample

__all__ = ["Dataset", "DatasetError", "coincident_atoms", "dataset_md5", "stratified_sample"]
