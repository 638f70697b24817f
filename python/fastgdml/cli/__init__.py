"""The ``fastgdml`` command line: train, test, info, learning-curve, prune, convert, ipi.

Argument parsing and the commands only; what they compute lives in the library (training, evaluation,
pruning, data, clients).

- :mod:`.entry`: :func:`main`, the console script (``fastgdml = "fastgdml.cli:main"``; ``python -m fastgdml.cli``):
  dispatch, exit status, signals;
- :mod:`.parser`: the argument parser;
- :mod:`.commands`: test, info, convert, ipi, and what all commands share;
- :mod:`.training_commands`: train, learning-curve, prune.
"""
from ..evaluation.metrics import unused_frames  # noqa: F401  (old path: fastgdml.cli.unused_frames)
from .commands import CliError
from .entry import main

__all__ = ["main", "CliError"]
