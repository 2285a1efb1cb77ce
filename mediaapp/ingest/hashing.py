"""Content hashing: the SHA-256 that keys every asset in the catalog."""

from __future__ import annotations

import hashlib
from pathlib import Path

from mediaapp.fsio import open_regular


def sha256_file(path: str | Path, chunk_size: int = 1 << 20) -> str:
    """Return the SHA-256 of the file's bytes as 64 lowercase hex characters.

    Streams the file in ``chunk_size``-byte reads (default 1 MiB) into one
    reused buffer, so memory stays constant whatever the file size. The file
    is opened read-only with ``mediaapp.fsio.open_regular`` (never blocks on
    a FIFO). Raises ``OSError`` when it cannot be opened or read or is not a
    regular file, and ``ValueError`` when ``chunk_size`` is not positive.
    """
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    digest = hashlib.sha256()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    with open_regular(path, buffering=0) as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()
