"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.training.cg`."""
from .training.cg import CgInterrupted, plan, scaled_start, solve_cg  # noqa: F401
from .training.checkpoint import CheckpointError, load_checkpoint, task_fingerprint  # noqa: F401
