"""Rows of the catalog's people tables (``mediaapp.catalog.face_store``) as values, and their small helpers.

Schema (migration 3, ``mediaapp.catalog.migrations``):

- ``faces``: one row per detected face, the local counterpart of a face
  indexed by Rekognition's IndexFaces (``id`` is the FaceId, ``sha256`` the
  ExternalImageId): BoundingBox (ratios), Confidence (0-100), Landmarks /
  Pose / Quality (Rekognition JSON), the 128-d embedding (float32 BLOB) with
  its model version, a crop file, ``state`` (``ok`` or ``rejected``), the
  person it shows (``person_id``, ``assigned_by`` ``user`` / ``example`` /
  ``auto``, ``similarity`` 0-100) and, while unknown, its cluster
  (``group_id``, ``group_locked`` when the user placed it). ``origin`` is
  ``photo`` for faces of library images and ``example`` for faces of the
  example photos a person was enrolled from (those are not library assets).
- ``persons``: id, name (unique ignoring case), created_at, source
  (``examples`` or ``named``: how the person was first made).
- ``face_exclusions``: (face, person) pairs the user undid ("not this
  person"); automatic naming never gives that face that person again.

``FaceRecord`` is one ``faces`` row with its person's name, ``PersonRecord``
one person with counts, ``EmbeddedFaces`` faces with their embeddings as
matching needs them. ``REFERENCE_SOURCES`` says which faces define a person
(the *references*), ``normalize_name`` how a name is stored, ``box_iou``
and ``SAME_FACE_IOU`` when a re-analysed face is the same face.
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from mediaapp.core.embeddings import EMBEDDING_DTYPE, EMBEDDING_SIZE
from mediaapp.core.types import BoundingBox, Json

__all__ = [
    "REFERENCE_SOURCES",
    "SAME_FACE_IOU",
    "EmbeddedFaces",
    "FaceRecord",
    "PersonRecord",
    "box_iou",
    "normalize_name",
]

#: A re-analysed face keeps its row (id, name, group) when its new box overlaps
#: the old one by at least this intersection-over-union; the same detector on
#: the same bytes gives identical boxes (IoU 1), a newer detector shifts them a
#: little, and two different faces of one photo practically never overlap by half.
SAME_FACE_IOU = 0.5

#: ``assigned_by`` of the faces that define a person (the references): named by the user, or enrolled.
REFERENCE_SOURCES = ("user", "example")
REFERENCE_SQL = "f.state = 'ok' AND f.person_id IS NOT NULL AND f.assigned_by IN ('user', 'example')"


def normalize_name(name: str) -> str:
    """A person's name as stored: Unicode NFC, surrounding and repeated inner spaces removed.

    Raises ``ValueError`` for a name that is empty once trimmed.
    """
    text = " ".join(unicodedata.normalize("NFC", str(name)).split())
    if not text:
        raise ValueError("a person needs a non-empty name")
    return text


def box_iou(a: BoundingBox, b: BoundingBox) -> float:
    """Intersection over union (0-1) of two boxes given as ratios."""
    left, top = max(a.left, b.left), max(a.top, b.top)
    right = min(a.left + a.width, b.left + b.width)
    bottom = min(a.top + a.height, b.top + b.height)
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A named person: ``faces`` photo faces named so (state ok) in ``photos`` distinct images,
    enrolled from ``examples`` example faces. ``created_at`` is ISO 8601 UTC."""

    id: int
    name: str
    created_at: str
    source: str
    faces: int = 0
    photos: int = 0
    examples: int = 0


@dataclass(frozen=True, slots=True)
class FaceRecord:
    """One row of ``faces`` with its person's name (see the module docstring for the columns).

    ``box`` is in ratios, ``confidence`` and ``similarity`` 0-100; ``crop`` is
    relative to the library's ``faces`` folder; ``landmarks`` / ``pose`` /
    ``quality`` are the Rekognition ComparedFace members.
    """

    id: int
    sha256: str
    face_index: int
    origin: str
    box: BoundingBox
    confidence: float
    crop: str | None
    state: str
    person_id: int | None
    person_name: str | None
    assigned_by: str | None
    similarity: float | None
    group_id: int | None
    group_locked: bool
    model_version: str
    landmarks: list[Json]
    pose: dict[str, float]
    quality: dict[str, float]


@dataclass(frozen=True)
class EmbeddedFaces:
    """Faces with their embeddings, as matching needs them: parallel sequences, one item per face.

    ``embeddings`` is float64 (n, 128) (the stored float32 values, exactly);
    ``similarities`` 0-100 or None. Read by ``FaceStore.reference_faces``
    and ``FaceStore.match_candidates`` in one query each (no JSON details).
    """

    ids: list[int]
    sha256s: list[str]
    origins: list[str]
    person_ids: list[int | None]
    assigned_by: list[str | None]
    similarities: list[float | None]
    embeddings: np.ndarray

    def __len__(self) -> int:
        """Number of faces."""
        return len(self.ids)


#: The columns ``face_from_row`` reads, from ``faces f LEFT JOIN persons p``.
FACE_COLUMNS = ("f.id, f.sha256, f.face_index, f.origin, f.box_left, f.box_top, f.box_width, f.box_height,"
                " f.confidence, f.crop, f.state, f.person_id, p.name AS person_name, f.assigned_by, f.similarity,"
                " f.group_id, f.group_locked, f.model_version, f.landmarks, f.pose, f.quality")


def face_from_row(row: sqlite3.Row) -> FaceRecord:
    """The ``FaceRecord`` of a row selected with ``FACE_COLUMNS`` (boxes in ratios, confidences 0-100)."""
    return FaceRecord(row["id"], row["sha256"], row["face_index"], row["origin"],
                      BoundingBox(row["box_left"], row["box_top"], row["box_width"], row["box_height"]),
                      row["confidence"], row["crop"], row["state"], row["person_id"], row["person_name"],
                      row["assigned_by"], row["similarity"], row["group_id"], bool(row["group_locked"]),
                      row["model_version"], json.loads(row["landmarks"]), json.loads(row["pose"]),
                      json.loads(row["quality"]))


def is_reference(face: FaceRecord) -> bool:
    """Whether ``face`` defines its person (see ``REFERENCE_SOURCES``)."""
    return face.state == "ok" and face.person_id is not None and face.assigned_by in REFERENCE_SOURCES


def _box_area(face: Mapping[str, Any]) -> float:
    """Area (ratio of the image) of a ComparedFace's BoundingBox, 0 when absent."""
    box = face.get("BoundingBox") or {}
    return float(box.get("Width", 0.0)) * float(box.get("Height", 0.0))


def embedded_from_rows(rows: list[sqlite3.Row]) -> EmbeddedFaces:
    """``EmbeddedFaces`` from rows of (id, sha256, origin, person_id, assigned_by, similarity, embedding).

    Raises ``ValueError`` for an embedding blob of the wrong length.
    """
    size = EMBEDDING_SIZE * EMBEDDING_DTYPE.itemsize
    blobs = [r["embedding"] for r in rows]
    bad = next((len(b) for b in blobs if len(b) != size), None)
    if bad is not None:
        raise ValueError(f"an embedding blob is {size} bytes, got {bad}")
    matrix = (np.frombuffer(b"".join(blobs), dtype=EMBEDDING_DTYPE).reshape(-1, EMBEDDING_SIZE).astype(np.float64)
              if blobs else np.zeros((0, EMBEDDING_SIZE)))
    return EmbeddedFaces([r["id"] for r in rows], [r["sha256"] for r in rows], [r["origin"] for r in rows],
                         [r["person_id"] for r in rows], [r["assigned_by"] for r in rows],
                         [r["similarity"] for r in rows], matrix)
