"""Owned SQLite connections for one database file: one writer, a few lent readers.

Why not a connection per thread: the GUI runs library calls on ``QThreadPool``
threads, and every run there gets a fresh Python thread state, so
``threading.local`` hands out a new connection per call and nothing closes
the old ones (1,000 background page queries left 2,062 more files open;
``tests/ui/test_ui_connections.py``). Here the connections
belong to the pool and are closed by ``close()``; how many exist is bounded
by ``readers + 1`` whatever the number of threads, in the manner of Anki's
single collection connection and qutebrowser's one database handle.

- ``read()`` lends a reader connection for the ``with`` block. A thread that
  already holds one (a nested call) gets the same one back; a thread inside
  ``write()`` gets the writer, so it reads its own uncommitted writes. When
  all readers are lent, the caller waits up to ``busy_timeout`` seconds.
- ``write()`` runs a ``BEGIN IMMEDIATE`` transaction on the writer
  connection under a lock (re-entrant: a nested call joins the outer
  transaction), committed at the end or rolled back on any exception.
- ``writer()`` lends the writer without a transaction (schema set-up, PRAGMAs).

The database file is created owner-only (``mediaapp.fsio.create_private_file``:
both pooled databases hold what the library knows of people's photos).

Connections are opened with ``check_same_thread=False`` because a lent
connection may be returned by another thread than the one that opened it;
the pool guarantees that one thread at a time uses each.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from mediaapp.fsio import create_private_file

__all__ = ["ConnectionPool", "PoolClosedError"]


class PoolClosedError(sqlite3.ProgrammingError):
    """The pool was closed; no connection is lent any more."""


class ConnectionPool:
    """The connections of the SQLite database at ``path`` (see the module docstring).

    ``setup(conn)`` runs once on each new connection (PRAGMAs, row factory);
    ``readers`` caps the reader connections (plus one writer);
    ``busy_timeout`` (seconds) is SQLite's wait for locks held by other
    processes and the wait for a free reader. The file (and its folder) is
    created at once, owner-only; connections open lazily. Raises
    ``OSError`` when the file cannot be created.
    """

    def __init__(self, path: str | Path, setup: Callable[[sqlite3.Connection], None] | None = None, *,
                 readers: int = 4, busy_timeout: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        create_private_file(self.path)
        self.busy_timeout = busy_timeout
        self._setup = setup
        self._max_readers = max(1, readers)
        self._cond = threading.Condition()
        self._free: list[sqlite3.Connection] = []
        self._readers: list[sqlite3.Connection] = []
        self._held: dict[int, list] = {}   # thread ident -> [connection, depth]
        self._writer_conn: sqlite3.Connection | None = None
        self._write_lock = threading.RLock()
        self._writer_thread: int | None = None
        self._closed = False

    # -- connections ---------------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                               check_same_thread=False)
        try:
            if self._setup is not None:
                self._setup(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _writer(self) -> sqlite3.Connection:
        if self._closed:
            raise PoolClosedError(f"database {self.path} is closed")
        if self._writer_conn is None:
            self._writer_conn = self._open()
        return self._writer_conn

    @property
    def open_connections(self) -> int:
        """How many connections are open now (readers and writer)."""
        with self._cond:
            return len(self._readers) + (self._writer_conn is not None)

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """Lend a connection for reading (see the module docstring).

        Raises ``PoolClosedError`` after ``close()``, and
        ``sqlite3.OperationalError`` when no reader became free within
        ``busy_timeout`` seconds.
        """
        tid = threading.get_ident()
        if self._writer_thread == tid:  # inside this thread's transaction: read its writes
            yield self._writer_conn  # type: ignore[misc]
            return
        with self._cond:
            entry = self._held.get(tid)
            if entry is not None:
                entry[1] += 1
                conn = entry[0]
            else:
                conn = self._borrow()
                self._held[tid] = [conn, 1]
        try:
            yield conn
        finally:
            with self._cond:
                entry = self._held[tid]
                entry[1] -= 1
                if entry[1] == 0:
                    del self._held[tid]
                    self._give_back(conn)

    def _borrow(self) -> sqlite3.Connection:
        """Take a free reader or open one (caller holds ``_cond``)."""
        waited = False
        while True:
            if self._closed:
                raise PoolClosedError(f"database {self.path} is closed")
            if self._free:
                return self._free.pop()
            if len(self._readers) < self._max_readers:
                conn = self._open()
                self._readers.append(conn)
                return conn
            if waited:
                raise sqlite3.OperationalError(f"database {self.path} is busy: every connection is in use")
            waited = not self._cond.wait(self.busy_timeout)

    def _give_back(self, conn: sqlite3.Connection) -> None:
        """Return a lent reader (caller holds ``_cond``); closed instead when the pool is."""
        if conn.in_transaction:  # a reader must not keep a snapshot open
            conn.rollback()
        if self._closed:
            conn.close()
            if conn in self._readers:
                self._readers.remove(conn)
            return
        self._free.append(conn)
        self._cond.notify()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A ``BEGIN IMMEDIATE`` transaction on the writer; a nested call joins the outer one.

        Commits when the block ends, rolls back on any exception (re-raised).
        Raises ``PoolClosedError`` after ``close()`` and ``sqlite3.Error``
        from SQLite (``database is locked`` after ``busy_timeout``).
        """
        with self._write_lock:
            conn = self._writer()
            if conn.in_transaction:
                yield conn
                return
            tid = threading.get_ident()
            conn.execute("BEGIN IMMEDIATE")
            self._writer_thread = tid
            try:
                yield conn
            except BaseException:
                self._writer_thread = None
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            self._writer_thread = None
            try:
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def writer(self) -> Iterator[sqlite3.Connection]:
        """Lend the writer connection without starting a transaction (schema migrations, PRAGMAs)."""
        with self._write_lock:
            conn = self._writer()
            tid = threading.get_ident()
            outer = self._writer_thread
            self._writer_thread = tid
            try:
                yield conn
            finally:
                self._writer_thread = outer

    def close(self) -> None:
        """Close every connection; readers still lent are closed when given back. Later use raises."""
        with self._write_lock, self._cond:
            self._closed = True
            for conn in self._free:
                conn.close()
                self._readers.remove(conn)
            self._free.clear()
            if self._writer_conn is not None:
                self._writer_conn.close()
                self._writer_conn = None
            self._cond.notify_all()


_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = 500) -> Iterator[Sequence[_T]]:
    """``items`` in consecutive slices of at most ``size`` (default 500).

    Queries that pass a list as parameters do it a slice at a time: 500
    stays well under SQLite's default limit of 999 host parameters
    (``SQLITE_MAX_VARIABLE_NUMBER`` before 3.32) and keeps each statement short.
    """
    for i in range(0, len(items), size):
        yield items[i:i + size]
