"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.evaluation.report`."""
from .evaluation.report import report_paths, write_json_and_plots, write_report  # noqa: F401
