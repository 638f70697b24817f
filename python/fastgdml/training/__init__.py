"""Training: from a dataset to a model.

- :mod:`.task`: :class:`TrainingTask` (what is solved) and :class:`SolverOptions` (how);
- :mod:`.fit`: :func:`train_task` (labels, solver choice, Cholesky or CG, model arrays) and :func:`train`,
  the keyword entry that builds a task and options;
- :mod:`.cg`: the CG driver around the core's iterative solver (plan within a memory budget, warm starts,
  signals, progress);
- :mod:`.checkpoint`: CG checkpoint files and their task check;
- :mod:`.sigma_search`: :func:`search_sigma` (kernel length scale, optionally lambda, on a validation set);
- :mod:`.learning_curve`: test errors against the training-set size.
"""
from .fit import train, train_task
from .sigma_search import SigmaScan, search_sigma
from .task import SolverOptions, TrainingTask

__all__ = ["TrainingTask", "SolverOptions", "train_task", "train", "search_sigma", "SigmaScan"]
