"""The search-index interface shared by the SQLite and OpenSearch backends.

A backend indexes ``IndexDocument``s (one per asset, built from the catalog)
and answers ``Query``s with the semantics documented on
``mediaapp.core.types.Query``. The conformance suite in
``tests/search/test_conformance.py`` runs the same queries on every backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mediaapp.core.types import IndexDocument, Query, SearchPage


class SearchUnavailableError(Exception):
    """The backend cannot be reached (server down, bad credentials); the message says why."""


@dataclass(frozen=True, slots=True)
class FacetCount:
    """How many matching assets carry ``name`` (a label or a parent, or a person)."""

    name: str
    count: int


@dataclass(slots=True)
class IndexResult:
    """Outcome of an upsert: ``indexed`` documents and per-document ``failed`` (sha256, reason)."""

    indexed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)


def upsert_in_batches(upsert: Callable[[list[IndexDocument]], IndexResult], docs: Iterable[IndexDocument], batch: int,
                      progress: Callable[[int], None] | None = None) -> IndexResult:
    """Send ``docs`` to ``upsert`` ``batch`` documents at a time; returns the summed ``IndexResult``.

    ``progress(done)`` is called with the number of documents sent after
    each batch (an exception it raises stops the loop). Raises whatever
    ``upsert`` raises.
    """
    total = IndexResult()
    chunk: list[IndexDocument] = []
    done = 0

    def flush() -> None:
        nonlocal done
        part = upsert(chunk)
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
    return total


@runtime_checkable
class SearchIndex(Protocol):
    """One search backend.

    Facet semantics: ``facets(query, "labels")`` counts, among the assets
    matching ``query``, the assets having a label detection (by name, or by
    one of its parents) with ``confidence >= query.min_confidence``; results
    are ordered by count descending, then name ascending (case-insensitive),
    and use the label's display spelling (the first seen). ``"persons"``
    counts person detections by name. ``"moderation"`` counts moderation detections (DetectModerationLabels, by
    name or ParentName) with ``confidence >= query.moderation_threshold``, in the same order, then, last and
    only when not zero, ``FacetCount(MODERATION_UNCHECKED, n)``: the matching assets never checked.
    Raises ``SearchUnavailableError`` when the backend cannot be reached.
    """

    name: str

    def upsert(self, docs: Iterable[IndexDocument]) -> IndexResult:
        """Add or replace the documents (keyed by ``asset.sha256``)."""

    def delete(self, sha256s: Iterable[str]) -> None:
        """Remove these assets from the index; unknown ids are ignored."""

    def search(self, query: Query) -> SearchPage:
        """Return the page of hits for ``query`` and the total number of matches."""

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Counts per label (``field="labels"``) or person (``"persons"``) under ``query``.

        ``"face_attributes"``: assets per face attribute (``core.responses.FACE_ATTRIBUTES``) at
        ``query.min_confidence`` or more, on the faces of ``query.persons`` when given.
        """

    def count(self) -> int:
        """Number of indexed assets."""

    def clear(self) -> None:
        """Remove every document."""

    def rebuild(self, docs: Iterable[IndexDocument], progress: Callable[[int], None] | None = None,
                batch: int = 1000) -> IndexResult:
        """Replace every document with ``docs`` (``batch`` per step, ``progress(done)`` after each).

        Searches keep answering from the old documents until the new ones are
        complete: OpenSearch fills a new versioned index and swaps its alias,
        SQLite writes everything in one transaction. An exception from
        ``progress`` aborts and leaves the old documents.
        """

    def close(self) -> None:
        """Release connections."""
