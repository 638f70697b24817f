"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.pruning.importance`."""
from .pruning.importance import feature_orbits, feature_scores, interactions, pair_atoms, pair_forces  # noqa: F401
