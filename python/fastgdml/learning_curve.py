"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.training.learning_curve`."""
from .training.learning_curve import learning_curve, plot_learning_curve  # noqa: F401
