"""The faces mediaapp keeps of a Rekognition face collection (catalog table ``cloud_faces``, migration 11 -> 12).

The collection itself holds face vectors only, each under ``ExternalImageId`` = the image's sha256; the
names stay here. One row per (CollectionId, FaceId): the image's sha256, the face's BoundingBox (ratios,
as JSON) and the person it was enrolled as (NULL for a face indexed from an imported image, deleted again
after the search). ``mediaapp.services.face_collection`` makes the calls and keeps these rows in step.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from mediaapp.catalog.db import Catalog
from mediaapp.core.types import Json

__all__ = ["CloudFaceRecord", "delete_faces", "enrolled_people", "faces", "store_faces"]


@dataclass(frozen=True)
class CloudFaceRecord:
    """One face in the collection as mediaapp keeps it: ``face_id`` (Rekognition's FaceId), the
    ``sha256`` of its image (its ExternalImageId), its ``box`` (BoundingBox dict, ratios), and the
    ``person`` it was enrolled as (None: a face found in an imported image)."""

    face_id: str
    sha256: str
    box: Json = field(default_factory=dict)
    person: str | None = None


def enrolled_people(catalog: Catalog, collection_id: str) -> dict[str, str]:
    """FaceId -> person name of the faces enrolled in ``collection_id`` (no network). Raises
    ``sqlite3.Error`` when the catalog cannot be read."""
    with catalog.read() as conn:
        rows = conn.execute("SELECT face_id, person FROM cloud_faces WHERE collection_id=? AND person IS NOT NULL",
                            (collection_id,)).fetchall()
    return {r[0]: r[1] for r in rows}


def faces(catalog: Catalog, collection_id: str) -> list[CloudFaceRecord]:
    """Every face kept for ``collection_id``, by FaceId. Raises ``sqlite3.Error``."""
    with catalog.read() as conn:
        rows = conn.execute("SELECT face_id, sha256, box, person FROM cloud_faces WHERE collection_id=?"
                            " ORDER BY face_id", (collection_id,)).fetchall()
    return [CloudFaceRecord(r[0], r[1], json.loads(r[2] or "{}"), r[3]) for r in rows]


def store_faces(catalog: Catalog, collection_id: str, records: Iterable[CloudFaceRecord]) -> None:
    """Keep ``records`` for ``collection_id`` (one transaction); a FaceId kept already keeps its person unless a
    record names one. Raises ``sqlite3.Error`` (``sqlite3.OperationalError``: busy, read-only, disk full)."""
    with catalog.transaction() as conn:
        conn.executemany(
            "INSERT INTO cloud_faces(collection_id, face_id, sha256, box, person) VALUES(?,?,?,?,?)"
            " ON CONFLICT(collection_id, face_id) DO UPDATE SET person=COALESCE(excluded.person, person)",
            [(collection_id, r.face_id, r.sha256, json.dumps(r.box), r.person) for r in records])


def delete_faces(catalog: Catalog, collection_id: str, face_ids: Iterable[str]) -> None:
    """Forget the faces ``face_ids`` of ``collection_id`` (one transaction). Raises ``sqlite3.Error``."""
    with catalog.transaction() as conn:
        conn.executemany("DELETE FROM cloud_faces WHERE collection_id=? AND face_id=?",
                         [(collection_id, f) for f in face_ids])
