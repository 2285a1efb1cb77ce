"""A durable write queue in front of a remote search backend.

When OpenSearch is unreachable the library keeps working from the catalog:
``QueuedIndex`` stores every upsert/delete that failed with
``SearchUnavailableError`` in a small SQLite file (``index-queue.sqlite``)
and replays them, oldest first, by ``replay()``, before the next write, and
(at most every ``replay_interval`` seconds) before a read. After a write or
a replay fails with ``SearchUnavailableError``, writes back off for
``replay_interval`` seconds: they are queued without contacting the cluster
(an unreachable host that drops packets costs one client timeout per
interval, not one per batch); the first write after the interval replays
the queue, then writes through. Only the latest
operation per asset is kept: an upsert queued after a delete of the same
sha256 replaces it and vice versa, which is what the cluster would have
ended with. Reads are delegated and raise ``SearchUnavailableError`` while
the cluster is down, so the caller can fall back to the catalog.

Queue table ``pending(sha256 PRIMARY KEY, op, doc, enqueued_at, attempts,
last_error)``: ``op`` is ``upsert`` or ``delete``; ``doc`` is the
``IndexDocument`` as JSON (``doc_to_json``) for upserts; ``enqueued_at`` is
Unix time in seconds. A document the backend *rejects* (a per-document
failure, not unavailability) stays queued with its error and is retried at
most ``max_attempts`` times, so nothing is silently lost.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar, cast

from mediaapp.core.types import Asset, BoundingBox, Detection, DetectionKind, IndexDocument, Json, Query, SearchPage
from mediaapp.fsio import create_private_file
from mediaapp.search.index_base import FacetCount, IndexResult, SearchIndex, SearchUnavailableError

_T = TypeVar("_T")

__all__ = ["QueuedIndex", "doc_from_json", "doc_to_json"]


def doc_to_json(doc: IndexDocument) -> str:
    """Serialise an ``IndexDocument`` to JSON text (inverse of ``doc_from_json``)."""
    asset = asdict(doc.asset)
    dets = []
    for d in doc.detections:
        dets.append({"kind": d.kind.value, "name": d.name, "confidence": d.confidence,
                     "box": None if d.box is None else [d.box.left, d.box.top, d.box.width, d.box.height],
                     "parents": list(d.parents), "source": d.source, "api": d.api,
                     "text_type": d.text_type, "timestamp_ms": d.timestamp_ms})
    return json.dumps({"asset": asset, "detections": dets, "folders": list(doc.folders),
                       "text": doc.text, "moderation_checked": doc.moderation_checked,
                       "embedding": None if doc.embedding is None else list(doc.embedding)}, separators=(",", ":"))


def doc_from_json(text: str) -> IndexDocument:
    """Rebuild an ``IndexDocument`` from ``doc_to_json`` output.

    Raises ``ValueError`` (including ``json.JSONDecodeError``) or ``KeyError``
    for malformed text.
    """
    data = json.loads(text)
    asset = dict(data["asset"])
    if asset.get("gps") is not None:
        asset["gps"] = tuple(asset["gps"])
    dets = [Detection(DetectionKind(d["kind"]), d["name"], float(d["confidence"]),
                      None if d["box"] is None else BoundingBox(*d["box"]),
                      tuple(d["parents"]), d["source"], d["api"], d["text_type"], d.get("timestamp_ms"))
            for d in data["detections"]]
    embedding = data.get("embedding")
    return IndexDocument(Asset(**asset), dets, list(data["folders"]), data["text"],
                         bool(data.get("moderation_checked", False)),
                         None if embedding is None else tuple(float(x) for x in embedding))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending(
    sha256 TEXT PRIMARY KEY,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
    doc TEXT,
    enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT);
CREATE INDEX IF NOT EXISTS pending_by_time ON pending(enqueued_at);
"""


class QueuedIndex:
    """``SearchIndex`` wrapper that queues writes durably while ``inner`` is unavailable.

    ``inner``: the remote backend; ``queue_path``: the SQLite queue file
    (created when missing); ``replay_interval``: seconds (of ``clock``)
    between replay attempts triggered by reads, and how long writes back
    off after the backend was unavailable to a write or a replay;
    ``max_attempts``: how many times a document the backend rejects is
    retried; ``clock``: monotonic seconds (``time.monotonic``; tests inject
    their own). Thread-safe (one lock around the queue connection and the
    replay).

    Writes never raise ``SearchUnavailableError``: they are queued instead
    (queued documents count neither as indexed nor as failed in the
    returned ``IndexResult``; see ``pending_count``), and while backing off
    (``backing_off``) without contacting ``inner``. Reads raise it (a read
    always asks ``inner``; its failure does not start a back-off, since
    reads also fail on a reachable cluster that needs a reindex).
    """

    def __init__(self, inner: SearchIndex, queue_path: str | Path, *, replay_interval: float = 5.0,
                 max_attempts: int = 5, clock: Callable[[], float] = time.monotonic) -> None:
        self.inner = inner
        self.name = inner.name
        self.queue_path = Path(queue_path)
        self.replay_interval = replay_interval
        self.max_attempts = max_attempts
        self._clock = clock
        self._lock = threading.RLock()
        self._last_attempt: float | None = None   # clock() when a replay last started
        self._unavailable_at: float | None = None  # clock() when a write or replay last failed; None once one works
        self.queue_path.parent.mkdir(parents=True, exist_ok=True)
        create_private_file(self.queue_path)  # queued documents name files and people
        self._db = sqlite3.connect(self.queue_path, isolation_level=None, check_same_thread=False,
                                   timeout=10.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # the queue is the only copy of pending work
        self._db.executescript(_SCHEMA)

    # -- queue ------------------------------------------------------------------

    def _enqueue(self, rows: list[tuple[str, str, str | None]]) -> None:
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO pending(sha256, op, doc, enqueued_at, attempts, last_error)"
                    " VALUES(?,?,?,?,0,NULL) ON CONFLICT(sha256) DO UPDATE SET op=excluded.op,"
                    " doc=excluded.doc, enqueued_at=excluded.enqueued_at, attempts=0, last_error=NULL",
                    [(sha, op, doc, now) for sha, op, doc in rows])
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def pending_count(self) -> int:
        """Number of queued operations waiting for the backend."""
        with self._lock:
            return cast(int, self._db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])

    def pending(self) -> list[tuple[str, str, float, int, str | None]]:
        """Queued ``(sha256, op, enqueued_at, attempts, last_error)`` rows, oldest first."""
        with self._lock:
            return self._db.execute("SELECT sha256, op, enqueued_at, attempts, last_error FROM pending"
                                    " ORDER BY enqueued_at, sha256").fetchall()

    def replay(self, batch: int = 500) -> int:
        """Send the queued operations to ``inner``, oldest first; return how many were applied.

        Stops at the first ``SearchUnavailableError`` and re-raises it (the
        rest stays queued; writes then back off for ``replay_interval``).
        Operations are removed only once applied, and only if not re-queued
        meanwhile. Always contacts ``inner`` when something is queued, even
        while backing off (an explicit replay is a deliberate retry).
        """
        applied = 0
        with self._lock:
            self._last_attempt = self._clock()
            while True:
                rows = self._db.execute(
                    "SELECT sha256, op, doc, enqueued_at FROM pending WHERE attempts < ?"
                    " ORDER BY enqueued_at, sha256 LIMIT ?", (self.max_attempts, batch)).fetchall()
                if not rows:
                    return applied
                deletes = [(sha, at) for sha, op, _doc, at in rows if op == "delete"]
                upserts = [(sha, doc, at) for sha, op, doc, at in rows if op == "upsert"]
                done: list[tuple[str, float]] = []
                errors: list[tuple[str, str]] = []
                if deletes:
                    self._send(functools.partial(self.inner.delete, [sha for sha, _at in deletes]))
                    done += deletes
                if upserts:
                    docs, stamps = [], {}
                    for sha, doc, at in upserts:
                        try:
                            docs.append(doc_from_json(doc))
                            stamps[sha] = at
                        except (ValueError, KeyError, TypeError) as exc:
                            errors.append((sha, f"unreadable queued document: {exc}"))
                    result = self._send(functools.partial(self.inner.upsert, docs))
                    failed = dict(result.failed)
                    errors += list(failed.items())
                    done += [(sha, at) for sha, at in stamps.items() if sha not in failed]
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM pending WHERE sha256=? AND enqueued_at=?", done)
                self._db.executemany("UPDATE pending SET attempts = attempts + 1, last_error=?"
                                     " WHERE sha256=?", [(err, sha) for sha, err in errors])
                self._db.execute("COMMIT")
                applied += len(done)
                self._unavailable_at = None  # the backend answered

    def _send(self, call: Callable[[], _T]) -> _T:
        """``call()`` (a request to ``inner``), noting when it raises ``SearchUnavailableError`` (re-raised)."""
        try:
            return call()
        except SearchUnavailableError:
            self._unavailable_at = self._clock()
            raise

    @property
    def backing_off(self) -> bool:
        """True while writes are queued without contacting ``inner``: less than ``replay_interval``
        seconds have passed since a write or replay found it unavailable (and none has worked since)."""
        failed = self._unavailable_at
        return failed is not None and self._clock() - failed < self.replay_interval

    def _flush_before_write(self) -> bool:
        """Replay pending work first; False when backing off or the backend is still unavailable."""
        if self.backing_off:
            return False
        if not self.pending_count():
            return True
        try:
            self.replay()
            return True
        except SearchUnavailableError:
            return False

    # -- SearchIndex --------------------------------------------------------------

    def upsert(self, docs: Iterable[IndexDocument]) -> IndexResult:
        """Index ``docs`` through ``inner``, or queue them when it is unavailable or while backing off."""
        docs = list(docs)
        with self._lock:
            if self._flush_before_write():
                try:
                    result = self._send(functools.partial(self.inner.upsert, docs))
                    self._unavailable_at = None
                    return result
                except SearchUnavailableError:
                    pass
            result = IndexResult()
            rows: list[tuple[str, str, str | None]] = []
            for doc in docs:
                sha = getattr(getattr(doc, "asset", None), "sha256", "") or ""
                if not sha:
                    result.failed.append((sha, "asset has no sha256"))
                    continue
                rows.append((sha, "upsert", doc_to_json(doc)))
            self._enqueue(rows)
            return result

    def delete(self, sha256s: Iterable[str]) -> None:
        """Delete through ``inner``, or queue the deletes when it is unavailable or while backing off."""
        shas = [s for s in sha256s if s]
        if not shas:
            return
        with self._lock:
            if self._flush_before_write():
                try:
                    self._send(lambda: self.inner.delete(shas))
                    self._unavailable_at = None
                    return
                except SearchUnavailableError:
                    pass
            self._enqueue([(sha, "delete", None) for sha in shas])

    def _before_read(self) -> None:
        """Replay the queue before a read, at most every ``replay_interval`` and not while backing off."""
        last = self._last_attempt
        if (last is not None and self._clock() - last < self.replay_interval) or self.backing_off:
            return
        with self._lock:
            if self.pending_count():
                try:
                    self.replay()
                except SearchUnavailableError:
                    pass

    def search(self, query: Query) -> SearchPage:
        """Delegate to ``inner``; raises ``SearchUnavailableError`` while it is down."""
        self._before_read()
        return self.inner.search(query)

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Delegate to ``inner``; raises ``SearchUnavailableError`` while it is down."""
        self._before_read()
        return self.inner.facets(query, field, limit)

    def count(self) -> int:
        """Delegate to ``inner``; raises ``SearchUnavailableError`` while it is down."""
        self._before_read()
        return self.inner.count()

    def clear(self) -> None:
        """Drop the queue and clear ``inner``; raises ``SearchUnavailableError`` while it is down.

        The queue is emptied only once the backend has been cleared.
        """
        with self._lock:
            self._send(self.inner.clear)
            self._unavailable_at = None
            self._db.execute("DELETE FROM pending")

    def rebuild(self, docs: Iterable[IndexDocument], progress: Callable[[int], None] | None = None,
                batch: int = 1000) -> IndexResult:
        """``inner.rebuild(docs, progress, batch)``, then drop the operations queued before it started.

        The rebuild re-sends every document from the catalog, so what was
        queued before it is superseded (operations queued while it ran stay
        and are replayed). Raises ``AttributeError`` when ``inner`` has no
        ``rebuild`` and whatever ``inner.rebuild`` raises
        (``SearchUnavailableError`` when the backend is unreachable; the
        queue is then left as it was).
        """
        started = time.time()
        result = self._send(lambda: self.inner.rebuild(docs, progress=progress, batch=batch))
        with self._lock:
            self._unavailable_at = None
            self._db.execute("DELETE FROM pending WHERE enqueued_at <= ?", (started,))
        return result

    @property
    def needs_reindex(self) -> bool:
        """``inner.needs_reindex`` (False for a backend without the notion)."""
        return bool(getattr(self.inner, "needs_reindex", False))

    @property
    def reindex_reason(self) -> str:
        """``inner.reindex_reason`` ("" for a backend without the notion)."""
        return str(getattr(self.inner, "reindex_reason", ""))

    def health(self) -> Json:
        """``inner.health()`` (when it has one) plus ``pending``: the queued operation count."""
        info = self.inner.health() if hasattr(self.inner, "health") else {"ok": True}
        return dict(info, pending=self.pending_count())

    def close(self) -> None:
        """Close the queue file and ``inner``."""
        with self._lock:
            try:
                self._db.close()
            finally:
                self.inner.close()
