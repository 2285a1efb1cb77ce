"""Careful file-system operations: opening originals safely, atomic private writes.

- ``open_regular`` opens a file for reading only if it is a regular file,
  without ever blocking: a path swapped for a FIFO between the folder scan
  and the read (or a device node) is refused instead of hanging the import.
- ``atomic_write`` / ``atomic_writer`` write a file so that readers and a
  crash never see half of it: a new temporary file is created in the target
  folder with ``O_EXCL`` (``tempfile.mkstemp``: a link planted under a
  predictable name cannot redirect the write), filled, checked for its
  size, flushed to disk with ``fsync`` and renamed over the target
  (``os.replace`` replaces a link at the target itself, never what it
  points to).
- ``PRIVATE_DIR_MODE`` / ``PRIVATE_FILE_MODE`` and ``make_private_dir`` /
  ``make_private`` keep a library readable by its owner only: it holds
  face embeddings, which are biometric data (GDPR art. 9).

Nothing here writes to a user's originals.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "PRIVATE_DIR_MODE",
    "PRIVATE_FILE_MODE",
    "NotRegularFileError",
    "atomic_write",
    "atomic_writer",
    "create_private_file",
    "is_private",
    "make_private",
    "make_private_dir",
    "make_private_tree",
    "open_regular",
]

#: rwx------: library folders (catalog, faces, thumbnails) are their owner's only.
PRIVATE_DIR_MODE = 0o700
#: rw-------: library files.
PRIVATE_FILE_MODE = 0o600


class NotRegularFileError(OSError):
    """The path is a FIFO, socket, device or folder, not a regular file (``errno`` EINVAL)."""

    def __init__(self, path: str, kind: str):
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", path)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike, buffering: int = -1) -> BinaryIO:
    """Open ``path`` read-only as a binary file object, only if it is a regular file.

    The open uses ``O_NONBLOCK`` (opening a FIFO for reading would otherwise
    wait for a writer forever) and the type is checked with ``fstat`` on the
    open descriptor, so a swap between a check and the open cannot slip
    through; the flag is then cleared for ordinary blocking reads.
    ``buffering`` is as for ``open()`` (0 = unbuffered).
    Raises ``IsADirectoryError`` for a folder, ``NotRegularFileError`` for
    a FIFO, socket or device, and ``OSError`` when the file cannot be opened.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fsdecode(path))
        if not stat.S_ISREG(mode):
            raise NotRegularFileError(os.fsdecode(path), _kind(mode))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb", buffering=buffering)
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def atomic_writer(target: str | os.PathLike, mode: int = PRIVATE_FILE_MODE) -> Iterator[BinaryIO]:
    """Write ``target`` atomically: yields a binary file object; on success it replaces ``target``.

    The temporary file (``.<name>.<random>.tmp`` in the target's folder, which
    is created owner-only when missing) is made with ``O_EXCL``, gets
    ``mode`` (default owner-only), and is flushed and ``fsync``-ed before the rename, so a
    short write (a full disk) raises instead of leaving a truncated file
    under the final name. On any exception the temporary file is removed and
    ``target`` is left as it was. Raises ``OSError``.
    """
    target = os.fspath(target)
    folder = os.path.dirname(target) or "."
    _makedirs_private(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            written = f.tell()
            os.fsync(f.fileno())
        if os.stat(tmp).st_size != written:  # belt and braces: some file systems report ENOSPC late
            raise OSError(errno.ENOSPC, "short write (disk full?)", target)
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _makedirs_private(folder: str) -> None:
    """Create ``folder`` and every missing parent with ``PRIVATE_DIR_MODE`` (``os.makedirs`` gives the
    parents the umask's mode)."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, PRIVATE_DIR_MODE)
        except FileExistsError:
            if not os.path.isdir(path):
                raise


def atomic_write(target: str | os.PathLike, data: bytes, mode: int = PRIVATE_FILE_MODE) -> str:
    """Write ``data`` to ``target`` atomically (see ``atomic_writer``); returns ``target`` as text.

    Raises ``OSError`` (``errno.ENOSPC`` when the disk is full); ``target`` is then unchanged.
    """
    with atomic_writer(target, mode) as f:
        f.write(data)
    return os.fspath(target)


def make_private_dir(path: str | os.PathLike) -> Path:
    """Create folder ``path`` (and missing parents) readable by its owner only; tighten it if it exists.

    New folders (missing parents too) get ``PRIVATE_DIR_MODE`` whatever the umask; an existing one
    owned by this user loses group and other permissions. Returns the path.
    Raises ``FileExistsError`` when ``path`` exists and is not a folder,
    and ``OSError`` when it cannot be created.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise FileExistsError(errno.EEXIST, "exists and is not a folder", str(p))
    _makedirs_private(os.fspath(p))
    make_private(p)
    return p


def create_private_file(path: str | os.PathLike) -> None:
    """Create the empty file ``path`` with ``PRIVATE_FILE_MODE``, or tighten it if it exists.

    For databases: SQLite gives its ``-wal`` and ``-shm`` files the mode of
    the database file, so those are tightened along with it. Raises
    ``OSError`` when the file cannot be created.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        for suffix in ("", "-wal", "-shm", "-journal"):
            make_private(f"{os.fspath(path)}{suffix}")


def make_private_tree(folder: str | os.PathLike) -> int:
    """Make ``folder`` and everything below it owner-only (folders 0700, files lose group/other bits).

    For libraries made before mediaapp kept them private; returns how many
    entries were changed. Symbolic links (``folder`` itself included) are
    never followed or changed. Unreadable entries are skipped; never raises.
    """
    if os.path.islink(folder):  # never follow a link out of the library
        return 0
    changed = 0
    for root, dirs, files in os.walk(folder):
        for name in (*dirs, *files):
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
                make_private(path)
                changed += 1
    make_private(folder)
    return changed


def is_private(path: str | os.PathLike) -> bool:
    """True when ``path`` exists and grants nothing to group or others."""
    try:
        return not stat.S_IMODE(os.stat(path).st_mode) & 0o077
    except OSError:
        return False


def make_private(path: str | os.PathLike) -> None:
    """Remove group and other permissions from ``path`` if it exists and this user owns it; never raises."""
    with contextlib.suppress(OSError):
        st = os.stat(path)
        if hasattr(os, "getuid") and st.st_uid != os.getuid():
            return
        wanted = stat.S_IMODE(st.st_mode) & 0o700
        if wanted != stat.S_IMODE(st.st_mode):
            os.chmod(path, wanted)
