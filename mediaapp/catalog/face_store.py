"""The catalog's people tables: faces found in photos, the persons the user named, exclusions.

``FaceStore`` reads and writes the tables ``faces``, ``persons`` and
``face_exclusions`` (migration 3, ``mediaapp.catalog.migrations``); their
columns, and their rows as values (``FaceRecord``, ``PersonRecord``), are
described in ``mediaapp.catalog.face_rows``.

For images with faces in this table, the local engine's RecognizeCelebrities
*detections* (the flattened, searchable rows; not the stored raw responses)
are derived from it by ``sync_detections``: a ``person`` row per named face
(Name, Confidence = Similarity, box) and a ``face`` row per unknown one,
rejected faces left out. So the user's corrections reach search, facets and
boxes, and local names sit next to cloud names (engine ``rekognition``),
which are never touched. The stored raw local responses name people too
(the engine got the named people's references): ``rename_celebrities`` and
``unname_strangers`` rewrite them when a name changes or goes.

Two rows of the catalog's ``counters`` table (migration 4) belong here:
``face_references`` counts changes to the *references* (the faces that
define the persons: state ok, named by the user or enrolled), so a process
can tell whether the references it holds in memory are still current
(``references_version``); ``face_match_threshold`` holds the
FaceMatchThreshold every face was last named with (``applied_threshold``).

Every method is safe from any thread (connections lent by the ``Catalog``); writes run in the caller's
``catalog.transaction()`` or their own.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import cast

import numpy as np

from mediaapp.catalog.db import Catalog, now_iso
from mediaapp.catalog.face_rows import (
    FACE_COLUMNS,
    REFERENCE_SOURCES,
    REFERENCE_SQL,
    SAME_FACE_IOU,
    EmbeddedFaces,
    FaceRecord,
    PersonRecord,
    _box_area,
    box_iou,
    embedded_from_rows,
    face_from_row,
    is_reference,
    normalize_name,
)
from mediaapp.catalog.feed import mark_changed
from mediaapp.core.analysis import LOCAL_ENGINE
from mediaapp.core.apis import flatten
from mediaapp.core.embeddings import embedding_from_bytes, person_id
from mediaapp.core.responses import UNKNOWN_FACE
from mediaapp.core.types import Api, BoundingBox, DetectionKind, Json
from mediaapp.dbpool import chunks

__all__ = ["FaceStore"]

_CELEB = Api.RECOGNIZE_CELEBRITIES.value
#: ``counters`` rows (see the module docstring); the threshold is kept in thousandths (counters are integers).
_REFERENCES_COUNTER = "face_references"
_THRESHOLD_COUNTER = "face_match_threshold"
_THRESHOLD_SCALE = 1000

class FaceStore:
    """The people tables of ``catalog`` (see the module docstring)."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[sqlite3.Row]:
        """All rows of one read query (on a lent catalog connection)."""
        with self.catalog.read() as conn:
            return conn.execute(sql, args).fetchall()

    def _one(self, sql: str, args: Sequence[object] = ()) -> sqlite3.Row | None:
        """The first row of one read query, or None."""
        with self.catalog.read() as conn:
            return cast("sqlite3.Row | None", conn.execute(sql, args).fetchone())

    # -- faces: writing ------------------------------------------------------------------------
    def index_faces(self, sha256: str, records: Sequence[Json], *, origin: str, model_version: str,
                    detector_version: str) -> tuple[list[int], list[str]]:
        """Make ``records`` the faces of image ``sha256`` with this ``origin``; like Rekognition's IndexFaces.

        ``records`` are face records (``analysis.local.face_records``: Index,
        Face, Embedding bytes, Crop). An existing face whose box overlaps a new
        one by ``SAME_FACE_IOU`` or more is updated in place and keeps its id,
        person, state, group and exclusions; other old faces are deleted; new
        ones are inserted unknown (a reference among the old faces counts as a
        change of the references, see ``references_version``). Returns (the
        face ids in the order of ``records``, crop names of deleted faces no
        record reuses).
        Raises ``ValueError`` for an ``origin`` other than photo / example.
        """
        if origin not in ("photo", "example"):
            raise ValueError(f"origin must be 'photo' or 'example', not {origin!r}")
        with self.catalog.transaction() as conn:
            old = [face_from_row(r) for r in conn.execute(
                f"SELECT {FACE_COLUMNS} FROM faces f LEFT JOIN persons p ON p.id = f.person_id"
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
                    ids.append(int(cast(int, cur.lastrowid)))  # set by the INSERT
            for chunk in chunks(list(free)):
                conn.execute(f"DELETE FROM faces WHERE id IN ({','.join('?' * len(chunk))})", chunk)
            if any(is_reference(f) for f in old):  # updated in place (new embedding) or deleted
                self._touch_references(conn)
        kept = {r.get("Crop") for r in records}
        return ids, [f.crop for f in free.values() if f.crop and f.crop not in kept]

    def delete_faces(self, face_ids: Iterable[int]) -> list[str]:
        """Delete faces (and their exclusions); returns their crop names (files are the caller's)."""
        ids = list(face_ids)
        crops: list[str] = []
        with self.catalog.transaction() as conn:
            if self._any_reference(conn, ids):
                self._touch_references(conn)
            for chunk in chunks(ids):
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
        updates = list(updates)
        with self.catalog.transaction() as conn:
            if (any(by in REFERENCE_SOURCES for _f, _p, by, _s in updates)
                    or self._any_reference(conn, [fid for fid, *_ in updates])):
                self._touch_references(conn)
            conn.executemany(
                "UPDATE faces SET group_id = CASE WHEN person_id IS ? THEN group_id ELSE NULL END,"
                " group_locked = CASE WHEN person_id IS ? THEN group_locked ELSE 0 END,"
                " person_id = ?, assigned_by = ?, similarity = ? WHERE id = ?",
                [(p, p, p, by, sim, fid) for fid, p, by, sim in updates])

    def assign_matches(self, updates: Iterable[tuple[int, int | None, str | None, float | None,
                                                     int | None, str | None, float | None]]) -> list[int]:
        """Write automatic naming planned earlier, for the faces still as they were when it was planned.

        Each update is (face_id, person_id, assigned_by, similarity, and the
        face's person_id, assigned_by and similarity when planned). A face is
        written (as ``assign`` does: a changed person leaves its cluster) only
        when it still exists, is ok and still has those three values; so a
        face someone named, rejected or re-analysed meanwhile is left alone.
        Only for unknown or automatically named faces (``assigned_by`` None or
        ``auto`` before and after): the references do not change. Returns the
        ids of the faces written. Raises ``ValueError`` for an update that
        would make or unmake a reference.
        """
        rows = list(updates)
        if any(by in REFERENCE_SOURCES or old in REFERENCE_SOURCES for _f, _p, by, _s, _op, old, _os in rows):
            raise ValueError("assign_matches writes automatic names only")
        done: list[int] = []
        with self.catalog.transaction() as conn:
            for fid, person, by, sim, old_person, old_by, old_sim in rows:
                cur = conn.execute(
                    "UPDATE faces SET group_id = CASE WHEN person_id IS ? THEN group_id ELSE NULL END,"
                    " group_locked = CASE WHEN person_id IS ? THEN group_locked ELSE 0 END,"
                    " person_id = ?, assigned_by = ?, similarity = ?"
                    " WHERE id = ? AND state = 'ok' AND person_id IS ? AND assigned_by IS ? AND similarity IS ?",
                    (person, person, person, by, sim, fid, old_person, old_by, old_sim))
                if cur.rowcount:
                    done.append(fid)
        return done

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
        face_ids = list(face_ids)
        with self.catalog.transaction() as conn:
            if state == "rejected" and self._any_reference(conn, face_ids):
                self._touch_references(conn)
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

    def remove_exclusions(self, pairs: Iterable[tuple[int, int]]) -> None:
        """Forget (face_id, person_id) exclusions (an undone move out); pairs not recorded are ignored."""
        with self.catalog.transaction() as conn:
            conn.executemany("DELETE FROM face_exclusions WHERE face_id = ? AND person_id = ?", list(pairs))

    # -- faces: reading ------------------------------------------------------------------------
    def faces(self, *, face_ids: Iterable[int] | None = None, sha256s: Iterable[str] | None = None,
              person_id: int | None = None, group_id: int | None = None, origin: str | None = "photo",
              states: Sequence[str] = ("ok",), assigned_by: Sequence[str] | None = None) -> list[FaceRecord]:
        """Faces matching every given filter, by image then face index.

        ``origin`` None means photos and examples; ``states`` the states kept;
        ``assigned_by`` keeps faces named that way (``user``, ``example``, ``auto``).
        """
        where = [f"f.state IN ({','.join('?' * len(states))})"]
        args: list[object] = list(states)
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
        sql = (f"SELECT {FACE_COLUMNS} FROM faces f LEFT JOIN persons p ON p.id = f.person_id"
               f" WHERE {' AND '.join(where)} ORDER BY f.sha256, f.origin, f.face_index")
        return [face_from_row(r) for r in self._query(sql, args)]

    def embeddings(self, face_ids: Sequence[int]) -> np.ndarray:
        """The embeddings of ``face_ids`` as a float64 (n, 128) array, in that order.

        Raises ``KeyError`` for an unknown face id.
        """
        found: dict[int, np.ndarray] = {}
        ids = list(face_ids)
        for chunk in chunks(list(dict.fromkeys(ids))):
            for r in self._query(f"SELECT id, embedding FROM faces WHERE id IN ({','.join('?' * len(chunk))})",
                                       chunk):
                found[r[0]] = embedding_from_bytes(r[1])
        if not ids:
            return np.zeros((0, 128))
        return np.stack([found[i] for i in ids])

    def reference_faces(self, model_version: str) -> EmbeddedFaces:
        """The references of embedding model ``model_version``, by id: the faces (photos and examples, state
        ok) the user named or enrolled, with their embeddings. One query."""
        rows = self._query(
            "SELECT f.id, f.sha256, f.origin, f.person_id, f.assigned_by, f.similarity, f.embedding FROM faces f"
            f" WHERE {REFERENCE_SQL} AND f.model_version = ? ORDER BY f.id", (model_version,))
        return embedded_from_rows(rows)

    def match_candidates(self, model_version: str, face_ids: Iterable[int] | None = None) -> EmbeddedFaces:
        """The photo faces automatic naming may name (state ok; unknown or named automatically) of embedding
        model ``model_version``, all or those of ``face_ids``, by image then face index. One query."""
        sql = ("SELECT f.id, f.sha256, f.origin, f.person_id, f.assigned_by, f.similarity, f.embedding FROM faces f"
               " WHERE f.origin = 'photo' AND f.state = 'ok' AND (f.assigned_by IS NULL OR f.assigned_by = 'auto')"
               " AND f.model_version = ?")
        args: list[object] = [model_version]
        if face_ids is not None:
            sql += " AND f.id IN (SELECT value FROM json_each(?))"
            args.append(json.dumps(list(face_ids)))
        return embedded_from_rows(self._query(sql + " ORDER BY f.sha256, f.face_index", args))

    def references_version(self) -> int:
        """A number that changes (in every process) whenever a reference is made, unmade, re-embedded or
        deleted; read it in the same transaction as what it guards. 0 before the first change."""
        row = self._one("SELECT value FROM counters WHERE name = ?", (_REFERENCES_COUNTER,))
        return int(row[0]) if row else 0

    def applied_threshold(self) -> float | None:
        """The FaceMatchThreshold (0-100, to 0.001) every face was last named with (``set_applied_threshold``),
        or None when never recorded."""
        row = self._one("SELECT value FROM counters WHERE name = ?", (_THRESHOLD_COUNTER,))
        return int(row[0]) / _THRESHOLD_SCALE if row else None

    def set_applied_threshold(self, threshold: float) -> None:
        """Record that every face was just named with FaceMatchThreshold ``threshold`` (0-100, kept to 0.001)."""
        with self.catalog.transaction() as conn:
            conn.execute("INSERT INTO counters (name, value) VALUES (?, ?)"
                         " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                         (_THRESHOLD_COUNTER, round(float(threshold) * _THRESHOLD_SCALE)))

    def _touch_references(self, conn: sqlite3.Connection) -> None:
        """Count a change of the references (``references_version``), inside the caller's transaction."""
        conn.execute("INSERT INTO counters (name, value) VALUES (?, 1)"
                     " ON CONFLICT(name) DO UPDATE SET value = value + 1",
                     (_REFERENCES_COUNTER,))

    @staticmethod
    def _any_reference(conn: sqlite3.Connection, face_ids: Sequence[int]) -> bool:
        """Whether any of ``face_ids`` is a reference now."""
        if not face_ids:
            return False
        row = conn.execute(f"SELECT 1 FROM faces f WHERE {REFERENCE_SQL} AND f.id IN"
                           " (SELECT value FROM json_each(?)) LIMIT 1", (json.dumps(list(face_ids)),)).fetchone()
        return row is not None

    def exclusions(self, face_ids: Iterable[int] | None = None) -> dict[int, set[int]]:
        """Map face id -> the person ids the user took it out of."""
        out: dict[int, set[int]] = {}
        if face_ids is None:
            rows = self._query("SELECT face_id, person_id FROM face_exclusions")
        else:
            rows = self._query("SELECT face_id, person_id FROM face_exclusions WHERE face_id IN"
                                     " (SELECT value FROM json_each(?))", (json.dumps(list(face_ids)),))
        for r in rows:
            out.setdefault(r[0], set()).add(r[1])
        return out

    def max_group_id(self) -> int:
        """The largest group id in use (0 when none)."""
        return int(cast(sqlite3.Row, self._one("SELECT COALESCE(MAX(group_id), 0) FROM faces"))[0])  # always one row

    def has_ungrouped(self) -> bool:
        """True when some unknown photo face (state ok) has no group yet."""
        return self._one("SELECT 1 FROM faces WHERE origin = 'photo' AND state = 'ok' AND person_id IS NULL"
                         " AND group_id IS NULL LIMIT 1") is not None

    def face_count(self) -> int:
        """Number of face rows (photos and examples, any state)."""
        return int(cast(sqlite3.Row, self._one("SELECT COUNT(*) FROM faces"))[0])  # always one row

    # -- persons -------------------------------------------------------------------------------
    def persons(self) -> list[PersonRecord]:
        """Every person with face, photo and example counts, by name (case-insensitive).

        Photo faces count only while their image is in the library (``assets``),
        as in search and ``cloud_persons``; examples always count.
        """
        rows = self._query(
            "SELECT p.id, p.name, p.created_at, p.source,"
            " COUNT(CASE WHEN f.origin = 'photo' THEN 1 END) AS faces,"
            " COUNT(DISTINCT CASE WHEN f.origin = 'photo' THEN f.sha256 END) AS photos,"
            " COUNT(CASE WHEN f.origin = 'example' THEN 1 END) AS examples"
            " FROM persons p LEFT JOIN faces f ON f.person_id = p.id AND f.state = 'ok'"
            " AND (f.origin = 'example' OR f.sha256 IN (SELECT sha256 FROM assets))"
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

    def person_names(self) -> dict[int, str]:
        """Map person id -> name, for every person (no counts: one small query)."""
        return {r[0]: r[1] for r in self._query("SELECT id, name FROM persons")}

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
            return int(cast(int, cur.lastrowid))  # set by the INSERT

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
        """Delete a person; their faces become unknown (not clustered yet), their exclusions go.

        The stored responses are the caller's (``rename_celebrities``).
        """
        with self.catalog.transaction() as conn:
            self._touch_references(conn)
            conn.execute("UPDATE faces SET person_id = NULL, assigned_by = NULL, similarity = NULL, group_id = NULL,"
                         " group_locked = 0 WHERE person_id = ?", (person_id,))
            conn.execute("DELETE FROM face_exclusions WHERE person_id = ?", (person_id,))
            conn.execute("DELETE FROM persons WHERE id = ?", (person_id,))

    def merge_persons(self, source: int, target: int) -> None:
        """Make every face and exclusion of person ``source`` person ``target``'s, then delete ``source``.

        Faces keep how they were named (user, example, auto); the stored
        responses are the caller's (``rename_celebrities``). Raises
        ``ValueError`` when ``source == target``.
        """
        if source == target:
            raise ValueError("cannot merge a person into itself")
        with self.catalog.transaction() as conn:
            self._touch_references(conn)
            conn.execute("UPDATE faces SET person_id = ? WHERE person_id = ?", (target, source))
            conn.execute("UPDATE OR IGNORE face_exclusions SET person_id = ? WHERE person_id = ?", (target, source))
            self.delete_person(source)

    def cloud_persons(self) -> list[tuple[str, str, int]]:
        """(name, engine, photos) of person detections made by engines other than ``local``.

        Counts catalogued images only; names compared ignoring ASCII case.
        """
        rows = self._query(
            "SELECT MIN(d.name), d.engine, COUNT(DISTINCT d.sha256) FROM detections d"
            " JOIN assets a ON a.sha256 = d.sha256 WHERE d.kind = ? AND d.engine != ?"
            " GROUP BY d.name COLLATE NOCASE, d.engine ORDER BY MIN(d.name) COLLATE NOCASE, d.engine",
            (DetectionKind.PERSON.value, LOCAL_ENGINE))
        return [(r[0], r[1], r[2]) for r in rows]

    # -- stored responses ------------------------------------------------------------------------
    def rename_celebrities(self, names: Mapping[str, str | None]) -> list[str]:
        """Rewrite the names of the stored local RecognizeCelebrities responses (every image, every version).

        ``names`` maps a name (compared after Unicode case folding) to its new
        name, or to None to unname it: such a CelebrityFaces entry leaves the
        response and its ``Face`` (a ComparedFace) joins UnrecognizedFaces, in
        the detector's order (largest box first); the response stays valid
        for botocore's RecognizeCelebrities output shape. A renamed entry gets
        the new ``Name`` and its ``Id`` (``people.person_id``). Responses of
        other engines (``rekognition``) are never touched. Runs in the
        caller's transaction or its own; the caller syncs the images'
        detections (``sync_detections``) and reindexes. Returns the images
        whose responses changed.
        """
        wanted = {str(k).casefold(): v for k, v in names.items()}
        if not wanted:
            return []
        # a quick textual filter (ASCII case-insensitive, raw or JSON-escaped name), then the exact check
        needles = sorted({n for name in names for n in (str(name), json.dumps(str(name))[1:-1])})
        where = " OR ".join(["instr(lower(response), lower(?)) > 0"] * len(needles))
        with self.catalog.transaction() as conn:
            rows = conn.execute(f"SELECT rowid, sha256, response FROM analyses WHERE api = ? AND engine = ? AND"
                                f" ({where})", (_CELEB, LOCAL_ENGINE, *needles)).fetchall()
            return self._rewrite_celebrities(conn, rows, lambda name: wanted.get(name.casefold(), name))

    def unname_strangers(self, sha256s: Iterable[str]) -> list[str]:
        """Unname, in the stored local RecognizeCelebrities responses of these images, every CelebrityFaces
        entry whose Name no person has (any more), as ``rename_celebrities`` does with None.

        A response analysed with references sent before a person was
        forgotten or renamed (an import started earlier) would otherwise keep
        the old name. A name a person has, written with other capitals, takes
        the person's spelling. Returns the images whose responses changed;
        the caller syncs and reindexes.
        """
        shas = list(dict.fromkeys(sha256s))
        with self.catalog.transaction() as conn:
            current = {r[0].casefold(): r[0] for r in conn.execute("SELECT name FROM persons")}
            rows = []
            for sha in shas:
                rows += conn.execute("SELECT rowid, sha256, response FROM analyses WHERE sha256 = ? AND api = ?"
                                     " AND engine = ?", (sha, _CELEB, LOCAL_ENGINE)).fetchall()
            return self._rewrite_celebrities(conn, rows, lambda name: current.get(name.casefold()))

    @staticmethod
    def _rewrite_celebrities(conn: sqlite3.Connection, rows: Iterable[sqlite3.Row],
                             new_name: Callable[[str], str | None]) -> list[str]:
        """Apply ``new_name(name) -> name | None`` to the CelebrityFaces of these (rowid, sha256, response)
        rows of ``analyses``; writes the changed ones; returns their images."""
        changed: list[str] = []
        for rowid, sha, text in rows:
            response = json.loads(text)
            celebrities, unrecognized, dirty = [], list(response.get("UnrecognizedFaces") or []), False
            for entry in response.get("CelebrityFaces") or []:
                old = str(entry.get("Name", ""))
                new = new_name(old)
                if new is None:
                    unrecognized.append(entry.get("Face") or {})
                    dirty = True
                    continue
                if new != old:
                    entry = {**entry, "Name": new, "Id": person_id(new)}
                    dirty = True
                celebrities.append(entry)
            if not dirty:
                continue
            unrecognized.sort(key=lambda f: -_box_area(f))  # stable: the detector's order, largest first
            response["CelebrityFaces"], response["UnrecognizedFaces"] = celebrities, unrecognized
            conn.execute("UPDATE analyses SET response = ? WHERE rowid = ?",
                         (json.dumps(response, separators=(",", ":")), rowid))
            changed.append(sha)
        return list(dict.fromkeys(changed))

    # -- detections ----------------------------------------------------------------------------
    def sync_detections(self, sha256s: Iterable[str]) -> None:
        """Rewrite the local RecognizeCelebrities detections of these images from their faces.

        For an image with photo faces in this table: a ``person`` detection
        per named face (its name, Confidence = similarity, box) and, when a
        local RecognizeCelebrities response is stored for it, a ``face``
        detection per unknown face (as the response's UnrecognizedFaces
        would give); rejected faces give none. Images without face rows get
        the detections of their stored response again (``flatten``), or none
        without one. The images are queued in the change feed in the same
        transaction (``catalog.feed.mark_changed``); the caller reindexes.
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
            mark_changed(conn, shas)

    def forget_all(self) -> tuple[list[str], list[str]]:
        """Delete every face, person, exclusion, local RecognizeCelebrities response and its detections.

        No local RecognizeCelebrities response is current any more
        (``current_analyses``), so the next import analyses those images again.

        Returns (the images whose search documents change - queued in
        the change feed -, the crop names of the deleted faces).
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
            conn.execute("DELETE FROM current_analyses WHERE api = ? AND engine = ?", (_CELEB, LOCAL_ENGINE))
            self._touch_references(conn)
            mark_changed(conn, shas)
        return shas, crops
