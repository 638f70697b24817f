"""Descriptor pruning (rGDML): feature importance, reduced-descriptor retraining, the pruning report.

- :mod:`.importance`: :func:`feature_scores` and :func:`interactions` (around the core's
  ``feature_deltas``), the permutation orbits of descriptor features;
- :mod:`.workflow`: :func:`prune` (score, retrain kept fractions, keep the best on validation), :class:`PruneResult`;
- :mod:`.report`: the pruning report (``MODEL.prune.json`` and PNG plots) of ``fastgdml prune``.
"""
from .importance import feature_orbits, feature_scores, interactions
from .workflow import DEFAULT_FRACTIONS, PruneResult, prune

__all__ = ["feature_scores", "interactions", "feature_orbits", "prune", "PruneResult", "DEFAULT_FRACTIONS"]
