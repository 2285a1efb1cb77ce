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
- ``DATE`` (Newest first): ``taken_at`` descending, assets without a date
  last, then sha256.
- ``OLDEST`` (Oldest first): ``taken_at`` ascending, assets without a date
  last, then sha256.
- ``PATH``: representative path ascending (binary UTF-8 order), then sha256.
- ``NAME`` (By name): ``core.query.name_key`` ascending (the representative
  path's base name, case-folded; binary UTF-8 order), then sha256.
- ``SIZE`` (Largest first): size in bytes descending, then sha256.
- ``RATING`` (Highest rated first): ``core.query.rating_key`` descending
  (5 to 1 stars, rejected, unrated), then sha256.

Every order is identical on SQLite and OpenSearch
(``tests/search/test_conformance.py`` and
``tests/search/test_differential.py`` compare them hit for hit).

Paging: every order ends with sha256, so each hit has a unique sort key
(score+sha256, taken_at+sha256, path+sha256, name_key+sha256,
size+sha256) and ``SearchPage.cursor`` names the last hit's.
``Query(after=cursor)`` continues right after it (keyset pagination):
without filters the read is index ranges that start
at the key (``assets_by_date``, ``assets_by_oldest``, ``assets_by_path``,
``assets_by_name``, ``assets_by_size``, the sha256 index); with
filters the candidates after the key are kept and the page is taken by a
partial sort, so a page near the end costs what the first page costs.
``offset`` still works, counted from the cursor or from the first hit.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mediaapp.core.filenames import from_stored
from mediaapp.core.query import NormalizedQuery, name_tokens, normalize_query
from mediaapp.core.types import (
    LIKE_MAX_HITS,
    MODERATION_UNCHECKED,
    Query,
    SearchCursor,
    SearchHit,
    SearchPage,
    SortOrder,
)
from mediaapp.search.index_base import FacetCount
from mediaapp.search.sqlite_store import SqliteStore, confidence_bucket

__all__ = ["SqliteIndex", "fts_match_expression"]

if TYPE_CHECKING:
    import numpy as np

    from mediaapp.search.vectors import VectorStore
else:
    class _LazyNumpy:
        """``numpy``, imported on first use: a one-label or unfiltered search never needs it.

        ``mediaapp search`` then starts without numpy's import (a large
        share of a short command's wall time).
        """

        def __getattr__(self, name: str) -> Any:
            import numpy

            globals()["np"] = numpy
            return getattr(numpy, name)

    np = _LazyNumpy()

#: Candidate sets up to this size are ranked by reading their sha256s (no sha256 rank array of the
#: whole library, which a one-shot command would build for one page).
DIRECT_RANK = 2000


def fts_match_expression(tokens: Iterable[str]) -> str:
    """An FTS5 MATCH expression requiring every token (implicit AND).

    Each token becomes an FTS5 string (double quotes, inner quotes doubled),
    so no token can be read as FTS5 syntax (``AND``, ``NEAR``, ``*``, ``-``...).
    """
    return " ".join('"' + t.replace('"', '""') + '"' for t in tokens)


#: One result row as the queries read it: (sha256, stored path, sort key, score); the sort key is the
#: column of ``_KEYS`` in a keyed order (the cursor's key), None in the relevance orders.
_Row = tuple[str, str, str | int | None, float]

#: ORDER BY of the keyed orders (module docstring); relevance orders are ranked with numpy.
_ORDERS = {SortOrder.DATE: "a.taken_at DESC, a.sha256",  # NULLs sort lowest in SQLite, hence last when descending
           SortOrder.OLDEST: "a.taken_at IS NULL, a.taken_at, a.sha256",  # undated last
           SortOrder.PATH: "a.path, a.sha256",
           SortOrder.NAME: "a.name_key, a.sha256",
           SortOrder.SIZE: "a.size DESC, a.sha256",
           SortOrder.RATING: "a.rating DESC, a.sha256"}

#: The column each keyed order sorts on before sha256: what its ``SearchCursor.key`` holds.
_KEYS = {SortOrder.DATE: "taken_at", SortOrder.OLDEST: "taken_at", SortOrder.PATH: "path",
         SortOrder.NAME: "name_key", SortOrder.SIZE: "size", SortOrder.RATING: "rating"}


def _after_parts(sort: SortOrder, after: SearchCursor | None, t: str = "") -> list[tuple[str, list[object], str]]:
    """The index ranges, in result order, that hold the hits after ``after`` in the keyed order ``sort``.

    Each part is ``(WHERE, parameters, ORDER BY)`` over ``assets``, its
    columns prefixed with ``t`` (``"a."`` for an aliased table). Read one
    after another, the parts list the order from the cursor on (from the
    first hit when ``after`` is None); each one lies wholly after the
    previous one. Every part is a range of one of the ``assets_by_*``
    indexes, so a seek costs the same anywhere in the results.
    """
    key, sha = f"{t}{_KEYS[sort]}", f"{t}sha256"
    if sort in (SortOrder.PATH, SortOrder.NAME):
        if after is None:
            return [("1", [], f"{key}, {sha}")]
        return [(f"({key}, {sha}) > (?, ?)", [after.key, after.sha256], f"{key}, {sha}")]
    if sort in (SortOrder.SIZE, SortOrder.RATING):  # descending, never NULL
        if after is None:
            return [("1", [], f"{key} DESC, {sha}")]
        return [(f"{key} = ? AND {sha} > ?", [after.key, after.sha256], sha),
                (f"{key} < ?", [after.key], f"{key} DESC, {sha}")]
    # DATE (newest first) and OLDEST: the dated in either direction, then the undated by sha256
    step, order = ("<", f"{key} DESC, {sha}") if sort == SortOrder.DATE else (">", f"{key}, {sha}")
    if after is None:
        return [(f"{key} IS NOT NULL", [], order), (f"{key} IS NULL", [], sha)]
    if after.key is None:
        return [(f"{key} IS NULL AND {sha} > ?", [after.sha256], sha)]
    return [(f"{key} = ? AND {sha} > ?", [after.key, after.sha256], sha),
            (f"{key} {step} ?", [after.key], order),
            (f"{key} IS NULL", [], sha)]


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
class _VectorRows:
    """``rows[asset id]`` = the asset's row in the vector store's copy ``token``, or -1 ("more like this")."""

    generation: int
    token: str
    rows: np.ndarray


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
    ``label_facts`` key); the keyed orders (date, oldest, path, name,
    size) by SQL over the ids.
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
        #: The image embeddings "more like this" ranks by (``Query.like``): ``<index stem>-vectors/`` beside
        #: the file, written from the catalog by ``services/similar.Similar.refresh``.
        from mediaapp.search.vectors import VectorStore  # numpy is loaded on first use only (CLI start-up)
        self.vectors: VectorStore = VectorStore(Path(path).with_name(Path(path).stem + "-vectors"))
        self._cache: _FactCache | None = None
        self._order: _OrderCache | None = None
        self._vrows: _VectorRows | None = None
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
        rows = self._read(f"SELECT id, norm FROM names WHERE field IN ('labels', 'aliases') AND norm IN"
                          f" ({','.join('?' * len(query.labels))})", list(query.labels))
        # a name may be a label on some assets and an alias on others: two ids, never both on one asset
        if query.match_all and len({norm for _id, norm in rows}) < len(query.labels):
            return [], query.min_confidence
        return [r[0] for r in rows], query.min_confidence

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
            grouped = query.match_all and len(query.labels) > 1
            having = f" GROUP BY asset_id HAVING COUNT(*) = {len(query.labels)}" if grouped else ""
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
        if query.face_attributes:  # every attribute on one face, which is one of the persons when given
            attrs, persons = list(query.face_attributes), list(query.persons)
            named = f" AND person IN ({','.join('?' * len(persons))})" if persons else ""
            arrays.append(self._id_array(
                f"SELECT asset_id AS x FROM face_facts WHERE attribute IN ({','.join('?' * len(attrs))})"
                f" AND confidence >= ?{named} GROUP BY asset_id, face_no HAVING COUNT(*) = {len(attrs)}",
                [*attrs, query.min_confidence, *persons]))
        if query.moderation:
            arrays.append(self._moderation_ids(query.moderation, query.moderation_threshold))
        if query.safe_only:
            arrays.append(self._id_array(
                "SELECT id AS x FROM assets WHERE id NOT IN"
                " (SELECT asset_id FROM moderation_facts WHERE confidence >= ?)", [query.moderation_threshold]))
        if query.folder_prefix is not None:
            prefix = query.folder_prefix
            upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
            arrays.append(self._id_array(
                "SELECT asset_id AS x FROM asset_paths WHERE path >= ? AND path < ?", [prefix, upper]))
        if query.min_rating is not None:
            arrays.append(self._id_array("SELECT id AS x FROM assets WHERE rating >= ?", [query.min_rating]))
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

    def _moderation_ids(self, keys: tuple[str, ...], threshold: float) -> np.ndarray:
        """Sorted ids of the assets with a moderation fact of one of ``keys`` at ``threshold`` or more, and,
        when ``MODERATION_UNCHECKED`` is among them, of the assets never checked."""
        ids = self._lookup_ids("moderation", [k for k in keys if k != MODERATION_UNCHECKED])
        found = self._id_array(
            f"SELECT asset_id AS x FROM moderation_facts WHERE name_id IN ({','.join('?' * len(ids))})"
            " AND confidence >= ?", [*ids, threshold]) if ids else np.empty(0, dtype=np.int64)
        if MODERATION_UNCHECKED in keys:
            found = np.union1d(found, self._id_array(
                "SELECT id AS x FROM assets WHERE id NOT IN (SELECT asset_id FROM moderation_checked)"))
        return found

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
                if field_ in ("labels", "aliases"):
                    labels.add(name_id)
                elif field_ == "persons":
                    persons.add(name_id)
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
            wanted.update(self._lookup_ids("aliases", list(query.labels)))
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
                and not query.moderation and not query.safe_only and not query.face_attributes
                and query.taken_after is None and query.taken_before is None and query.min_rating is None)

    def search(self, query: Query) -> SearchPage:
        """The page of hits for ``query`` and the total number of matches.

        ``SearchHit.score`` is the word score with text, else the highest
        matched label confidence (0 without labels); see the module
        docstring for the orders. ``SearchPage.cursor`` is the last hit's
        position; a query with ``after`` seeks to it (an index range, or a
        mask before the partial sort of the ranked orders) instead of
        counting ``offset`` rows from the first. Raises ``ValueError`` for an
        unparseable date bound, a negative limit/offset or a cursor of
        another order, ``SearchUnavailableError`` when the file cannot be read.
        """
        if query.offset < 0 or (query.limit is not None and query.limit < 0):
            raise ValueError("limit and offset must not be negative")
        return self._search(normalize_query(query))

    def _search(self, query: NormalizedQuery) -> SearchPage:
        if query.like is not None:
            return self._search_like(query, query.like)
        relevance = query.sort not in _ORDERS
        if relevance and self._only_one_label(query):
            return self._search_one_label(query)
        wanted = ("text" if query.tokens else "label" if query.labels else "") if relevance else ""
        ids, scores = self._candidates(query, wanted)
        if ids is None:
            total = self._read("SELECT COUNT(*) FROM assets")[0][0]
            return self._page([] if query.limit == 0 else self._all_rows(query), total, query)
        total = len(ids)
        if not total or query.limit == 0:
            return SearchPage([], total)
        if relevance:
            if scores is None:
                scores = np.zeros(len(ids), dtype=np.float64)
            return self._page(self._rank(ids, scores, query), total, query)
        return self._page(self._ordered_rows(ids, query), total, query)

    def _search_like(self, query: NormalizedQuery, example: str) -> SearchPage:
        """"More like this" (``Query.like``): the other filters' matches ranked by the vector store's cosine.

        Score 100 x cosine (-100 to 100); at most ``LIKE_MAX_HITS`` hits
        (``_like_matches``); ``after`` pages like the relevance order (score,
        then sha256).
        """
        hits = [row for _id, row in self._like_matches(query, example)]
        hits.sort(key=lambda h: (-h[3], h[0]))  # rounded scores tie: sha256 decides, as the cursor expects
        total = len(hits)
        after = query.after
        if after is not None:
            ceiling = cast(float, after.key)
            hits = [h for h in hits if h[3] < ceiling or (h[3] == ceiling and h[0] > after.sha256)]
        end = None if query.limit is None else query.offset + query.limit
        page = hits[query.offset:end]
        out = self._page(page, total, query)
        if page and query.sort in _ORDERS:  # its (score, sha256) fits no keyed order's cursor: page by offset
            out.cursor = None
        return out

    def _like_matches(self, query: NormalizedQuery, example: str) -> list[tuple[int, _Row]]:
        """Every hit of ``Query.like`` (``example``, a sha256) under ``query``'s other filters, unordered.

        Each is ``(asset id, (sha256, path, None, 100 x cosine as float32))``:
        the ``LIKE_MAX_HITS`` assets with a vector most like the example's,
        the example left out; empty when it has no vector. ``after``,
        ``offset`` and ``limit`` are not applied. Both the search
        (``_search_like``) and the facets under ``like`` read these, so the
        counts describe exactly the hits.
        """
        ids, _scores = self._candidates(query)
        if ids is None:  # the whole library: the store ranks every vector, the hits' rows are looked up
            ranked = self.vectors.nearest(example, None, LIKE_MAX_HITS)
            rows: dict[str, tuple[int, str]] = {}
            for chunk in range(0, len(ranked), 500):
                part = [sha for sha, _score in ranked[chunk:chunk + 500]]
                rows.update((sha, (i, path)) for sha, i, path in self._read(
                    f"SELECT sha256, id, path FROM assets WHERE sha256 IN ({','.join('?' * len(part))})", part))
            return [(rows[sha][0], (sha, rows[sha][1], None, float(np.float32(score * 100))))
                    for sha, score in ranked if sha in rows]
        # the filters' ids: their vector rows (cached per index and store version), scored, the best kept
        table = self._vector_rows()
        inside = ids < len(table)
        vrows = np.where(inside, table[np.where(inside, ids, 0)], -1)
        keep = (vrows >= 0) & (vrows != self.vectors.row(example))
        ids, vrows = ids[keep], vrows[keep]
        cosines = self.vectors.scores(example, vrows)
        if cosines is None or not len(ids):
            return []
        top = np.argpartition(-cosines, LIKE_MAX_HITS - 1)[:LIKE_MAX_HITS] if len(ids) > LIKE_MAX_HITS \
            else np.arange(len(ids))
        found = self._rows_for(ids[top].tolist())
        return [(i, (found[i][0], found[i][1], None, float(np.float32(cosines[t] * 100))))
                for i, t in zip(ids[top].tolist(), top.tolist()) if i in found]

    @staticmethod
    def _page(rows: list[_Row], total: int, query: NormalizedQuery) -> SearchPage:
        """The ``SearchPage`` of ``rows`` (in order), with the cursor of the last one."""
        hits = [SearchHit(sha, from_stored(path), score) for sha, path, _key, score in rows]
        cursor = None
        if rows:
            sha, _path, key, score = rows[-1]
            cursor = SearchCursor(query.sort, key if query.sort in _ORDERS else score, sha)
        return SearchPage(hits, total, cursor)

    @staticmethod
    def _window(query: NormalizedQuery) -> tuple[int, int]:
        """``(LIMIT, OFFSET)`` of the query's page (LIMIT -1: no limit)."""
        return (-1 if query.limit is None else query.limit), query.offset

    def _all_rows(self, query: NormalizedQuery) -> list[_Row]:
        """The page of a query without filters, read off the order's index or the sha256 index (no candidate set).

        Keyed orders read their index ranges (``_after_parts``) in turn, from
        the cursor when there is one (a seek), so the cost does not grow
        with the position in the results.
        """
        limit, offset = self._window(query)
        after = query.after
        if query.sort in _ORDERS:
            cols = f"sha256, path, {_KEYS[query.sort]}, 0.0"
            if after is None and query.sort != SortOrder.OLDEST:  # one index walk (OLDEST's undated come last)
                return self._rows(f"SELECT {cols} FROM assets a ORDER BY {_ORDERS[query.sort]} LIMIT ? OFFSET ?",
                                  [limit, offset])
            need = -1 if limit < 0 else offset + limit
            rows: list[_Row] = []
            for where, params, order in _after_parts(query.sort, after):
                want = -1 if need < 0 else need - len(rows)
                if want == 0:
                    break
                rows += self._rows(f"SELECT {cols} FROM assets WHERE {where} ORDER BY {order} LIMIT ?",
                                   [*params, want])
            return rows[offset:] if limit < 0 else rows[offset:offset + limit]
        cols = "sha256, path, NULL, 0.0"
        if after is None:
            return self._rows(f"SELECT {cols} FROM assets ORDER BY sha256 LIMIT ? OFFSET ?", [limit, offset])
        # relevance without filters: every score is 0, so the order is sha256's
        key = cast(float, after.key)
        if key < 0:
            return []
        where, params = ("", []) if key > 0 else ("WHERE sha256 > ?", [after.sha256])
        return self._rows(f"SELECT {cols} FROM assets {where} ORDER BY sha256 LIMIT ? OFFSET ?",
                          [*params, limit, offset])

    def _ordered_rows(self, ids: np.ndarray, query: NormalizedQuery) -> list[_Row]:
        """The keyed-order page (``_ORDERS``) of the candidate ``ids`` (after the cursor, when there is one)."""
        limit, offset = self._window(query)
        after = query.after
        where, params = "", []
        if after is not None:
            # the cursor's ranges (_after_parts) joined: each part lies wholly after the previous one
            parts = _after_parts(query.sort, after, "a.")
            where = "WHERE " + " OR ".join(f"({w})" for w, _p, _o in parts)
            params = [p for _w, ps, _o in parts for p in ps]
        # CROSS JOIN keeps the candidates as the outer loop: with the cursor's OR, the planner would
        # otherwise walk an order's index over the whole library and scan the candidates for each row
        return self._rows(
            f"SELECT a.sha256, a.path, a.{_KEYS[query.sort]}, 0.0 FROM json_each(?) j CROSS JOIN assets a"
            f" ON a.id = j.value {where} ORDER BY {_ORDERS[query.sort]} LIMIT ? OFFSET ?",
            [_json_ids(ids.tolist()), *params, limit, offset])

    def _rows(self, sql: str, params: Iterable[object]) -> list[_Row]:
        return cast(list[_Row], self._read(sql, params))

    def _search_one_label(self, query: NormalizedQuery) -> SearchPage:
        """Relevance page of a query with a single label and nothing else, read off the index.

        ``label_facts``' primary key is (label, confidence, asset), so the
        best ``offset + limit`` rows (below the cursor's score, when there is
        one, plus the rows tied with the cursor's score after its sha256)
        come straight from the index; rows tied with the last one are added
        so the sha256 tie-break stays exact.
        """
        # never None here: search() only takes this path for a query with one label (_only_one_label)
        label_ids, minimum = cast(tuple[list[int], float], self._label_filter(query))
        if not label_ids:
            return SearchPage([], 0)
        if len(label_ids) > 1:  # a label on some assets, an alias on others: the general path
            ids, scores = self._candidates(query, "label")
            found = cast(np.ndarray, ids)
            if not len(found) or query.limit == 0:
                return SearchPage([], len(found))
            return self._page(self._rank(found, cast(np.ndarray, scores), query), len(found), query)
        lid = label_ids[0]
        total = self._read("SELECT COUNT(*) FROM label_facts WHERE label_id=? AND confidence>=?",
                           [lid, minimum])[0][0]
        if query.limit == 0 or (query.after is None and query.offset >= total):
            return SearchPage([], total)
        rows: list[tuple[int, float]] = []
        below = ""
        params: list[object] = [lid, minimum]
        if query.after is not None:
            ceiling = cast(float, query.after.key)
            rows = self._read("SELECT f.asset_id, f.confidence FROM label_facts f CROSS JOIN assets a"
                              " ON a.id = f.asset_id"  # the facts tied with the cursor first, then their sha256
                              " WHERE f.label_id=? AND f.confidence=? AND f.confidence>=? AND a.sha256>?",
                              [lid, ceiling, minimum, query.after.sha256])
            below, params = " AND confidence<?", [lid, minimum, ceiling]
        need = -1 if query.limit is None else query.offset + query.limit
        best = self._read(f"SELECT asset_id, confidence FROM label_facts WHERE label_id=? AND confidence>=?{below}"
                          " ORDER BY confidence DESC LIMIT ?", [*params, need])
        if best and need >= 0:
            boundary = best[-1][1]
            best = [r for r in best if r[1] > boundary] + self._read(
                "SELECT asset_id, confidence FROM label_facts WHERE label_id=? AND confidence=?",
                [lid, boundary])
        rows += best
        if len(rows) <= DIRECT_RANK and self._order is None:
            return self._page(self._rank_direct(rows, query), total, query)
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        scores = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        return self._page(self._rank(ids, scores, query), total, query)

    def _vector_rows(self) -> np.ndarray:
        """``rows[asset id]``: each asset's row in the vector store, or -1 (cached per write generation and copy)."""
        generation, token = self._generation(), self.vectors.token() or ""
        cache = self._vrows
        if cache is not None and (cache.generation, cache.token) == (generation, token):
            return cache.rows
        with self._cache_lock:
            pairs = self._read("SELECT id, sha256 FROM assets")
            ids = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
            rows = np.full(int(ids.max()) + 1 if len(ids) else 1, -1, dtype=np.int64)
            rows[ids] = self.vectors.rows_of(p[1] for p in pairs)
            self._vrows = _VectorRows(generation, token, rows)
            return rows

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

    def _rank_after(self, sha256: str, rank: np.ndarray) -> int:
        """The smallest sha256 rank (``_sha_rank``) of the assets whose sha256 sorts after ``sha256``."""
        found = self._read("SELECT id FROM assets WHERE sha256=?", [sha256])
        if found and found[0][0] < len(rank):
            return int(rank[found[0][0]]) + 1
        return cast(int, self._read("SELECT COUNT(*) FROM assets WHERE sha256 < ?", [sha256])[0][0])

    def _rank_direct(self, scored: list[tuple[int, float]], query: NormalizedQuery) -> list[_Row]:
        """``_rank`` for a few ``(asset id, score)`` pairs: their sha256s are read and sorted in Python.

        Same order and page as ``_rank`` (score descending, sha256
        ascending, after the cursor), without the sha256 rank of the whole
        library; ids no longer indexed (a racing write) are left out.
        """
        rows = self._rows_for(i for i, _score in scored)
        ranked = sorted((-score, rows[i][0], rows[i][1]) for i, score in scored if i in rows)
        after = query.after
        if after is not None:
            ceiling = cast(float, after.key)
            ranked = [r for r in ranked if -r[0] < ceiling or (-r[0] == ceiling and r[1] > after.sha256)]
        end = None if query.limit is None else query.offset + query.limit
        return [(sha, path, None, -neg) for neg, sha, path in ranked[query.offset:end]]

    def _rank(self, ids: np.ndarray, scores: np.ndarray, query: NormalizedQuery) -> list[_Row]:
        """Rows of ``ids`` by score descending then sha256 ascending, for the query's page.

        ``scores`` is aligned with ``ids``. With a cursor only the ids after
        it count. The page is picked with a partial sort on one 64-bit key
        per id (the float32 score's bits, inverted, above the sha256 rank),
        so it costs O(len(ids)) wherever it lies; only the page's rows are
        read from SQLite.
        """
        rank = self._sha_rank()
        inside = ids < len(rank)
        ranks = np.where(inside, rank[np.where(inside, ids, 0)], len(rank))  # unknown ids (racing write) last
        after = query.after
        if after is not None:
            ceiling = cast(float, after.key)
            keep = (scores < ceiling) | ((scores == ceiling) & (ranks >= self._rank_after(after.sha256, rank)))
            ids, scores, ranks = ids[keep], scores[keep], ranks[keep]
        end = len(ids) if query.limit is None else min(len(ids), query.offset + query.limit)
        if end <= query.offset:
            return []
        # confidences are float32 values >= 0, whose bit patterns sort as the numbers do
        bits = scores.astype(np.float32).view(np.uint32).astype(np.uint64)
        keys = ((np.uint64(0xFFFFFFFF) - bits) << np.uint64(32)) | ranks.astype(np.uint64)
        if end < len(keys):
            top = np.argpartition(keys, end - 1)[:end]
            top = top[np.argsort(keys[top], kind="stable")]
        else:
            top = np.argsort(keys, kind="stable")
        order = top[query.offset:end]
        page_ids = ids[order].tolist()
        rows = self._rows_for(page_ids)
        return [(rows[i][0], rows[i][1], None, float(scores[k]))
                for i, k in zip(page_ids, order.tolist()) if i in rows]

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Asset counts per label (or person) among the assets matching ``query``.

        ``"labels"`` counts label facts (names and parents) with confidence
        >= ``query.min_confidence``; ``"persons"`` counts person detections.
        Ordered by count descending then normalised name; ``limit`` caps the
        list. ``query.limit``/``offset``/``sort`` are ignored. With
        ``query.like`` the counts are over the hits of that search (at most
        ``LIKE_MAX_HITS``, the example left out). Raises
        ``ValueError`` for another ``field`` or a bad date bound,
        ``SearchUnavailableError`` when the file cannot be read.
        """
        if field not in ("labels", "persons", "moderation", "face_attributes"):
            raise ValueError(f"unknown facet field {field!r}; expected 'labels', 'persons', 'moderation' "
                             "or 'face_attributes'")
        normalized = normalize_query(query)
        ids: np.ndarray | None
        if normalized.like is not None:  # exactly the hits "more like this" gives (``_like_matches``)
            matches = self._like_matches(normalized, normalized.like)
            ids = np.unique(np.fromiter((i for i, _row in matches), dtype=np.int64, count=len(matches)))
        else:
            ids, _scores = self._candidates(normalized)
        if ids is not None and not len(ids):
            return []
        if field == "face_attributes":
            return self._face_counts(ids, normalized, limit)
        if field == "moderation":
            return self._moderation_counts(ids, normalized.moderation_threshold, limit)
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

    def _face_counts(self, ids: np.ndarray | None, query: NormalizedQuery, limit: int) -> list[FacetCount]:
        """Assets per face attribute at ``min_confidence`` or more (on the faces of ``query.persons`` when given)
        among ``ids`` (None: every asset); count descending, then name."""
        where = ["confidence >= ?"]
        params: list[object] = [query.min_confidence]
        if query.persons:
            where.append(f"person IN ({','.join('?' * len(query.persons))})")
            params += list(query.persons)
        if ids is not None:
            where.append("asset_id IN (SELECT value FROM json_each(?))")
            params.append(_json_ids(ids.tolist()))
        counts = self._read(f"SELECT attribute, COUNT(DISTINCT asset_id) FROM face_facts WHERE {' AND '.join(where)}"
                            " GROUP BY attribute", params)
        return [FacetCount(name, int(c)) for name, c in sorted(counts, key=lambda nc: (-nc[1], nc[0]))[:limit]]

    def _moderation_counts(self, ids: np.ndarray | None, threshold: float, limit: int) -> list[FacetCount]:
        """The moderation facet over ``ids`` (None: every asset): see ``SearchIndex.facets``."""
        within = "" if ids is None else " AND asset_id IN (SELECT value FROM json_each(?))"
        among = [] if ids is None else [_json_ids(ids.tolist())]
        counts = self._read(
            "SELECT n.display, n.norm, COUNT(*) FROM moderation_facts f JOIN names n ON n.id = f.name_id"
            f" WHERE f.confidence >= ?{within} GROUP BY f.name_id", [threshold, *among])
        ordered = sorted((-c, norm, display) for display, norm, c in counts if c > 0)
        out = [FacetCount(display, -neg) for neg, _norm, display in ordered[:limit]]
        unchecked = self._read(
            "SELECT COUNT(*) FROM assets WHERE id NOT IN (SELECT asset_id FROM moderation_checked)"
            + ("" if ids is None else " AND id IN (SELECT value FROM json_each(?))"), among)[0][0]
        if unchecked:
            out.append(FacetCount(MODERATION_UNCHECKED, int(unchecked)))
        return out

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
