"""The media-store interface.

A store keeps (or refers to) the bytes of assets, keyed by their sha256.
The local store leaves originals where they are; the S3 store uploads them
(or a downscaled proxy) under content-addressed keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class StoreError(Exception):
    """A store operation failed; the message is shown to the user."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """Where a store keeps an asset: a ``uri`` (``file:///...`` or ``s3://bucket/key``) and its size in bytes."""

    sha256: str
    uri: str
    size: int


@runtime_checkable
class MediaStore(Protocol):
    """Keeps the bytes of assets. Methods raise ``StoreError`` with a readable reason."""

    name: str

    def put(self, sha256: str, path: str, metadata: dict | None = None) -> StoredObject:
        """Store the file at ``path`` (whose bytes hash to ``sha256``); idempotent."""

    def exists(self, sha256: str) -> bool:
        """True when the store holds these bytes."""

    def delete(self, sha256: str) -> None:
        """Remove the stored copy (never an original the user owns)."""
