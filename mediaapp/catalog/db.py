"""The catalog: one SQLite file (through sqlite-utils) holding what the library knows.

Assets are keyed by the SHA-256 of their bytes; ``files`` lists every path
holding those bytes; ``analyses`` keeps each raw Rekognition-shaped response
keyed by (sha256, api, engine, engine_version, params); ``detections`` holds
their flattened rows; ``errors`` one row per failed (path, stage);
``asset_metadata`` what each image says of itself (title, rating, ...: the
metadata engine's last reading, shown on the ``Asset``).

Connections are owned by a ``mediaapp.dbpool.ConnectionPool`` (one writer,
a few lent readers, all closed by ``close()``); the file is in WAL mode so
readers never block the single writer. The file is created readable by its
owner only (it holds face embeddings).

Paths are stored in their ``mediaapp.core.filenames.to_stored`` form, so a
file name that is not valid UTF-8 is kept losslessly; every method takes and
returns ordinary (``os.fsdecode``) paths.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from mediaapp.catalog.claims import AnalysisClaims
from mediaapp.catalog.feed import ChangeFeed, mark_changed
from mediaapp.catalog.migrations import migrate
from mediaapp.core.filenames import from_stored, to_stored
from mediaapp.core.types import Asset, BoundingBox, Detection, DetectionKind, ImportProblem, Json
from mediaapp.dbpool import ConnectionPool, chunks

if TYPE_CHECKING:
    import sqlite_utils

#: Seconds a connection waits for the writer lock before raising ``sqlite3.OperationalError``.
BUSY_TIMEOUT_S = 30.0

#: Reader connections kept by a catalog (the GUI's background threads, an import, the People panel).
READERS = 4

#: Error stages of the ingest pipeline: a path has at most one of them at a time.
INGEST_STAGES = ("scan", "read", "sniff", "decode", "thumbnail")

#: The fields of ``store_file_metadata`` (columns of ``asset_metadata``, fields of ``Asset``), in column order.
FILE_METADATA_FIELDS = ("title", "description", "rating", "label", "date_created")

#: ``errors.code`` of a file that could not be read (permissions, I/O): retried on every import,
#: since fixing it (chmod, remount) changes neither its size nor its mtime.
UNREADABLE = "Unreadable"


def now_iso() -> str:
    """The current UTC time as ISO 8601 text with seconds."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Catalog:
    """The library's catalog database at ``path``.

    Creating one creates the file if needed and migrates it to the latest
    schema. Every method is safe to call from any thread; writes are
    serialised by SQLite. Raises ``sqlite3.DatabaseError`` when the file is
    not a SQLite database and ``RuntimeError`` when its schema is newer than
    this program.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._pool = ConnectionPool(self.path, _setup_connection, readers=READERS, busy_timeout=BUSY_TIMEOUT_S)
        self._db: tuple[sqlite3.Connection, sqlite_utils.Database] | None = None
        #: Which assets changed since each consumer (search sync, ...) last handled them.
        self.feed = ChangeFeed(self._pool)
        #: Claims on analysis work shared by imports running at once (``mediaapp.catalog.claims``).
        self.claims = AnalysisClaims(self._pool)
        try:
            with self._pool.writer() as conn:
                migrate(conn)
        except BaseException:
            self._pool.close()
            raise

    # -- connections -------------------------------------------------------------------------
    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Lend a connection for reads (inside ``transaction()`` on this thread: the writer)."""
        with self._pool.read() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Group writes into one ``BEGIN IMMEDIATE`` transaction; rolled back on any exception.

        A nested call joins the outer transaction.
        """
        with self._pool.write() as conn:
            yield conn

    def _table(self, conn: sqlite3.Connection, name: str) -> sqlite_utils.db.Table:
        """The sqlite-utils table ``name`` over the writer ``conn`` (inside ``transaction()``).

        sqlite-utils is imported here, on the first write: a command that only
        reads (``mediaapp search``) does not pay for loading it.
        """
        import sqlite_utils

        if self._db is None or self._db[0] is not conn:
            self._db = (conn, sqlite_utils.Database(conn))
        return cast(sqlite_utils.db.Table, self._db[1][name])  # callers name tables, never views

    @property
    def open_connections(self) -> int:
        """How many SQLite connections this catalog holds open (bounded by ``READERS`` + 1)."""
        return self._pool.open_connections

    def close(self) -> None:
        """Close every connection; later calls raise ``sqlite3.ProgrammingError``."""
        self._db = None
        self._pool.close()

    # -- files and assets --------------------------------------------------------------------
    def known_files(self, under: Iterable[str] = ()) -> dict[str, tuple[int, int, str]]:
        """Map path -> (size, mtime_ns, sha256) for catalogued files (all, or below the folders ``under``)."""
        roots = [to_stored(r.rstrip(os.sep)) for r in under]
        sql = "SELECT path, size, mtime_ns, sha256 FROM files"
        args: list[str] = []
        if roots:
            sql += " WHERE " + " OR ".join(["path = ? OR path LIKE ? ESCAPE '\\'"] * len(roots))
            for r in roots:
                args += [r, _like_prefix(r + os.sep)]
        with self.read() as conn:
            return {from_stored(r["path"]): (r["size"], r["mtime_ns"], r["sha256"]) for r in conn.execute(sql, args)}

    def failed_files(self) -> dict[str, tuple[int | None, int | None]]:
        """Map path -> (size, mtime_ns) of files whose last import failed before hashing finished.

        Unreadable files (``code`` ``UNREADABLE``) are left out: they are
        retried on every import.
        """
        marks = ",".join("?" * len(INGEST_STAGES))
        with self.read() as conn:
            rows = conn.execute(f"SELECT path, size, mtime_ns FROM errors WHERE stage IN ({marks})"
                                " AND code IS NOT ?", (*INGEST_STAGES, UNREADABLE))
            return {from_stored(r["path"]): (r["size"], r["mtime_ns"]) for r in rows}

    def error_paths(self) -> list[str]:
        """Every path with a recorded ingest-stage error (catalogued or not)."""
        marks = ",".join("?" * len(INGEST_STAGES))
        with self.read() as conn:
            return [from_stored(r[0]) for r in conn.execute(
                f"SELECT DISTINCT path FROM errors WHERE stage IN ({marks})",
                                                            INGEST_STAGES)]

    def analysis_failures(self, sha256s: Iterable[str], engine: str,
                          codes: Iterable[str]) -> dict[tuple[str, str], ImportProblem]:
        """Map (sha256, api) -> the recorded failure of ``engine`` on it, for failures whose code is in ``codes``.

        Used so that an image an engine refused for good (e.g.
        ``InvalidImageFormatException``) is not sent again on every import.
        """
        shas, code_list = list(dict.fromkeys(sha256s)), list(codes)
        out: dict[tuple[str, str], ImportProblem] = {}
        if not code_list:
            return out
        with self.read() as conn:
            for chunk in chunks(shas, 500):
                rows = conn.execute(
                    f"SELECT sha256, path, stage, message FROM errors WHERE sha256 IN ({','.join('?' * len(chunk))})"
                    f" AND engine = ? AND code IN ({','.join('?' * len(code_list))}) AND stage LIKE 'analysis:%'",
                    [*chunk, engine, *code_list])
                for r in rows:
                    out[(r["sha256"], r["stage"].split(":", 1)[1])] = ImportProblem(
                        from_stored(r["path"]), r["stage"], r["message"])
        return out

    def clear_index_errors(self, sha256s: Iterable[str]) -> None:
        """Delete the ``index`` errors of these assets (their documents were written)."""
        shas = list(dict.fromkeys(sha256s))
        with self.transaction() as conn:
            for chunk in chunks(shas, 500):
                conn.execute(f"DELETE FROM errors WHERE stage = 'index' AND sha256 IN ({','.join('?' * len(chunk))})",
                             chunk)

    def forget_errors(self, paths: Iterable[str]) -> None:
        """Delete every recorded error of these paths (e.g. files that no longer exist)."""
        with self.transaction() as conn:
            conn.executemany("DELETE FROM errors WHERE path = ?", [(to_stored(p),) for p in paths])

    def has_asset(self, sha256: str) -> bool:
        """True when these bytes are already catalogued."""
        with self.read() as conn:
            return conn.execute("SELECT 1 FROM assets WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def add_file(self, *, path: str, size: int, mtime_ns: int, sha256: str, asset: Json) -> bool:
        """Record that ``path`` holds the bytes ``sha256``; create the asset row if new.

        ``asset`` holds the asset columns (format, width, height, taken_at,
        camera_make, camera_model, gps_lat, gps_lon, thumbnail). Clears the
        path's earlier errors. Returns True when the asset was new. Runs in
        the caller's transaction, or its own.
        """
        stored = to_stored(path)
        with self.transaction() as conn:
            new = conn.execute("SELECT 1 FROM assets WHERE sha256 = ?", (sha256,)).fetchone() is None
            if new:
                row = {k: asset.get(k) for k in ("format", "width", "height", "taken_at", "camera_make",
                                                 "camera_model", "gps_lat", "gps_lon", "thumbnail",
                                                 "duration_ms", "codec", "frame_rate")}
                row["media_kind"] = asset.get("media_kind") or "image"  # a video's (migration 9 -> 10)
                row.update(sha256=sha256, size=size, added_at=now_iso())
                self._table(conn, "assets").insert(row)
            self._table(conn, "files").upsert({"path": stored, "sha256": sha256, "folder": os.path.dirname(stored),
                                               "name": os.path.basename(stored), "size": size, "mtime_ns": mtime_ns,
                                               "seen_at": now_iso()}, pk="path")
            conn.execute("DELETE FROM errors WHERE path = ? AND stage NOT LIKE 'analysis:%'", (stored,))
            mark_changed(conn, [sha256])
            return new

    def remove_files(self, paths: Iterable[str]) -> list[str]:
        """Forget these paths and their errors; return the sha256s of assets left with no path.

        Such assets are removed (and marked in the change feed so the search
        indexes drop them, even if the process dies before it gets there);
        their stored analyses and detections are kept (a cache: the same
        bytes imported again are not analysed again).
        """
        orphans: list[str] = []
        with self.transaction() as conn:
            for path in map(to_stored, paths):
                conn.execute("DELETE FROM errors WHERE path = ?", (path,))
                row = conn.execute("SELECT sha256 FROM files WHERE path = ?", (path,)).fetchone()
                if row is None:
                    continue
                conn.execute("DELETE FROM files WHERE path = ?", (path,))
                sha = row["sha256"]
                if conn.execute("SELECT 1 FROM files WHERE sha256 = ?", (sha,)).fetchone() is None:
                    orphans.append(sha)
                    # Analyses and their detections stay: if the bytes come back, nothing is paid twice.
                    conn.execute("DELETE FROM assets WHERE sha256 = ?", (sha,))
                mark_changed(conn, [sha])
        return orphans

    def move_paths(self, moves: Iterable[tuple[str, str]]) -> list[str]:
        """Record that files moved: each ``(src, dst)`` renames the file ``src`` or every file below folder ``src``.

        Used by the folder watcher (``mediaapp.services.watch``) for a rename
        seen as one event: the bytes did not change, so the asset keeps its
        sha256, analyses and People (no hash, no engine call). A path
        already catalogued at the destination is replaced (the move
        overwrote it); an asset left with no path is removed as
        ``remove_files`` does. Errors recorded for the old paths are dropped.
        Returns the sha256s whose paths changed (marked in the change feed,
        so their search documents get the new path); a ``src`` the catalog
        does not know changes nothing. One transaction.
        """
        changed: list[str] = []
        with self.transaction() as conn:
            for src, dst in moves:
                old, new = to_stored(src.rstrip(os.sep)), to_stored(dst.rstrip(os.sep))
                rows = conn.execute("SELECT path FROM files WHERE path = ? OR path LIKE ? ESCAPE '\\'",
                                    (old, _like_prefix(old + os.sep))).fetchall()
                for (path,) in rows:
                    target = new + path[len(old):]
                    if target == path:
                        continue
                    replaced = conn.execute("SELECT sha256 FROM files WHERE path = ?", (target,)).fetchone()
                    if replaced is not None:
                        changed += self.remove_files([from_stored(target)])
                        changed.append(replaced["sha256"])
                    conn.execute("UPDATE files SET path = ?, folder = ?, name = ?, seen_at = ? WHERE path = ?",
                                 (target, os.path.dirname(target), os.path.basename(target), now_iso(), path))
                    conn.execute("DELETE FROM errors WHERE path = ?", (path,))
                    sha = conn.execute("SELECT sha256 FROM files WHERE path = ?", (target,)).fetchone()["sha256"]
                    mark_changed(conn, [sha])
                    changed.append(sha)
        return list(dict.fromkeys(changed))

    def asset(self, sha256: str) -> Asset | None:
        """The asset with its paths, or None."""
        found = self.assets([sha256])
        return found.get(sha256)

    def assets(self, sha256s: Iterable[str]) -> dict[str, Asset]:
        """Map sha256 -> Asset (with paths, sorted) for the known ones among ``sha256s``."""
        shas = list(dict.fromkeys(sha256s))
        out: dict[str, Asset] = {}
        with self.read() as conn:
            for chunk in chunks(shas, 500):
                marks = ",".join("?" * len(chunk))
                for r in conn.execute("SELECT a.*, m.title, m.description, m.rating, m.label, m.date_created"
                                      " FROM assets a LEFT JOIN asset_metadata m ON m.sha256 = a.sha256"
                                      f" WHERE a.sha256 IN ({marks})", chunk):
                    gps = (r["gps_lat"], r["gps_lon"]) if r["gps_lat"] is not None else None
                    out[r["sha256"]] = Asset(r["sha256"], r["size"], r["format"], r["width"], r["height"], [],
                                             r["taken_at"], r["camera_make"], r["camera_model"], gps, r["thumbnail"],
                                             r["title"], r["description"], r["rating"], r["label"],
                                             r["date_created"], media_kind=r["media_kind"],
                                             duration_ms=r["duration_ms"], codec=r["codec"],
                                             frame_rate=r["frame_rate"])
                for r in conn.execute(f"SELECT sha256, path FROM files WHERE sha256 IN ({marks}) ORDER BY path",
                                      chunk):
                    out[r["sha256"]].paths.append(from_stored(r["path"]))
        return out

    def sha_for_path(self, path: str) -> str | None:
        """The sha256 of the bytes catalogued at ``path``, or None."""
        with self.read() as conn:
            row = conn.execute("SELECT sha256 FROM files WHERE path = ?", (to_stored(path),)).fetchone()
        return row["sha256"] if row else None

    def all_sha256s(self) -> list[str]:
        """Every asset's sha256."""
        with self.read() as conn:
            return [r[0] for r in conn.execute("SELECT sha256 FROM assets ORDER BY sha256")]

    def folders(self) -> list[tuple[str, int]]:
        """Each folder holding catalogued files, with its file count, sorted by path."""
        with self.read() as conn:
            return [(from_stored(r[0]), r[1]) for r in
                    conn.execute("SELECT folder, COUNT(*) FROM files GROUP BY folder ORDER BY folder")]

    def asset_count(self) -> int:
        """Number of distinct assets."""
        with self.read() as conn:
            return cast(int, conn.execute("SELECT COUNT(*) FROM assets").fetchone()[0])

    def store_file_metadata(self, sha256: str, fields: Json) -> None:
        """Set what the image ``sha256`` says about itself (its XMP, sidecars and IPTC), replacing the last reading.

        ``fields`` maps ``title``, ``description``, ``label``, ``date_created``
        (text) and ``rating`` (a number, -1 to 5) to their values; a missing
        key or None clears that field. ``Catalog.assets`` shows them on the
        ``Asset``. Kept when the asset goes, like its analyses. Marks the
        asset in the change feed (its search words change). Runs in the
        caller's transaction or its own.
        """
        row = {key: fields.get(key) for key in FILE_METADATA_FIELDS}
        with self.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO asset_metadata (sha256, title, description, rating, label,"
                         " date_created, updated_at) VALUES (?,?,?,?,?,?,?)",
                         (sha256, *(row[key] for key in FILE_METADATA_FIELDS), now_iso()))
            mark_changed(conn, [sha256])

    # -- analyses ----------------------------------------------------------------------------
    def cached_analysis(self, sha256: str, api: str, engine: str, params: str,
                        engine_version: str | None = None) -> tuple[str, Json] | None:
        """The stored (engine_version, response) for this key, or None.

        With ``engine_version`` None, the newest stored version answers: a
        newer model never silently replaces older results; re-analysis is
        asked for explicitly by passing the new version.
        """
        sql = "SELECT engine_version, response FROM analyses WHERE sha256=? AND api=? AND engine=? AND params=?"
        args: list[object] = [sha256, api, engine, params]
        if engine_version is not None:
            sql += " AND engine_version=?"
            args.append(engine_version)
        with self.read() as conn:
            row = conn.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT 1", args).fetchone()
        return (row["engine_version"], json.loads(row["response"])) if row else None

    def has_analysis(self, sha256: str, api: str, engine: str, params: str) -> bool:
        """True when a response of any version is stored for this key (cheaper than ``cached_analysis``)."""
        with self.read() as conn:
            return conn.execute("SELECT 1 FROM analyses WHERE sha256=? AND api=? AND engine=? AND params=? LIMIT 1",
                                (sha256, api, engine, params)).fetchone() is not None

    def store_analysis(self, *, sha256: str, api: str, engine: str, engine_version: str, params: str,
                       response: Json, detections: list[Detection]) -> None:
        """Store a response and make its detections the current ones for (sha256, api, engine).

        One transaction: the old detections stay until the new ones are written.
        Clears an earlier analysis error of this API for the asset's paths.
        """
        with self.transaction() as conn:
            self._table(conn, "analyses").upsert({"sha256": sha256, "api": api, "engine": engine,
                                                  "engine_version": engine_version, "params": params,
                                                  "response": json.dumps(response, separators=(",", ":")),
                                                  "created_at": now_iso()},
                                                 pk=("sha256", "api", "engine", "engine_version", "params"))
            conn.execute("DELETE FROM detections WHERE sha256=? AND api=? AND engine=?", (sha256, api, engine))
            conn.execute("INSERT OR REPLACE INTO current_analyses (sha256, api, engine, params, engine_version)"
                         " VALUES (?,?,?,?,?)", (sha256, api, engine, params, engine_version))
            conn.executemany(
                "INSERT INTO detections (sha256, api, engine, engine_version, kind, name, confidence, box_left,"
                " box_top, box_width, box_height, parents, text_type) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(sha256, api, engine, engine_version, d.kind.value, d.name, d.confidence,
                  *((d.box.left, d.box.top, d.box.width, d.box.height) if d.box else (None,) * 4),
                  json.dumps(list(d.parents)), d.text_type) for d in detections])
            conn.execute("DELETE FROM errors WHERE sha256 = ? AND stage = ? AND (engine = ? OR engine IS NULL)",
                         (sha256, f"analysis:{api}", engine))
            mark_changed(conn, [sha256])

    def current_params(self, sha256: str, api: str, engine: str) -> str | None:
        """The params key of the stored response whose detections are current for (sha256, api, engine)."""
        with self.read() as conn:
            row = conn.execute("SELECT params FROM current_analyses WHERE sha256=? AND api=? AND engine=?",
                               (sha256, api, engine)).fetchone()
        return row[0] if row else None

    def answered(self, sha256s: Iterable[str], apis: Iterable[str]) -> set[str]:
        """Those of ``sha256s`` with a current stored answer of any engine to any of ``apis`` (API names).

        Reads ``current_analyses`` (the answers whose detections are the
        asset's current ones), ``chunks`` of sha256s at a time. An answer with
        no detections counts: the asset was asked. Raises ``sqlite3.Error``
        when the catalog cannot be read.
        """
        shas, names = list(dict.fromkeys(sha256s)), list(dict.fromkeys(apis))
        out: set[str] = set()
        if not names:
            return out
        api_marks = ",".join("?" * len(names))
        for chunk in chunks(shas):
            with self.read() as conn:
                rows = conn.execute(f"SELECT DISTINCT sha256 FROM current_analyses WHERE api IN ({api_marks}) "
                                    f"AND sha256 IN ({','.join('?' * len(chunk))})", [*names, *chunk]).fetchall()
            out.update(r[0] for r in rows)
        return out

    def restore_analysis(self, sha256: str, api: str, engine: str, params: str) -> bool:
        """Make the newest stored response for (sha256, api, engine, params) the current one again.

        Its detections are flattened again (``mediaapp.core.responses.flatten``)
        and replace the current ones, as if it had just been stored; no engine
        runs. Used when a setting that is part of the cache key (MinConfidence,
        faces on/off) returns to a value answered before. Returns False when no
        such response is stored.
        """
        from mediaapp.core.apis import flatten

        cached = self.cached_analysis(sha256, api, engine, params)
        if cached is None:
            return False
        version, response = cached
        self.store_analysis(sha256=sha256, api=api, engine=engine, engine_version=version, params=params,
                            response=response, detections=flatten(api, response, engine))
        return True

    def responses(self, sha256: str) -> dict[str, list[Json]]:
        """Stored responses keyed by API name, newest first, each with engine, version, params, created_at.

        ``Current`` is True for the one response per (API, engine) whose
        detections are the asset's current ones (``current_analyses``), which
        need not be the newest (a setting changed back restores an older answer).
        """
        out: dict[str, list[Json]] = {}
        with self.read() as conn:
            rows = conn.execute(
                "SELECT a.*, c.sha256 IS NOT NULL AS current FROM analyses a LEFT JOIN current_analyses c"
                " ON c.sha256 = a.sha256 AND c.api = a.api AND c.engine = a.engine AND c.params = a.params"
                " AND c.engine_version = a.engine_version"
                " WHERE a.sha256 = ? ORDER BY a.api, a.created_at DESC, a.rowid DESC", (sha256,)).fetchall()
        for r in rows:
            out.setdefault(r["api"], []).append({
                "Engine": r["engine"], "EngineVersion": r["engine_version"], "Params": r["params"],
                "CreatedAt": r["created_at"], "Current": bool(r["current"]), "Response": json.loads(r["response"])})
        return out

    def detections(self, sha256s: Iterable[str], kinds: Iterable[DetectionKind] | None = None,
                   min_confidence: float = 0.0) -> dict[str, list[Detection]]:
        """Map sha256 -> its current detections (of ``kinds``, with confidence >= ``min_confidence``)."""
        shas = list(dict.fromkeys(sha256s))
        kind_values = [k.value for k in kinds] if kinds is not None else None
        out: dict[str, list[Detection]] = {s: [] for s in shas}
        with self.read() as conn:
            for chunk in chunks(shas, 500):
                sql = f"SELECT * FROM detections WHERE sha256 IN ({','.join('?' * len(chunk))}) AND confidence >= ?"
                args: list[object] = [*chunk, min_confidence]
                if kind_values is not None:
                    sql += f" AND kind IN ({','.join('?' * len(kind_values))})"
                    args += kind_values
                for r in conn.execute(sql + " ORDER BY id", args):
                    box = (BoundingBox(r["box_left"], r["box_top"], r["box_width"], r["box_height"])
                           if r["box_left"] is not None else None)
                    out[r["sha256"]].append(Detection(DetectionKind(r["kind"]), r["name"], r["confidence"], box,
                                                      tuple(json.loads(r["parents"])), r["engine"], r["api"],
                                                      r["text_type"]))
        return out

    # -- errors ------------------------------------------------------------------------------
    def record_error(self, path: str, stage: str, message: str, *, sha256: str | None = None,
                     size: int | None = None, mtime_ns: int | None = None, engine: str | None = None,
                     code: str | None = None) -> None:
        """Record that ``path`` failed ``stage`` with a readable ``message``.

        Replaces the previous error of that (path, stage); an ingest-stage
        error (``INGEST_STAGES``) replaces every earlier ingest error of the
        path, so a file has at most one. ``engine`` and ``code`` (e.g.
        ``InvalidImageFormatException``, ``UNREADABLE``) describe analysis
        and read failures; ``size``/``mtime_ns`` are the file's when it failed.
        """
        path = to_stored(path)
        with self.transaction() as conn:
            if stage in INGEST_STAGES:
                marks = ",".join("?" * len(INGEST_STAGES))
                conn.execute(f"DELETE FROM errors WHERE path = ? AND stage IN ({marks})", (path, *INGEST_STAGES))
            else:
                conn.execute("DELETE FROM errors WHERE path = ? AND stage = ? AND (engine IS ? OR engine IS NULL)",
                             (path, stage, engine))
            conn.execute("INSERT INTO errors (path, sha256, stage, message, size, mtime_ns, created_at, engine, code)"
                         " VALUES (?,?,?,?,?,?,?,?,?)",
                         (path, sha256, stage, message, size, mtime_ns, now_iso(), engine, code))

    def errors(self, path: str | None = None, sha256: str | None = None) -> list[ImportProblem]:
        """Recorded problems, newest first; only those of ``path`` / ``sha256`` when given."""
        sql, args = "SELECT path, stage, message FROM errors", []
        if path is not None or sha256 is not None:
            sql += " WHERE path = ? OR sha256 = ?"
            args = [None if path is None else to_stored(path), sha256]
        with self.read() as conn:
            return [ImportProblem(from_stored(r["path"]), r["stage"], r["message"])
                    for r in conn.execute(sql + " ORDER BY id DESC", args)]

    def clear_stage_errors(self, sha256: str, stage: str) -> None:
        """Delete the recorded errors of stage ``stage`` (e.g. ``metadata``) of the image ``sha256``, any path."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM errors WHERE sha256 = ? AND stage = ?", (sha256, stage))

    def clear_errors(self) -> None:
        """Forget every recorded problem (the next import retries failed files)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM errors")


def _setup_connection(conn: sqlite3.Connection) -> None:
    """PRAGMAs and row factory of every catalog connection."""
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")


def _like_prefix(prefix: str) -> str:
    """A LIKE pattern matching text starting with ``prefix`` (``\\`` escapes % and _)."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
