"""The catalog's change feed: which assets changed since each named consumer last caught up.

Every catalog write that changes what an asset looks like from outside (its
files, responses, detections, faces, names) calls ``mark_changed`` in the same
transaction. The mark is made once per registered consumer (table
``feed_consumers``), with the next number of the ``change_feed`` counter, so
a consumer knows which version of an asset it has seen. A consumer reads its
pending assets (``ChangeFeed.pending``) and their marks (``marks``), does its
work (builds search documents, writes sidecars, uploads), then clears the
marks it handled (``clear``); a mark made again meanwhile keeps a newer number
and stays. A consumer killed halfway resumes where it stopped: its marks are
still there. Search sync (``SEARCH``) is the first consumer.

The outbox pattern: the marks are written in the catalog's transaction, and
consumers are idempotent, so nothing is lost or done out of order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

from mediaapp.dbpool import ConnectionPool, chunks

#: The consumer that keeps the search indexes up to date (registered by the catalog's migration 6).
SEARCH = "search"


def mark_changed(conn: sqlite3.Connection, sha256s: Iterable[str]) -> None:
    """Mark assets changed for every consumer, inside the caller's write transaction on ``conn``.

    Each call takes the next number of the ``change_feed`` counter, so work
    done on an asset before this change can tell it is out of date
    (``ChangeFeed.clear``).
    """
    rows = list(dict.fromkeys(sha256s))
    if not rows:
        return
    seq = conn.execute(
        "UPDATE counters SET value = value + 1 WHERE name = 'change_feed' RETURNING value").fetchone()[0]
    for chunk in chunks(rows, 500):
        conn.execute(
            "INSERT INTO change_feed (consumer, sha256, seq)"
            " SELECT c.name, s.value, ? FROM feed_consumers AS c, json_each(?) AS s"
            " WHERE true ON CONFLICT (consumer, sha256) DO UPDATE SET seq = excluded.seq",
            (seq, _json_list(chunk)))


class ChangeFeed:
    """The change feed of the catalog whose connections ``pool`` owns (``Catalog.feed``).

    Every method is safe from any thread; writes run in the pool's writer
    transaction (joining the caller's, if one is open on this thread).
    """

    def __init__(self, pool: ConnectionPool):
        self._pool = pool

    def consumers(self) -> list[str]:
        """The registered consumers' names, sorted."""
        with self._pool.read() as conn:
            return [r[0] for r in conn.execute("SELECT name FROM feed_consumers ORDER BY name")]

    def register(self, consumer: str) -> bool:
        """Register ``consumer``; a new one starts with every asset marked (it has seen nothing yet).

        Returns True when it was new. Registering again does nothing.
        """
        with self._pool.write() as conn:
            if conn.execute("SELECT 1 FROM feed_consumers WHERE name = ?", (consumer,)).fetchone():
                return False
            conn.execute("INSERT INTO feed_consumers (name) VALUES (?)", (consumer,))
            seq = conn.execute(
                "UPDATE counters SET value = value + 1 WHERE name = 'change_feed' RETURNING value").fetchone()[0]
            conn.execute("INSERT INTO change_feed (consumer, sha256, seq) SELECT ?, sha256, ? FROM assets",
                         (consumer, seq))
            return True

    def pending(self, consumer: str, limit: int | None = None) -> list[str]:
        """The sha256s marked for ``consumer`` (in sha256 order; at most ``limit``).

        An asset that is no longer in the catalog is pending too: the
        consumer deletes what it made of it.
        """
        sql = "SELECT sha256 FROM change_feed WHERE consumer = ? ORDER BY sha256"
        args: tuple[str | int, ...] = (consumer,)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        with self._pool.read() as conn:
            return [r[0] for r in conn.execute(sql, args)]

    def marks(self, consumer: str, sha256s: Iterable[str]) -> dict[str, int]:
        """Map sha256 -> the number of its mark for ``consumer``, for those of ``sha256s`` that have one.

        Read them *before* doing the work, and pass them to ``clear`` after.
        """
        shas = list(dict.fromkeys(sha256s))
        out: dict[str, int] = {}
        with self._pool.read() as conn:
            for chunk in chunks(shas, 500):
                rows = conn.execute("SELECT sha256, seq FROM change_feed WHERE consumer = ? AND sha256 IN"
                                    " (SELECT value FROM json_each(?))", (consumer, _json_list(chunk)))
                out.update((r[0], r[1]) for r in rows)
        return out

    def clear(self, consumer: str, marks: dict[str, int]) -> None:
        """Drop ``consumer``'s marks read by ``marks`` once its work on them is done.

        A mark made again since (a higher number: the asset changed while
        the consumer worked) stays, so the change is handled next time.
        """
        if not marks:
            return
        with self._pool.write() as conn:
            conn.executemany("DELETE FROM change_feed WHERE consumer = ? AND sha256 = ? AND seq = ?",
                             [(consumer, sha, seq) for sha, seq in marks.items()])


def _json_list(values: Sequence[str]) -> str:
    """``values`` as a JSON array (for ``json_each``)."""
    return json.dumps(list(values))
