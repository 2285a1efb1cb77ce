"""Choosing, checking and filling a search backend.

``create_index`` turns the library's index settings into a ``SearchIndex``;
``check_connection`` is the Settings dialog's "Test connection";
``reindex`` copies documents into any backend with progress (the engine of
``mediaapp reindex --to opensearch|sqlite``): an OpenSearch target is
rebuilt into a new versioned index and switched over by an alias swap, an
SQLite target is cleared and refilled in one transaction.

Index settings (``settings["index"]`` of the library, see
``mediaapp.settings``; the same keys may sit in an ``"opensearch"``
sub-dict): ``backend`` (``sqlite`` or ``opensearch``), ``url``, ``index``
(alias, default ``mediaapp``), ``username``, ``verify_certs`` (default
True), ``ca_certs`` (CA bundle path), ``aws_region`` (enables AWS SigV4),
``aws_service`` (``es`` or ``aoss``), ``timeout`` (seconds, default 10),
``replicas``. Passwords are never stored: the basic-auth password comes from
the environment variable ``MEDIAAPP_OPENSEARCH_PASSWORD`` (``PASSWORD_ENV``)
unless the caller passes ``password`` explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mediaapp.core.types import IndexDocument, Json
from mediaapp.search.index_base import IndexResult, SearchIndex, SearchUnavailableError
from mediaapp.settings import flag

if TYPE_CHECKING:
    from mediaapp.search.opensearch import OpenSearchIndex
    from mediaapp.search.sqlite import SqliteIndex

__all__ = [
    "DAMAGED_SUFFIX",
    "INDEX_FILE",
    "KINDS",
    "PASSWORD_ENV",
    "QUEUE_FILE",
    "check_connection",
    "create_index",
    "open_embedded_index",
    "open_opensearch",
    "opensearch_options",
    "reindex",
]

#: File names inside the library directory.
INDEX_FILE = "index.sqlite"
QUEUE_FILE = "index-queue.sqlite"
KINDS = ("sqlite", "opensearch")
#: Environment variable holding the OpenSearch basic-auth password (never written to settings.json).
PASSWORD_ENV = "MEDIAAPP_OPENSEARCH_PASSWORD"


def opensearch_options(settings: Json | None) -> Json:
    """Keyword arguments of ``OpenSearchIndex`` from index settings (module docstring).

    ``settings`` may be the flat index settings or hold them under
    ``"opensearch"``. The password is ``settings["password"]`` when given,
    else ``$MEDIAAPP_OPENSEARCH_PASSWORD`` (None when unset). Raises
    ``ValueError`` when ``url`` is missing or ``timeout``/``replicas`` are
    not numbers.
    """
    opts = dict(settings or {})
    if isinstance(opts.get("opensearch"), dict):
        opts = dict(opts["opensearch"])
    url = str(opts.get("url") or "").strip()
    if not url:
        raise ValueError("the opensearch backend needs settings['url'] (e.g. https://host:9200)")
    replicas = opts.get("replicas")
    return {
        "url": url, "index": str(opts.get("index") or "mediaapp").strip(),
        "username": opts.get("username") or None,
        "password": opts.get("password") or os.environ.get(PASSWORD_ENV) or None,
        "verify_certs": flag(opts.get("verify_certs"), True),
        "ca_certs": opts.get("ca_certs") or None, "aws_region": opts.get("aws_region") or None,
        "aws_service": opts.get("aws_service") or "es", "timeout": float(opts.get("timeout") or 10.0),
        "replicas": None if replicas in (None, "") else int(replicas),
    }


def open_opensearch(settings: Json | None, **overrides: Any) -> OpenSearchIndex:
    """An ``OpenSearchIndex`` (not queued) for index settings; ``overrides`` replace options.

    No network traffic happens here. Raises ``ValueError`` as ``opensearch_options``.
    """
    from mediaapp.search.opensearch import OpenSearchIndex

    return OpenSearchIndex(**dict(opensearch_options(settings), **overrides))


def create_index(kind: str, library_dir: Path, settings: Json | None = None) -> SearchIndex:
    """The search backend ``kind`` for the library in ``library_dir``.

    - ``"sqlite"``: ``SqliteIndex(library_dir / "index.sqlite")``.
    - ``"opensearch"``: ``QueuedIndex(OpenSearchIndex(...,
      require_complete=True), library_dir / "index-queue.sqlite")``
      configured by ``settings`` (module docstring; the password from
      ``MEDIAAPP_OPENSEARCH_PASSWORD``). Its reads raise
      ``SearchUnavailableError`` until the cluster's index was filled by a
      reindex (so the library answers from its embedded index rather than
      from an empty or partial one), while writes go through.

    No network traffic happens here (nor any AWS credential lookup); the
    cluster is contacted on first use. Raises ``ValueError`` for an unknown
    ``kind`` or a missing ``url``.
    """
    library_dir = Path(library_dir)
    kind = (kind or "sqlite").strip().lower()
    if kind == "sqlite":
        from mediaapp.search.sqlite import SqliteIndex

        return SqliteIndex(library_dir / INDEX_FILE)
    if kind == "opensearch":
        from mediaapp.search.queue import QueuedIndex

        return QueuedIndex(open_opensearch(settings, require_complete=True), library_dir / QUEUE_FILE)
    raise ValueError(f"unknown search backend {kind!r}; expected one of {', '.join(KINDS)}")


#: Where a damaged embedded index is moved (with its ``-wal``/``-shm`` files) before a new one is made.
DAMAGED_SUFFIX = ".damaged"


def open_embedded_index(library_dir: Path) -> tuple[SqliteIndex, str | None]:
    """Open the library's embedded index (``index.sqlite``), making a new one when the file is damaged.

    The index is derived data: a file SQLite cannot read as a database
    (``failures.Condition.NOT_A_DATABASE``: overwritten, truncated, corrupt)
    is moved aside to ``index.sqlite.damaged`` (its ``-wal``/``-shm``
    files too, replacing an earlier damaged copy) and an empty index is
    created. Returns ``(index, problem)``: ``problem`` is None, or one
    sentence saying what was found, for the caller to rebuild the index from
    the catalog (``SearchSync.rebuild``) and tell the user. Raises
    ``SearchUnavailableError`` for any other failure (busy, disk full,
    read-only, cannot open) and ``OSError`` when the damaged file cannot be
    moved.
    """
    from mediaapp.failures import Condition, classify
    from mediaapp.search.sqlite import SqliteIndex

    path = Path(library_dir) / INDEX_FILE
    try:
        return SqliteIndex(path), None
    except SearchUnavailableError as exc:
        known = classify(exc)
        if known is None or known.condition is not Condition.NOT_A_DATABASE:
            raise
        reason = str(exc.__cause__ or exc)
    for suffix in ("", "-wal", "-shm"):
        damaged = path.with_name(path.name + suffix)
        if damaged.exists():
            os.replace(damaged, path.with_name(path.name + DAMAGED_SUFFIX + suffix))
    return SqliteIndex(path), (f"the search index was damaged ({reason}); it was moved aside to "
                               f"{path.name}{DAMAGED_SUFFIX}")


def check_connection(settings: Json | None, timeout: float = 5.0) -> Json:
    """Health check of the OpenSearch cluster the index settings point at; never raises.

    Returns ``OpenSearchIndex.health()``'s dict (``ok``, ``status``,
    ``version``, ``cluster``, ``index``, ``documents``, ``needs_reindex``,
    ``reindex_reason``, ``message``); invalid settings give ``ok`` False
    with the reason in ``message``. ``timeout`` (seconds) bounds each
    request so a dead host answers quickly. Creates no index. Blocking: the
    UI calls it off the GUI thread.
    """
    try:
        index = open_opensearch(settings, timeout=timeout)
    except ValueError as exc:
        return {"ok": False, "status": "invalid", "version": "", "cluster": "", "index": "",
                "documents": None, "needs_reindex": None, "reindex_reason": "", "message": str(exc)}
    try:
        return index.health()
    finally:
        index.close()


def reindex(docs: Iterable[IndexDocument], target: SearchIndex, *, batch: int = 500,
            progress: Callable[[int], None] | None = None) -> IndexResult:
    """Replace every document of ``target`` with ``docs`` (typically every document built from the catalog).

    ``target.rebuild`` does the work, ``batch`` documents per step: OpenSearch
    fills a new versioned index and swaps the alias at the end, SQLite writes
    everything in one transaction, so searches never see a half-filled
    index and assets that left the library disappear. ``progress`` gets the
    running number of documents processed after each batch (drive a
    progress bar with it; an exception it raises aborts the reindex and
    leaves the old index in place). Returns the summed ``IndexResult``
    (per-document failures in ``failed``). Raises whatever ``target``
    raises (``SearchUnavailableError`` when it is unreachable),
    ``ValueError`` for ``batch`` < 1.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    return target.rebuild(docs, progress=progress, batch=batch)
