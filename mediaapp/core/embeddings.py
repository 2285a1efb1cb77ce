"""Face embeddings and person ids: the pure values the catalog, the engines and People share.

A face embedding is dlib's 128-d ResNet descriptor (``face_recognition_models``
0.3.0), stored as 512 bytes of little-endian float32: dlib computes in 32-bit
floats, so the storage loses nothing. A person id is the Rekognition-style
celebrity Id of a name.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Sequence

import numpy as np

#: Dimension of a dlib ResNet face embedding.
EMBEDDING_SIZE = 128
#: On-disk dtype of embeddings: little-endian float32.
EMBEDDING_DTYPE = np.dtype("<f4")


def embedding_to_bytes(embedding: Sequence[float] | np.ndarray) -> bytes:
    """A 128-d embedding as 512 bytes (little-endian float32).

    Raises ``ValueError`` when it does not hold exactly 128 finite numbers.
    """
    arr = np.asarray(embedding, dtype=np.float64).reshape(-1)
    if arr.shape != (EMBEDDING_SIZE,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"an embedding must be {EMBEDDING_SIZE} finite numbers, got shape {arr.shape}")
    return arr.astype(EMBEDDING_DTYPE).tobytes()


def embedding_from_bytes(blob: bytes) -> np.ndarray:
    """The float64 (128,) array stored by ``embedding_to_bytes``; ``ValueError`` for a wrong length."""
    if len(blob) != EMBEDDING_SIZE * EMBEDDING_DTYPE.itemsize:
        raise ValueError(f"an embedding blob is {EMBEDDING_SIZE * EMBEDDING_DTYPE.itemsize} bytes, got {len(blob)}")
    return np.frombuffer(blob, dtype=EMBEDDING_DTYPE).astype(np.float64)


def person_id(name: str) -> str:
    """A stable Rekognition-style celebrity Id for ``name``: 16 lowercase hex digits.

    The first 64 bits of the SHA-256 of the name after Unicode NFC
    normalisation and trimming; the same name always gives the same Id, in
    every process. Raises ``ValueError`` for an empty name.
    """
    key = unicodedata.normalize("NFC", name).strip()
    if not key:
        raise ValueError("a person needs a non-empty name")
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
