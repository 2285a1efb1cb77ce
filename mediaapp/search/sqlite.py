"""Embedded search backend: SQLite tables plus an FTS5 token index.

The index lives in its own file (``index.sqlite`` beside the catalog) and is
a rebuildable projection of the catalog: dropping it loses nothing.

This module also holds the *projection* shared with the OpenSearch backend
(``project``, ``normalize_taken_at``, ``date_bounds``, ``folder_prefix``,
``float32``) so both backends derive exactly the same facts, tokens and
dates from an ``IndexDocument``.

Schema (version ``SCHEMA_VERSION``; a different stored version is dropped and
recreated, since the index can always be rebuilt):

- ``assets(id, sha256, path, paths, folders, taken_at, size, format, camera)``:
  one row per asset; ``path`` is the representative path (the first of
  ``asset.paths``), ``paths``/``folders`` are JSON arrays, ``taken_at`` is the
  normalised text form from ``normalize_taken_at`` (NULL when unknown).
- ``asset_paths(path, asset_id)``: every path, for the folder filter.
- ``names(id, field, norm, display)``: the dictionary of label and person
  names; ``display`` is the first spelling ever indexed for ``norm``.
- ``label_facts(label_id, confidence, asset_id)``: the highest confidence per
  (asset, label name), where a label's parents count as names too (with the
  child's confidence). Since a label matches when *some* detection reaches the
  minimum confidence, comparing the per-asset maximum is equivalent.
- ``person_facts(person_id, asset_id, confidence)``.
- ``fts``: FTS5 table, rowid = ``assets.id``, one column holding the
  space-joined normalised tokens (``mediaapp.core.text.tokenize``). It uses
  FTS5's ``ascii`` tokenizer: our tokens only contain letters and digits and
  ``ascii`` treats every non-ASCII character as a token character, so FTS5
  splits exactly at our spaces and never re-tokenises.

Result order (the OpenSearch backend reproduces it):

- ``RELEVANCE`` with text tokens: FTS5 ``bm25`` (best first), then sha256.
  Scores differ from OpenSearch's BM25, so only the *set* is portable.
- ``RELEVANCE`` without text: the highest confidence among the query's
  matched labels (0 when the query has no labels), descending, then sha256
  ascending. Identical on both backends.
- ``DATE``: ``taken_at`` descending, assets without a date last, then sha256.
- ``PATH``: representative path ascending (binary UTF-8 order), then sha256.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import struct
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterable, Iterator

from mediaapp.core.text import normalize_label, tokenize
from mediaapp.core.types import DetectionKind, IndexDocument, Query, SearchHit, SearchPage, SortOrder
from mediaapp.search.base import FacetCount, IndexResult, SearchUnavailableError

__all__ = [
    "SqliteIndex", "Projection", "project", "normalize_taken_at", "date_bounds",
    "folder_prefix", "float32", "fts_match_expression", "SCHEMA_VERSION",
]

#: Bumped whenever the table layout changes; an index with another version is rebuilt empty.
SCHEMA_VERSION = 1

#: Rows per write transaction in ``upsert``.
_BATCH = 500

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})")


# --------------------------------------------------------------------------
# Projection shared by every backend
# --------------------------------------------------------------------------

def float32(value: float) -> float:
    """Round ``value`` to the nearest IEEE-754 single-precision float.

    OpenSearch stores ``float`` fields in 32 bits; rounding confidences the
    same way in SQLite keeps ``>= min_confidence`` comparisons and confidence
    orderings identical on both backends.
    """
    return struct.unpack("<f", struct.pack("<f", float(value)))[0]


def normalize_taken_at(value: str | None) -> str | None:
    """Normalise an ISO 8601 ``taken_at`` to ``YYYY-MM-DDTHH:MM:SS.mmm`` or None.

    The wall-clock time is kept and any UTC offset dropped (EXIF times are
    local times; a photo "taken on 2 January" stays on 2 January). EXIF's
    ``YYYY:MM:DD HH:MM:SS`` spelling is accepted too. Unparseable text gives
    None, i.e. the asset counts as undated. The fixed-width form sorts
    lexicographically in time order, which both backends rely on.
    """
    if not value:
        return None
    text = value.strip()
    text = _EXIF_DATE.sub(r"\1-\2-\3", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None).isoformat(timespec="milliseconds")


def date_bounds(query: Query) -> tuple[str | None, str | None]:
    """The query's inclusive ``(lower, upper)`` bounds in ``normalize_taken_at`` form.

    A date-only upper bound (``2020-01-31``) means the end of that day
    (``2020-01-31T23:59:59.999``) so the whole day is included; a date-only
    lower bound means its midnight. Raises ``ValueError`` for a bound that is
    not ISO 8601.
    """
    lower = upper = None
    if query.taken_after:
        lower = normalize_taken_at(query.taken_after)
        if lower is None:
            raise ValueError(f"taken_after is not an ISO 8601 date: {query.taken_after!r}")
    if query.taken_before:
        text = query.taken_before.strip()
        if _DATE_ONLY.match(text):
            day = datetime.fromisoformat(text)
            upper = (day + timedelta(days=1) - timedelta(milliseconds=1)).isoformat(timespec="milliseconds")
        else:
            upper = normalize_taken_at(text)
        if upper is None:
            raise ValueError(f"taken_before is not an ISO 8601 date: {query.taken_before!r}")
    return lower, upper


def folder_prefix(folder: str) -> str:
    """The path prefix selecting ``folder`` and everything below it.

    Trailing separators are trimmed and exactly one is appended, so
    ``/a/b`` gives ``/a/b/`` and never matches ``/a/bc/x.jpg``. The separator
    is ``\\`` for a Windows-style folder (backslashes and no slash), else ``/``.
    """
    sep = "\\" if ("\\" in folder and "/" not in folder) else "/"
    return folder.rstrip("/\\") + sep


def fts_match_expression(tokens: Iterable[str]) -> str:
    """An FTS5 MATCH expression requiring every token (implicit AND).

    Each token becomes an FTS5 string (double quotes, inner quotes doubled),
    so no token can be read as FTS5 syntax (``AND``, ``NEAR``, ``*``, ``-``...).
    """
    return " ".join('"' + t.replace('"', '""') + '"' for t in tokens)


@dataclass(slots=True)
class Projection:
    """What a backend stores for one asset, derived from an ``IndexDocument``.

    ``labels`` and ``persons`` map a normalised name (``normalize_label``) to
    ``(display spelling, highest float32 confidence)``; label entries include
    every parent name with its child's confidence. ``tokens`` is the
    space-joined search tokens. ``taken_at`` is ``normalize_taken_at``'s form.
    """

    sha256: str
    path: str
    paths: list[str]
    folders: list[str]
    taken_at: str | None
    size: int
    format: str
    camera: str | None
    labels: dict[str, tuple[str, float]] = field(default_factory=dict)
    persons: dict[str, tuple[str, float]] = field(default_factory=dict)
    tokens: str = ""
    text: str = ""


def _text_of(doc: IndexDocument) -> str:
    """Detected text: ``doc.text``, or the LINE detections when it is empty."""
    if doc.text:
        return doc.text
    return "\n".join(d.name for d in doc.detections
                     if d.kind == DetectionKind.TEXT and (d.text_type or "LINE") == "LINE")


def project(doc: IndexDocument) -> Projection:
    """Derive the facts, tokens and normalised fields of ``doc``.

    Tokens are, in this order: the detected text (``doc.text``, or LINE
    detections when it is empty; WORDs repeat LINEs and are skipped), each
    distinct label name and parent, each distinct person name, and the file
    name of every path. Faces without identity add nothing. Raises
    ``ValueError`` when the asset has no sha256.
    """
    asset = doc.asset
    if not asset.sha256:
        raise ValueError("asset has no sha256")
    labels: dict[str, tuple[str, float]] = {}
    persons: dict[str, tuple[str, float]] = {}
    label_words: list[str] = []
    person_words: list[str] = []

    def add(target: dict, words: list[str], name: str, conf: float) -> None:
        key = normalize_label(name)
        if not key:
            return
        old = target.get(key)
        if old is None:
            target[key] = (name.strip(), conf)
            words.append(name)
        elif conf > old[1]:
            target[key] = (old[0], conf)

    for det in doc.detections:
        conf = float32(det.confidence)
        if det.kind == DetectionKind.LABEL:
            add(labels, label_words, det.name, conf)
            for parent in det.parents:
                add(labels, label_words, parent, conf)
        elif det.kind == DetectionKind.PERSON:
            add(persons, person_words, det.name, conf)
    text = _text_of(doc)
    file_names = [os.path.basename(p.replace("\\", "/")) for p in asset.paths]
    tokens = tokenize("\n".join([text, *label_words, *person_words, *file_names]))
    return Projection(
        sha256=asset.sha256, path=asset.paths[0] if asset.paths else "",
        paths=list(asset.paths), folders=list(doc.folders),
        taken_at=normalize_taken_at(asset.taken_at), size=int(asset.size or 0),
        format=asset.format or "", camera=asset.camera,
        labels=labels, persons=persons, tokens=" ".join(tokens), text=text)


# --------------------------------------------------------------------------
# SQLite backend
# --------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assets(
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    paths TEXT NOT NULL,
    folders TEXT NOT NULL,
    taken_at TEXT,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    camera TEXT);
CREATE INDEX IF NOT EXISTS assets_by_date ON assets(taken_at DESC, sha256);
CREATE INDEX IF NOT EXISTS assets_by_path ON assets(path, sha256);
CREATE TABLE IF NOT EXISTS asset_paths(
    path TEXT NOT NULL, asset_id INTEGER NOT NULL,
    PRIMARY KEY(path, asset_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS asset_paths_by_asset ON asset_paths(asset_id);
CREATE TABLE IF NOT EXISTS names(
    id INTEGER PRIMARY KEY, field TEXT NOT NULL, norm TEXT NOT NULL, display TEXT NOT NULL,
    UNIQUE(field, norm));
CREATE TABLE IF NOT EXISTS label_facts(
    label_id INTEGER NOT NULL, confidence REAL NOT NULL, asset_id INTEGER NOT NULL,
    PRIMARY KEY(label_id, confidence, asset_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS label_facts_by_asset ON label_facts(asset_id, label_id, confidence);
CREATE TABLE IF NOT EXISTS person_facts(
    person_id INTEGER NOT NULL, asset_id INTEGER NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY(person_id, asset_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_facts_by_asset ON person_facts(asset_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(tokens, tokenize='ascii');
"""

_TABLES = ("assets", "asset_paths", "names", "label_facts", "person_facts", "fts", "meta")


class SqliteIndex:
    """``SearchIndex`` on an SQLite file (FTS5 for text), the default backend.

    ``path`` is the index file (created with its tables when missing). The
    database runs in WAL mode with a busy timeout of ``busy_timeout`` seconds.
    Safe to share between threads: each thread gets its own connection and
    writes are serialised by a lock. Semantics and result order are those of
    ``mediaapp.core.types.Query`` and this module's docstring.
    Raises ``SearchUnavailableError`` when the file cannot be opened.
    """

    name = "sqlite"

    def __init__(self, path: str | Path, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._closed = False
        with self._write_lock:
            self._init_schema(self._conn())

    # -- connections ---------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise SearchUnavailableError(f"search index {self.path} is closed")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self._busy_timeout,
                                   isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
            conn.execute("PRAGMA cache_size=-65536")  # 64 MiB page cache per connection
            conn.execute("PRAGMA temp_store=MEMORY")
        except (sqlite3.Error, OSError) as exc:
            raise SearchUnavailableError(f"cannot open search index {self.path}: {exc}") from exc
        self._local.conn = conn
        with self._conns_lock:
            self._conns.append(conn)
        return conn

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None or int(row[0]) != SCHEMA_VERSION:
                for table in _TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)",
                     (str(SCHEMA_VERSION),))

    # -- writes --------------------------------------------------------------

    def _name_ids(self, conn: sqlite3.Connection, field_: str,
                  names: dict[str, tuple[str, float]]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for norm, (display, _conf) in names.items():
            row = conn.execute("SELECT id FROM names WHERE field=? AND norm=?", (field_, norm)).fetchone()
            if row is None:
                row = conn.execute("INSERT INTO names(field, norm, display) VALUES(?,?,?) RETURNING id",
                                   (field_, norm, display)).fetchone()
            ids[norm] = row[0]
        return ids

    def _write_one(self, conn: sqlite3.Connection, proj: Projection) -> None:
        row = conn.execute(
            "INSERT INTO assets(sha256, path, paths, folders, taken_at, size, format, camera)"
            " VALUES(?,?,?,?,?,?,?,?) ON CONFLICT(sha256) DO UPDATE SET path=excluded.path,"
            " paths=excluded.paths, folders=excluded.folders, taken_at=excluded.taken_at,"
            " size=excluded.size, format=excluded.format, camera=excluded.camera RETURNING id",
            (proj.sha256, proj.path, json.dumps(proj.paths), json.dumps(proj.folders),
             proj.taken_at, proj.size, proj.format, proj.camera)).fetchone()
        asset_id = row[0]
        self._delete_children(conn, asset_id)
        conn.executemany("INSERT OR IGNORE INTO asset_paths(path, asset_id) VALUES(?,?)",
                         [(p, asset_id) for p in proj.paths])
        label_ids = self._name_ids(conn, "labels", proj.labels)
        conn.executemany("INSERT INTO label_facts(label_id, confidence, asset_id) VALUES(?,?,?)",
                         [(label_ids[n], c, asset_id) for n, (_d, c) in proj.labels.items()])
        person_ids = self._name_ids(conn, "persons", proj.persons)
        conn.executemany("INSERT INTO person_facts(person_id, asset_id, confidence) VALUES(?,?,?)",
                         [(person_ids[n], asset_id, c) for n, (_d, c) in proj.persons.items()])
        conn.execute("INSERT INTO fts(rowid, tokens) VALUES(?,?)", (asset_id, proj.tokens))

    @staticmethod
    def _delete_children(conn: sqlite3.Connection, asset_id: int) -> None:
        conn.execute("DELETE FROM asset_paths WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM label_facts WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM person_facts WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM fts WHERE rowid=?", (asset_id,))

    def upsert(self, docs: Iterable[IndexDocument]) -> IndexResult:
        """Add or replace ``docs`` (keyed by ``asset.sha256``), in batches of 500 per transaction.

        A document that cannot be projected or written is reported in
        ``IndexResult.failed`` as ``(sha256, reason)`` and the others are kept.
        Raises ``SearchUnavailableError`` when the database cannot be written
        (locked past the busy timeout, disk full, file unreadable).
        """
        result = IndexResult()
        batch: list[IndexDocument] = []
        for doc in docs:
            batch.append(doc)
            if len(batch) >= _BATCH:
                self._upsert_batch(batch, result)
                batch = []
        if batch:
            self._upsert_batch(batch, result)
        return result

    def _upsert_batch(self, batch: list[IndexDocument], result: IndexResult) -> None:
        conn = self._conn()
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for doc in batch:
                    sha = getattr(getattr(doc, "asset", None), "sha256", "") or ""
                    try:
                        proj = project(doc)
                        conn.execute("SAVEPOINT doc")
                        try:
                            self._write_one(conn, proj)
                        except sqlite3.IntegrityError:
                            conn.execute("ROLLBACK TO doc")
                            conn.execute("RELEASE doc")
                            raise
                        conn.execute("RELEASE doc")
                        result.indexed += 1
                    except (ValueError, TypeError, AttributeError, sqlite3.IntegrityError) as exc:
                        result.failed.append((sha, f"{type(exc).__name__}: {exc}"))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc

    def delete(self, sha256s: Iterable[str]) -> None:
        """Remove these assets; unknown sha256s are ignored.

        Raises ``SearchUnavailableError`` when the database cannot be written.
        """
        shas = list(sha256s)
        if not shas:
            return
        conn = self._conn()
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for sha in shas:
                    row = conn.execute("SELECT id FROM assets WHERE sha256=?", (sha,)).fetchone()
                    if row is None:
                        continue
                    self._delete_children(conn, row[0])
                    conn.execute("DELETE FROM assets WHERE id=?", (row[0],))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc

    def clear(self) -> None:
        """Remove every document (the name dictionary too).

        Raises ``SearchUnavailableError`` when the database cannot be written.
        """
        conn = self._conn()
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
                for table in ("assets", "asset_paths", "names", "label_facts", "person_facts", "fts"):
                    conn.execute(f"DELETE FROM {table}")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc

    def optimize(self) -> None:
        """Merge the FTS5 segments and refresh the planner statistics (after a bulk load).

        Raises ``SearchUnavailableError`` when the database cannot be written.
        """
        conn = self._conn()
        with self._write_lock:
            try:
                conn.execute("INSERT INTO fts(fts) VALUES('optimize')")
                conn.execute("ANALYZE")
            except sqlite3.Error as exc:
                raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc

    # -- reads ---------------------------------------------------------------

    def _matched_sql(self, query: Query) -> tuple[str, list, bool]:
        """SQL selecting ``(id, score)`` of the assets matching ``query``.

        Returns ``(sql, params, filtered)``; ``filtered`` is False when the
        query matches every asset. Score: ``-bm25`` with text tokens, else the
        highest matched label confidence (0 without labels).
        """
        params: list = []
        clauses: list[str] = []
        tokens = tokenize(query.text)
        labels = list(dict.fromkeys(normalize_label(l) for l in query.labels if normalize_label(l)))
        minimum = float32(query.min_confidence)
        label_sql = None
        if labels:
            marks = ",".join("?" * len(labels))
            having = f" HAVING COUNT(*) = {len(labels)}" if query.match_all else ""
            label_sql = (
                "SELECT f.asset_id AS id, MAX(f.confidence) AS score FROM label_facts f"
                f" WHERE f.label_id IN (SELECT id FROM names WHERE field='labels' AND norm IN ({marks}))"
                f" AND f.confidence >= ? GROUP BY f.asset_id{having}")
            label_params = [*labels, minimum]
        if tokens:
            base = "SELECT fts.rowid AS id, -bm25(fts) AS score FROM fts WHERE fts MATCH ?"
            params.append(fts_match_expression(tokens))
            if label_sql:
                clauses.append(f"id IN (SELECT id FROM ({label_sql}))")
                params.extend(label_params)
        elif label_sql:
            base = label_sql
            params.extend(label_params)
        else:
            base = "SELECT a.id AS id, 0.0 AS score FROM assets a"
        persons = list(dict.fromkeys(normalize_label(p) for p in query.persons if normalize_label(p)))
        if persons:
            marks = ",".join("?" * len(persons))
            clauses.append(
                "id IN (SELECT pf.asset_id FROM person_facts pf WHERE pf.person_id IN"
                f" (SELECT id FROM names WHERE field='persons' AND norm IN ({marks})))")
            params.extend(persons)
        if query.folder is not None and query.folder != "":
            prefix = folder_prefix(query.folder)
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            clauses.append("id IN (SELECT asset_id FROM asset_paths WHERE path >= ? AND path < ?)")
            params.extend([prefix, upper])
        lower, upper_date = date_bounds(query)
        if lower is not None or upper_date is not None:
            conds = ["taken_at IS NOT NULL"]
            if lower is not None:
                conds.append("taken_at >= ?")
                params.append(lower)
            if upper_date is not None:
                conds.append("taken_at <= ?")
                params.append(upper_date)
            clauses.append(f"id IN (SELECT id FROM assets WHERE {' AND '.join(conds)})")
        sql = f"SELECT id, score FROM ({base})"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        return sql, params, bool(tokens or label_sql or clauses)

    def _read(self, sql: str, params: list) -> list[tuple]:
        try:
            return self._conn().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc

    def search(self, query: Query) -> SearchPage:
        """The page of hits for ``query`` and the total number of matches.

        ``SearchHit.score`` is ``-bm25`` with text, else the highest matched
        label confidence. Raises ``ValueError`` for an unparseable date bound
        or a negative limit/offset, ``SearchUnavailableError`` when the file
        cannot be read.
        """
        if query.offset < 0 or (query.limit is not None and query.limit < 0):
            raise ValueError("limit and offset must not be negative")
        matched, params, _filtered = self._matched_sql(query)
        if query.sort == SortOrder.DATE:
            order = "a.taken_at DESC, a.sha256"  # NULLs sort lowest, hence last when descending
        elif query.sort == SortOrder.PATH:
            order = "a.path, a.sha256"
        else:
            order = "m.score DESC, a.sha256"
        limit = -1 if query.limit is None else query.limit
        sql = (f"SELECT a.sha256, a.path, m.score, COUNT(*) OVER () FROM ({matched}) m"
               f" JOIN assets a ON a.id = m.id ORDER BY {order} LIMIT ? OFFSET ?")
        rows = self._read(sql, [*params, limit, query.offset])
        if rows:
            total = rows[0][3]
        else:
            total = self._read(f"SELECT COUNT(*) FROM ({matched})", params)[0][0]
        hits = [SearchHit(sha, path, float(score or 0.0)) for sha, path, score, _n in rows]
        return SearchPage(hits, total)

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Asset counts per label (or person) among the assets matching ``query``.

        ``"labels"`` counts label facts (names and parents) with confidence
        >= ``query.min_confidence``; ``"persons"`` counts person detections.
        Ordered by count descending then normalised name; ``limit`` caps the
        list. ``query.limit``/``offset``/``sort`` are ignored. Raises
        ``ValueError`` for another ``field``, ``SearchUnavailableError`` when
        the file cannot be read.
        """
        if field not in ("labels", "persons"):
            raise ValueError(f"unknown facet field {field!r}; expected 'labels' or 'persons'")
        matched, params, filtered = self._matched_sql(query)
        if field == "labels":
            fact = "SELECT label_id AS name_id, asset_id FROM label_facts WHERE confidence >= ?"
            fact_params = [float32(query.min_confidence)]
        else:
            fact = "SELECT person_id AS name_id, asset_id FROM person_facts"
            fact_params = []
        if not filtered:
            counted = f"SELECT name_id, COUNT(*) AS c FROM ({fact}) GROUP BY name_id"
            all_params = fact_params
        else:
            counted = (f"SELECT f.name_id, COUNT(*) AS c FROM ({fact}) f"
                       f" WHERE f.asset_id IN (SELECT id FROM ({matched})) GROUP BY f.name_id")
            all_params = [*fact_params, *params]
        sql = (f"SELECT n.display, x.c FROM ({counted}) x JOIN names n ON n.id = x.name_id"
               " ORDER BY x.c DESC, n.norm LIMIT ?")
        rows = self._read(sql, [*all_params, limit])
        return [FacetCount(display, count) for display, count in rows]

    def count(self) -> int:
        """Number of indexed assets. Raises ``SearchUnavailableError`` when unreadable."""
        return self._read("SELECT COUNT(*) FROM assets", [])[0][0]

    def sha256s(self) -> Iterator[str]:
        """Every indexed sha256 in ascending order (for reconciling with the catalog)."""
        for (sha,) in self._read("SELECT sha256 FROM assets ORDER BY sha256", []):
            yield sha

    def close(self) -> None:
        """Close every thread's connection; later calls raise ``SearchUnavailableError``."""
        self._closed = True
        with self._conns_lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
