"""i-PI ``<ffdirect>`` PES of a fastgdml/sGDML model: i-PI loads this file by path
(``fastgdml.clients.ipi_driver.pes_path()``) and calls the driver in-process, with all beads of a step in one
batch when ``<batch_size>`` is set.

i-PI input::

    <ffdirect name='fastgdml'>
      <pes> custom </pes>
      <pes_path> ...the path that this prints:
                 python -c "import fastgdml.clients.ipi_driver as i; print(i.pes_path())" </pes_path>
      <parameters> {model: model.npz} </parameters>
      <batch_size> 32 </batch_size>
    </ffdirect>

Parameters: ``model`` (path of the model file), optional ``energy_unit`` and ``length_unit`` (the model's units
when its file does not name them; default kcal/mol and Ang).

i-PI imports the file outside the package, so every import of fastgdml here is absolute. The old path
``fastgdml/ipi_pes.py`` (named in existing i-PI inputs) loads this class too.
"""
import json

from ipi.pes.dummy import Dummy_driver

__DRIVER_NAME__ = "fastgdml"
__DRIVER_CLASS__ = "FastgdmlPES"


class FastgdmlPES(Dummy_driver):
    """Energies and forces of a model for i-PI (atomic units in and out; no virial: zero)."""

    def __init__(self, model=None, energy_unit=None, length_unit=None, *args, **kwargs):
        self.model_path, self.energy_unit, self.length_unit = model, energy_unit, length_unit
        super().__init__(*args, **kwargs)

    def check_parameters(self):
        """Load the model named in ``<parameters>`` (i-PI calls this once, after construction)."""
        from fastgdml.clients.ipi_driver import Units
        from fastgdml.model import Model

        if not self.model_path:
            raise ValueError("the fastgdml PES needs the model file: <parameters> {model: model.npz} </parameters>")
        self.model = Model.load(self.model_path)
        self.units = Units(self.model, self.energy_unit, self.length_unit)

    def compute(self, cell, pos):
        """(potential, forces, virial, extras) of one geometry, or a list of them for a batch of beads."""
        from fastgdml.clients.ipi_driver import evaluate

        batched = isinstance(cell, list)
        cells, positions = (cell, pos) if batched else ([cell], [pos])
        E, F, vir = evaluate(self.model, self.units, cells, positions)
        results = [(float(e), f, v, json.dumps({})) for e, f, v in zip(E, F, vir)]
        return results if batched else results[0]
