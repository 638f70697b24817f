"""Reading and writing ``.npz`` files safely.

Reading runs no pickle at all: the few object keys of sGDML model files (``f_err``, ``e_err``, ``md5_test``, ...;
FORMATS.md §2.2) are decoded by :mod:`fastgdml.io.object_keys`, which accepts exactly the shapes the format uses
(a dict of floats, a str, a number or None) and builds every value itself. Object arrays in any other key are
refused. Before anything is decompressed, the sizes the zip directory and the ``.npy`` headers declare are checked
against the memory this process may use (:mod:`fastgdml.io.memory`), all members together, and each member is read
once, straight into its array.

Writing goes to a temporary file in the target directory, then ``os.replace``: an interrupted save never
leaves a truncated file where a good one was.
"""
from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import zipfile
import zlib

import numpy as np

from .memory import file_budget, gib
from .object_keys import MAX_STREAM_BYTES, ObjectKeyError, decode_object_array

# Object keys of sGDML model files (dicts of errors, md5 of the test set, optional solver settings).
MODEL_OBJECT_KEYS = frozenset({"f_err", "e_err", "md5_test", "n_inducing_pts_init", "interact_cut_off"})
# More members than any sGDML file has (about 40); a zip directory of millions of entries is refused.
MAX_MEMBERS = 10_000


class NpzError(ValueError):
    """A file that is not a readable ``.npz`` archive, or holds something it must not."""


def require_regular_file(path: str, error=None, what: str = "an .npz file") -> None:
    """Refuse an input that is not a regular file before it is opened: a FIFO blocks forever, ``/dev/zero`` reads
    without end, a directory or socket ends in an obscure error. Raises ``error`` (default NpzError)."""
    error = error or NpzError
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror})") from None
    if stat.S_ISDIR(mode):
        raise error(f"{path}: is a directory, not {what}")
    if not stat.S_ISREG(mode):
        raise error(f"{path}: not a regular file (a FIFO, device or socket); give the path of a file")


def _read_header(fp, key: str, path: str):
    version = np.lib.format.read_magic(fp)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    else:
        raise NpzError(f"{path}: key '{key}': unsupported .npy format version {version}")
    count = 1
    for dim in shape:  # Python ints: no overflow on absurd header shapes
        count *= int(dim)
    return shape, fortran, dtype, count


def _read_exactly_into(fp, arr: np.ndarray) -> int:
    """Fill ``arr`` from ``fp`` without an intermediate copy; the number of bytes read."""
    view = memoryview(arr.reshape(-1).view(np.uint8))
    done = 0
    while done < len(view):
        got = fp.readinto(view[done:done + (1 << 20)])  # small chunks: zipfile reads through a bytes buffer
        if not got:
            break
        done += got
    return done


def _read_member(zf: zipfile.ZipFile, member: str, path: str, object_keys) -> np.ndarray:
    key = member[:-4]
    declared = zf.getinfo(member).file_size
    with zf.open(member) as fp:
        shape, fortran, dtype, count = _read_header(fp, key, path)
        if dtype.hasobject:
            if key not in object_keys:
                raise NpzError(f"{path}: key '{key}' holds Python objects (dtype {dtype}), which the sGDML format "
                               f"allows only in {', '.join(sorted(object_keys)) or 'no key here'}; refused")
            if dtype != np.dtype(object):
                raise NpzError(f"{path}: key '{key}' has a structured dtype with objects ({dtype}); refused")
            data = fp.read(MAX_STREAM_BYTES + 1)
            try:
                items = decode_object_array(data, count)
            except ObjectKeyError as exc:
                raise NpzError(f"{path}: key '{key}' holds a pickled object that is not one of the sGDML shapes "
                               f"(a dict of numbers, a string, a number or None): {exc}; refused") from None
            arr = np.empty(count, dtype=object)  # filled with values built by the decoder, not from file bytes
            for i, item in enumerate(items):
                arr[i] = item
            return arr.reshape(shape)
        if dtype.itemsize == 0 and dtype.kind not in "SUV":
            raise NpzError(f"{path}: key '{key}' has a zero-size dtype {dtype}; refused")
        nbytes = count * dtype.itemsize
        if nbytes > declared:
            raise NpzError(f"{path}: key '{key}' is truncated or corrupt (its header claims shape {shape} of "
                           f"{dtype}, {nbytes} bytes, but the member holds {declared})")
        arr = np.empty(count, dtype=dtype)
        if _read_exactly_into(fp, arr) != nbytes:
            raise NpzError(f"{path}: key '{key}' is truncated")
        return arr.reshape(shape, order="F" if fortran else "C")


def load_npz(path, object_keys=MODEL_OBJECT_KEYS, budget=None) -> dict:
    """All arrays of an ``.npz`` file as a dict.

    Parameters
    ----------
    path : str
        The file (must be a regular file).
    object_keys : set of str
        Keys that may hold object arrays (decoded by :mod:`fastgdml.io.object_keys`; default: the model format's).
        An object array in any other key is an error.
    budget : int, optional
        Bytes the members may take together (default: :func:`fastgdml.io.memory.file_budget`).
    """
    path = os.fspath(path)
    require_regular_file(path)
    budget = file_budget() if budget is None else int(budget)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_MEMBERS:
                raise NpzError(f"{path}: {len(infos)} zip members (an .npz of sGDML has a few dozen); refused")
            members = [i.filename for i in infos if i.filename.endswith(".npy")]
            if len(set(members)) != len(members):
                raise NpzError(f"{path}: a key is stored twice in the archive; the file is corrupt or crafted")
            # The zip directory's sizes bound what the reader will ever produce (zipfile stops there): all
            # members together are checked before anything is decompressed or allocated.
            total = sum(i.file_size for i in infos if i.filename.endswith(".npy"))
            if total > budget:
                raise NpzError(f"{path}: its arrays would need {gib(total)} of memory, more than the "
                               f"{gib(budget)} this process can use now; refusing to read it (free memory or "
                               f"use a machine with more)")
            return {m[:-4]: _read_member(zf, m, path, object_keys) for m in members}
    except zipfile.BadZipFile as exc:
        if "CRC" in str(exc) or "Bad magic" in str(exc) or "Truncated" in str(exc):
            raise NpzError(f"{path}: corrupt .npz archive ({exc}); download or copy the file again") from None
        raise NpzError(f"{path}: not an .npz archive (expected a numpy savez file)") from None
    except NpzError:
        raise
    except MemoryError:
        raise NpzError(f"{path}: out of memory while reading it (the budget check passed, so memory is short "
                       f"right now); free memory and try again") from None
    except (ValueError, OSError, EOFError, zlib.error, NotImplementedError, KeyError, RuntimeError,
            SyntaxError, TypeError, OverflowError) as exc:
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

    On any error (or Ctrl-C, or SIGTERM turned into an exception by the CLI) the temporary file is removed and
    an existing ``path`` stays untouched. The file gets the mode of the regular file it replaces, else
    0o666 & ~umask (``outputs.replacement_mode``; mkstemp alone would make every file 0600). A directory or
    other non-regular file at ``path`` is refused; a symbolic link is replaced, not written through. Failures
    raise ``outputs.WriteError`` (an OSError) naming ``path``, not the temporary file.
    """
    from .outputs import WriteError, replacement_mode

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    mode = replacement_mode(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix or os.path.splitext(path)[1], dir=directory)
    except OSError as exc:
        raise WriteError(exc.errno, exc.strerror or str(exc), path) from exc
    try:
        try:
            os.fchmod(fd, mode)  # before anything is written: the data is never readable more widely than asked
        finally:
            os.close(fd)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())  # a full disk or an I/O error may only show here
        os.replace(tmp, path)
        _fsync_directory(directory)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise WriteError(exc.errno, exc.strerror or str(exc), path) from exc
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
