"""OpenSearch backend (issue 5): the same queries, and the same answers, as SQLite on a cluster.

Layout. Documents live in a concrete index named
``<alias>-v<MAPPING_VERSION>-<UTC yyyymmddhhmmss>-<6 random hex digits>``
reached through the alias ``<alias>`` (default ``mediaapp``); the random part
makes every name unique, so two rebuilds in the same second never collide.
The mapping's ``_meta`` records ``mediaapp_mapping_version`` (the
``MAPPING_VERSION`` it was made with) and ``mediaapp_complete`` (True only
for an index filled from the whole library by ``rebuild``). A mapping change
is a ``rebuild``: a fresh index is filled while searches keep using the old
one, then one atomic alias swap, never an outage. A second small index
behind ``<alias>-names`` (``<alias>-names-v<NAMES_VERSION>-...``) records
the display spelling first seen for each normalised label/person name
(documents created with ``op_type=create``, so the first writer wins, as in
SQLite's ``names`` table); its ``_id`` is ``<field>:<norm>``, or
``<field>#sha256:<hex digest of norm>`` when that would exceed OpenSearch's
512-byte ``_id`` limit (``MAX_ID_BYTES``).

``needs_reindex`` (also in ``health()``) is True when the alias is missing,
its index has another mapping version, it was created empty on first use
and never filled by ``rebuild``, or it lost its documents; ``mediaapp
reindex --to opensearch`` (``rebuild``) clears it.

Lost index. Writes go to the alias with ``require_alias=true``, so a cluster
that restarted empty (or an index deleted by hand) never gets an
auto-created concrete index in the alias's place. A 404
``index_not_found_exception`` on any call marks the index *lost*: the call
raises ``SearchUnavailableError`` (the library then answers from its
embedded SQLite index), the next call re-creates an empty index behind the
alias (so writes carry on), and reads keep raising until a ``rebuild`` has
refilled it (re-checked every ``RECHECK_SECONDS``, so a rebuild from another
process is noticed).

Mapping: ``mediaapp.search.opensearch_mapping`` (``index_body``), one
document per asset (``to_source``), ``_id`` = sha256. The client, readable
errors and the creation of the indices behind the aliases:
``mediaapp.search.opensearch_client`` (``OpenSearchConnection``, the base of
``OpenSearchIndex``).

Query translation mirrors ``mediaapp.search.sqlite`` (see its docstring for
the result orders). Relevance scores are computed by a nested
``function_score`` returning a detection's float32 confidence with
``score_mode: max``: over the query's labels without text, over the
query's labels and the detections whose ``words`` hold a query word with
text (the "word score"). The values are exactly SQLite's, so relevance order
(score, then sha256) is identical on both backends. Pages beyond
``max_result_window`` (10,000) are walked with ``search_after`` on the sort
keys, which always end with ``sha256`` so every position is unique.

Keyset paging: ``Query.after`` (a backend-neutral ``SearchCursor``: score,
``taken_at`` text, path, name key or size, then sha256) becomes
``search_after`` (a date as epoch milliseconds, an undated asset as
``MISSING_DATE_DESC`` newest first or ``MISSING_DATE_ASC`` oldest first), and
``SearchPage.cursor`` is read back from the last hit's ``_source`` and
``_score``, so a cursor from either backend pages on the other.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

from mediaapp.core.filenames import from_stored
from mediaapp.core.query import UNRATED_KEY, NormalizedQuery, float32, normalize_query
from mediaapp.core.responses import FACE_ATTRIBUTES
from mediaapp.core.text import normalize_label
from mediaapp.core.types import (
    LIKE_MAX_HITS,
    MODERATION_UNCHECKED,
    DetectionKind,
    IndexDocument,
    Json,
    Query,
    SearchCursor,
    SearchHit,
    SearchPage,
    SortOrder,
)
from mediaapp.search.context_labels import context_labels
from mediaapp.search.index_base import FacetCount, IndexResult, SearchUnavailableError, upsert_in_batches
from mediaapp.search.opensearch_client import (
    OpenSearchConnection,
    bulk_reason,
    describe_error,
    index_missing,
    is_unavailable,
)
from mediaapp.search.opensearch_mapping import (
    MAPPING_VERSION,
    META_COMPLETE,
    META_VERSION,
    NAMES_VERSION,
    index_body,
    name_doc_id,
    names_body,
    to_source,
)

__all__ = ["LIKE_CACHE_SECONDS", "MISSING_DATE_ASC", "MISSING_DATE_DESC", "RECHECK_SECONDS", "OpenSearchIndex",
           "epoch_millis"]

#: OpenSearch's default ``index.max_result_window``: from + size beyond it needs search_after.
MAX_WINDOW = 10_000
#: Seconds between re-checks of a lost index (has someone rebuilt it?) while reads fall back.
RECHECK_SECONDS = 5.0
#: Seconds a "more like this" answer (``OpenSearchIndex._like_hits``) is reused. Long enough for one window
#: refresh (the hits, four facet lists and the next pages ask the same k-NN question within a second or two);
#: short because writes by this index object drop the answers at once, but writes by another process or
#: machine to a shared cluster (an import elsewhere, a ``rebuild``'s alias swap) are seen only when it expires.
LIKE_CACHE_SECONDS = 5.0
#: The sort value OpenSearch gives an undated asset in the date order (descending, missing last):
#: the smallest long. A cursor on an undated asset continues from it.
MISSING_DATE_DESC = -(2**63)
#: The sort value of an undated asset in the oldest-first order (ascending, missing last): the largest long.
MISSING_DATE_ASC = 2**63 - 1
#: The first sort key of each keyed order (``SortOrder``); the relevance orders sort on ``_score``.
_SORT_KEYS: dict[SortOrder, Json] = {
    SortOrder.DATE: {"taken_at": {"order": "desc", "missing": "_last"}},
    SortOrder.OLDEST: {"taken_at": {"order": "asc", "missing": "_last"}},
    SortOrder.PATH: {"path": "asc"},
    SortOrder.NAME: {"name_key": "asc"},
    SortOrder.SIZE: {"size": "desc"},
    SortOrder.RATING: {"rating": "desc"},
}
_EPOCH = datetime(1970, 1, 1)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def epoch_millis(taken_at: str) -> int:
    """Milliseconds since 1970 of a ``normalize_taken_at`` value read as UTC, as the mapping stores ``taken_at``.

    Raises ``ValueError`` for text that is not ISO 8601.
    """
    return (datetime.fromisoformat(taken_at).replace(tzinfo=None) - _EPOCH) // timedelta(milliseconds=1)


def _writes(method: Callable[Concatenate[OpenSearchIndex, _P], _R]) -> Callable[Concatenate[OpenSearchIndex, _P], _R]:
    """Mark an ``OpenSearchIndex`` method that changes documents: the "more like this" answers kept
    (``_like_answers``) are dropped when it starts and again when it returns or raises (``AnswerCache.writing``)."""
    def write(self: OpenSearchIndex, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with self._like_answers.writing():
            return method(self, *args, **kwargs)

    functools.update_wrapper(write, method)  # its name and docstring
    return write


class OpenSearchIndex(OpenSearchConnection):
    """``SearchIndex`` on an OpenSearch cluster (or Amazon OpenSearch Service).

    ``url``: cluster URL (``https://host:9200``); ``index``: the alias name
    (lowercase, as OpenSearch requires); ``username``/``password``: basic
    auth; ``verify_certs`` (default True) and ``ca_certs`` (a CA bundle
    path) control TLS verification; ``aws_region`` switches to AWS SigV4
    signing (``aws_service`` ``es`` for managed domains, ``aoss`` for
    Serverless) with boto3's default credentials; ``timeout`` is seconds per
    request; ``refresh`` True makes every write visible to the next search
    (tests, interactive use), False leaves it to the cluster's refresh
    interval (bulk loads; call ``refresh()`` at the end); ``replicas`` sets
    ``number_of_replicas`` when an index is created (None: cluster default);
    ``require_complete`` True makes reads raise ``SearchUnavailableError``
    while ``needs_reindex`` is True (an index that was never filled from the
    whole library, has an old mapping or lost documents: the library then
    answers from its embedded index, re-checking every ``RECHECK_SECONDS``),
    False serves whatever the index holds; ``client`` injects a ready
    ``opensearchpy.OpenSearch``.

    Nothing touches the network, or looks for AWS credentials, until first
    use: the client is created then, and the index and alias are created on
    first use too. Every method raises ``SearchUnavailableError`` when the
    cluster cannot be reached, refuses the credentials (or SigV4 finds none),
    or the index was lost (module docstring); ``health()`` never raises.

    "More like this" answers are kept for a few seconds and dropped by every
    write of this object (``_like_hits``), so a search and its facet lists
    share one k-NN request.
    """

    name = "opensearch"

    # -- plumbing -------------------------------------------------------------

    def _check_readable(self) -> None:
        """Ensure the index; raise ``SearchUnavailableError`` while it cannot answer (re-checked now and then).

        It cannot while it is lost, nor, with ``require_complete``, while it needs a reindex.
        """
        blocked = self._degraded or (self._require_complete and self.needs_reindex)
        if blocked and time.monotonic() - self._checked_at >= RECHECK_SECONDS:
            self._checked_at = time.monotonic()
            self._ready = False
        self._ensure()
        if self._degraded:
            raise SearchUnavailableError(self._lost_message())
        if self._require_complete and self.needs_reindex:
            raise SearchUnavailableError(
                f"OpenSearch at {self.url}: reindex needed: {self.reindex_reason}; the library answers from "
                "its embedded index until `mediaapp reindex --to opensearch` fills it")

    # -- writes ---------------------------------------------------------------

    def _name_actions(self, source: Json, doc: IndexDocument) -> Iterator[Json]:
        proj_labels: dict[str, str] = {}
        for det in [*doc.detections, *context_labels(doc.detections)]:  # + Text/Document (search.context_labels)
            if det.kind == DetectionKind.LABEL:
                for name in (det.name, *det.parents):
                    proj_labels.setdefault(normalize_label(name), name.strip())
        moderation = {normalize_label(n): n.strip() for det in doc.detections
                      if det.kind == DetectionKind.MODERATION for n in (det.name, *det.parents)}
        pairs = [("labels", n, d) for n, d in proj_labels.items() if n]
        pairs += [("moderation", n, d) for n, d in moderation.items() if n]
        pairs += [("persons", n, d) for n, d in zip(source["persons"], source["person_names"])]
        for field_, norm, display in pairs:
            key = name_doc_id(field_, norm)
            if key in self._known_names:
                continue
            self._known_names.add(key)
            yield {"_op_type": "create", "_index": self.names_alias, "_id": key,
                   "_source": {"field": field_, "norm": norm, "display": display}}

    def _bulk(self, actions: Iterable[Json], chunk_size: int, max_retries: int
              ) -> Iterator[tuple[bool, str, Json]]:
        """``(ok, op, info)`` per action of a streaming bulk; raises the error when the cluster is unavailable.

        A whole request the server rejects with another 4xx (e.g. 413 too
        large) is reported as a failure of each of its actions.
        """
        from opensearchpy import helpers

        for ok, item in helpers.streaming_bulk(
                self.client, actions, chunk_size=chunk_size, max_retries=max_retries,
                initial_backoff=1, max_backoff=30, raise_on_error=False, raise_on_exception=False,
                refresh=self._refresh, require_alias=self._require_alias):
            op, info = next(iter(item.items()))
            exc = info.get("exception")
            if exc is not None and is_unavailable(exc):
                raise exc
            if exc is not None:
                info = dict(info, error=describe_error(exc))
            yield ok, op, info

    @_writes
    def upsert(self, docs: Iterable[IndexDocument], *, chunk_size: int = 500,
               max_retries: int = 3) -> IndexResult:
        """Index ``docs`` with ``helpers.streaming_bulk`` (``_id`` = sha256, replacing).

        Rejections with 429 are retried ``max_retries`` times with backoff;
        every other per-document failure the server reports (mapping
        conflict, value out of range, a rejected request) is returned in
        ``IndexResult.failed`` as ``(sha256, reason)`` and never raised.
        Raises ``SearchUnavailableError`` when the cluster cannot be reached
        or the index was lost (the batch may be partly applied; upserts are
        idempotent, so replaying it is safe).
        """
        self._ensure()
        result = IndexResult()
        if isinstance(docs, list) and not docs:
            return result
        lost: list[str] = []

        def actions() -> Iterator[Json]:
            for doc in docs:
                sha = getattr(getattr(doc, "asset", None), "sha256", "") or ""
                try:
                    source = to_source(doc)
                except (ValueError, TypeError, AttributeError) as exc:
                    result.failed.append((sha, f"{type(exc).__name__}: {exc}"))
                    continue
                yield from self._name_actions(source, doc)
                yield {"_op_type": "index", "_index": self.alias, "_id": sha, "_source": source}

        def run() -> None:
            for ok, _op, info in self._bulk(actions(), chunk_size, max_retries):
                if index_missing(info):
                    lost.append(str(info.get("_id", "")))
                elif str(info.get("_index", "")).startswith(self.names_alias):
                    continue  # name dictionary: 409 means "already known", fine
                elif ok:
                    result.indexed += 1
                else:
                    result.failed.append((str(info.get("_id", "")), bulk_reason(info)))

        self._call(run)
        if lost:
            self._index_lost()
            raise SearchUnavailableError(self._lost_message())
        return result

    @_writes
    def delete(self, sha256s: Iterable[str]) -> None:
        """Remove these assets (bulk deletes; unknown ids are ignored).

        Raises ``SearchUnavailableError`` when the cluster cannot be reached
        or the index was lost.
        """
        shas = list(sha256s)
        if not shas:
            return
        self._ensure()
        actions = [{"_op_type": "delete", "_index": self.alias, "_id": s} for s in shas]

        def run() -> bool:
            return any(index_missing(info) for _ok, _op, info in self._bulk(actions, 500, 3))

        if self._call(run):
            self._index_lost()
            raise SearchUnavailableError(self._lost_message())

    @_writes
    def clear(self) -> None:
        """Remove every document (and the name dictionary).

        Raises ``SearchUnavailableError`` when the cluster cannot be reached.
        """
        self._ensure()
        for alias in (self.alias, self.names_alias):
            self._call(lambda a=alias: self.client.delete_by_query(
                index=a, body={"query": {"match_all": {}}}, refresh=True, conflicts="proceed"))
        self._known_names.clear()

    @_writes
    def refresh(self) -> None:
        """Make every write so far visible to searches (and drop the "more like this" answers kept)."""
        self._ensure()
        self._call(lambda: self.client.indices.refresh(index=f"{self.alias},{self.names_alias}"))

    @_writes
    def drop(self) -> None:
        """Delete the indices behind both aliases (and the aliases); the next use recreates them."""
        for alias in (self.alias, self.names_alias):
            for concrete in self._call(lambda a=alias: self._holders(a)):
                self._call(lambda c=concrete: self.client.indices.delete(index=c, ignore=[404]))
        self._ready = False
        self._seen = None
        self._degraded = False
        self._known_names.clear()

    @_writes
    def rebuild(self, docs: Iterable[IndexDocument], progress: Callable[[int], None] | None = None,
                batch: int = 1000) -> IndexResult:
        """Fill fresh asset and names indices with ``docs``, then swap both aliases at once.

        The new asset index is ``<alias>-v<MAPPING_VERSION>-<stamp>-<random>``
        with ``_meta.mediaapp_complete`` True. Searches keep using the old
        indices until the atomic alias swap; the old indices are then
        deleted, and ``needs_reindex`` becomes False. ``batch`` documents go
        per bulk request; ``progress`` receives the running count of
        documents sent after each batch (an exception it raises aborts the
        rebuild). Writes made to the old index during the rebuild are not
        carried over. Raises ``SearchUnavailableError`` when the cluster
        cannot be reached or the alias name is taken by a concrete index;
        on any failure the new indices are deleted and the aliases left
        untouched.
        """
        if batch < 1:
            raise ValueError("batch must be at least 1")
        client = self.client
        for alias in (self.alias, self.names_alias):
            if not self._call(lambda a=alias: client.indices.exists_alias(name=a)) and \
                    self._call(lambda a=alias: client.indices.exists(index=a)):
                raise SearchUnavailableError(
                    f"OpenSearch at {self.url}: {alias!r} is a concrete index, not an alias; "
                    "delete it or choose another index name")
        target = self._new_name(self.alias, MAPPING_VERSION)
        names_target = self._new_name(self.names_alias, NAMES_VERSION)
        created: list[str] = []
        try:
            for name, body in ((target, index_body(replicas=self._replicas, complete=True)),
                               (names_target, names_body(self._replicas))):
                self._call(lambda n=name, b=body: client.indices.create(index=n, body=b))
                created.append(name)
            shadow = OpenSearchIndex(self.url, target, client=client, refresh=False, replicas=self._replicas)
            shadow.names_alias = names_target
            shadow._ready = True
            shadow._require_alias = False  # it writes to the concrete indices themselves
            result = upsert_in_batches(shadow.upsert, docs, batch, progress)
            self._call(lambda: client.indices.refresh(index=f"{target},{names_target}"))
            old = self._call(lambda: self._holders(self.alias))
            old_names = self._call(lambda: self._holders(self.names_alias))
            actions = [{"remove": {"index": o, "alias": self.alias}} for o in old]
            actions += [{"remove": {"index": o, "alias": self.names_alias}} for o in old_names]
            actions += [{"add": {"index": target, "alias": self.alias}},
                        {"add": {"index": names_target, "alias": self.names_alias}}]
            self._call(lambda: client.indices.update_aliases(body={"actions": actions}))
        except BaseException:
            for name in created:
                try:
                    client.indices.delete(index=name, ignore=[404])
                except Exception:
                    pass
            raise
        for o in (*old, *old_names):
            self._call(lambda o=o: client.indices.delete(index=o, ignore=[404]))
        self._known_names = set(shadow._known_names)
        self._degraded = False
        self._ready = False
        self._seen = target
        self.needs_reindex, self.reindex_reason = False, ""
        return result

    # -- reads ----------------------------------------------------------------

    def _filter_query(self, query: NormalizedQuery) -> Json:
        """The query for ``query`` with its scoring.

        Scoring: with text, the word score (should clause; assets with no
        matching detection score 0); else with labels the highest matched
        label confidence (must clause that also filters); else a constant 0.
        """
        filters: list[Json] = []
        tokens = list(query.tokens)
        labels = list(query.labels)
        minimum = query.min_confidence

        def det_filter(keys: list[str]) -> Json:
            return {"bool": {"filter": [
                {"term": {"detections.kind": DetectionKind.LABEL.value}},
                _label_keys(keys),
                {"range": {"detections.confidence": {"gte": minimum}}}]}}

        def by_confidence(match: Json) -> Json:
            return {"nested": {"path": "detections", "score_mode": "max", "query": {
                "function_score": {"query": match,
                                   "field_value_factor": {"field": "detections.confidence", "missing": 0},
                                   "boost_mode": "replace"}}}}

        if tokens:
            filters.append({"match": {"tokens": {"query": " ".join(tokens), "operator": "and"}}})
        if labels and query.match_all and len(labels) > 1:
            for label in labels:
                filters.append({"nested": {"path": "detections", "query": det_filter([label]),
                                           "score_mode": "none"}})
        elif labels and tokens:
            filters.append({"nested": {"path": "detections", "query": det_filter(labels), "score_mode": "none"}})
        if query.persons:
            filters.append({"terms": {"persons": list(query.persons)}})
        if query.face_attributes:  # every attribute on one face, which is one of the persons when given
            face: list[Json] = [{"range": {f"faces.{a}": {"gte": query.min_confidence}}} for a in query.face_attributes]
            if query.persons:
                face.append({"terms": {"faces.person": list(query.persons)}})
            filters.append({"nested": {"path": "faces", "query": {"bool": {"filter": face}}, "score_mode": "none"}})
        if query.moderation:
            filters.append(_moderation_filter(query.moderation, query.moderation_threshold))
        if query.safe_only:
            filters.append({"bool": {"must_not": [_flagged(None, query.moderation_threshold)]}})
        if query.folder_prefix is not None:
            filters.append({"prefix": {"paths": query.folder_prefix}})
        if query.min_rating is not None:
            filters.append({"range": {"rating": {"gte": query.min_rating}}})
        lower, upper = query.taken_after, query.taken_before
        if lower is not None or upper is not None:
            rng: dict[str, str] = {}
            if lower is not None:
                rng["gte"] = lower
            if upper is not None:
                rng["lte"] = upper
            filters.append({"range": {"taken_at": rng}})
        if tokens:
            words = list(dict.fromkeys(tokens))
            either: list[Json] = [{"bool": {"filter": [
                {"terms": {"detections.kind": [DetectionKind.LABEL.value, DetectionKind.PERSON.value]}},
                {"terms": {"detections.words": words}}]}}]
            if labels:
                either.append({"bool": {"filter": [{"term": {"detections.kind": DetectionKind.LABEL.value}},
                                                   _label_keys(labels)]}})
            match = {"bool": {"filter": [{"range": {"detections.confidence": {"gte": minimum}}},
                                         {"bool": {"should": either, "minimum_should_match": 1}}]}}
            return {"bool": {"filter": filters, "should": [by_confidence(match)]}}
        if labels:
            return {"bool": {"must": [by_confidence(det_filter(labels))], "filter": filters}}
        return {"constant_score": {"filter": {"bool": {"filter": filters}}, "boost": 0.0}}

    @staticmethod
    def _sort(query: Query) -> list[Json]:
        """The ``sort`` of ``query``'s order (``mediaapp.search.sqlite``'s docstring), always ending with sha256."""
        first: Json = _SORT_KEYS.get(query.sort, {"_score": "desc"})
        return [first, {"sha256": "asc"}]

    @staticmethod
    def _search_after(cursor: SearchCursor) -> list[Any]:
        """The ``search_after`` values of ``cursor`` for ``_sort``'s keys (a date as epoch milliseconds)."""
        if cursor.sort in (SortOrder.DATE, SortOrder.OLDEST):
            missing = MISSING_DATE_DESC if cursor.sort == SortOrder.DATE else MISSING_DATE_ASC
            key = missing if cursor.key is None else epoch_millis(cast(str, cursor.key))
            return [key, cursor.sha256]
        return [cursor.key, cursor.sha256]

    @staticmethod
    def _cursor(sort: SortOrder, hit: Json) -> SearchCursor:
        """The backend-neutral cursor of one hit (``SearchCursor``): its key read from ``_source`` or ``_score``."""
        src: Json = hit.get("_source") or {}
        sha = cast(str, src.get("sha256", hit["_id"]))
        if sort in (SortOrder.DATE, SortOrder.OLDEST):
            return SearchCursor(sort, src.get("taken_at"), sha)
        if sort == SortOrder.PATH:
            return SearchCursor(sort, cast(str, src.get("path", "")), sha)
        if sort == SortOrder.NAME:
            return SearchCursor(sort, cast(str, src.get("name_key", "")), sha)
        if sort == SortOrder.SIZE:
            return SearchCursor(sort, int(src.get("size") or 0), sha)
        if sort == SortOrder.RATING:
            return SearchCursor(sort, float32(float(src.get("rating", UNRATED_KEY))), sha)
        return SearchCursor(sort, float32(float(hit.get("_score") or 0.0)), sha)

    def like_body(self, vector: list[float], es_filter: Json, example: str) -> Json:
        """The k-NN request of ``Query.like``: the ``LIKE_MAX_HITS`` nearest ``embedding`` vectors to ``vector``
        among the documents matching ``es_filter``, the example itself left out (Lucene's filtered HNSW search)."""
        knn_filter = {"bool": {"filter": [es_filter], "must_not": [{"term": {"sha256": example}}]}}
        return {"size": LIKE_MAX_HITS, "track_total_hits": True,
                "_source": ["sha256", "path", "taken_at", "name_key", "size", "rating"],
                "query": {"knn": {"embedding": {"vector": vector, "k": LIKE_MAX_HITS, "filter": knn_filter}}}}

    def _like_hits(self, example: str, es_filter: Json) -> list[SearchHit]:
        """Every hit of ``Query.like`` by k-NN on ``embedding`` (see ``like_body``): score descending, then sha256.

        OpenSearch's cosine score is ``(1 + cos) / 2``; hits score ``100 x cos``
        as on SQLite. An example without an embedding finds nothing. A cluster
        without the k-NN plugin answers an error: ``SearchUnavailableError``,
        and the library answers from the embedded index. The search
        (``_search_like``) and the facets under ``like`` both read these.

        The answer (``_ask_like``: two requests) is kept in ``_like_answers``
        by example, k (``LIKE_MAX_HITS``) and the filter as canonical JSON,
        so the search and the facet lists of one window refresh (and its next
        pages) share one k-NN request. A kept answer is reused for at most
        ``LIKE_CACHE_SECONDS`` (another process's writes to the cluster show
        after that) and never after a write of this object (``upsert``,
        ``delete``, ``clear``, ``refresh``, ``rebuild``, ``drop``) or a failed
        request (``_forget``); errors are not kept, and concurrent callers
        asking the same question share one request (``AnswerCache``). Each
        call returns new ``SearchHit`` objects in a new list, so callers may
        change them.
        """
        key = (example, LIKE_MAX_HITS, json.dumps(es_filter, sort_keys=True, separators=(",", ":")))
        hits = self._like_answers.get(key, lambda: self._ask_like(example, es_filter), LIKE_CACHE_SECONDS)
        return [SearchHit(h.sha256, h.path, h.score) for h in hits]

    def _ask_like(self, example: str, es_filter: Json) -> tuple[SearchHit, ...]:
        """``_like_hits`` from the cluster: the example's ``embedding``, then the k-NN request (``like_body``)."""
        found = self._call(lambda: self.client.search(index=self.alias, body={
            "size": 1, "_source": ["embedding"], "query": {"term": {"sha256": example}}}))["hits"]["hits"]
        vector = (found[0].get("_source") or {}).get("embedding") if found else None
        if not vector:
            return ()
        resp = self._call(lambda: self.client.search(index=self.alias, body=self.like_body(vector, es_filter,
                                                                                            example)))
        hits = []
        for h in resp["hits"]["hits"]:
            hit = _hit(h)
            hit.score = float32(100.0 * (2.0 * float(h.get("_score") or 0.0) - 1.0))
            hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.sha256))
        return tuple(hits)

    def _search_like(self, query: NormalizedQuery, example: str, es_filter: Json) -> SearchPage:
        """``Query.like``'s page of ``_like_hits``, paged as the embedded index pages it."""
        hits = self._like_hits(example, es_filter)
        total = len(hits)
        after = query.after
        if after is not None:
            ceiling = cast(float, after.key)
            hits = [h for h in hits if h.score < ceiling or (h.score == ceiling and h.sha256 > after.sha256)]
        end = None if query.limit is None else query.offset + query.limit
        page = hits[query.offset:end]
        cursor = SearchCursor(query.sort, page[-1].score, page[-1].sha256) if page and query.sort not in (
            SortOrder.DATE, SortOrder.OLDEST, SortOrder.PATH, SortOrder.NAME, SortOrder.SIZE, SortOrder.RATING) \
            else None
        return SearchPage(page, total, cursor)

    def search(self, query: Query) -> SearchPage:
        """The page of hits for ``query`` and the total number of matches.

        ``Query.like`` is a k-NN search (``_search_like``). Uses from/size
        inside the first ``MAX_WINDOW`` results; a query with
        a cursor (``Query.after``) starts with ``search_after`` at the
        cursor's key, and pages beyond the window (or ``limit`` None) are
        walked with ``search_after``. ``SearchPage.cursor`` comes from the
        last hit's ``_source`` (``taken_at``, ``path``, ``name_key``,
        ``size``) or ``_score``, so it
        is the same as SQLite's. Raises ``ValueError`` for a bad date bound,
        a negative limit/offset or a cursor of another order,
        ``SearchUnavailableError`` when the cluster cannot be reached or the
        index was lost.
        """
        if query.offset < 0 or (query.limit is not None and query.limit < 0):
            raise ValueError("limit and offset must not be negative")
        normalized = normalize_query(query)
        es_query = self._filter_query(normalized)
        self._check_readable()
        if normalized.like is not None:
            return self._search_like(normalized, normalized.like, es_query)
        sort = self._sort(query)
        base = {"query": es_query, "sort": sort, "track_total_hits": True,
                "_source": ["sha256", "path", "taken_at", "name_key", "size", "rating"]}
        end = None if query.limit is None else query.offset + query.limit
        if normalized.after is None and end is not None and end <= MAX_WINDOW:
            body = dict(base, **{"from": query.offset, "size": query.limit})
            resp = self._call(lambda: self.client.search(index=self.alias, body=body))
            page = resp["hits"]["hits"]
            return SearchPage([_hit(h) for h in page], resp["hits"]["total"]["value"],
                              self._cursor(query.sort, page[-1]) if page else None)
        hits: list[SearchHit] = []
        last: Json | None = None
        total = 0
        after = None if normalized.after is None else self._search_after(normalized.after)
        position = 0
        while True:
            size = MAX_WINDOW if end is None else min(MAX_WINDOW, end - position)
            body = dict(base, size=size)
            if after is not None:
                body["search_after"] = after
            resp = self._call(lambda b=body: self.client.search(index=self.alias, body=b))
            total = resp["hits"]["total"]["value"]
            page = resp["hits"]["hits"]
            for h in page:
                if position >= query.offset:
                    hits.append(_hit(h))
                    last = h
                position += 1
            if not page or len(page) < size or (end is not None and position >= end):
                break
            after = page[-1]["sort"]
        return SearchPage(hits, total, None if last is None else self._cursor(query.sort, last))

    def iter_sha256s(self, query: Query = Query(limit=None), page: int = 5000) -> Iterator[str]:
        """Every sha256 matching ``query`` in its order, walked with ``search_after``."""
        es_query = self._filter_query(normalize_query(query))
        self._check_readable()
        after = None
        while True:
            body = {"query": es_query, "sort": self._sort(query), "size": page, "_source": ["sha256"]}
            if after is not None:
                body["search_after"] = after
            resp = self._call(lambda b=body: self.client.search(index=self.alias, body=b))
            hits = resp["hits"]["hits"]
            for h in hits:
                yield h["_id"]
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Asset counts per label (nested terms + reverse_nested) or person under ``query``.

        Same semantics and order as ``SqliteIndex.facets``; display spellings
        come from the names index. With ``query.like`` the counts are over
        the hits of that search (``_like_hits``: its k-NN query first, then
        the aggregation over those sha256s; the k-NN answer is the one the
        search just got while it is kept, so a window refresh's hits and
        facet lists with the same filters share one k-NN request). Raises
        ``ValueError`` for another ``field``, ``SearchUnavailableError`` when
        the cluster cannot be reached, the index was lost, or (under ``like``) it cannot answer
        k-NN queries: the library then answers from the embedded index, as
        for the search.
        """
        if field not in ("labels", "persons", "moderation", "face_attributes"):
            raise ValueError(f"unknown facet field {field!r}; expected 'labels', 'persons', 'moderation' "
                             "or 'face_attributes'")
        normalized = normalize_query(query)
        es_query = self._filter_query(normalized)
        self._check_readable()
        if normalized.like is not None:  # exactly the hits "more like this" gives (k-NN; unavailable: fall back)
            shas = [h.sha256 for h in self._like_hits(normalized.like, es_query)]
            if not shas:
                return []
            es_query = {"bool": {"filter": [es_query, {"terms": {"sha256": shas}}]}}
        if field == "face_attributes":
            return self._face_counts(es_query, normalized, limit)
        if field in ("labels", "moderation"):
            kind, minimum = ((DetectionKind.LABEL, float32(query.min_confidence)) if field == "labels"
                             else (DetectionKind.MODERATION, normalized.moderation_threshold))
            aggs = {"d": {"nested": {"path": "detections"}, "aggs": {"f": {
                "filter": {"bool": {"filter": [
                    {"term": {"detections.kind": kind.value}},
                    {"range": {"detections.confidence": {"gte": minimum}}}]}},
                "aggs": {"k": {"terms": {"field": "detections.keys", "size": 65000},
                               "aggs": {"assets": {"reverse_nested": {}}}}}}}}}
        else:
            aggs = {"k": {"terms": {"field": "persons", "size": 65000}}}
        body = {"query": es_query, "size": 0, "track_total_hits": False, "aggs": aggs}
        resp = self._call(lambda: self.client.search(index=self.alias, body=body))
        if field in ("labels", "moderation"):
            buckets = resp["aggregations"]["d"]["f"]["k"]["buckets"]
            counts = [(b["key"], b["assets"]["doc_count"]) for b in buckets]
        else:
            counts = [(b["key"], b["doc_count"]) for b in resp["aggregations"]["k"]["buckets"]]
        counts.sort(key=lambda kc: (-kc[1], kc[0]))
        counts = [kc for kc in counts if kc[1] > 0][:limit]
        displays = self._displays(field, [k for k, _ in counts])
        out = [FacetCount(displays.get(k, k), c) for k, c in counts]
        if field == "moderation":
            unchecked = {"bool": {"filter": [es_query], "must_not": [{"term": {"moderation_checked": True}}]}}
            found = self._call(lambda: self.client.count(index=self.alias, body={"query": unchecked}))
            if found["count"]:
                out.append(FacetCount(MODERATION_UNCHECKED, int(found["count"])))
        return out

    def _face_counts(self, es_query: Json, query: NormalizedQuery, limit: int) -> list[FacetCount]:
        """The face-attribute facet (``SqliteIndex._face_counts``): one ``filters`` bucket per attribute, each a
        nested query on ``faces`` (the attribute at ``min_confidence`` or more, on a queried person's face)."""
        def face(attribute: str) -> Json:
            must: list[Json] = [{"range": {f"faces.{attribute}": {"gte": query.min_confidence}}}]
            if query.persons:
                must.append({"terms": {"faces.person": list(query.persons)}})
            return {"nested": {"path": "faces", "query": {"bool": {"filter": must}}, "score_mode": "none"}}

        aggs = {"a": {"filters": {"filters": {a: face(a) for a in FACE_ATTRIBUTES}}}}
        body = {"query": es_query, "size": 0, "track_total_hits": False, "aggs": aggs}
        resp = self._call(lambda: self.client.search(index=self.alias, body=body))
        buckets = resp["aggregations"]["a"]["buckets"]
        counts = sorted(((a, int(b["doc_count"])) for a, b in buckets.items() if b["doc_count"]),
                        key=lambda nc: (-nc[1], nc[0]))
        return [FacetCount(a, c) for a, c in counts[:limit]]

    def _displays(self, field: str, norms: list[str]) -> dict[str, str]:
        if not norms:
            return {}
        ids = [name_doc_id(field, n) for n in norms]
        resp = self._call(lambda: self.client.mget(index=self.names_alias, body={"ids": ids}))
        out = {}
        for d in resp.get("docs", []):
            if index_missing(d):
                self._index_lost()
                raise SearchUnavailableError(self._lost_message())
            if d.get("found"):
                out[d["_source"]["norm"]] = d["_source"]["display"]
        return out

    def count(self) -> int:
        """Number of indexed assets. Raises ``SearchUnavailableError`` when unreachable or lost."""
        self._check_readable()
        return int(self._call(lambda: self.client.count(index=self.alias))["count"])

    def health(self) -> Json:
        """A health check for the settings page and ``mediaapp reindex``; never raises, creates nothing.

        Returns ``{"ok": bool, "status": "green|yellow|red|unreachable",
        "version": str, "cluster": str, "index": alias, "documents": int |
        None, "needs_reindex": bool | None, "reindex_reason": str,
        "message": str}``: ``ok`` means the cluster answered with status
        green or yellow; ``documents`` is None when the index does not exist
        (yet); ``needs_reindex`` is None when the cluster could not be
        asked; ``message`` says all of it in plain words.
        """
        out: dict[str, Any] = {"ok": False, "status": "unreachable", "version": "", "cluster": "",
                               "index": self.alias, "documents": None, "needs_reindex": None,
                               "reindex_reason": "", "message": ""}
        try:
            info = self._call(lambda: self.client.info())
            health = self._call(lambda: self.client.cluster.health())
        except Exception as exc:
            out["message"] = str(exc) if isinstance(exc, SearchUnavailableError) else \
                f"OpenSearch at {self.url}: {describe_error(exc)}"
            return out
        status = health.get("status", "unknown")
        version = info.get("version", {}).get("number", "")
        cluster = health.get("cluster_name") or info.get("cluster_name") or "?"
        out.update(ok=status in ("green", "yellow"), status=status, version=version, cluster=cluster)
        where = f"“{self.alias}”"
        try:
            holders = self._holders(self.alias)
            if holders:
                out["documents"] = int(self.client.count(index=self.alias)["count"])
                meta = self._meta(holders[0])
                needs, reason = self._assess(meta.get(META_VERSION), bool(meta.get(META_COMPLETE)))
            elif self.client.indices.exists(index=self.alias):
                needs, reason = True, f"{where} is a concrete index, not an alias; delete it or choose another name"
            else:
                needs, reason = True, f"the index {where} does not exist yet"
            out.update(needs_reindex=needs, reindex_reason=reason)
        except Exception as exc:
            out["reindex_reason"] = f"could not read the index: {describe_error(exc)}"
        text = (f"{info.get('version', {}).get('distribution', 'opensearch')} {version}, "
                f"cluster “{cluster}” is {status}")
        if out["documents"] is not None:
            text += f"; {out['documents']} documents in {where}"
        if out["needs_reindex"]:
            text += f"; reindex needed: {out['reindex_reason']}"
        elif out["reindex_reason"]:
            text += f"; {out['reindex_reason']}"
        out["message"] = text
        return out


def _label_keys(keys: list[str]) -> Json:
    """A detection whose Name or Parent (``keys``) or Alias (``alias_keys``) is one of ``keys`` (normalised)."""
    return {"bool": {"should": [{"terms": {"detections.keys": keys}}, {"terms": {"detections.alias_keys": keys}}],
                     "minimum_should_match": 1}}


def _flagged(keys: list[str] | None, threshold: float) -> Json:
    """Assets with a moderation detection (of one of ``keys``; None: any) at ``threshold`` or more."""
    match: list[Json] = [{"term": {"detections.kind": DetectionKind.MODERATION.value}},
                         {"range": {"detections.confidence": {"gte": threshold}}}]
    if keys is not None:
        match.append({"terms": {"detections.keys": keys}})
    return {"nested": {"path": "detections", "score_mode": "none", "query": {"bool": {"filter": match}}}}


def _moderation_filter(keys: tuple[str, ...], threshold: float) -> Json:
    """``Query.moderation``: flagged with one of ``keys``, or never checked for ``MODERATION_UNCHECKED``."""
    either = [_flagged([k for k in keys if k != MODERATION_UNCHECKED], threshold)]
    if MODERATION_UNCHECKED in keys:
        either.append({"bool": {"must_not": [{"term": {"moderation_checked": True}}]}})
    return {"bool": {"should": either, "minimum_should_match": 1}}


def _hit(h: Json) -> SearchHit:
    """A SearchHit from one OpenSearch hit (score 0 when the sort did not compute one)."""
    src: Json = h.get("_source") or {}
    return SearchHit(cast(str, src.get("sha256", h["_id"])), from_stored(src.get("path", "")),
                     float(h.get("_score") or 0.0))

