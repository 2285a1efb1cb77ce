"""Reaching the cluster of the OpenSearch backend (``mediaapp.search.opensearch``): client, errors, aliases.

``_make_client`` builds the ``opensearchpy.OpenSearch`` client (basic auth
or AWS SigV4); ``describe_error`` says in plain words what an opensearch-py
(or urllib3/requests) error means, for ``SearchUnavailableError`` messages.
``OpenSearchConnection``, the base of ``OpenSearchIndex``, holds the client
(made on first use), turns every error into ``SearchUnavailableError``
(``_call``), and creates and checks the indices behind the two aliases
(layout, ``needs_reindex`` and lost indices: ``mediaapp.search.opensearch``).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mediaapp.core.types import Json, SearchHit
from mediaapp.search.answer_cache import AnswerCache
from mediaapp.search.index_base import SearchUnavailableError
from mediaapp.search.opensearch_mapping import (
    MAPPING_VERSION,
    META_COMPLETE,
    META_VERSION,
    NAMES_VERSION,
    index_body,
    names_body,
)

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

_T = TypeVar("_T")

__all__ = ["LIKE_CACHE_ENTRIES", "OpenSearchConnection", "describe_error"]

_INDEX_MISSING = "index_not_found_exception"
#: How many "more like this" answers one ``OpenSearchIndex`` keeps (``OpenSearchIndex._like_hits``): a window
#: refresh (the hits and four facet lists, some of them with a filter left out) asks at most four distinct ones.
LIKE_CACHE_ENTRIES = 16


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


def is_unavailable(exc: BaseException) -> bool:
    """Whether a transport error means "the cluster cannot serve us" rather than "this request is bad"."""
    from opensearchpy import exceptions as ex

    if isinstance(exc, (ex.ConnectionError, ex.AuthenticationException, ex.AuthorizationException)):
        return True
    status = getattr(exc, "status_code", None)
    return not isinstance(status, int) or status >= 500 or status == 429


def index_missing(info: Json) -> bool:
    """Whether a bulk/mget item failed because its index (or alias) does not exist."""
    err = info.get("error")
    return isinstance(err, dict) and err.get("type") == _INDEX_MISSING


def bulk_reason(info: Json) -> str:
    """A short readable reason for one failed bulk item (its error's type and reason)."""
    err = info.get("error")
    if isinstance(err, dict):
        reason = f"{info.get('status')} {err.get('type')}: {err.get('reason')}"
        cause = err.get("caused_by")
        if isinstance(cause, dict) and cause.get("reason"):
            reason += f" ({cause.get('type')}: {_short(str(cause.get('reason')))})"
        return reason
    return f"{info.get('status')} {err}"


class OpenSearchConnection:
    """The cluster behind an ``OpenSearchIndex`` (its base): client, error translation, the aliases' indices.

    Takes ``OpenSearchIndex``'s arguments. Nothing touches the network
    until first use: ``client`` is made then, and ``_ensure`` creates the
    indices and aliases when missing and reads their state
    (``needs_reindex``, lost documents) once per connection. It also holds
    ``OpenSearchIndex``'s cache of "more like this" answers
    (``_like_answers``, ``mediaapp.search.answer_cache``), which ``_forget``
    drops: a cluster that failed may come back with other documents.
    """

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
        #: ``OpenSearchIndex._like_hits`` answers by (example sha256, k, filter as canonical JSON).
        self._like_answers: AnswerCache[tuple[str, int, str], tuple[SearchHit, ...]] = AnswerCache(
            LIKE_CACHE_ENTRIES)

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
            if is_unavailable(exc):
                self._forget()
            raise SearchUnavailableError(f"OpenSearch at {self.url}: {describe_error(exc)}") from exc

    def _forget(self) -> None:
        """Forget what we know about the cluster: it may come back empty (re-check, re-send names, ask again)."""
        self._ready = False
        self._known_names.clear()
        self._like_answers.invalidate()

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
        self._call(lambda: self._ensure_alias(self.names_alias, NAMES_VERSION, names_body(self._replicas)))
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

    def _holders(self, alias: str) -> list[str]:
        """The concrete indices behind ``alias`` (none when it does not exist)."""
        if not self.client.indices.exists_alias(name=alias):
            return []
        return sorted(self.client.indices.get_alias(name=alias))

    def close(self) -> None:
        """Close the client's connections (if one was made)."""
        if self._client is None:
            return
        try:
            self._client.close()
        except Exception:
            pass

