"""Choosing and filling a search backend.

``create_index`` turns the library's settings into a ``SearchIndex``;
``reindex`` copies documents into any backend in batches with progress
(the engine of ``mediaapp reindex --to opensearch --url URL`` and back).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from mediaapp.core.types import IndexDocument
from mediaapp.search.base import IndexResult, SearchIndex

__all__ = ["create_index", "reindex", "INDEX_FILE", "QUEUE_FILE", "KINDS"]

#: File names inside the library directory.
INDEX_FILE = "index.sqlite"
QUEUE_FILE = "index-queue.sqlite"
KINDS = ("sqlite", "opensearch")


def _truthy(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def create_index(kind: str, library_dir: Path, settings: dict | None = None) -> SearchIndex:
    """The search backend ``kind`` for the library in ``library_dir``.

    - ``"sqlite"``: ``SqliteIndex(library_dir / "index.sqlite")``.
    - ``"opensearch"``: ``QueuedIndex(OpenSearchIndex(...), library_dir /
      "index-queue.sqlite")``. ``settings`` (or its ``"opensearch"``
      sub-dict) gives ``url`` (required), ``index`` (alias, default
      ``mediaapp``), ``username``, ``password``, ``verify_certs`` (default
      True), ``ca_certs`` (CA bundle path), ``aws_region`` (enables SigV4),
      ``aws_service`` (``es`` or ``aoss``), ``timeout`` (seconds, default 10),
      ``replicas``.

    No network traffic happens here; the cluster is contacted on first use.
    Raises ``ValueError`` for an unknown ``kind`` or a missing ``url``.
    """
    library_dir = Path(library_dir)
    kind = (kind or "sqlite").strip().lower()
    if kind == "sqlite":
        from mediaapp.search.sqlite import SqliteIndex

        return SqliteIndex(library_dir / INDEX_FILE)
    if kind == "opensearch":
        from mediaapp.search.opensearch import OpenSearchIndex
        from mediaapp.search.queue import QueuedIndex

        opts = dict(settings or {})
        if isinstance(opts.get("opensearch"), dict):
            opts = dict(opts["opensearch"])
        url = opts.get("url")
        if not url:
            raise ValueError("the opensearch backend needs settings['url'] (e.g. https://host:9200)")
        replicas = opts.get("replicas")
        inner = OpenSearchIndex(
            url=url, index=opts.get("index") or "mediaapp",
            username=opts.get("username") or None, password=opts.get("password") or None,
            verify_certs=_truthy(opts.get("verify_certs"), True),
            ca_certs=opts.get("ca_certs") or None, aws_region=opts.get("aws_region") or None,
            aws_service=opts.get("aws_service") or "es", timeout=float(opts.get("timeout") or 10.0),
            replicas=None if replicas in (None, "") else int(replicas))
        return QueuedIndex(inner, library_dir / QUEUE_FILE)
    raise ValueError(f"unknown search backend {kind!r}; expected one of {', '.join(KINDS)}")


def reindex(docs: Iterable[IndexDocument], target: SearchIndex, *, clear: bool = True,
            batch: int = 500, progress: Callable[[int], None] | None = None) -> IndexResult:
    """Fill ``target`` with ``docs`` (typically every document built from the catalog).

    ``clear`` empties ``target`` first so assets that left the library
    disappear; ``batch`` documents go per ``upsert``; ``progress`` gets the
    running number of documents processed after each batch (drive a progress
    bar with it). Returns the summed ``IndexResult``. Raises whatever
    ``target`` raises (``SearchUnavailableError`` when it is unreachable).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if clear:
        target.clear()
    total = IndexResult()
    chunk: list[IndexDocument] = []
    done = 0

    def flush() -> None:
        nonlocal done
        part = target.upsert(chunk)
        total.indexed += part.indexed
        total.failed.extend(part.failed)
        done += len(chunk)
        chunk.clear()
        if progress:
            progress(done)

    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    if hasattr(target, "optimize"):
        target.optimize()
    return total
