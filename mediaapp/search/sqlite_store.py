"""The tables of the embedded search index (``mediaapp.search.sqlite``) and every write to them.

``SqliteStore`` owns the index file: its connections (``mediaapp.dbpool``:
one writer, a few lent readers), its schema and the writes (``upsert``,
``delete``, ``clear``, ``optimize``); ``SqliteIndex`` builds on it and
answers the queries.

Schema (version ``SCHEMA_VERSION``; a different stored version is dropped and
recreated, since the index can always be rebuilt):

- ``assets(id, sha256, path, name_key, paths, folders, taken_at, size, format,
  camera, labels, rating)``: one row per asset; ``path`` is the representative path
  (the first of ``asset.paths``), ``name_key`` its ``core.query.name_key``
  (the name order's key), ``paths``/``folders`` are JSON arrays,
  ``taken_at`` is ``normalize_taken_at``'s text (NULL when unknown), ``size``
  is in bytes, and ``labels`` packs the asset's label facts as little-endian
  (uint32 label id, float32 confidence) pairs, read by facet counting;
  ``rating`` is ``core.query.rating_key`` (the rating order's key). One
  index per result order (``assets_by_date``, ``assets_by_oldest``,
  ``assets_by_path``, ``assets_by_name``, ``assets_by_size``, ``assets_by_rating``) makes every
  unfiltered page and cursor seek an index range.
- ``asset_paths(path, asset_id)``: every path, for the folder filter (a
  range scan ``prefix <= path < prefix'``).
- ``names(id, field, norm, display)``: the dictionary of label and person
  names; ``display`` is the first spelling ever indexed for ``norm``.
- ``label_facts(label_id, confidence, asset_id)``, primary key in that
  order: the highest confidence per (asset, label name), where a label's
  parents count as names too (with the child's confidence), and so do their
  Aliases (``Projection.aliases``, ids of ``names`` field ``aliases``, which
  no facet list reads). Since a label
  matches when *some* detection reaches the minimum confidence, comparing
  the per-asset maximum is equivalent. The key order makes "label L with
  confidence >= m" one index range, already sorted by confidence.
- ``label_hist(label_id, bucket, n)``: how many facts of each label fall in
  each whole-percent bucket ``[b, b+1)``; kept exact on every write, it
  answers whole-library facet counts without touching the facts.
- ``person_facts(person_id, asset_id, confidence)``.
- ``moderation_facts(name_id, asset_id, confidence)``: the highest confidence per (asset, moderation label
  name or ParentName), names in ``names`` under field ``moderation``; ``moderation_checked(asset_id)``: the
  assets some engine checked for unsafe content (``IndexDocument.moderation_checked``).
- ``face_facts(asset_id, face_no, person, attribute, confidence)``: one row per attribute of each
  DetectFaces face (``Projection.faces``; ``face_no`` numbers the asset's faces, ``person`` is the
  ``normalize_label`` key of the person tied to the face or ``""``).
- ``fts``: FTS5 table, rowid = ``assets.id``, one column holding the
  space-joined normalised tokens (``mediaapp.core.text.tokenize``). It uses
  FTS5's ``ascii`` tokenizer: our tokens only contain letters and digits and
  ``ascii`` treats every non-ASCII character as a token character, so FTS5
  splits exactly at our spaces and never re-tokenises.
- ``meta``: ``schema_version`` and ``generation`` (bumped by every write
  transaction, so in-memory caches of any process notice changes).
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mediaapp.core.types import IndexDocument
from mediaapp.dbpool import ConnectionPool
from mediaapp.search.index_base import IndexResult, SearchUnavailableError, upsert_in_batches
from mediaapp.search.projection import Projection, project

__all__ = ["SCHEMA_VERSION", "SqliteStore"]

#: Bumped whenever the table layout changes; an index with another version is rebuilt empty.
SCHEMA_VERSION = 6  # 3: moderation_facts, moderation_checked; 4: face_facts; 5: rating (the rating order);
#: 6: label Aliases as label facts and tokens (search.label_aliases), Text/Document labels (search.context_labels)

#: Reader connections kept open (each with up to 64 MiB of page cache).
_READERS = 4

#: Rows per write transaction in ``upsert``.
_BATCH = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assets(
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL UNIQUE,
    path TEXT NOT NULL,
    name_key TEXT NOT NULL,
    paths TEXT NOT NULL,
    folders TEXT NOT NULL,
    taken_at TEXT,
    size INTEGER NOT NULL,
    format TEXT NOT NULL,
    camera TEXT,
    labels BLOB NOT NULL,
    rating REAL NOT NULL DEFAULT -2);
CREATE INDEX IF NOT EXISTS assets_by_date ON assets(taken_at DESC, sha256);
CREATE INDEX IF NOT EXISTS assets_by_path ON assets(path, sha256);
CREATE INDEX IF NOT EXISTS assets_by_oldest ON assets(taken_at, sha256);
CREATE INDEX IF NOT EXISTS assets_by_name ON assets(name_key, sha256);
CREATE INDEX IF NOT EXISTS assets_by_size ON assets(size DESC, sha256);
CREATE INDEX IF NOT EXISTS assets_by_rating ON assets(rating DESC, sha256);
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
CREATE TABLE IF NOT EXISTS label_hist(
    label_id INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY(label_id, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person_facts(
    person_id INTEGER NOT NULL, asset_id INTEGER NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY(person_id, asset_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_facts_by_asset ON person_facts(asset_id);
CREATE TABLE IF NOT EXISTS moderation_facts(
    name_id INTEGER NOT NULL, asset_id INTEGER NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY(name_id, asset_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS moderation_facts_by_asset ON moderation_facts(asset_id);
CREATE TABLE IF NOT EXISTS moderation_checked(asset_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS face_facts(
    asset_id INTEGER NOT NULL, face_no INTEGER NOT NULL, person TEXT NOT NULL, attribute TEXT NOT NULL,
    confidence REAL NOT NULL, PRIMARY KEY(attribute, asset_id, face_no)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS face_facts_by_asset ON face_facts(asset_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(tokens, tokenize='ascii');
"""

_TABLES = ("assets", "asset_paths", "names", "label_facts", "label_hist", "person_facts", "moderation_facts",
           "moderation_checked", "face_facts", "fts", "meta")

#: Packed per-asset label facts in ``assets.labels``: little-endian (uint32 label id, float32 confidence).
_FACT = struct.Struct("<If")


def _pack_facts(facts: list[tuple[int, float]]) -> bytes:
    return b"".join(_FACT.pack(label_id, conf) for label_id, conf in facts)


def _unpack_facts(blob: bytes) -> list[tuple[int, float]]:
    return list(_FACT.iter_unpack(blob)) if blob else []


def confidence_bucket(conf: float) -> int:
    """Histogram bucket of a confidence: its floor (so bucket b holds [b, b+1))."""
    return math.floor(conf)


class SqliteStore:
    """The tables of one SQLite search index file and every write to them; the base of ``SqliteIndex``.

    ``path`` is the index file (created with its tables when missing; a
    stored ``SCHEMA_VERSION`` other than this one drops them first). The
    database runs in WAL mode with a busy timeout of ``busy_timeout``
    seconds. Safe to share between threads: reads borrow one of at most
    ``_READERS`` connections and writes are serialised on the writer; each
    write transaction bumps ``meta.generation``. Raises
    ``SearchUnavailableError`` when the file cannot be opened.
    """

    def __init__(self, path: str | Path, busy_timeout: float = 10.0) -> None:
        self.path = Path(path)
        self._names: dict[tuple[str, str], int] = {}  # (field, norm) -> names.id, writer-side cache
        self._names_generation: int | None = None
        self._busy_timeout = busy_timeout
        try:
            self._pool = ConnectionPool(self.path, self._setup_connection, readers=_READERS,
                                        busy_timeout=busy_timeout)
        except OSError as exc:
            raise SearchUnavailableError(f"cannot open search index {self.path}: {exc}") from exc
        try:
            with self._pool.writer() as conn:
                self._init_schema(conn)
        except (sqlite3.Error, OSError) as exc:
            self._pool.close()
            raise SearchUnavailableError(f"cannot open search index {self.path}: {exc}") from exc

    # -- connections ---------------------------------------------------------

    def _setup_connection(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout * 1000)}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-65536")  # up to 64 MiB page cache per connection
        conn.execute("PRAGMA temp_store=MEMORY")

    @property
    def open_connections(self) -> int:
        """How many SQLite connections this index holds open (at most ``_READERS`` + 1)."""
        return self._pool.open_connections

    def _init_schema(self, conn: sqlite3.Connection) -> None:
        """Create the tables, or recreate them for another ``SCHEMA_VERSION``.

        An index already at this version is only read, so opening one to
        search never waits for another process's write lock and works on a
        full disk.
        """
        has_meta = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if has_meta:
            row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is not None and row[0] == str(SCHEMA_VERSION):
                return
            for table in _TABLES:
                conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.executescript(_SCHEMA)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)",
                     (str(SCHEMA_VERSION),))
        conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('generation', '0')")

    def _run_write(self, work: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``work`` in one IMMEDIATE transaction on the writer connection (rolled back on failure)."""
        try:
            with self._pool.write() as conn:
                work(conn)
                conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key='generation'")
        except sqlite3.Error as exc:
            raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc

    # -- writes --------------------------------------------------------------

    def _name_ids(self, conn: sqlite3.Connection, field_: str,
                  names: dict[str, tuple[str, float]], fresh: dict[tuple[str, str], int]) -> dict[str, int]:
        """Ids of ``names`` in the dictionary, inserting new ones (first spelling wins).

        Known ids come from ``self._names`` (valid for the current write
        generation); ids looked up or created here go to ``fresh`` and are
        only remembered once the document's savepoint is released.
        """
        ids: dict[str, int] = {}
        for norm, (display, _conf) in names.items():
            key = (field_, norm)
            known = self._names.get(key) or fresh.get(key)
            if known is None:
                row = conn.execute("SELECT id FROM names WHERE field=? AND norm=?", key).fetchone()
                if row is None:
                    row = conn.execute("INSERT INTO names(field, norm, display) VALUES(?,?,?) RETURNING id",
                                       (field_, norm, display)).fetchone()
                known = fresh[key] = row[0]
            ids[norm] = known
        return ids

    @staticmethod
    def _remove_asset(conn: sqlite3.Connection, asset_id: int, blob: bytes, hist: Counter[tuple[int, int]]) -> None:
        """Delete the child rows of ``asset_id`` (its facts come from ``blob``)."""
        facts = _unpack_facts(blob)
        conn.executemany("DELETE FROM label_facts WHERE label_id=? AND confidence=? AND asset_id=?",
                         [(lid, conf, asset_id) for lid, conf in facts])
        for lid, conf in facts:
            hist[(lid, confidence_bucket(conf))] -= 1
        conn.execute("DELETE FROM asset_paths WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM person_facts WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM moderation_facts WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM moderation_checked WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM face_facts WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM fts WHERE rowid=?", (asset_id,))

    def _write_one(self, conn: sqlite3.Connection, proj: Projection, hist: Counter[tuple[int, int]],
                   fresh: dict[tuple[str, str], int]) -> None:
        label_ids = self._name_ids(conn, "labels", proj.labels, fresh)
        alias_ids = self._name_ids(conn, "aliases", proj.aliases, fresh)  # label facts under names field "aliases"
        facts = [(label_ids[n], c) for n, (_d, c) in proj.labels.items()]
        facts += [(alias_ids[n], c) for n, (_d, c) in proj.aliases.items()]
        blob = _pack_facts(facts)
        old = conn.execute("SELECT id, labels FROM assets WHERE sha256=?", (proj.sha256,)).fetchone()
        values = (proj.path, proj.name_key, json.dumps(proj.paths), json.dumps(proj.folders), proj.taken_at,
                  proj.size, proj.format, proj.camera, blob, proj.rating)
        if old is not None:
            asset_id = old[0]
            self._remove_asset(conn, asset_id, old[1], hist)
            conn.execute("UPDATE assets SET path=?, name_key=?, paths=?, folders=?, taken_at=?, size=?, format=?,"
                         " camera=?, labels=?, rating=? WHERE id=?", (*values, asset_id))
        else:
            asset_id = conn.execute(
                "INSERT INTO assets(path, name_key, paths, folders, taken_at, size, format, camera, labels, rating,"
                " sha256) VALUES(?,?,?,?,?,?,?,?,?,?,?)", (*values, proj.sha256)).lastrowid
        conn.executemany("INSERT OR IGNORE INTO asset_paths(path, asset_id) VALUES(?,?)",
                         [(p, asset_id) for p in proj.paths])
        conn.executemany("INSERT INTO label_facts(label_id, confidence, asset_id) VALUES(?,?,?)",
                         [(lid, conf, asset_id) for lid, conf in facts])
        for lid, conf in facts:
            hist[(lid, confidence_bucket(conf))] += 1
        person_ids = self._name_ids(conn, "persons", proj.persons, fresh)
        conn.executemany("INSERT INTO person_facts(person_id, asset_id, confidence) VALUES(?,?,?)",
                         [(person_ids[n], asset_id, c) for n, (_d, c) in proj.persons.items()])
        moderation_ids = self._name_ids(conn, "moderation", proj.moderation, fresh)
        conn.executemany("INSERT INTO moderation_facts(name_id, asset_id, confidence) VALUES(?,?,?)",
                         [(moderation_ids[n], asset_id, c) for n, (_d, c) in proj.moderation.items()])
        if proj.moderation_checked:
            conn.execute("INSERT INTO moderation_checked(asset_id) VALUES(?)", (asset_id,))
        conn.executemany("INSERT INTO face_facts(asset_id, face_no, person, attribute, confidence) VALUES(?,?,?,?,?)",
                         [(asset_id, i, person, name, c) for i, (person, attrs) in enumerate(proj.faces)
                          for name, c in attrs.items()])
        conn.execute("INSERT INTO fts(rowid, tokens) VALUES(?,?)", (asset_id, proj.tokens))

    @staticmethod
    def _apply_hist(conn: sqlite3.Connection, hist: Counter[tuple[int, int]]) -> None:
        rows = [(lid, b, n) for (lid, b), n in hist.items() if n]
        conn.executemany("INSERT INTO label_hist(label_id, bucket, n) VALUES(?,?,?)"
                         " ON CONFLICT(label_id, bucket) DO UPDATE SET n = n + excluded.n", rows)
        conn.execute("DELETE FROM label_hist WHERE n <= 0")

    def upsert(self, docs: Iterable[IndexDocument]) -> IndexResult:
        """Add or replace ``docs`` (keyed by ``asset.sha256``), 500 per transaction.

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
        indexed = 0
        failed: list[tuple[str, str]] = []

        def work(conn: sqlite3.Connection) -> None:
            nonlocal indexed
            generation = int(conn.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
            if generation != self._names_generation:
                self._names.clear()  # another writer (or a clear) ran since: forget cached ids
            hist: Counter[tuple[int, int]] = Counter()
            for doc in batch:
                sha = getattr(getattr(doc, "asset", None), "sha256", "") or ""
                try:
                    proj = project(doc)
                except (ValueError, TypeError, AttributeError) as exc:
                    failed.append((sha, f"{type(exc).__name__}: {exc}"))
                    continue
                doc_hist: Counter[tuple[int, int]] = Counter()
                fresh: dict[tuple[str, str], int] = {}
                conn.execute("SAVEPOINT doc")
                try:
                    self._write_one(conn, proj, doc_hist, fresh)
                except (sqlite3.IntegrityError, ValueError, TypeError, OverflowError) as exc:
                    conn.execute("ROLLBACK TO doc")
                    conn.execute("RELEASE doc")
                    failed.append((sha, f"{type(exc).__name__}: {exc}"))
                    continue
                conn.execute("RELEASE doc")
                self._names.update(fresh)
                hist.update(doc_hist)
                indexed += 1
            self._apply_hist(conn, hist)
            self._names_generation = generation + 1  # _run_write bumps it on commit

        try:
            self._run_write(work)
        except BaseException:
            self._names.clear()
            self._names_generation = None
            raise
        result.indexed += indexed
        result.failed.extend(failed)

    def delete(self, sha256s: Iterable[str]) -> None:
        """Remove these assets; unknown sha256s are ignored.

        Raises ``SearchUnavailableError`` when the database cannot be written.
        """
        shas = list(sha256s)
        if not shas:
            return

        def work(conn: sqlite3.Connection) -> None:
            hist: Counter[tuple[int, int]] = Counter()
            for sha in shas:
                row = conn.execute("SELECT id, labels FROM assets WHERE sha256=?", (sha,)).fetchone()
                if row is None:
                    continue
                self._remove_asset(conn, row[0], row[1], hist)
                conn.execute("DELETE FROM assets WHERE id=?", (row[0],))
            self._apply_hist(conn, hist)

        self._run_write(work)

    def clear(self) -> None:
        """Remove every document (the name dictionary too).

        Raises ``SearchUnavailableError`` when the database cannot be written.
        """
        def work(conn: sqlite3.Connection) -> None:
            for table in ("assets", "asset_paths", "names", "label_facts", "label_hist",
                          "person_facts", "moderation_facts", "moderation_checked", "face_facts", "fts"):
                conn.execute(f"DELETE FROM {table}")

        self._run_write(work)

    def rebuild(self, docs: Iterable[IndexDocument], progress: Callable[[int], None] | None = None,
                batch: int = _BATCH) -> IndexResult:
        """Replace every document with ``docs`` in one write transaction, then optimise.

        Readers, in this process and in others, keep seeing the old index
        until the new one commits (WAL snapshots), so searches during a
        rebuild answer as before instead of finding an emptied index; other
        writers wait (up to the busy timeout, then ``SearchUnavailableError``).
        ``batch`` documents are written per step and ``progress(done)`` gets
        the running count after each; an exception from ``progress`` (a
        cancel) rolls everything back and leaves the old index. Returns the
        ``IndexResult``; raises ``SearchUnavailableError`` when the database
        cannot be written.
        """
        try:
            with self._pool.write():  # every write below joins this transaction
                self.clear()
                result = upsert_in_batches(self.upsert, docs, batch, progress)
        except sqlite3.Error as exc:
            raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc
        finally:
            self._names.clear()
            self._names_generation = None
        self.optimize()
        return result

    def optimize(self) -> None:
        """Merge the FTS5 segments and refresh the planner statistics (after a bulk load).

        Raises ``SearchUnavailableError`` when the database cannot be written.
        """
        def work(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO fts(fts) VALUES('optimize')")
            conn.execute("ANALYZE")

        self._run_write(work)

    # -- reads ---------------------------------------------------------------

    def _read(self, sql: str, params: Iterable[object] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._pool.read() as conn:
                return conn.execute(sql, tuple(params)).fetchall()
        except (sqlite3.OperationalError, sqlite3.ProgrammingError) as exc:
            raise SearchUnavailableError(f"search index {self.path}: {exc}") from exc

    def _generation(self) -> int:
        row = self._read("SELECT value FROM meta WHERE key='generation'")
        return int(row[0][0]) if row else 0

    def close(self) -> None:
        """Close every connection; later calls raise ``SearchUnavailableError``."""
        self._pool.close()
