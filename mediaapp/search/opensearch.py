"""OpenSearch backend (issue 5): the same queries as SQLite on a cluster.

Layout: documents live in the concrete index ``<alias>-v<MAPPING_VERSION>``
reached through the alias ``<alias>`` (default ``mediaapp``), so a mapping
change is a reindex into ``-v<N+1>`` followed by an atomic alias swap
(``OpenSearchIndex.rebuild``), never an outage. A second small index,
``<alias>-names-v1`` behind ``<alias>-names``, records the display spelling
first seen for each normalised label/person name (documents created with
``op_type=create``, so the first writer wins, as in SQLite's ``names`` table).

Mapping (``index_body``), one document per asset, ``_id`` = sha256:

- asset fields: ``sha256``, ``path`` (representative), ``paths``, ``folders``,
  ``format``, ``camera`` (keywords), ``size`` (long), ``taken_at`` (date in
  ``normalize_taken_at``'s ``yyyy-MM-dd'T'HH:mm:ss.SSS`` form, wall-clock);
- ``detections``: nested objects for label, person and face detections with
  ``kind``, ``name``, ``parents`` (keywords as spelled), ``keys`` (the
  normalised name plus normalised parents: what label queries match),
  ``confidence`` (float) and ``box`` (``left``/``top``/``width``/``height``
  floats); text detections are not nested, their LINE text is ``text``;
- ``text``: the detected text, analysed with the standard analyzer (for
  people querying the cluster directly);
- ``tokens``: ``mediaapp.core.text.tokenize`` output joined by spaces, with a
  whitespace tokenizer + lowercase analyzer, so tokens are exactly SQLite's;
- ``persons``: normalised person names (keywords), ``person_names`` as spelled.

Query translation mirrors ``mediaapp.search.sqlite`` (see its docstring for
the result orders). Relevance without text scores each asset with a nested
``function_score`` returning the highest matched label confidence
(``score_mode: max``), so that order is identical to SQLite's; with text
the score is OpenSearch's BM25 on ``tokens``, whose values differ from
FTS5's, so only the result *set* is portable. Pages beyond
``max_result_window`` (10,000) are walked with ``search_after`` on the sort
keys, which always end with ``sha256`` so every position is unique.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from mediaapp.core.text import normalize_label, tokenize
from mediaapp.core.types import DetectionKind, IndexDocument, Query, SearchHit, SearchPage, SortOrder
from mediaapp.search.base import FacetCount, IndexResult, SearchUnavailableError
from mediaapp.search.sqlite import date_bounds, float32, folder_prefix, project

__all__ = ["OpenSearchIndex", "MAPPING_VERSION", "index_body", "to_source"]

#: Version of ``index_body``; bump it on any mapping change (then ``rebuild``).
MAPPING_VERSION = 1
#: OpenSearch's default ``index.max_result_window``: from + size beyond it needs search_after.
MAX_WINDOW = 10_000
_NAMES_VERSION = 1
_TOKENS_ANALYZER = "mediaapp_tokens"


def index_body(shards: int = 1, replicas: int | None = None) -> dict:
    """Settings and mappings of the asset index (see the module docstring).

    ``replicas`` None leaves the cluster default (use 0 on a single node).
    """
    settings: dict[str, Any] = {
        "number_of_shards": shards,
        "analysis": {"analyzer": {_TOKENS_ANALYZER: {
            "type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}}},
    }
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    box = {"properties": {k: {"type": "float"} for k in ("left", "top", "width", "height")}}
    return {
        "settings": settings,
        "mappings": {
            "dynamic": "strict",
            "_meta": {"mediaapp_mapping_version": MAPPING_VERSION},
            "properties": {
                "sha256": {"type": "keyword"},
                "path": {"type": "keyword"},
                "paths": {"type": "keyword"},
                "folders": {"type": "keyword"},
                "taken_at": {"type": "date", "format": "strict_date_hour_minute_second_millis"},
                "size": {"type": "long"},
                "format": {"type": "keyword"},
                "camera": {"type": "keyword"},
                "text": {"type": "text"},
                "tokens": {"type": "text", "analyzer": _TOKENS_ANALYZER},
                "persons": {"type": "keyword"},
                "person_names": {"type": "keyword"},
                "detections": {"type": "nested", "properties": {
                    "kind": {"type": "keyword"},
                    "name": {"type": "keyword"},
                    "parents": {"type": "keyword"},
                    "keys": {"type": "keyword"},
                    "confidence": {"type": "float"},
                    "box": box,
                    "source": {"type": "keyword"},
                }},
            },
        },
    }


def _names_body() -> dict:
    return {"settings": {"number_of_shards": 1},
            "mappings": {"dynamic": "strict", "properties": {
                "field": {"type": "keyword"}, "norm": {"type": "keyword"},
                "display": {"type": "keyword", "index": False}}}}


def to_source(doc: IndexDocument) -> dict:
    """The ``_source`` indexed for ``doc`` (projection shared with SQLite).

    Raises ``ValueError`` when the asset has no sha256.
    """
    proj = project(doc)
    detections = []
    for det in doc.detections:
        if det.kind not in (DetectionKind.LABEL, DetectionKind.PERSON, DetectionKind.FACE):
            continue
        keys = [normalize_label(det.name)]
        if det.kind == DetectionKind.LABEL:
            keys += [normalize_label(p) for p in det.parents]
        item: dict[str, Any] = {
            "kind": det.kind.value, "name": det.name, "parents": list(det.parents),
            "keys": [k for k in dict.fromkeys(keys) if k],
            "confidence": float32(det.confidence), "source": det.source}
        if det.box is not None:
            item["box"] = {"left": det.box.left, "top": det.box.top,
                           "width": det.box.width, "height": det.box.height}
        detections.append(item)
    return {
        "sha256": proj.sha256, "path": proj.path, "paths": proj.paths, "folders": proj.folders,
        "taken_at": proj.taken_at, "size": proj.size, "format": proj.format, "camera": proj.camera,
        "text": proj.text, "tokens": proj.tokens,
        "persons": list(proj.persons), "person_names": [d for d, _c in proj.persons.values()],
        "detections": detections,
    }


def _make_client(url: str, username: str | None, password: str | None, verify_certs: bool,
                 ca_certs: str | None, aws_region: str | None, aws_service: str,
                 timeout: float):
    from opensearchpy import OpenSearch

    kwargs: dict[str, Any] = {"hosts": [url], "timeout": timeout, "max_retries": 1,
                              "retry_on_timeout": False, "verify_certs": verify_certs,
                              "ssl_show_warn": False}
    if ca_certs:
        kwargs["ca_certs"] = str(ca_certs)
    if aws_region:
        try:
            import boto3
            from opensearchpy import AWSV4SignerAuth, RequestsHttpConnection
        except ImportError as exc:  # pragma: no cover - boto3 is a dependency
            raise SearchUnavailableError(f"AWS SigV4 needs boto3 and requests: {exc}") from exc
        credentials = boto3.Session().get_credentials()
        if credentials is None:
            raise SearchUnavailableError("AWS SigV4: no AWS credentials found (env, profile or role)")
        kwargs["http_auth"] = AWSV4SignerAuth(credentials, aws_region, aws_service)
        kwargs["connection_class"] = RequestsHttpConnection
    elif username:
        kwargs["http_auth"] = (username, password or "")
    return OpenSearch(**kwargs)


class OpenSearchIndex:
    """``SearchIndex`` on an OpenSearch cluster (or Amazon OpenSearch Service).

    ``url``: cluster URL (``https://host:9200``); ``index``: the alias name;
    ``username``/``password``: basic auth; ``verify_certs`` (default True)
    and ``ca_certs`` (a CA bundle path) control TLS verification;
    ``aws_region`` switches to AWS SigV4 signing (``aws_service`` ``es`` for
    managed domains, ``aoss`` for Serverless) with boto3's default
    credentials; ``timeout`` is seconds per request; ``refresh`` True makes
    every write visible to the next search (tests, interactive use), False
    leaves it to the cluster's refresh interval (bulk loads; call
    ``refresh()`` at the end); ``replicas`` sets ``number_of_replicas`` when
    the index is created (None: cluster default). The index and alias are
    created on first use. Every method raises ``SearchUnavailableError`` when
    the cluster cannot be reached or refuses the credentials.
    """

    name = "opensearch"

    def __init__(self, url: str, index: str = "mediaapp", *, username: str | None = None,
                 password: str | None = None, verify_certs: bool = True,
                 ca_certs: str | Path | None = None, aws_region: str | None = None,
                 aws_service: str = "es", timeout: float = 10.0, refresh: bool = True,
                 replicas: int | None = None, client: Any = None) -> None:
        self.url = url
        self.alias = index
        self.names_alias = f"{index}-names"
        self._refresh = refresh
        self._replicas = replicas
        self._client = client or _make_client(url, username, password, verify_certs,
                                              str(ca_certs) if ca_certs else None,
                                              aws_region, aws_service, timeout)
        self._ready = False
        self._known_names: set[str] = set()
        self.needs_reindex = False

    # -- plumbing -------------------------------------------------------------

    @property
    def client(self):
        """The underlying ``opensearchpy.OpenSearch`` client."""
        return self._client

    def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` translating unreachable/unauthorised into ``SearchUnavailableError``."""
        from opensearchpy import exceptions as ex

        try:
            return fn()
        except (ex.ConnectionError, ex.AuthenticationException, ex.AuthorizationException) as exc:
            self._lost()
            raise SearchUnavailableError(f"OpenSearch at {self.url}: {_reason(exc)}") from exc
        except ex.TransportError as exc:
            if isinstance(exc.status_code, int) and exc.status_code < 500 and exc.status_code != 429:
                raise
            self._lost()
            raise SearchUnavailableError(f"OpenSearch at {self.url}: {_reason(exc)}") from exc

    def _lost(self) -> None:
        """Forget what we know about the cluster: it may come back empty (re-create, re-send names)."""
        self._ready = False
        self._known_names.clear()

    def _concrete(self, version: int = MAPPING_VERSION) -> str:
        return f"{self.alias}-v{version}"

    def _ensure(self) -> None:
        """Create the versioned indices and aliases when missing (once per connection)."""
        if self._ready:
            return
        client = self._client
        self._call(lambda: self._ensure_alias(self.alias, self._concrete(), index_body(replicas=self._replicas)))
        self._call(lambda: self._ensure_alias(self.names_alias, f"{self.names_alias}-v{_NAMES_VERSION}",
                                              _names_body()))
        current = self._call(lambda: client.indices.get_alias(name=self.alias))
        self.needs_reindex = self._concrete() not in current
        self._ready = True

    def _ensure_alias(self, alias: str, concrete: str, body: dict) -> None:
        client = self._client
        if client.indices.exists_alias(name=alias):
            return
        if client.indices.exists(index=alias):
            raise SearchUnavailableError(
                f"OpenSearch at {self.url}: {alias!r} is a concrete index, not an alias; "
                "delete it or choose another index name")
        if not client.indices.exists(index=concrete):
            client.indices.create(index=concrete, body=body)
        client.indices.put_alias(index=concrete, name=alias)

    # -- writes ---------------------------------------------------------------

    def _name_actions(self, source: dict, doc: IndexDocument) -> Iterator[dict]:
        proj_labels: dict[str, str] = {}
        for det in doc.detections:
            if det.kind == DetectionKind.LABEL:
                for name in (det.name, *det.parents):
                    proj_labels.setdefault(normalize_label(name), name.strip())
        pairs = [("labels", n, d) for n, d in proj_labels.items() if n]
        pairs += [("persons", n, d) for n, d in zip(source["persons"], source["person_names"])]
        for field_, norm, display in pairs:
            key = f"{field_}:{norm}"
            if key in self._known_names:
                continue
            self._known_names.add(key)
            yield {"_op_type": "create", "_index": self.names_alias, "_id": key,
                   "_source": {"field": field_, "norm": norm, "display": display}}

    def upsert(self, docs: Iterable[IndexDocument], *, chunk_size: int = 500,
               max_retries: int = 3) -> IndexResult:
        """Index ``docs`` with ``helpers.streaming_bulk`` (``_id`` = sha256, replacing).

        Rejections with 429 are retried ``max_retries`` times with backoff;
        other per-document failures are reported in ``IndexResult.failed``
        as ``(sha256, reason)``. Raises ``SearchUnavailableError`` when the
        cluster cannot be reached (the batch may be partly applied; upserts
        are idempotent, so replaying it is safe).
        """
        from opensearchpy import helpers

        self._ensure()
        result = IndexResult()
        if isinstance(docs, list) and not docs:
            return result

        def actions() -> Iterator[dict]:
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
            for ok, item in helpers.streaming_bulk(
                    self._client, actions(), chunk_size=chunk_size, max_retries=max_retries,
                    initial_backoff=1, max_backoff=30, raise_on_error=False,
                    raise_on_exception=True, refresh=self._refresh):
                op, info = next(iter(item.items()))
                if info.get("_index", "").startswith(self.names_alias) or \
                        str(info.get("_id", "")).startswith(("labels:", "persons:")):
                    continue  # name dictionary: 409 means "already known", fine
                if ok:
                    result.indexed += 1
                else:
                    result.failed.append((str(info.get("_id", "")), _bulk_reason(info)))

        self._call(run)
        return result

    def delete(self, sha256s: Iterable[str]) -> None:
        """Remove these assets (bulk deletes; unknown ids are ignored).

        Raises ``SearchUnavailableError`` when the cluster cannot be reached.
        """
        from opensearchpy import helpers

        shas = list(sha256s)
        if not shas:
            return
        self._ensure()
        actions = [{"_op_type": "delete", "_index": self.alias, "_id": s} for s in shas]
        self._call(lambda: helpers.bulk(self._client, actions, raise_on_error=False,
                                        ignore_status=(404,), refresh=self._refresh))

    def clear(self) -> None:
        """Remove every document (and the name dictionary).

        Raises ``SearchUnavailableError`` when the cluster cannot be reached.
        """
        self._ensure()
        for alias in (self.alias, self.names_alias):
            self._call(lambda a=alias: self._client.delete_by_query(
                index=a, body={"query": {"match_all": {}}}, refresh=True, conflicts="proceed"))
        self._known_names.clear()

    def refresh(self) -> None:
        """Make every write so far visible to searches."""
        self._ensure()
        self._call(lambda: self._client.indices.refresh(index=f"{self.alias},{self.names_alias}"))

    def drop(self) -> None:
        """Delete the indices behind both aliases (and the aliases); the next use recreates them."""
        client = self._client
        for alias in (self.alias, self.names_alias):
            found = self._call(lambda a=alias: client.indices.get_alias(name=a, ignore=[404]))
            for concrete in (found or {}):
                if concrete in ("error", "status"):
                    continue
                self._call(lambda c=concrete: client.indices.delete(index=c, ignore=[404]))
        self._ready = False
        self._known_names.clear()

    def rebuild(self, docs: Iterable[IndexDocument],
                progress: Callable[[int], None] | None = None) -> IndexResult:
        """Reindex ``docs`` into a fresh ``-v<MAPPING_VERSION>`` index and swap the alias.

        Searches keep using the old index until the atomic alias swap; the
        old indices are then deleted. ``progress`` receives the running count
        of documents sent. Raises ``SearchUnavailableError`` when the cluster
        cannot be reached (the alias is then left untouched).
        """
        client = self._client
        stamp = time.strftime("%Y%m%d%H%M%S")
        target = f"{self._concrete()}-{stamp}"
        self._call(lambda: client.indices.create(index=target, body=index_body(replicas=self._replicas)))
        self._ensure()
        shadow = OpenSearchIndex(self.url, self.alias, client=client, refresh=False)
        shadow._ready = True
        shadow.alias = target
        shadow._known_names = self._known_names
        result = IndexResult()
        batch: list[IndexDocument] = []
        sent = 0
        for doc in docs:
            batch.append(doc)
            if len(batch) >= 1000:
                part = shadow.upsert(batch)
                result.indexed += part.indexed
                result.failed += part.failed
                sent += len(batch)
                batch = []
                if progress:
                    progress(sent)
        if batch:
            part = shadow.upsert(batch)
            result.indexed += part.indexed
            result.failed += part.failed
            sent += len(batch)
            if progress:
                progress(sent)
        self._call(lambda: client.indices.refresh(index=target))
        old = list(self._call(lambda: client.indices.get_alias(name=self.alias)))
        actions = [{"remove": {"index": o, "alias": self.alias}} for o in old]
        actions.append({"add": {"index": target, "alias": self.alias}})
        self._call(lambda: client.indices.update_aliases(body={"actions": actions}))
        for o in old:
            self._call(lambda o=o: client.indices.delete(index=o, ignore=[404]))
        self.needs_reindex = False
        return result

    # -- reads ----------------------------------------------------------------

    def _filter_query(self, query: Query) -> tuple[dict, bool]:
        """The bool query for ``query`` and whether it has text tokens.

        Scoring: BM25 on ``tokens`` with text; else the highest matched label
        confidence via nested function_score; else a constant 0.
        """
        filters: list[dict] = []
        must: list[dict] = []
        tokens = tokenize(query.text)
        labels = list(dict.fromkeys(normalize_label(l) for l in query.labels if normalize_label(l)))
        minimum = float32(query.min_confidence)

        def det_filter(keys: list[str]) -> dict:
            return {"bool": {"filter": [
                {"term": {"detections.kind": DetectionKind.LABEL.value}},
                {"terms": {"detections.keys": keys}},
                {"range": {"detections.confidence": {"gte": minimum}}}]}}

        if tokens:
            must.append({"match": {"tokens": {"query": " ".join(tokens), "operator": "and"}}})
        if labels:
            if query.match_all and len(labels) > 1:
                for label in labels:
                    filters.append({"nested": {"path": "detections", "query": det_filter([label]),
                                               "score_mode": "none"}})
            scoring = {"nested": {"path": "detections", "score_mode": "max", "query": {
                "function_score": {"query": det_filter(labels),
                                   "field_value_factor": {"field": "detections.confidence", "missing": 0},
                                   "boost_mode": "replace"}}}}
            if tokens:
                filters.append(scoring)
            else:
                must.append(scoring)
        persons = list(dict.fromkeys(normalize_label(p) for p in query.persons if normalize_label(p)))
        if persons:
            filters.append({"terms": {"persons": persons}})
        if query.folder:
            filters.append({"prefix": {"paths": folder_prefix(query.folder)}})
        lower, upper = date_bounds(query)
        if lower is not None or upper is not None:
            rng: dict[str, str] = {}
            if lower is not None:
                rng["gte"] = lower
            if upper is not None:
                rng["lte"] = upper
            filters.append({"range": {"taken_at": rng}})
        if not must:
            return {"constant_score": {"filter": {"bool": {"filter": filters}}, "boost": 0.0}}, False
        return {"bool": {"must": must, "filter": filters}}, bool(tokens)

    @staticmethod
    def _sort(query: Query) -> list:
        if query.sort == SortOrder.DATE:
            return [{"taken_at": {"order": "desc", "missing": "_last"}}, {"sha256": "asc"}]
        if query.sort == SortOrder.PATH:
            return [{"path": "asc"}, {"sha256": "asc"}]
        return [{"_score": "desc"}, {"sha256": "asc"}]

    def search(self, query: Query) -> SearchPage:
        """The page of hits for ``query`` and the total number of matches.

        Uses from/size inside the first ``MAX_WINDOW`` results and walks with
        ``search_after`` beyond (or when ``limit`` is None). Raises
        ``ValueError`` for a bad date bound or negative limit/offset,
        ``SearchUnavailableError`` when the cluster cannot be reached.
        """
        if query.offset < 0 or (query.limit is not None and query.limit < 0):
            raise ValueError("limit and offset must not be negative")
        self._ensure()
        es_query, _has_text = self._filter_query(query)
        sort = self._sort(query)
        base = {"query": es_query, "sort": sort, "track_total_hits": True,
                "_source": ["sha256", "path"]}
        end = None if query.limit is None else query.offset + query.limit
        if end is not None and end <= MAX_WINDOW:
            body = dict(base, **{"from": query.offset, "size": query.limit})
            resp = self._call(lambda: self._client.search(index=self.alias, body=body))
            hits = [_hit(h) for h in resp["hits"]["hits"]]
            return SearchPage(hits, resp["hits"]["total"]["value"])
        hits: list[SearchHit] = []
        total = 0
        after = None
        position = 0
        while end is None or position < end:
            size = MAX_WINDOW if end is None else min(MAX_WINDOW, end - position)
            body = dict(base, size=size)
            if after is not None:
                body["search_after"] = after
            resp = self._call(lambda b=body: self._client.search(index=self.alias, body=b))
            total = resp["hits"]["total"]["value"]
            page = resp["hits"]["hits"]
            for h in page:
                if position >= query.offset:
                    hits.append(_hit(h))
                position += 1
            if len(page) < size:
                break
            after = page[-1]["sort"]
        return SearchPage(hits, total)

    def iter_sha256s(self, query: Query = Query(limit=None), page: int = 5000) -> Iterator[str]:
        """Every sha256 matching ``query`` in its order, walked with ``search_after``."""
        self._ensure()
        es_query, _ = self._filter_query(query)
        after = None
        while True:
            body = {"query": es_query, "sort": self._sort(query), "size": page, "_source": ["sha256"]}
            if after is not None:
                body["search_after"] = after
            resp = self._call(lambda b=body: self._client.search(index=self.alias, body=b))
            hits = resp["hits"]["hits"]
            for h in hits:
                yield h["_id"]
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Asset counts per label (nested terms + reverse_nested) or person under ``query``.

        Same semantics and order as ``SqliteIndex.facets``; display spellings
        come from the names index. Raises ``ValueError`` for another
        ``field``, ``SearchUnavailableError`` when the cluster cannot be reached.
        """
        if field not in ("labels", "persons"):
            raise ValueError(f"unknown facet field {field!r}; expected 'labels' or 'persons'")
        self._ensure()
        es_query, _ = self._filter_query(query)
        if field == "labels":
            aggs = {"d": {"nested": {"path": "detections"}, "aggs": {"f": {
                "filter": {"bool": {"filter": [
                    {"term": {"detections.kind": DetectionKind.LABEL.value}},
                    {"range": {"detections.confidence": {"gte": float32(query.min_confidence)}}}]}},
                "aggs": {"k": {"terms": {"field": "detections.keys", "size": 65000},
                               "aggs": {"assets": {"reverse_nested": {}}}}}}}}}
        else:
            aggs = {"k": {"terms": {"field": "persons", "size": 65000}}}
        body = {"query": es_query, "size": 0, "track_total_hits": False, "aggs": aggs}
        resp = self._call(lambda: self._client.search(index=self.alias, body=body))
        if field == "labels":
            buckets = resp["aggregations"]["d"]["f"]["k"]["buckets"]
            counts = [(b["key"], b["assets"]["doc_count"]) for b in buckets]
        else:
            counts = [(b["key"], b["doc_count"]) for b in resp["aggregations"]["k"]["buckets"]]
        counts.sort(key=lambda kc: (-kc[1], kc[0]))
        counts = [kc for kc in counts if kc[1] > 0][:limit]
        displays = self._displays(field, [k for k, _ in counts])
        return [FacetCount(displays.get(k, k), c) for k, c in counts]

    def _displays(self, field: str, norms: list[str]) -> dict[str, str]:
        if not norms:
            return {}
        ids = [f"{field}:{n}" for n in norms]
        resp = self._call(lambda: self._client.mget(index=self.names_alias, body={"ids": ids}))
        out = {}
        for d in resp.get("docs", []):
            if d.get("found"):
                out[d["_source"]["norm"]] = d["_source"]["display"]
        return out

    def count(self) -> int:
        """Number of indexed assets. Raises ``SearchUnavailableError`` when unreachable."""
        self._ensure()
        return int(self._call(lambda: self._client.count(index=self.alias))["count"])

    def health(self) -> dict:
        """A health check for the settings page; never raises.

        Returns ``{"ok": bool, "status": "green|yellow|red|unreachable",
        "version": str, "documents": int | None, "message": str}``.
        """
        try:
            info = self._call(lambda: self._client.info())
            health = self._call(lambda: self._client.cluster.health())
            status = health.get("status", "unknown")
            try:  # no _ensure(): a health check must not create indices
                docs = int(self._client.count(index=self.alias)["count"])
            except Exception:  # noqa: BLE001 - reported as unknown, health never raises
                docs = None
            version = info.get("version", {}).get("number", "")
            return {"ok": status in ("green", "yellow"), "status": status, "version": version,
                    "documents": docs,
                    "message": f"{info.get('version', {}).get('distribution', 'opensearch')} {version}, "
                               f"cluster {health.get('cluster_name', '?')} is {status}"}
        except Exception as exc:  # noqa: BLE001 - health reports, never raises
            return {"ok": False, "status": "unreachable", "version": "", "documents": None,
                    "message": str(exc)}

    def close(self) -> None:
        """Close the client's connections."""
        try:
            self._client.close()
        except Exception:  # noqa: BLE001 - closing must not fail
            pass


def _hit(h: dict) -> SearchHit:
    """A SearchHit from one OpenSearch hit (score 0 when the sort did not compute one)."""
    src = h.get("_source") or {}
    return SearchHit(src.get("sha256", h["_id"]), src.get("path", ""), float(h.get("_score") or 0.0))


def _reason(exc: Exception) -> str:
    info = getattr(exc, "info", None)
    status = getattr(exc, "status_code", None)
    if isinstance(info, Exception):
        return f"{type(info).__name__}: {info}"
    error = getattr(exc, "error", None)
    return f"{status} {error}" if status not in (None, "N/A") else f"{type(exc).__name__}: {exc}"


def _bulk_reason(info: dict) -> str:
    err = info.get("error")
    if isinstance(err, dict):
        return f"{info.get('status')} {err.get('type')}: {err.get('reason')}"
    return f"{info.get('status')} {err}"
