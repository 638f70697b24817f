"""Clients that run molecular dynamics with a model; each imports its engine only when used.

- :mod:`.ase_calculator`: :class:`~fastgdml.clients.ase_calculator.Calculator`, the ASE calculator (needs ``ase``);
- :mod:`.ipi_driver`: the i-PI socket driver behind ``fastgdml ipi``, atomic-unit conversions, batched
  evaluation of beads;
- :mod:`.ipi_pes`: the ``<ffdirect>`` PES that i-PI loads by file path (:func:`fastgdml.clients.ipi_driver.pes_path`).
"""
