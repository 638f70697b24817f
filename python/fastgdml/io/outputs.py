"""Output files: the checks the command line makes before any work, the mode of written files, write errors.

Every file fastgdml writes goes through ``io.npz.atomic_path`` (temporary file, fsync, rename); this module holds
what that needs beyond the rename (SECURITY.md, "How files are written"):

- :func:`check_output`: refuses, before a command loads or trains anything, an output that would fail or do
  harm at the end: a directory, a missing or unwritable directory, an input of the command, an existing file
  without ``--overwrite``, a name whose extension is not the format written.
- :func:`replacement_mode`: written files get the mode of the file they replace, else what ``open()`` would
  give (0o666 & ~umask), not the 0600 of ``tempfile.mkstemp``.
- :class:`WriteError`: a failed write (disk full, read-only file system), naming the target file.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile

_PROC_STATUS = "/proc/self/status"  # a module constant so the tests can make the fallback run


class OutputError(ValueError):
    """An output path that cannot or must not be written; the message names it."""


class WriteError(OSError):
    """Writing a file failed (``filename`` is the target, not the temporary file); the previous file is intact."""


def current_umask() -> int:
    """The process's umask, read without changing it.

    Linux reports it in /proc/self/status. Elsewhere the only way is to set it and put it back, which is not
    thread-safe (a file created by another thread in between gets the temporary umask), hence the fallback only.
    """
    try:
        with open(_PROC_STATUS) as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o077)
    os.umask(old)
    return old


def replacement_mode(path: str) -> int:
    """Permission bits for a file about to be renamed over ``path``.

    Those of the regular file there (replacing a 0640 model keeps it 0640), else 0o666 & ~umask, what a plain
    ``open(path, "w")`` would create. A symbolic link at ``path`` is replaced by the rename, never written
    through, so it counts as absent. Raises :class:`WriteError` when ``path`` is a directory or another
    non-regular file: renaming over a FIFO or a device node (``-o /dev/null`` as root) would replace it.
    """
    try:
        st = os.lstat(path)
    except OSError:  # absent, or its directory is unusable (then creating the temporary file fails and says so)
        return 0o666 & ~current_umask()
    if stat.S_ISREG(st.st_mode):
        return st.st_mode & 0o777  # no set-id bits on a data file
    if stat.S_ISLNK(st.st_mode):
        return 0o666 & ~current_umask()
    if stat.S_ISDIR(st.st_mode):
        raise WriteError(errno.EISDIR, "is a directory", path)
    raise WriteError(errno.EINVAL, "exists and is not a regular file", path)


def same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one file: also through hard and symbolic links, or, when one does not exist
    (yet), the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(path: str, *, inputs=(), suffixes=(), overwrite: bool = False, what: str = "output") -> None:
    """Refuse an output ``path`` that cannot or must not be written; call it before any loading or training.

    Raises :class:`OutputError` (one line naming ``path``) when

    - ``suffixes`` is given and ``path`` ends in none of them (the format written follows the extension);
    - ``path`` is the same file as one of ``inputs`` (a hard or symbolic link included; ``overwrite`` does not
      allow it: the atomic rename would destroy the input);
    - ``path`` is a directory or another non-regular file (FIFO, device);
    - ``path`` exists and ``overwrite`` is false;
    - its directory does not exist or no file can be created there. This is tested by creating and removing an
      empty temporary file: the file system's own answer, also where ``os.access`` cannot know it (it checks
      the real, not the effective user; NFS root squashing, a full inode table, quotas, FUSE).

    ``what`` names the file in messages ("model", "report", ...).
    """
    path = os.fspath(path)
    if suffixes and not path.lower().endswith(tuple(suffixes)):
        raise OutputError(f"{path}: the {what} is written as {' or '.join(suffixes)}; give a file name ending in "
                          f"{' or '.join(suffixes)}")
    for inp in inputs:
        if inp is not None and same_file(path, os.fspath(inp)):
            raise OutputError(f"{path} is the input {inp}: choose another name for the {what}")
    if os.path.isdir(path):
        raise OutputError(f"cannot write {path}: it is a directory")
    if os.path.exists(path) and not os.path.isfile(path):
        raise OutputError(f"cannot write {path}: it exists and is not a regular file")
    if os.path.lexists(path) and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite to replace it")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        parent = os.path.dirname(path) or "."
        problem = f"{parent} is not a directory" if os.path.lexists(directory) else f"directory {parent} does not exist"
        raise OutputError(f"cannot write {path}: {problem}")
    try:
        fd, probe = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
