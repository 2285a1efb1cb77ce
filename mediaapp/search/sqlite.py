"""Embedded search backend: SQLite tables plus an FTS5 token index.

The index lives in its own file (``index.sqlite`` beside the catalog) and is
a rebuildable projection of the catalog: dropping it loses nothing.

Both backends store ``mediaapp.search.projection.project(doc)`` and read
queries through ``mediaapp.core.query.normalize_query``, so they derive
exactly the same facts, tokens and dates.

Schema (version ``SCHEMA_VERSION``; a different stored version is dropped and
recreated, since the index can always be rebuilt):

- ``assets(id, sha256, path, paths, folders, taken_at, size, format, camera,
  labels)``: one row per asset; ``path`` is the representative path (the
  first of ``asset.paths``), ``paths``/``folders`` are JSON arrays,
  ``taken_at`` is ``normalize_taken_at``'s text (NULL when unknown) and
  ``labels`` packs the asset's label facts as little-endian (uint32 label id,
  float32 confidence) pairs, read by facet counting.
- ``asset_paths(path, asset_id)``: every path, for the folder filter (a
  range scan ``prefix <= path < prefix'``).
- ``names(id, field, norm, display)``: the dictionary of label and person
  names; ``display`` is the first spelling ever indexed for ``norm``.
- ``label_facts(label_id, confidence, asset_id)``, primary key in that
  order: the highest confidence per (asset, label name), where a label's
  parents count as names too (with the child's confidence). Since a label
  matches when *some* detection reaches the minimum confidence, comparing
  the per-asset maximum is equivalent. The key order makes "label L with
  confidence >= m" one index range, already sorted by confidence.
- ``label_hist(label_id, bucket, n)``: how many facts of each label fall in
  each whole-percent bucket ``[b, b+1)``; kept exact on every write, it
  answers whole-library facet counts without touching the facts.
- ``person_facts(person_id, asset_id, confidence)``.
- ``fts``: FTS5 table, rowid = ``assets.id``, one column holding the
  space-joined normalised tokens (``mediaapp.core.text.tokenize``). It uses
  FTS5's ``ascii`` tokenizer: our tokens only contain letters and digits and
  ``ascii`` treats every non-ASCII character as a token character, so FTS5
  splits exactly at our spaces and never re-tokenises.
- ``meta``: ``schema_version`` and ``generation`` (bumped by every write
  transaction, so in-memory caches of any process notice changes).

Confidences are rounded to float32 (``float32``) as OpenSearch stores them,
so comparisons and ties are the same on both backends.

Matching notes: a ``Query.text`` without any token (only punctuation) does
not filter; an empty ``folder`` does not filter; person matching ignores
confidence; faces without identity are neither persons nor tokens.

Result order (the OpenSearch backend reproduces it):

- ``RELEVANCE`` with text tokens: the *word score*, descending, then sha256
  ascending. The word score of an asset is the highest (float32) confidence
  among its label and person detections at or above ``min_confidence``
  that are one of the query's labels (by name or parent) or whose name, or
  a label's parent, contains one of the query's words (``name_tokens``);
  0 when there is none (the words only occur in the detected text or a
  file name). So "dog" lists the photos most confidently labelled *Dog*
  (or *Hot Dog*) first, then those that only mention the word. Every hit
  contains every word (AND), so a count of matched words would not order
  anything; this score is exact on both backends (no BM25 statistics).
- ``RELEVANCE`` without text: the highest confidence among the query's
  matched labels (0 when the query has no labels), descending, then sha256
  ascending.

Both relevance orders, and the date and path orders, are identical on
SQLite and OpenSearch (``tests/search/test_conformance.py`` and
``tests/search/test_differential.py`` compare them hit for hit).
- ``DATE``: ``taken_at`` descending, assets without a date last, then sha256.
- ``PATH``: representative path ascending (binary UTF-8 order), then sha256.
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np

from mediaapp.core.filenames import from_stored
from mediaapp.core.query import NormalizedQuery, name_tokens, normalize_query
from mediaapp.core.types import IndexDocument, Query, SearchHit, SearchPage, SortOrder
from mediaapp.dbpool import ConnectionPool
from mediaapp.search.base import FacetCount, IndexResult, SearchUnavailableError
from mediaapp.search.projection import Projection, project

__all__ = ["SCHEMA_VERSION", "SqliteIndex", "fts_match_expression"]

#: Bumped whenever the table layout changes; an index with another version is rebuilt empty.
SCHEMA_VERSION = 1

#: Reader connections kept open (each with up to 64 MiB of page cache).
_READERS = 4

#: Rows per write transaction in ``upsert``.
_BATCH = 500



def fts_match_expression(tokens: Iterable[str]) -> str:
    """An FTS5 MATCH expression requiring every token (implicit AND).

    Each token becomes an FTS5 string (double quotes, inner quotes doubled),
    so no token can be read as FTS5 syntax (``AND``, ``NEAR``, ``*``, ``-``...).
    """
    return " ".join('"' + t.replace('"', '""') + '"' for t in tokens)


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
    camera TEXT,
    labels BLOB NOT NULL);
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
CREATE TABLE IF NOT EXISTS label_hist(
    label_id INTEGER NOT NULL, bucket INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY(label_id, bucket)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS person_facts(
    person_id INTEGER NOT NULL, asset_id INTEGER NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY(person_id, asset_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS person_facts_by_asset ON person_facts(asset_id);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(tokens, tokenize='ascii');
"""

_TABLES = ("assets", "asset_paths", "names", "label_facts", "label_hist", "person_facts", "fts", "meta")

#: Packed per-asset label facts in ``assets.labels``: little-endian (uint32 label id, float32 confidence).
_FACT = struct.Struct("<If")


def _pack_facts(facts: list[tuple[int, float]]) -> bytes:
    return b"".join(_FACT.pack(label_id, conf) for label_id, conf in facts)


def _unpack_facts(blob: bytes) -> list[tuple[int, float]]:
    return list(_FACT.iter_unpack(blob)) if blob else []


def _bucket(conf: float) -> int:
    """Histogram bucket of a confidence: its floor (so bucket b holds [b, b+1))."""
    return math.floor(conf)


def _json_ids(ids: Iterable[int]) -> str:
    return "[" + ",".join(map(str, ids)) + "]"


@dataclass(slots=True)
class _FactCache:
    """Every label fact in memory: ``owner[i]`` (asset id) has ``label[i]`` at ``conf[i]``."""

    generation: int
    owner: np.ndarray
    label: np.ndarray
    conf: np.ndarray
    size: int


@dataclass(slots=True)
class _OrderCache:
    """``rank[asset id]`` = the asset's position in sha256 order (the tie-break of every order)."""

    generation: int
    rank: np.ndarray


@dataclass(slots=True)
class _WordCache:
    """``words[token]`` = the ``(field, names.id)`` pairs whose ``name_tokens`` contain ``token``."""

    generation: int
    words: dict[str, list[tuple[str, int]]]


class SqliteIndex:
    """``SearchIndex`` on an SQLite file (FTS5 for text), the default backend.

    ``path`` is the index file (created with its tables when missing). The
    database runs in WAL mode with a busy timeout of ``busy_timeout`` seconds.
    Safe to share between threads: each thread gets its own connection and
    writes are serialised by a lock. Semantics and result order are those of
    ``mediaapp.core.types.Query`` and this module's docstring.

    Query plan: every filter (labels, text, persons, folder, dates) is one
    index range read that SQLite returns as a single packed hex string of
    asset ids; the id arrays are intersected with numpy and then ranked:
    relevance by (score, sha256 rank) with numpy, where the sha256 rank of
    every asset id is kept in memory (8 bytes per asset, rebuilt when
    ``meta.generation`` moves) and the word score reads the fact cache
    below (a lone label reads its best rows straight off the
    ``label_facts`` key); date/path by SQL over the ids.
    Facets over a filtered set count the facts of the matched ids from an
    in-memory copy of every label fact (numpy arrays, 12 bytes per fact,
    rebuilt when ``meta.generation`` moves; disabled above
    ``facet_cache_facts`` facts, then the packed ``assets.labels`` of the
    matched rows are read per query). Whole-library facets read
    ``label_hist``.
    Raises ``SearchUnavailableError`` when the file cannot be opened.
    """

    name = "sqlite"

    def __init__(self, path: str | Path, busy_timeout: float = 10.0,
                 facet_cache_facts: int = 20_000_000) -> None:
        self.path = Path(path)
        self._facet_cache_facts = facet_cache_facts
        self._cache: _FactCache | None = None
        self._order: _OrderCache | None = None
        self._words: _WordCache | None = None
        self._cache_lock = threading.Lock()
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
            hist[(lid, _bucket(conf))] -= 1
        conn.execute("DELETE FROM asset_paths WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM person_facts WHERE asset_id=?", (asset_id,))
        conn.execute("DELETE FROM fts WHERE rowid=?", (asset_id,))

    def _write_one(self, conn: sqlite3.Connection, proj: Projection, hist: Counter[tuple[int, int]],
                   fresh: dict[tuple[str, str], int]) -> None:
        label_ids = self._name_ids(conn, "labels", proj.labels, fresh)
        facts = [(label_ids[n], c) for n, (_d, c) in proj.labels.items()]
        blob = _pack_facts(facts)
        old = conn.execute("SELECT id, labels FROM assets WHERE sha256=?", (proj.sha256,)).fetchone()
        values = (proj.path, json.dumps(proj.paths), json.dumps(proj.folders), proj.taken_at,
                  proj.size, proj.format, proj.camera, blob)
        if old is not None:
            asset_id = old[0]
            self._remove_asset(conn, asset_id, old[1], hist)
            conn.execute("UPDATE assets SET path=?, paths=?, folders=?, taken_at=?, size=?, format=?,"
                         " camera=?, labels=? WHERE id=?", (*values, asset_id))
        else:
            asset_id = conn.execute(
                "INSERT INTO assets(path, paths, folders, taken_at, size, format, camera, labels, sha256)"
                " VALUES(?,?,?,?,?,?,?,?,?)", (*values, proj.sha256)).lastrowid
        conn.executemany("INSERT OR IGNORE INTO asset_paths(path, asset_id) VALUES(?,?)",
                         [(p, asset_id) for p in proj.paths])
        conn.executemany("INSERT INTO label_facts(label_id, confidence, asset_id) VALUES(?,?,?)",
                         [(lid, conf, asset_id) for lid, conf in facts])
        for lid, conf in facts:
            hist[(lid, _bucket(conf))] += 1
        person_ids = self._name_ids(conn, "persons", proj.persons, fresh)
        conn.executemany("INSERT INTO person_facts(person_id, asset_id, confidence) VALUES(?,?,?)",
                         [(person_ids[n], asset_id, c) for n, (_d, c) in proj.persons.items()])
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
                          "person_facts", "fts"):
                conn.execute(f"DELETE FROM {table}")

        self._run_write(work)

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

    def _lookup_ids(self, field_: str, norms: list[str]) -> list[int]:
        if not norms:
            return []
        marks = ",".join("?" * len(norms))
        return [r[0] for r in self._read(
            f"SELECT id FROM names WHERE field=? AND norm IN ({marks})", [field_, *norms])]

    def _id_array(self, sql: str, params: Iterable[object] = ()) -> np.ndarray:
        """Sorted distinct ids from ``sql`` (one integer column named ``x``).

        The ids travel as one hex string built by SQLite (``group_concat``),
        which is several times faster than fetching one Python row per id.
        """
        row = self._read(f"SELECT group_concat(printf('%016x', x), '') FROM ({sql})", params)[0][0]
        if not row:
            return np.empty(0, dtype=np.int64)
        return np.unique(np.frombuffer(bytes.fromhex(row), dtype=">u8").astype(np.int64))

    def _label_filter(self, query: NormalizedQuery) -> tuple[list[int], float] | None:
        """``(label ids, float32 minimum)``; None without labels; ``([], m)`` when none can match."""
        if not query.labels:
            return None
        ids = self._lookup_ids("labels", list(query.labels))
        if query.match_all and len(ids) < len(query.labels):
            return [], query.min_confidence
        return ids, query.min_confidence

    def _candidates(self, query: NormalizedQuery, scores: str = ""
                    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Sorted ids matching ``query`` (None: every asset) and, on request, their scores.

        ``scores``: ``"label"`` for the highest matched label confidence per
        asset, ``"text"`` for the word score (module docstring), ``""`` for
        none. Scores come back as a float64 array aligned with the ids.
        """
        arrays: list[np.ndarray] = []
        label_scores: dict[int, float] | None = None
        label_filter = self._label_filter(query)
        if label_filter is not None:
            ids, minimum = label_filter
            if not ids:
                empty = np.empty(0, dtype=np.int64)
                return empty, (np.empty(0) if scores else None)
            marks = ",".join("?" * len(ids))
            where = f"label_id IN ({marks}) AND confidence >= ?"
            grouped = query.match_all and len(ids) > 1
            having = f" GROUP BY asset_id HAVING COUNT(*) = {len(ids)}" if grouped else ""
            if scores == "label":
                agg = "MAX(confidence)" if len(ids) > 1 else "confidence"
                group = having if grouped else (" GROUP BY asset_id" if len(ids) > 1 else "")
                label_scores = dict(self._read(
                    f"SELECT asset_id, {agg} FROM label_facts WHERE {where}{group}", [*ids, minimum]))
                arrays.append(np.fromiter(sorted(label_scores), dtype=np.int64, count=len(label_scores)))
            else:
                arrays.append(self._id_array(
                    f"SELECT asset_id AS x FROM label_facts WHERE {where}{having}", [*ids, minimum]))
        tokens = list(query.tokens)
        if tokens:
            arrays.append(self._id_array("SELECT rowid AS x FROM fts WHERE fts MATCH ?",
                                         [fts_match_expression(tokens)]))
        if query.persons:
            ids = self._lookup_ids("persons", list(query.persons))
            marks = ",".join("?" * len(ids))
            arrays.append(self._id_array(
                f"SELECT asset_id AS x FROM person_facts WHERE person_id IN ({marks})", ids)
                if ids else np.empty(0, dtype=np.int64))
        if query.folder_prefix is not None:
            prefix = query.folder_prefix
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            arrays.append(self._id_array(
                "SELECT asset_id AS x FROM asset_paths WHERE path >= ? AND path < ?", [prefix, upper]))
        lower, upper_date = query.taken_after, query.taken_before
        if lower is not None or upper_date is not None:
            arrays.append(self._id_array(
                "SELECT id AS x FROM assets WHERE taken_at >= ? AND taken_at <= ?",
                [lower or "", upper_date or "\uffff"]))
        if not arrays:
            return None, None
        arrays.sort(key=len)
        found = arrays[0]
        for other in arrays[1:]:
            if not len(found):
                break
            found = np.intersect1d(found, other, assume_unique=True)
        if scores == "label" and label_scores is not None:
            return found, np.fromiter((label_scores[i] for i in found.tolist()), dtype=np.float64, count=len(found))
        if scores == "text":
            return found, self._word_scores(found, query, tokens)
        return found, None

    def _word_ids(self, tokens: list[str]) -> tuple[list[int], list[int]]:
        """``(label ids, person ids)`` of the names whose ``name_tokens`` contain one of ``tokens``."""
        generation = self._generation()
        cache = self._words
        if cache is None or cache.generation != generation:
            words: dict[str, list[tuple[str, int]]] = {}
            for name_id, field_, norm in self._read("SELECT id, field, norm FROM names"):
                for token in set(name_tokens(norm)):
                    words.setdefault(token, []).append((field_, name_id))
            self._words = cache = _WordCache(generation, words)
        labels: set[int] = set()
        persons: set[int] = set()
        for token in set(tokens):
            for field_, name_id in cache.words.get(token, ()):
                (labels if field_ == "labels" else persons).add(name_id)
        return sorted(labels), sorted(persons)

    def _word_scores(self, ids: np.ndarray, query: NormalizedQuery, tokens: list[str]) -> np.ndarray:
        """The word score (module docstring) of each of ``ids`` (sorted asset ids), as float64."""
        out = np.zeros(len(ids), dtype=np.float64)
        if not len(ids):
            return out
        minimum = query.min_confidence
        label_ids, person_ids = self._word_ids(tokens)
        wanted = set(label_ids)
        if query.labels:
            wanted.update(self._lookup_ids("labels", list(query.labels)))
        if wanted:
            cache = self._fact_cache()
            if cache is not None:
                inside = ids[ids < cache.size]
                member = np.zeros(cache.size, dtype=bool)
                member[inside] = True
                keep = member[cache.owner] & (cache.conf >= np.float32(minimum))
                keep &= np.isin(cache.label, np.fromiter(wanted, dtype=np.uint32, count=len(wanted)))
                best = np.zeros(cache.size, dtype=np.float64)
                np.maximum.at(best, cache.owner[keep].astype(np.int64), cache.conf[keep].astype(np.float64))
                out[: len(inside)] = best[inside]  # ids are sorted, so the ones inside come first
            else:
                marks = ",".join("?" * len(wanted))
                self._merge_max(out, ids, self._read(
                    f"SELECT asset_id, MAX(confidence) FROM label_facts WHERE label_id IN ({marks})"
                    " AND confidence >= ? GROUP BY asset_id", [*sorted(wanted), minimum]))
        if person_ids:
            marks = ",".join("?" * len(person_ids))
            self._merge_max(out, ids, self._read(
                f"SELECT asset_id, MAX(confidence) FROM person_facts WHERE person_id IN ({marks})"
                " AND confidence >= ? GROUP BY asset_id", [*person_ids, minimum]))
        return out

    @staticmethod
    def _merge_max(out: np.ndarray, ids: np.ndarray, rows: list[tuple[int, float]]) -> None:
        """``out[k] = max(out[k], conf)`` for each ``(asset id, conf)`` row whose id is ``ids[k]``."""
        if not rows:
            return
        found = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        conf = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        pos = np.searchsorted(ids, found)
        hit = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == found)
        np.maximum.at(out, pos[hit], conf[hit])

    def _rows_for(self, ids: Iterable[int]) -> dict[int, tuple[str, str]]:
        return {r[0]: (r[1], r[2]) for r in self._read(
            "SELECT a.id, a.sha256, a.path FROM json_each(?) j JOIN assets a ON a.id = j.value",
            [_json_ids(ids)])}

    @staticmethod
    def _only_one_label(query: NormalizedQuery) -> bool:
        """Whether ``query`` filters by exactly one label and nothing else (``_search_one_label``)."""
        return (len(query.labels) == 1 and not query.tokens and not query.persons and query.folder_prefix is None
                and query.taken_after is None and query.taken_before is None)

    def search(self, query: Query) -> SearchPage:
        """The page of hits for ``query`` and the total number of matches.

        ``SearchHit.score`` is the word score with text, else the highest
        matched label confidence (0 without labels); see the module
        docstring for the orders. Raises ``ValueError`` for an unparseable
        date bound or a negative limit/offset, ``SearchUnavailableError``
        when the file cannot be read.
        """
        if query.offset < 0 or (query.limit is not None and query.limit < 0):
            raise ValueError("limit and offset must not be negative")
        return self._search(normalize_query(query))

    def _search(self, query: NormalizedQuery) -> SearchPage:
        relevance = query.sort not in (SortOrder.DATE, SortOrder.PATH)
        has_text = bool(query.tokens)
        if relevance and self._only_one_label(query):
            return self._search_one_label(query)
        wanted = ("text" if has_text else "label" if query.labels else "") if relevance else ""
        ids, scores = self._candidates(query, wanted)
        limit = -1 if query.limit is None else query.limit
        if query.sort == SortOrder.DATE:
            order = "a.taken_at DESC, a.sha256"  # NULLs sort lowest in SQLite, hence last when descending
        elif query.sort == SortOrder.PATH:
            order = "a.path, a.sha256"
        else:
            order = "a.sha256"
        if ids is None:
            total = self._read("SELECT COUNT(*) FROM assets")[0][0]
            rows = self._read(f"SELECT a.sha256, a.path FROM assets a ORDER BY {order} LIMIT ? OFFSET ?",
                              [limit, query.offset])
            return SearchPage([SearchHit(sha, from_stored(path), 0.0) for sha, path in rows], total)
        total = len(ids)
        if not total or query.limit == 0:
            return SearchPage([], total)
        if relevance:
            if scores is None:
                scores = np.zeros(len(ids), dtype=np.float64)
            return SearchPage(self._rank(ids, scores, query), total)
        rows = self._read(
            f"SELECT a.sha256, a.path FROM json_each(?) j JOIN assets a ON a.id = j.value"
            f" ORDER BY {order} LIMIT ? OFFSET ?", [_json_ids(ids.tolist()), limit, query.offset])
        return SearchPage([SearchHit(sha, from_stored(path), 0.0) for sha, path in rows], total)

    def _search_one_label(self, query: NormalizedQuery) -> SearchPage:
        """Relevance page of a query with a single label and nothing else, read off the index.

        ``label_facts``' primary key is (label, confidence, asset), so the
        best ``offset + limit`` rows come straight from the index; rows tied
        with the last one are added so the sha256 tie-break stays exact.
        """
        # never None here: search() only takes this path for a query with one label (_only_one_label)
        label_ids, minimum = cast(tuple[list[int], float], self._label_filter(query))
        if not label_ids:
            return SearchPage([], 0)
        lid = label_ids[0]
        total = self._read("SELECT COUNT(*) FROM label_facts WHERE label_id=? AND confidence>=?",
                           [lid, minimum])[0][0]
        end = total if query.limit is None else min(total, query.offset + query.limit)
        if end <= query.offset:
            return SearchPage([], total)
        rows = self._read("SELECT asset_id, confidence FROM label_facts WHERE label_id=? AND confidence>=?"
                          " ORDER BY confidence DESC LIMIT ?", [lid, minimum, end])
        if rows:
            boundary = rows[-1][1]
            rows = [r for r in rows if r[1] > boundary] + self._read(
                "SELECT asset_id, confidence FROM label_facts WHERE label_id=? AND confidence=?",
                [lid, boundary])
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        return SearchPage(self._rank(ids, scores, query), total)

    def _sha_rank(self) -> np.ndarray:
        """``rank[asset id]``: each asset's position in sha256 order (cached per write generation)."""
        generation = self._generation()  # read before the data: a racing write forces a rebuild
        cache = self._order
        if cache is not None and cache.generation == generation:
            return cache.rank
        with self._cache_lock:
            cache = self._order
            if cache is not None and cache.generation == generation:
                return cache.rank
            ordered = self._read("SELECT group_concat(printf('%016x', id), '') FROM"
                                 " (SELECT id FROM assets ORDER BY sha256)")[0][0]
            ids = np.frombuffer(bytes.fromhex(ordered or ""), dtype=">u8").astype(np.int64)
            rank = np.zeros(int(ids.max()) + 1 if len(ids) else 1, dtype=np.int64)
            rank[ids] = np.arange(len(ids), dtype=np.int64)
            self._order = _OrderCache(generation, rank)
            return rank

    def _rank(self, ids: np.ndarray, scores: np.ndarray, query: NormalizedQuery) -> list[SearchHit]:
        """Hits of ``ids`` by score descending then sha256 ascending, for the query's page.

        ``scores`` is aligned with ``ids``. Only the page's rows are read
        from SQLite; the order itself is a numpy sort on (score, sha256 rank).
        """
        end = len(ids) if query.limit is None else min(len(ids), query.offset + query.limit)
        if end <= query.offset:
            return []
        rank = self._sha_rank()
        inside = ids < len(rank)
        ranks = np.where(inside, rank[np.where(inside, ids, 0)], len(rank))  # unknown ids (racing write) last
        order = np.lexsort((ranks, -scores))[query.offset:end]
        page_ids = ids[order].tolist()
        rows = self._rows_for(page_ids)
        return [SearchHit(rows[i][0], from_stored(rows[i][1]), float(scores[k]))
                for i, k in zip(page_ids, order.tolist()) if i in rows]

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Asset counts per label (or person) among the assets matching ``query``.

        ``"labels"`` counts label facts (names and parents) with confidence
        >= ``query.min_confidence``; ``"persons"`` counts person detections.
        Ordered by count descending then normalised name; ``limit`` caps the
        list. ``query.limit``/``offset``/``sort`` are ignored. Raises
        ``ValueError`` for another ``field`` or a bad date bound,
        ``SearchUnavailableError`` when the file cannot be read.
        """
        if field not in ("labels", "persons"):
            raise ValueError(f"unknown facet field {field!r}; expected 'labels' or 'persons'")
        normalized = normalize_query(query)
        ids, _scores = self._candidates(normalized)
        if ids is not None and not len(ids):
            return []
        if field == "persons":
            if ids is None:
                counts = self._read("SELECT person_id, COUNT(*) FROM person_facts GROUP BY person_id")
            else:
                counts = self._read(
                    "SELECT person_id, COUNT(*) FROM person_facts WHERE asset_id IN"
                    " (SELECT value FROM json_each(?)) GROUP BY person_id", [_json_ids(ids.tolist())])
        elif ids is None:
            counts = self._label_counts_all(normalized.min_confidence)
        else:
            counts = self._label_counts(ids, normalized.min_confidence)
        names = {r[0]: (r[1], r[2]) for r in self._read(
            "SELECT id, norm, display FROM names WHERE field=?", [field])}
        ordered = sorted((-c, names[i][0], names[i][1]) for i, c in counts if c > 0 and i in names)
        return [FacetCount(display, -neg) for neg, _norm, display in ordered[:limit]]

    def _generation(self) -> int:
        row = self._read("SELECT value FROM meta WHERE key='generation'")
        return int(row[0][0]) if row else 0

    def _fact_cache(self) -> _FactCache | None:
        """The in-memory copy of every label fact, rebuilt when the index has changed.

        None when the library has more than ``facet_cache_facts`` facts (the
        facet counts then read the packed facts from SQLite per query).
        """
        if self._facet_cache_facts <= 0:
            return None
        generation = self._generation()  # read before the data: a racing write forces a rebuild
        cache = self._cache
        if cache is not None and cache.generation == generation:
            return cache
        with self._cache_lock:
            cache = self._cache
            if cache is not None and cache.generation == generation:
                return cache
            n_facts = self._read("SELECT COALESCE(SUM(n), 0) FROM label_hist")[0][0]
            if n_facts > self._facet_cache_facts:
                self._cache = None
                return None
            heads, facts = self._read(
                "SELECT group_concat(printf('%016x%08x', id, length(labels) / 8), ''),"
                " group_concat(hex(labels), '') FROM assets")[0]
            meta = np.frombuffer(bytes.fromhex(heads or ""), dtype=[("id", ">u8"), ("n", ">u4")])
            packed = np.frombuffer(bytes.fromhex(facts or ""), dtype=[("id", "<u4"), ("conf", "<f4")])
            owner = np.repeat(meta["id"].astype(np.int64), meta["n"].astype(np.int64))
            size = int(meta["id"].max()) + 1 if len(meta) else 1
            if size <= np.iinfo(np.uint32).max:
                owner = owner.astype(np.uint32)
            self._cache = cache = _FactCache(generation, owner, packed["id"].astype(np.uint32),
                                             packed["conf"].astype(np.float32), size)
            return cache

    def _label_counts(self, ids: np.ndarray, minimum: float) -> list[tuple[int, int]]:
        """Per-label asset counts over ``ids`` (sorted asset ids)."""
        cache = self._fact_cache()
        if cache is not None:
            member = np.zeros(cache.size, dtype=bool)
            member[ids[ids < cache.size]] = True
            keep = member[cache.owner] & (cache.conf >= np.float32(minimum))
            selected = cache.label[keep]
        else:
            hexed = self._read("SELECT group_concat(hex(a.labels), '') FROM json_each(?) j"
                               " JOIN assets a ON a.id = j.value", [_json_ids(ids.tolist())])[0][0]
            packed = np.frombuffer(bytes.fromhex(hexed or ""), dtype=[("id", "<u4"), ("conf", "<f4")])
            selected = packed["id"][packed["conf"] >= np.float32(minimum)]
        if not len(selected):
            return []
        counts = np.bincount(selected)
        nonzero = np.nonzero(counts)[0]
        return list(zip(nonzero.tolist(), counts[nonzero].tolist()))

    def _label_counts_all(self, minimum: float) -> list[tuple[int, int]]:
        """Per-label asset counts over the whole library from ``label_hist``.

        Buckets above ``floor(minimum)`` count whole; the bucket holding
        ``minimum`` is counted exactly from ``label_facts`` unless
        ``minimum`` is a whole number (then the whole bucket qualifies).
        """
        base = _bucket(minimum)
        if minimum == base:
            return self._read("SELECT label_id, SUM(n) FROM label_hist WHERE bucket >= ? GROUP BY label_id",
                              [base])
        tally = Counter(dict(self._read(
            "SELECT label_id, SUM(n) FROM label_hist WHERE bucket > ? GROUP BY label_id", [base])))
        partial = [r[0] for r in self._read(
            "SELECT label_id FROM label_hist WHERE bucket = ? AND n > 0", [base])]
        for lid in partial:
            n = self._read("SELECT COUNT(*) FROM label_facts WHERE label_id=? AND confidence>=?"
                           " AND confidence<?", [lid, minimum, base + 1])[0][0]
            tally[lid] += n
        return list(tally.items())

    def count(self) -> int:
        """Number of indexed assets. Raises ``SearchUnavailableError`` when unreadable."""
        return cast(int, self._read("SELECT COUNT(*) FROM assets")[0][0])

    def sha256s(self) -> list[str]:
        """Every indexed sha256 in ascending order (for reconciling with the catalog)."""
        return [r[0] for r in self._read("SELECT sha256 FROM assets ORDER BY sha256")]

    def close(self) -> None:
        """Close every connection; later calls raise ``SearchUnavailableError``."""
        self._pool.close()
