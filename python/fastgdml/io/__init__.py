"""Files and memory: the package's internal layer for reading untrusted files and writing outputs safely.

- :mod:`.npz`: ``.npz`` reading without pickle, size checks before decompression, atomic writes;
- :mod:`.object_keys`: the pickle-free decoder of the sGDML format's object keys (``f_err``, ``e_err``, ...);
- :mod:`.outputs`: output-path checks made before any work, file modes, write errors;
- :mod:`.memory`: how much memory this process may still use (file and solver budgets).

SECURITY.md describes the threat model these modules implement. They are internal: their names may change
between versions (the public API is what ``fastgdml`` exports).
"""
