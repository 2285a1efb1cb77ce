"""The catalog's people tables: faces found in photos, the persons the user named, exclusions.

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

For images with faces in this table, the local engine's RecognizeCelebrities
*detections* (the flattened, searchable rows; not the stored raw responses)
are derived from it by ``sync_detections``: a ``person`` row per named face
(Name, Confidence = Similarity, box) and a ``face`` row per unknown one,
rejected faces left out. So the user's corrections reach search, facets and
boxes, and local names sit next to cloud names (engine ``rekognition``),
which are never touched.

Every method is safe from any thread (the ``Catalog``'s per-thread
connections); writes run in the caller's ``catalog.transaction()`` or their own.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import numpy as np

from mediaapp.analysis.local.face_records import embedding_from_bytes
from mediaapp.catalog.db import Catalog, now_iso
from mediaapp.core.rekognition import UNKNOWN_FACE, flatten
from mediaapp.core.types import Api, BoundingBox, DetectionKind

__all__ = ["FaceStore", "FaceRecord", "PersonRecord", "LOCAL_ENGINE", "box_iou", "normalize_name"]

#: The engine whose RecognizeCelebrities detections the faces table derives.
LOCAL_ENGINE = "local"
#: A re-analysed face keeps its row (id, name, group) when its new box overlaps
#: the old one by at least this intersection-over-union; the same detector on
#: the same bytes gives identical boxes (IoU 1), a newer detector shifts them a
#: little, and two different faces of one photo practically never overlap by half.
SAME_FACE_IOU = 0.5

_CELEB = Api.RECOGNIZE_CELEBRITIES.value


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
    landmarks: list
    pose: dict
    quality: dict

    def compared_face(self) -> dict:
        """This face as a Rekognition ``ComparedFace`` dict (BoundingBox, Confidence, Landmarks, Pose, Quality)."""
        return {"BoundingBox": self.box.to_rekognition(), "Confidence": self.confidence,
                "Landmarks": list(self.landmarks), "Pose": dict(self.pose), "Quality": dict(self.quality)}


_FACE_COLUMNS = ("f.id, f.sha256, f.face_index, f.origin, f.box_left, f.box_top, f.box_width, f.box_height,"
                 " f.confidence, f.crop, f.state, f.person_id, p.name AS person_name, f.assigned_by, f.similarity,"
                 " f.group_id, f.group_locked, f.model_version, f.landmarks, f.pose, f.quality")


def _face(row) -> FaceRecord:
    return FaceRecord(row["id"], row["sha256"], row["face_index"], row["origin"],
                      BoundingBox(row["box_left"], row["box_top"], row["box_width"], row["box_height"]),
                      row["confidence"], row["crop"], row["state"], row["person_id"], row["person_name"],
                      row["assigned_by"], row["similarity"], row["group_id"], bool(row["group_locked"]),
                      row["model_version"], json.loads(row["landmarks"]), json.loads(row["pose"]),
                      json.loads(row["quality"]))


def _chunks(items: Sequence, size: int = 500) -> Iterator[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class FaceStore:
    """The people tables of ``catalog`` (see the module docstring)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    @property
    def conn(self):
        """This thread's catalog connection."""
        return self.catalog.conn

    # -- faces: writing ------------------------------------------------------------------------
    def index_faces(self, sha256: str, records: Sequence[dict], *, origin: str, model_version: str,
                    detector_version: str) -> tuple[list[int], list[str]]:
        """Make ``records`` the faces of image ``sha256`` with this ``origin``; like Rekognition's IndexFaces.

        ``records`` are face records (``analysis.local.face_records``: Index,
        Face, Embedding bytes, Crop). An existing face whose box overlaps a new
        one by ``SAME_FACE_IOU`` or more is updated in place and keeps its id,
        person, state, group and exclusions; other old faces are deleted; new
        ones are inserted unknown. Returns (the face ids in the order of
        ``records``, crop names of deleted faces no record reuses).
        Raises ``ValueError`` for an ``origin`` other than photo / example.
        """
        if origin not in ("photo", "example"):
            raise ValueError(f"origin must be 'photo' or 'example', not {origin!r}")
        with self.catalog.transaction() as conn:
            old = [_face(r) for r in conn.execute(
                f"SELECT {_FACE_COLUMNS} FROM faces f LEFT JOIN persons p ON p.id = f.person_id"
                " WHERE f.sha256 = ? AND f.origin = ? ORDER BY f.face_index", (sha256, origin))]
            # park old indexes out of the way of UNIQUE(sha256, origin, face_index) while rows move
            conn.execute("UPDATE faces SET face_index = -1 - face_index WHERE sha256 = ? AND origin = ?",
                         (sha256, origin))
            free = {f.id: f for f in old}
            ids: list[int] = []
            now = now_iso()
            for record in records:
                face = record["Face"]
                box = BoundingBox.from_rekognition(face["BoundingBox"])
                values = (int(record["Index"]), box.left, box.top, box.width, box.height,
                          float(face.get("Confidence", 0.0)), json.dumps(face.get("Landmarks", [])),
                          json.dumps(face.get("Pose", {})), json.dumps(face.get("Quality", {})),
                          bytes(record["Embedding"]), model_version, detector_version, record.get("Crop"))
                best = max(free.values(), key=lambda f: box_iou(f.box, box), default=None)
                if best is not None and box_iou(best.box, box) >= SAME_FACE_IOU:
                    del free[best.id]
                    conn.execute("UPDATE faces SET face_index=?, box_left=?, box_top=?, box_width=?, box_height=?,"
                                 " confidence=?, landmarks=?, pose=?, quality=?, embedding=?, model_version=?,"
                                 " detector_version=?, crop=? WHERE id=?", (*values, best.id))
                    ids.append(best.id)
                else:
                    cur = conn.execute(
                        "INSERT INTO faces (face_index, box_left, box_top, box_width, box_height, confidence,"
                        " landmarks, pose, quality, embedding, model_version, detector_version, crop, sha256,"
                        " origin, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (*values, sha256, origin, now))
                    ids.append(int(cur.lastrowid))
            for chunk in _chunks(list(free)):
                conn.execute(f"DELETE FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        kept = {r.get("Crop") for r in records}
        return ids, [f.crop for f in free.values() if f.crop and f.crop not in kept]

    def delete_faces(self, face_ids: Iterable[int]) -> list[str]:
        """Delete faces (and their exclusions); returns their crop names (files are the caller's)."""
        ids = list(face_ids)
        crops: list[str] = []
        with self.catalog.transaction() as conn:
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                crops += [r[0] for r in conn.execute(f"SELECT crop FROM faces WHERE id IN ({marks})"
                                                     " AND crop IS NOT NULL", chunk)]
                conn.execute(f"DELETE FROM faces WHERE id IN ({marks})", chunk)
        return crops

    def assign(self, updates: Iterable[tuple[int, int | None, str | None, float | None]]) -> None:
        """Set (face_id, person_id, assigned_by, similarity) for each face.

        A face whose person changes leaves its cluster (``group_id`` NULL,
        unlocked): a named face needs none, and one that becomes unknown is
        clustered again.
        """
        with self.catalog.transaction() as conn:
            conn.executemany(
                "UPDATE faces SET group_id = CASE WHEN person_id IS ? THEN group_id ELSE NULL END,"
                " group_locked = CASE WHEN person_id IS ? THEN group_locked ELSE 0 END,"
                " person_id = ?, assigned_by = ?, similarity = ? WHERE id = ?",
                [(p, p, p, by, sim, fid) for fid, p, by, sim in updates])

    def set_groups(self, updates: Iterable[tuple[int, int | None, bool]]) -> None:
        """Set (face_id, group_id, locked) for each face."""
        with self.catalog.transaction() as conn:
            conn.executemany("UPDATE faces SET group_id = ?, group_locked = ? WHERE id = ?",
                             [(g, int(locked), fid) for fid, g, locked in updates])

    def set_state(self, face_ids: Iterable[int], state: str) -> None:
        """Set the state (``ok`` or ``rejected``) of faces; a rejected face loses its person and group.

        Raises ``ValueError`` for another state.
        """
        if state not in ("ok", "rejected"):
            raise ValueError(f"state must be 'ok' or 'rejected', not {state!r}")
        with self.catalog.transaction() as conn:
            if state == "rejected":
                conn.executemany("UPDATE faces SET state = 'rejected', person_id = NULL, assigned_by = NULL,"
                                 " similarity = NULL, group_id = NULL, group_locked = 0 WHERE id = ?",
                                 [(i,) for i in face_ids])
            else:
                conn.executemany("UPDATE faces SET state = 'ok' WHERE id = ?", [(i,) for i in face_ids])

    def add_exclusions(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Record (face_id, person_id) pairs the user undid."""
        with self.catalog.transaction() as conn:
            conn.executemany("INSERT OR IGNORE INTO face_exclusions (face_id, person_id) VALUES (?, ?)", list(pairs))

    # -- faces: reading ------------------------------------------------------------------------
    def faces(self, *, face_ids: Iterable[int] | None = None, sha256s: Iterable[str] | None = None,
              person_id: int | None = None, group_id: int | None = None, origin: str | None = "photo",
              states: Sequence[str] = ("ok",), assigned_by: Sequence[str] | None = None) -> list[FaceRecord]:
        """Faces matching every given filter, by image then face index.

        ``origin`` None means photos and examples; ``states`` the states kept;
        ``assigned_by`` keeps faces named that way (``user``, ``example``, ``auto``).
        """
        where = [f"f.state IN ({','.join('?' * len(states))})"]
        args: list = list(states)
        if origin is not None:
            where.append("f.origin = ?")
            args.append(origin)
        if person_id is not None:
            where.append("f.person_id = ?")
            args.append(person_id)
        if group_id is not None:
            where.append("f.group_id = ? AND f.person_id IS NULL")
            args.append(group_id)
        for column, values in (("f.id", face_ids), ("f.sha256", sha256s), ("f.assigned_by", assigned_by)):
            if values is not None:
                where.append(f"{column} IN (SELECT value FROM json_each(?))")
                args.append(json.dumps(list(values)))
        sql = (f"SELECT {_FACE_COLUMNS} FROM faces f LEFT JOIN persons p ON p.id = f.person_id"
               f" WHERE {' AND '.join(where)} ORDER BY f.sha256, f.origin, f.face_index")
        return [_face(r) for r in self.conn.execute(sql, args)]

    def embeddings(self, face_ids: Sequence[int]) -> np.ndarray:
        """The embeddings of ``face_ids`` as a float64 (n, 128) array, in that order.

        Raises ``KeyError`` for an unknown face id.
        """
        found: dict[int, np.ndarray] = {}
        ids = list(face_ids)
        for chunk in _chunks(list(dict.fromkeys(ids))):
            for r in self.conn.execute(f"SELECT id, embedding FROM faces WHERE id IN ({','.join('?' * len(chunk))})",
                                       chunk):
                found[r[0]] = embedding_from_bytes(r[1])
        if not ids:
            return np.zeros((0, 128))
        return np.stack([found[i] for i in ids])

    def exclusions(self, face_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
        """Map face id -> the person ids the user took it out of."""
        out: dict[int, set[int]] = {}
        if face_ids is None:
            rows = self.conn.execute("SELECT face_id, person_id FROM face_exclusions")
        else:
            rows = self.conn.execute("SELECT face_id, person_id FROM face_exclusions WHERE face_id IN"
                                     " (SELECT value FROM json_each(?))", (json.dumps(list(face_ids)),))
        for r in rows:
            out.setdefault(r[0], set()).add(r[1])
        return out

    def max_group_id(self) -> int:
        """The largest group id in use (0 when none)."""
        return int(self.conn.execute("SELECT COALESCE(MAX(group_id), 0) FROM faces").fetchone()[0])

    def has_ungrouped(self) -> bool:
        """True when some unknown photo face (state ok) has no group yet."""
        return self.conn.execute("SELECT 1 FROM faces WHERE origin = 'photo' AND state = 'ok' AND person_id IS NULL"
                                 " AND group_id IS NULL LIMIT 1").fetchone() is not None

    def face_count(self) -> int:
        """Number of face rows (photos and examples, any state)."""
        return int(self.conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0])

    # -- persons -------------------------------------------------------------------------------
    def persons(self) -> list[PersonRecord]:
        """Every person with face, photo and example counts, by name (case-insensitive)."""
        rows = self.conn.execute(
            "SELECT p.id, p.name, p.created_at, p.source,"
            " COUNT(CASE WHEN f.origin = 'photo' THEN 1 END) AS faces,"
            " COUNT(DISTINCT CASE WHEN f.origin = 'photo' THEN f.sha256 END) AS photos,"
            " COUNT(CASE WHEN f.origin = 'example' THEN 1 END) AS examples"
            " FROM persons p LEFT JOIN faces f ON f.person_id = p.id AND f.state = 'ok'"
            " GROUP BY p.id ORDER BY p.name COLLATE NOCASE")
        return [PersonRecord(r["id"], r["name"], r["created_at"], r["source"], r["faces"], r["photos"],
                             r["examples"]) for r in rows]

    def person(self, name: str) -> PersonRecord | None:
        """The person called ``name`` (compared after ``normalize_name`` and Unicode case folding), or None."""
        try:
            wanted = normalize_name(name).casefold()
        except ValueError:
            return None
        return next((p for p in self.persons() if p.name.casefold() == wanted), None)

    def person_by_id(self, person_id: int) -> PersonRecord | None:
        """The person with this id, or None."""
        return next((p for p in self.persons() if p.id == person_id), None)

    def add_person(self, name: str, source: str) -> int:
        """The id of the person called ``name``, created (with ``source``) if nobody has that name.

        Raises ``ValueError`` for an empty name.
        """
        clean = normalize_name(name)
        with self.catalog.transaction() as conn:
            existing = self.person(clean)
            if existing is not None:
                return existing.id
            cur = conn.execute("INSERT INTO persons (name, created_at, source) VALUES (?, ?, ?)",
                               (clean, now_iso(), source))
            return int(cur.lastrowid)

    def rename_person(self, person_id: int, name: str) -> None:
        """Give person ``person_id`` a new name.

        Raises ``ValueError`` for an empty name or one another person has.
        """
        clean = normalize_name(name)
        with self.catalog.transaction() as conn:
            other = self.person(clean)
            if other is not None and other.id != person_id:
                raise ValueError(f"{other.name!r} is another person")
            conn.execute("UPDATE persons SET name = ? WHERE id = ?", (clean, person_id))

    def delete_person(self, person_id: int) -> None:
        """Delete a person; their faces become unknown (not clustered yet), their exclusions go."""
        with self.catalog.transaction() as conn:
            conn.execute("UPDATE faces SET person_id = NULL, assigned_by = NULL, similarity = NULL, group_id = NULL,"
                         " group_locked = 0 WHERE person_id = ?", (person_id,))
            conn.execute("DELETE FROM face_exclusions WHERE person_id = ?", (person_id,))
            conn.execute("DELETE FROM persons WHERE id = ?", (person_id,))

    def cloud_persons(self) -> list[tuple[str, str, int]]:
        """(name, engine, photos) of person detections made by engines other than ``local``.

        Counts catalogued images only; names compared ignoring ASCII case.
        """
        rows = self.conn.execute(
            "SELECT MIN(d.name), d.engine, COUNT(DISTINCT d.sha256) FROM detections d"
            " JOIN assets a ON a.sha256 = d.sha256 WHERE d.kind = ? AND d.engine != ?"
            " GROUP BY d.name COLLATE NOCASE, d.engine ORDER BY MIN(d.name) COLLATE NOCASE, d.engine",
            (DetectionKind.PERSON.value, LOCAL_ENGINE))
        return [(r[0], r[1], r[2]) for r in rows]

    # -- detections ----------------------------------------------------------------------------
    def sync_detections(self, sha256s: Iterable[str]) -> None:
        """Rewrite the local RecognizeCelebrities detections of these images from their faces.

        For an image with photo faces in this table: a ``person`` detection
        per named face (its name, Confidence = similarity, box) and, when a
        local RecognizeCelebrities response is stored for it, a ``face``
        detection per unknown face (as the response's UnrecognizedFaces
        would give); rejected faces give none. Images without face rows get
        the detections of their stored response again (``flatten``), or none
        without one. Each image is queued in ``index_pending`` in the same
        transaction; the caller reindexes.
        """
        shas = list(dict.fromkeys(sha256s))
        with self.catalog.transaction() as conn:
            for sha in shas:
                rows = conn.execute(
                    "SELECT f.state, f.confidence, f.similarity, f.detector_version, p.name, f.box_left, f.box_top,"
                    " f.box_width, f.box_height FROM faces f LEFT JOIN persons p ON p.id = f.person_id"
                    " WHERE f.sha256 = ? AND f.origin = 'photo' ORDER BY f.face_index", (sha,)).fetchall()
                stored = conn.execute("SELECT engine_version, response FROM analyses WHERE sha256 = ? AND api = ?"
                                      " AND engine = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                                      (sha, _CELEB, LOCAL_ENGINE)).fetchone()
                conn.execute("DELETE FROM detections WHERE sha256 = ? AND api = ? AND engine = ?",
                             (sha, _CELEB, LOCAL_ENGINE))
                values = []
                if not rows:  # no faces known: the stored response's own detections
                    if stored is not None:
                        for d in flatten(Api.RECOGNIZE_CELEBRITIES, json.loads(stored[1]), LOCAL_ENGINE):
                            box = (d.box.left, d.box.top, d.box.width, d.box.height) if d.box else (None,) * 4
                            values.append((sha, _CELEB, LOCAL_ENGINE, stored[0], d.kind.value, d.name, d.confidence,
                                           *box, "[]", None))
                version = stored[0] if stored is not None else (rows[0]["detector_version"] if rows else "")
                for r in rows:
                    if r["state"] != "ok":
                        continue
                    if r["name"] is not None:
                        kind, name, confidence = DetectionKind.PERSON, r["name"], r["similarity"] or 0.0
                    elif stored is not None:
                        kind, name, confidence = DetectionKind.FACE, UNKNOWN_FACE, r["confidence"]
                    else:
                        continue
                    values.append((sha, _CELEB, LOCAL_ENGINE, version, kind.value, name, float(confidence),
                                   r["box_left"], r["box_top"], r["box_width"], r["box_height"], "[]", None))
                conn.executemany(
                    "INSERT INTO detections (sha256, api, engine, engine_version, kind, name, confidence, box_left,"
                    " box_top, box_width, box_height, parents, text_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", values)
                conn.execute("INSERT OR IGNORE INTO index_pending (sha256) VALUES (?)", (sha,))

    def forget_all(self) -> tuple[list[str], list[str]]:
        """Delete every face, person, exclusion, local RecognizeCelebrities response and its detections.

        Returns (the images whose search documents change - queued in
        ``index_pending`` -, the crop names of the deleted faces).
        """
        with self.catalog.transaction() as conn:
            shas = [r[0] for r in conn.execute(
                "SELECT sha256 FROM faces WHERE origin = 'photo' UNION"
                " SELECT sha256 FROM detections WHERE api = ? AND engine = ? UNION"
                " SELECT sha256 FROM analyses WHERE api = ? AND engine = ?",
                (_CELEB, LOCAL_ENGINE, _CELEB, LOCAL_ENGINE))]
            crops = [r[0] for r in conn.execute("SELECT crop FROM faces WHERE crop IS NOT NULL")]
            conn.execute("DELETE FROM face_exclusions")
            conn.execute("DELETE FROM faces")
            conn.execute("DELETE FROM persons")
            conn.execute("DELETE FROM detections WHERE api = ? AND engine = ?", (_CELEB, LOCAL_ENGINE))
            conn.execute("DELETE FROM analyses WHERE api = ? AND engine = ?", (_CELEB, LOCAL_ENGINE))
            conn.executemany("INSERT OR IGNORE INTO index_pending (sha256) VALUES (?)", [(s,) for s in shas])
        return shas, crops
