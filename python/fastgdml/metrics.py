"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.evaluation.metrics`."""
from .evaluation.metrics import prediction_errors, store_errors, with_validation  # noqa: F401
