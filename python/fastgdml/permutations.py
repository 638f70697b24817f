"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.symmetry.group_search`."""
from .data.elements import element_symbol  # noqa: F401
from .symmetry.group_search import SymmetrySearch, find_permutations  # noqa: F401
