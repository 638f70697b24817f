"""Old path of the i-PI ``<ffdirect>`` PES, now fastgdml/clients/ipi_pes.py: i-PI inputs that name this file in
``<pes_path>`` keep working. i-PI loads it by path, outside the package, hence the absolute import."""
from fastgdml.clients.ipi_pes import __DRIVER_CLASS__, __DRIVER_NAME__, FastgdmlPES  # noqa: F401
