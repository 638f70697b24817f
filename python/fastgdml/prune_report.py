"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.pruning.report`."""
from .pruning.report import prune_paths, write_prune_report  # noqa: F401
