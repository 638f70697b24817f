"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.pruning.workflow`."""
from .pruning.workflow import DEFAULT_FRACTIONS, PruneResult, orbit_mask, prune, short_range_features  # noqa: F401
