"""Evaluation of trained models: error measures and the training report.

- :mod:`.metrics`: :func:`prediction_errors` (the sGDML error measures), how errors are stored in model files,
  :func:`unused_frames` (frames a model was neither trained nor validated on);
- :mod:`.report`: the training report (``MODEL.report.json`` and PNG plots) of ``fastgdml train``;
- :mod:`.contributions`: :func:`energy_contributions`, per-atom energy contributions that sum to E(x) − E(x_ref)
  (integrated forces along the straight path from a stated reference).
"""
from .contributions import EnergyContributions, energy_contributions
from .metrics import prediction_errors, store_errors, trained_on, unused_frames, with_validation

__all__ = ["prediction_errors", "store_errors", "trained_on", "unused_frames", "with_validation",
           "energy_contributions", "EnergyContributions"]
