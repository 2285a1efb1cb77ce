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

Mapping (``index_body``), one document per asset, ``_id`` = sha256:

- asset fields: ``sha256``, ``path`` (representative), ``paths``, ``folders``,
  ``format``, ``camera`` (keywords), ``size`` (long), ``taken_at`` (date in
  ``normalize_taken_at``'s ``yyyy-MM-dd'T'HH:mm:ss.SSS`` form, wall-clock);
- ``detections``: nested objects for label, person and face detections with
  ``kind``, ``name``, ``parents`` (keywords as spelled), ``keys`` (the
  normalised name plus normalised parents: what label queries match),
  ``words`` (``name_tokens`` of the name and, for labels, of the parents:
  what the text word score matches), ``confidence`` (float) and ``box``
  (``left``/``top``/``width``/``height`` floats); text detections are not
  nested, their LINE text is ``text``;
- ``text``: the detected text, analysed with the standard analyzer (for
  people querying the cluster directly);
- ``tokens``: ``mediaapp.core.text.tokenize`` output joined by spaces, with a
  whitespace tokenizer + lowercase analyzer, so tokens are exactly SQLite's;
- ``persons``: normalised person names (keywords), ``person_names`` as spelled.

Query translation mirrors ``mediaapp.search.sqlite`` (see its docstring for
the result orders). Relevance scores are computed by a nested
``function_score`` returning a detection's float32 confidence with
``score_mode: max``: over the query's labels without text, over the
query's labels and the detections whose ``words`` hold a query word with
text (the "word score"). The values are exactly SQLite's, so relevance order
(score, then sha256) is identical on both backends. Pages beyond
``max_result_window`` (10,000) are walked with ``search_after`` on the sort
keys, which always end with ``sha256`` so every position is unique.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mediaapp.core.filenames import from_stored
from mediaapp.core.query import NormalizedQuery, float32, name_tokens, normalize_query
from mediaapp.core.text import normalize_label
from mediaapp.core.types import DetectionKind, IndexDocument, Json, Query, SearchHit, SearchPage, SortOrder
from mediaapp.search.base import FacetCount, IndexResult, SearchUnavailableError, upsert_in_batches
from mediaapp.search.projection import project

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

_T = TypeVar("_T")

__all__ = [
    "MAPPING_VERSION",
    "MAX_ID_BYTES",
    "NAMES_VERSION",
    "RECHECK_SECONDS",
    "OpenSearchIndex",
    "describe_error",
    "index_body",
    "name_doc_id",
    "to_source",
]

#: Version of ``index_body``; bump it on any mapping change (then ``rebuild``). 2 added ``detections.words``.
MAPPING_VERSION = 2
#: Version of the names index mapping (``_names_body``).
NAMES_VERSION = 1
#: OpenSearch's default ``index.max_result_window``: from + size beyond it needs search_after.
MAX_WINDOW = 10_000
#: OpenSearch rejects a document ``_id`` longer than 512 bytes (UTF-8); the whole bulk request fails.
MAX_ID_BYTES = 512
#: Seconds between re-checks of a lost index (has someone rebuilt it?) while reads fall back.
RECHECK_SECONDS = 5.0
#: ``_meta`` keys of the asset index mapping.
META_VERSION = "mediaapp_mapping_version"
META_COMPLETE = "mediaapp_complete"
_TOKENS_ANALYZER = "mediaapp_tokens"
_INDEX_MISSING = "index_not_found_exception"


def index_body(shards: int = 1, replicas: int | None = None, complete: bool = False) -> Json:
    """Settings and mappings of the asset index (see the module docstring).

    ``replicas`` None leaves the cluster default (use 0 on a single node).
    ``complete`` goes to ``_meta.mediaapp_complete``: True only for an index
    that ``rebuild`` fills from the whole library before the alias points at it.
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
            "_meta": {META_VERSION: MAPPING_VERSION, META_COMPLETE: bool(complete)},
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
                    "words": {"type": "keyword"},
                    "confidence": {"type": "float"},
                    "box": box,
                    "source": {"type": "keyword"},
                }},
            },
        },
    }


def _names_body(replicas: int | None = None) -> Json:
    settings: dict[str, Any] = {"number_of_shards": 1}
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    return {"settings": settings,
            "mappings": {"dynamic": "strict", "_meta": {"mediaapp_names_version": NAMES_VERSION},
                         "properties": {"field": {"type": "keyword"}, "norm": {"type": "keyword"},
                                        "display": {"type": "keyword", "index": False}}}}


def name_doc_id(field: str, norm: str) -> str:
    """The names-index ``_id`` of a normalised name: ``field:norm``, hashed when too long.

    ``field`` is ``"labels"`` or ``"persons"``. A key longer than
    ``MAX_ID_BYTES`` UTF-8 bytes becomes ``field#sha256:<64 hex digits>``
    (the ``#`` keeps it apart from every readable key).
    """
    key = f"{field}:{norm}"
    if len(key.encode("utf-8")) <= MAX_ID_BYTES:
        return key
    return f"{field}#sha256:{hashlib.sha256(norm.encode('utf-8')).hexdigest()}"


def to_source(doc: IndexDocument) -> Json:
    """The ``_source`` indexed for ``doc`` (projection shared with SQLite).

    Raises ``ValueError`` when the asset has no sha256.
    """
    proj = project(doc)
    detections = []
    for det in doc.detections:
        if det.kind not in (DetectionKind.LABEL, DetectionKind.PERSON, DetectionKind.FACE):
            continue
        names = [det.name, *det.parents] if det.kind == DetectionKind.LABEL else [det.name]
        keys = [normalize_label(n) for n in names]
        item: dict[str, Any] = {
            "kind": det.kind.value, "name": det.name, "parents": list(det.parents),
            "keys": [k for k in dict.fromkeys(keys) if k],
            "confidence": float32(det.confidence), "source": det.source}
        if det.kind != DetectionKind.FACE:
            item["words"] = list(dict.fromkeys(w for n in names for w in name_tokens(n)))
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
                 timeout: float) -> OpenSearch:
    """An ``opensearchpy.OpenSearch`` client for these options (no network traffic).

    Raises ``SearchUnavailableError`` when AWS SigV4 is asked for
    (``aws_region``) but boto3 finds no credentials, or the options are invalid.
    """
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
            raise SearchUnavailableError(
                f"OpenSearch at {url}: AWS SigV4 signing (region {aws_region}) found no AWS credentials; "
                "set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with an IAM role")
        kwargs["http_auth"] = AWSV4SignerAuth(credentials, aws_region, aws_service)
        kwargs["connection_class"] = RequestsHttpConnection
    elif username:
        kwargs["http_auth"] = (username, password or "")
    try:
        return OpenSearch(**kwargs)
    except Exception as exc:
        raise SearchUnavailableError(f"OpenSearch at {url}: invalid connection settings: {exc}") from exc


def describe_error(exc: BaseException) -> str:
    """A plain-words reason for an opensearch-py (or urllib3/requests) error, for people.

    Connection refused, unknown host, TLS failures, timeouts, 401/403 and
    missing indices get a sentence saying what to check; other errors give
    their status, type and reason.
    """
    from opensearchpy import exceptions as ex

    if isinstance(exc, SearchUnavailableError):
        return str(exc)
    text = f"{getattr(exc, 'info', '')} {getattr(exc, 'error', '')} {exc}"
    if isinstance(exc, ex.SSLError) or "SSL" in text or "CERTIFICATE" in text.upper():
        if "WRONG_VERSION_NUMBER" in text:
            return "the server does not speak TLS on this port (use http:// in the URL?)"
        return ("the TLS connection failed (" + _short(text) + "); set the CA bundle that signed the "
                "server's certificate, or turn certificate verification off for a test cluster")
    if isinstance(exc, ex.ConnectionTimeout) or "timed out" in text.lower():
        return "the server did not answer in time (wrong URL, firewall, or an overloaded cluster)"
    if isinstance(exc, ex.ConnectionError):
        if "resolve" in text.lower() or "Name or service not known" in text:
            return "the host name could not be resolved (check the URL)"
        if "refused" in text.lower():
            return "connection refused: no server is listening there (is it running, is the URL right?)"
        return f"cannot connect: {_short(text)}"
    if isinstance(exc, ex.AuthenticationException):
        return ("the server refused the credentials (401): check the user name and the "
                "MEDIAAPP_OPENSEARCH_PASSWORD environment variable, or the AWS credentials for SigV4")
    if isinstance(exc, ex.AuthorizationException):
        return f"the user may not do this (403): {_short(str(getattr(exc, 'info', '') or exc))}"
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    if status not in (None, "N/A"):
        info = getattr(exc, "info", None)
        reason = ""
        if isinstance(info, dict) and isinstance(info.get("error"), dict):
            reason = info["error"].get("reason") or ""
        return f"{status} {error}" + (f": {reason}" if reason else "")
    return f"{type(exc).__name__}: {_short(str(exc))}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _unavailable_exc(exc: BaseException) -> bool:
    """Whether a transport error means "the cluster cannot serve us" rather than "this request is bad"."""
    from opensearchpy import exceptions as ex

    if isinstance(exc, (ex.ConnectionError, ex.AuthenticationException, ex.AuthorizationException)):
        return True
    status = getattr(exc, "status_code", None)
    return not isinstance(status, int) or status >= 500 or status == 429


def _index_missing(info: Json) -> bool:
    """Whether a bulk/mget item failed because its index (or alias) does not exist."""
    err = info.get("error")
    return isinstance(err, dict) and err.get("type") == _INDEX_MISSING


class OpenSearchIndex:
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
    """

    name = "opensearch"

    def __init__(self, url: str, index: str = "mediaapp", *, username: str | None = None,
                 password: str | None = None, verify_certs: bool = True,
                 ca_certs: str | Path | None = None, aws_region: str | None = None,
                 aws_service: str = "es", timeout: float = 10.0, refresh: bool = True,
                 replicas: int | None = None, require_complete: bool = False, client: Any = None) -> None:
        self.url = url
        self.alias = index
        self.names_alias = f"{index}-names"
        self.timeout = timeout
        self._refresh = refresh
        self._replicas = replicas
        self._client = client
        self._client_args = (url, username, password, verify_certs, str(ca_certs) if ca_certs else None,
                             aws_region, aws_service, timeout)
        self._client_lock = threading.Lock()
        self._ready = False
        self._known_names: set[str] = set()
        self._require_alias = True
        self._require_complete = require_complete
        self._seen: str | None = None        # the concrete index behind the alias when last checked
        self._degraded = False                # the index lost documents: reads fall back until a rebuild
        self._checked_at = 0.0
        #: True when the index must be rebuilt from the library (see the module docstring).
        self.needs_reindex = False
        #: Why ``needs_reindex`` is True, in plain words ("" otherwise).
        self.reindex_reason = ""

    # -- plumbing -------------------------------------------------------------

    @property
    def client(self) -> Any:
        """The underlying ``opensearchpy.OpenSearch`` client, created on first use.

        Raises ``SearchUnavailableError`` when it cannot be created (SigV4
        without AWS credentials, invalid options).
        """
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = _make_client(*self._client_args)
        return self._client

    def _call(self, fn: Callable[..., _T]) -> _T:
        """Run ``fn`` translating every opensearch-py error into ``SearchUnavailableError``.

        A 404 ``index_not_found_exception`` marks the index lost; connection,
        auth, 429 and 5xx errors make the next call check the cluster again.
        """
        from opensearchpy import exceptions as ex

        try:
            return fn()
        except SearchUnavailableError:
            raise
        except ex.NotFoundError as exc:
            if getattr(exc, "error", None) == _INDEX_MISSING:
                self._index_lost()
                raise SearchUnavailableError(self._lost_message()) from exc
            raise SearchUnavailableError(f"OpenSearch at {self.url}: {describe_error(exc)}") from exc
        except ex.TransportError as exc:
            if _unavailable_exc(exc):
                self._forget()
            raise SearchUnavailableError(f"OpenSearch at {self.url}: {describe_error(exc)}") from exc

    def _forget(self) -> None:
        """Forget what we know about the cluster: it may come back empty (re-check, re-send names)."""
        self._ready = False
        self._known_names.clear()

    def _index_lost(self) -> None:
        self._forget()
        self._degraded = True
        self._checked_at = time.monotonic()
        self.needs_reindex = True
        self.reindex_reason = self._assess(MAPPING_VERSION, True)[1]

    def _lost_message(self) -> str:
        return (f"OpenSearch at {self.url}: the index {self.alias!r} lost its documents (deleted, or the "
                "cluster restarted empty); the library answers from its embedded index until "
                "`mediaapp reindex --to opensearch` refills it")

    def _assess(self, version: Any, complete: bool) -> tuple[bool, str]:
        """``(needs_reindex, reason)`` for an index with this ``_meta`` version and complete flag."""
        if self._degraded:
            return True, "the index lost its documents (deleted, or the cluster restarted empty)"
        if version != MAPPING_VERSION:
            return True, (f"the index has mapping version {version}; this version of mediaapp needs "
                          f"{MAPPING_VERSION}")
        if not complete:
            return True, "the index was created empty and has not been filled from the library yet"
        return False, ""

    @staticmethod
    def _new_name(alias: str, version: int) -> str:
        """A fresh concrete index name ``<alias>-v<version>-<UTC stamp>-<random>``."""
        return f"{alias}-v{version}-{time.strftime('%Y%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"

    def _ensure(self) -> None:
        """Create the indices and aliases when missing and read the index state (once per connection)."""
        if self._ready:
            return
        self._call(lambda: self._ensure_alias(self.names_alias, NAMES_VERSION, _names_body(self._replicas)))
        name = self._call(lambda: self._ensure_alias(self.alias, MAPPING_VERSION,
                                                     index_body(replicas=self._replicas)))
        meta = self._call(lambda: self._meta(name))
        complete = bool(meta.get(META_COMPLETE))
        if self._seen is not None and name != self._seen and not complete:
            self._degraded = True  # the index we used is gone and an empty one stands in its place
            self._checked_at = time.monotonic()
        version = meta.get(META_VERSION)
        if self._degraded and complete and version == MAPPING_VERSION:
            self._degraded = False  # rebuilt meanwhile (perhaps by another process)
        self.needs_reindex, self.reindex_reason = self._assess(version, complete)
        self._seen = name
        self._ready = True

    def _meta(self, concrete: str) -> Json:
        mapping: dict[str, Json] = self.client.indices.get_mapping(index=concrete)
        return (next(iter(mapping.values()), {}).get("mappings") or {}).get("_meta") or {}

    def _ensure_alias(self, alias: str, version: int, body: Json) -> str:
        """The concrete index behind ``alias``, creating ``<alias>-v<version>-...`` when missing."""
        from opensearchpy import exceptions as ex

        client = self.client
        if client.indices.exists_alias(name=alias):
            return cast(str, sorted(client.indices.get_alias(name=alias))[0])
        if client.indices.exists(index=alias):
            if client.indices.exists_alias(name=alias):  # another process made it meanwhile
                return cast(str, sorted(client.indices.get_alias(name=alias))[0])
            raise SearchUnavailableError(
                f"OpenSearch at {self.url}: {alias!r} is a concrete index, not an alias; "
                "delete it or choose another index name")
        mine = self._new_name(alias, version)
        try:
            client.indices.create(index=mine, body=dict(body, aliases={alias: {}}))
        except ex.RequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
        # Two processes may have created an index at once: the smallest name wins, the others leave.
        holders = sorted(client.indices.get_alias(name=alias))
        if holders and holders[0] != mine:
            client.indices.update_aliases(body={"actions": [{"remove": {"index": mine, "alias": alias}}]})
            client.indices.delete(index=mine, ignore=[404])
        return holders[0] if holders else mine

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
        for det in doc.detections:
            if det.kind == DetectionKind.LABEL:
                for name in (det.name, *det.parents):
                    proj_labels.setdefault(normalize_label(name), name.strip())
        pairs = [("labels", n, d) for n, d in proj_labels.items() if n]
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
            if exc is not None and _unavailable_exc(exc):
                raise exc
            if exc is not None:
                info = dict(info, error=describe_error(exc))
            yield ok, op, info

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
                if _index_missing(info):
                    lost.append(str(info.get("_id", "")))
                elif str(info.get("_index", "")).startswith(self.names_alias):
                    continue  # name dictionary: 409 means "already known", fine
                elif ok:
                    result.indexed += 1
                else:
                    result.failed.append((str(info.get("_id", "")), _bulk_reason(info)))

        self._call(run)
        if lost:
            self._index_lost()
            raise SearchUnavailableError(self._lost_message())
        return result

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
            return any(_index_missing(info) for _ok, _op, info in self._bulk(actions, 500, 3))

        if self._call(run):
            self._index_lost()
            raise SearchUnavailableError(self._lost_message())

    def clear(self) -> None:
        """Remove every document (and the name dictionary).

        Raises ``SearchUnavailableError`` when the cluster cannot be reached.
        """
        self._ensure()
        for alias in (self.alias, self.names_alias):
            self._call(lambda a=alias: self.client.delete_by_query(
                index=a, body={"query": {"match_all": {}}}, refresh=True, conflicts="proceed"))
        self._known_names.clear()

    def refresh(self) -> None:
        """Make every write so far visible to searches."""
        self._ensure()
        self._call(lambda: self.client.indices.refresh(index=f"{self.alias},{self.names_alias}"))

    def drop(self) -> None:
        """Delete the indices behind both aliases (and the aliases); the next use recreates them."""
        for alias in (self.alias, self.names_alias):
            for concrete in self._call(lambda a=alias: self._holders(a)):
                self._call(lambda c=concrete: self.client.indices.delete(index=c, ignore=[404]))
        self._ready = False
        self._seen = None
        self._degraded = False
        self._known_names.clear()

    def _holders(self, alias: str) -> list[str]:
        """The concrete indices behind ``alias`` (none when it does not exist)."""
        if not self.client.indices.exists_alias(name=alias):
            return []
        return sorted(self.client.indices.get_alias(name=alias))

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
                               (names_target, _names_body(self._replicas))):
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
                {"terms": {"detections.keys": keys}},
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
        if query.folder_prefix is not None:
            filters.append({"prefix": {"paths": query.folder_prefix}})
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
                                                   {"terms": {"detections.keys": labels}}]}})
            match = {"bool": {"filter": [{"range": {"detections.confidence": {"gte": minimum}}},
                                         {"bool": {"should": either, "minimum_should_match": 1}}]}}
            return {"bool": {"filter": filters, "should": [by_confidence(match)]}}
        if labels:
            return {"bool": {"must": [by_confidence(det_filter(labels))], "filter": filters}}
        return {"constant_score": {"filter": {"bool": {"filter": filters}}, "boost": 0.0}}

    @staticmethod
    def _sort(query: Query) -> list[Json]:
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
        ``SearchUnavailableError`` when the cluster cannot be reached or the
        index was lost.
        """
        if query.offset < 0 or (query.limit is not None and query.limit < 0):
            raise ValueError("limit and offset must not be negative")
        es_query = self._filter_query(normalize_query(query))
        self._check_readable()
        sort = self._sort(query)
        base = {"query": es_query, "sort": sort, "track_total_hits": True,
                "_source": ["sha256", "path"]}
        end = None if query.limit is None else query.offset + query.limit
        if end is not None and end <= MAX_WINDOW:
            body = dict(base, **{"from": query.offset, "size": query.limit})
            resp = self._call(lambda: self.client.search(index=self.alias, body=body))
            hits: list[SearchHit] = [_hit(h) for h in resp["hits"]["hits"]]
            return SearchPage(hits, resp["hits"]["total"]["value"])
        hits = []
        total = 0
        after = None
        position = 0
        while end is None or position < end:
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
                position += 1
            if len(page) < size:
                break
            after = page[-1]["sort"]
        return SearchPage(hits, total)

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
        come from the names index. Raises ``ValueError`` for another
        ``field``, ``SearchUnavailableError`` when the cluster cannot be
        reached or the index was lost.
        """
        if field not in ("labels", "persons"):
            raise ValueError(f"unknown facet field {field!r}; expected 'labels' or 'persons'")
        es_query = self._filter_query(normalize_query(query))
        self._check_readable()
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
        resp = self._call(lambda: self.client.search(index=self.alias, body=body))
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
        ids = [name_doc_id(field, n) for n in norms]
        resp = self._call(lambda: self.client.mget(index=self.names_alias, body={"ids": ids}))
        out = {}
        for d in resp.get("docs", []):
            if _index_missing(d):
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

    def close(self) -> None:
        """Close the client's connections (if one was made)."""
        if self._client is None:
            return
        try:
            self._client.close()
        except Exception:
            pass


def _hit(h: Json) -> SearchHit:
    """A SearchHit from one OpenSearch hit (score 0 when the sort did not compute one)."""
    src: Json = h.get("_source") or {}
    return SearchHit(cast(str, src.get("sha256", h["_id"])), from_stored(src.get("path", "")),
                     float(h.get("_score") or 0.0))


def _bulk_reason(info: Json) -> str:
    err = info.get("error")
    if isinstance(err, dict):
        reason = f"{info.get('status')} {err.get('type')}: {err.get('reason')}"
        cause = err.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause.get('type')}: {_short(str(cause.get('reason')))})"
        return reason
    return f"{info.get('status')} {err}"
