"""Make the BLAS/LAPACK of the C++ core loadable.

The extension links ``libscipy_openblas.so`` from the ``scipy-openblas32`` wheel (third_party/README.md) and
finds it through an RPATH into the same site-packages. When the two packages live in different
site-packages directories (user site, layered environments) that RPATH misses; loading the library here by
absolute path first makes the dynamic loader reuse it.
"""
import ctypes
import os

try:
    import scipy_openblas32 as _ob

    _path = os.path.join(_ob.get_lib_dir(), _ob.get_library(fullname=True))
    _handle = ctypes.CDLL(_path, mode=ctypes.RTLD_GLOBAL)
except ImportError:  # a build against a system BLAS needs nothing here
    _handle = None
