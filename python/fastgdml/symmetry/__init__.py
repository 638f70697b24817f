"""Permutation symmetry: the group of atom permutations a model symmetrises its kernel over.

- :mod:`.group`: checks that permutations form a group (:func:`validate_perms`) and builds their descriptor
  index table (:func:`descriptor_permutation_table`, the model key ``tril_perms_lin``);
- :mod:`.group_search`: finds the group from geometries (:func:`find_permutations`, :class:`SymmetrySearch`).

``fastgdml.symmetry`` used to be a module holding what :mod:`.group` holds now; those names stay importable from
here.
"""
from .group import descriptor_permutation_table, read_perms, validate_perms
from .group_search import SymmetrySearch, find_permutations

__all__ = ["validate_perms", "descriptor_permutation_table", "read_perms", "find_permutations", "SymmetrySearch"]
