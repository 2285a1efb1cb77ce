"""The local store: originals stay where they are; nothing is copied or written."""

from __future__ import annotations

import os
from pathlib import Path

from mediaapp.storage.store_base import StoredObject, StoreError


class LocalStore:
    """A store that refers to files in place (name ``local``).

    ``put`` records nothing and copies nothing: it returns the file's
    ``file://`` URI. ``delete`` is a no-op because originals are never
    touched. Raises ``StoreError`` when the file is not readable.
    """

    name = "local"

    def put(self, sha256: str, path: str, metadata: dict | None = None) -> StoredObject:
        """Return the in-place location of ``path``."""
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return StoredObject(sha256, Path(path).resolve().as_uri(), size)

    def exists(self, sha256: str) -> bool:
        """Always False: the local store keeps no copies of its own."""
        return False

    def delete(self, sha256: str) -> None:
        """Do nothing: originals are never deleted."""
