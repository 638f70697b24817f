"""Reading and writing ``.npz`` files safely.

Reading never runs unrestricted pickle: sGDML model files hold a few pickled object arrays (``f_err``,
``e_err``, ``md5_test``; FORMATS.md §2.2), and ``np.load(allow_pickle=True)`` would execute code from a
crafted file. Object arrays are decoded with an unpickler that admits only what those keys contain
(ndarray reconstruction, dtypes, numpy scalars; dicts, str, float, int, None need no classes at all).

Writing goes to a temporary file in the target directory, then ``os.replace``: an interrupted save never
leaves a truncated file where a good one was.
"""
from __future__ import annotations

import contextlib
import io
import os
import pickle
import tempfile
import zipfile
import zlib

import numpy as np

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class NpzError(ValueError):
    """A file that is not a readable ``.npz`` archive, or holds something it must not."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: not allowed in an sGDML file")


def _memory_limit() -> int:
    """Bytes a single array may take: 80% of the physical memory (a larger one cannot be used anyway)."""
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _read_member(zf: zipfile.ZipFile, member: str, path: str) -> np.ndarray:
    key = member[:-4]
    # The zip directory's uncompressed size bounds what the reader will ever produce (zipfile stops there), so a
    # member claiming more than memory holds is refused before anything is decompressed or allocated.
    declared = zf.getinfo(member).file_size
    if declared > _memory_limit():
        raise NpzError(f"{path}: key '{key}' would need {declared / 2**30:.1f} GiB of memory "
                       f"(more than this machine's {_memory_limit() / 2**30:.1f} GiB allows); refusing to read it")
    with zf.open(member) as raw:
        fp = io.BufferedReader(raw)
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        count = 1
        for dim in shape:  # Python ints: no overflow on absurd header shapes
            count *= int(dim)
        if not dtype.hasobject and count * dtype.itemsize > declared:
            raise NpzError(f"{path}: key '{key}' is truncated or corrupt (its header claims shape {shape} of "
                           f"{dtype}, {count * dtype.itemsize} bytes, but the member holds {declared})")
        if dtype.hasobject:
            try:
                arr = _RestrictedUnpickler(fp).load()
            except Exception as exc:  # noqa: BLE001 - any failure means an untrusted or corrupt object key
                raise NpzError(f"{path}: key '{key}' holds a pickled object that cannot be read safely "
                               f"({exc})") from None
            try:
                return np.asarray(arr, dtype=object).reshape(shape)
            except ValueError:
                raise NpzError(f"{path}: key '{key}': the pickled object does not fit its header shape {shape}") from None
        data = fp.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise NpzError(f"{path}: key '{key}' is truncated")
        arr = np.frombuffer(data, dtype=dtype).copy()
        return arr.reshape(shape, order="F" if fortran else "C")


def load_npz(path) -> dict:
    """All arrays of an ``.npz`` file as a dict, object keys decoded safely."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with zipfile.ZipFile(path) as zf:
            out = {}
            for member in zf.namelist():
                if member.endswith(".npy"):
                    out[member[:-4]] = _read_member(zf, member, path)
            return out
    except IsADirectoryError:
        raise NpzError(f"{path}: is a directory, not an .npz file") from None
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc) or "Bad magic" in str(exc) or "Truncated" in str(exc):
            raise NpzError(f"{path}: corrupt .npz archive ({exc}); download or copy the file again") from None
        raise NpzError(f"{path}: not an .npz archive (expected a numpy savez file)") from None
    except NpzError:
        raise
    except (ValueError, OSError, EOFError, zlib.error, NotImplementedError, KeyError, RuntimeError,
            SyntaxError, TypeError, OverflowError, MemoryError) as exc:
        # zlib.error: corrupt compressed data; NotImplementedError: unsupported zip compression; KeyError: a
        # directory entry without data; SyntaxError/TypeError: a malformed .npy header dictionary.
        raise NpzError(f"{path}: corrupt .npz archive ({type(exc).__name__}: {exc}); download or copy the file "
                       f"again") from None


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (a power cut after it must not bring back the old directory entry)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the rename is still atomic
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = ""):
    """Yield a temporary file name next to ``path``; after the block, fsync it and rename it over ``path``.

    On any error (or Ctrl-C) the temporary file is removed and an existing ``path`` stays untouched.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix or os.path.splitext(path)[1], dir=directory)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_directory(directory)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_npz_atomic(path, arrays: dict) -> None:
    """``np.savez_compressed`` to a temporary file next to ``path``, fsync, then rename over ``path``."""
    path = os.fspath(path)
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)


def as_str(value) -> str:
    """A 0-d string/bytes array (how sGDML stores strings) as a Python str."""
    v = np.asarray(value)
    item = v.item() if v.ndim == 0 else v.ravel()[0]
    return item.decode() if isinstance(item, bytes) else str(item)
