"""Old module path, kept so that existing imports work: the code is in :mod:`fastgdml.clients.ipi_driver`."""
from .cli.commands import main_driver  # noqa: F401  (the ``fastgdml ipi`` command)
from .clients.ipi_driver import HEADER, IpiError, Units, connect, evaluate, pes_path, run_driver  # noqa: F401
