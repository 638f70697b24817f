"""Choosing a compute backend by name: one check, with one message, for the Python API and the CLI.

An unknown name is a ValueError listing the available backends; a backend that is there but cannot run here (the
CUDA backend without a GPU, or without its cuBLAS/cuSOLVER libraries) is a RuntimeError naming the cause and the fix.
Never a silent fallback to another backend.
"""
from __future__ import annotations


def require_backend(name: str) -> str:
    """Return ``name`` if the backend of that name can compute here; raise ValueError/RuntimeError otherwise."""
    from . import _core

    names = _core.backends()
    if not isinstance(name, str) or name not in names:
        hint = ""
        if name == "cuda":
            hint = (" (this installation has no CUDA backend: build fastgdml where nvcc and the cuBLAS/cuSOLVER"
                    " wheels are found, with pip install --no-build-isolation; see the README, 'On a GPU')")
        raise ValueError(f"unknown backend {name!r}; available: {', '.join(names)}{hint}")
    if name != "cpu":
        _core.describe_backend(name)  # RuntimeError naming the missing device or library
    return name


def backend_report() -> list[tuple[str, bool, str]]:
    """(name, usable, description or reason) for every backend this build knows, 'cuda' included."""
    from . import _core

    return [tuple(s) for s in _core.backend_status()]
