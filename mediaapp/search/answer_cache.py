"""A small cache of read answers that the reader's own writes, or a short time, make stale (``AnswerCache``).

A backend whose reads are slow round trips (OpenSearch's "more like this"
k-NN request, ``OpenSearchIndex._like_hits``) keeps the answer to one
question for a few seconds, so that the several reads of one window refresh
(the hits and each facet list) ask the cluster once. Every write of the
same object bumps a *write generation* (``invalidate``, or ``writing()``
around the write); an answer is served only while the generation it was
asked in is still the current one and it is younger than the ``max_age``
the reader passes. Errors are never kept: the next read asks again.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Generic, TypeVar

__all__ = ["AnswerCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class AnswerCache(Generic[K, V]):
    """Answers of ``compute()`` by key, valid for one write generation and ``max_age`` seconds; thread-safe.

    ``max_entries``: how many answers are kept (the least recently used
    goes first; at least 1); ``clock``: monotonic seconds (``time.monotonic``;
    tests substitute their own, also later by assigning ``clock``).

    An answer's age counts from when its computation started (the data it
    describes are at least that old). Callers share the
    stored values: store immutable ones (a tuple) or hand out copies. One
    computation runs per key at a time: a caller asking while the same
    question (same key, same generation) is being answered waits for that
    answer instead of asking again, and gets its exception when it fails
    (that failure is not kept; the next caller asks again). Raises
    ``ValueError`` for ``max_entries`` below 1.
    """

    def __init__(self, max_entries: int = 16, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._generation = 0
        self._entries: OrderedDict[K, tuple[int, float, V]] = OrderedDict()  # key -> (generation, asked at, V)
        self._running: dict[K, tuple[int, Future[V]]] = {}  # key -> (generation, its answer to come)

    @property
    def generation(self) -> int:
        """The write generation: how many times ``invalidate`` has run."""
        return self._generation

    def __len__(self) -> int:
        """The number of answers held (some may have expired but not been looked at since)."""
        return len(self._entries)

    def invalidate(self) -> None:
        """Start a new write generation: every answer held, or being computed now, is stale from here on."""
        with self._lock:
            self._generation += 1
            self._entries.clear()

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Around a write: ``invalidate`` before it and after it (also when it raises), so no answer
        asked before or while the write ran is served after it."""
        self.invalidate()
        try:
            yield
        finally:
            self.invalidate()

    def get(self, key: K, compute: Callable[[], V], max_age: float) -> V:
        """The answer to ``key``: held (same generation, asked less than ``max_age`` seconds ago) or ``compute()``.

        A computed answer is kept only when no write started meanwhile.
        Raises whatever ``compute`` raises (also to the callers waiting for
        that computation), keeping nothing.
        """
        with self._lock:
            now = self.clock()
            held = self._entries.get(key)
            if held is not None:
                generation, asked_at, value = held
                if generation == self._generation and 0.0 <= now - asked_at < max_age:
                    self._entries.move_to_end(key)
                    return value
                del self._entries[key]
            generation = self._generation
            running = self._running.get(key)
            joined = running is not None and running[0] == generation
            future: Future[V] = running[1] if running is not None and joined else Future()
            if not joined:
                self._running[key] = (generation, future)
        if joined:
            return future.result()  # the same question is being asked right now: its answer (or its error)
        try:
            value = compute()
        except BaseException as exc:
            self._finish(key, future)
            future.set_exception(exc)
            raise
        with self._lock:
            self._finish_locked(key, future)
            if generation == self._generation:
                self._entries[key] = (generation, now, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        future.set_result(value)
        return value

    def _finish(self, key: K, future: Future[V]) -> None:
        with self._lock:
            self._finish_locked(key, future)

    def _finish_locked(self, key: K, future: Future[V]) -> None:
        """Forget the running computation ``future`` of ``key`` (unless a newer one took its place)."""
        running = self._running.get(key)
        if running is not None and running[1] is future:
            del self._running[key]
