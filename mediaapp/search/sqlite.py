"""Embedded search backend: SQLite tables plus an FTS5 token index.

The index lives in its own file (``index.sqlite`` beside the catalog) and is
a rebuildable projection of the catalog: dropping it loses nothing. Its
tables, and how documents are written to them, are in
``mediaapp.search.sqlite_store`` (``SqliteStore``, the base of
``SqliteIndex``); this module answers the queries.

Both backends store ``mediaapp.search.projection.project(doc)`` and read
queries through ``mediaapp.core.query.normalize_query``, so they derive
exactly the same facts, tokens and dates.

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

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from mediaapp.core.filenames import from_stored
from mediaapp.core.query import NormalizedQuery, name_tokens, normalize_query
from mediaapp.core.types import Query, SearchHit, SearchPage, SortOrder
from mediaapp.search.index_base import FacetCount
from mediaapp.search.sqlite_store import SqliteStore, confidence_bucket

__all__ = ["SqliteIndex", "fts_match_expression"]


def fts_match_expression(tokens: Iterable[str]) -> str:
    """An FTS5 MATCH expression requiring every token (implicit AND).

    Each token becomes an FTS5 string (double quotes, inner quotes doubled),
    so no token can be read as FTS5 syntax (``AND``, ``NEAR``, ``*``, ``-``...).
    """
    return " ".join('"' + t.replace('"', '""') + '"' for t in tokens)


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


class SqliteIndex(SqliteStore):
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
        self._facet_cache_facts = facet_cache_facts
        self._cache: _FactCache | None = None
        self._order: _OrderCache | None = None
        self._words: _WordCache | None = None
        self._cache_lock = threading.Lock()
        super().__init__(path, busy_timeout)

    # -- reads ---------------------------------------------------------------
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
        base = confidence_bucket(minimum)
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
