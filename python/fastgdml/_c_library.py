"""Where the C ABI lives in this installation: the header ``c_api.h`` and the shared library ``libfastgdml``
(built and installed with the wheel, next to the Python package), for C/C++ programs and the LAMMPS plugin."""
from __future__ import annotations

import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def get_include() -> str:
    """The directory to put on the include path: ``#include "fastgdml/c_api.h"`` then finds the C ABI's header
    (as ``numpy.get_include()`` does for NumPy's). FileNotFoundError when this installation lacks it."""
    path = os.path.join(_HERE, "include")
    if not os.path.isfile(os.path.join(path, "fastgdml", "c_api.h")):
        raise FileNotFoundError(f"{path}/fastgdml/c_api.h is missing: this fastgdml installation has no C ABI "
                                f"header (reinstall with pip)")
    return path


def get_library() -> str:
    """The path of the shared library ``libfastgdml.so`` to link C/C++ programs with (``-L`` its directory,
    ``-lfastgdml``, and an rpath to it). FileNotFoundError when this installation lacks it."""
    path = os.path.join(_HERE, "lib", "libfastgdml.so")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: this fastgdml installation has no C library (reinstall with pip)")
    return path


def compile_flags() -> str:
    """``-I<include dir>``."""
    return f"-I{get_include()}"


def link_flags() -> str:
    """``-L<dir> -lfastgdml -Wl,-rpath,<dir>``: link and find the library at run time."""
    lib = os.path.dirname(get_library())
    return f"-L{lib} -lfastgdml -Wl,-rpath,{lib}"
