"""Catalog and index failures are sorted into known conditions from real SQLite and OS errors; others are bugs."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from mediaapp.failures import Condition, classify, describe
from mediaapp.search.index_base import SearchUnavailableError


def _raised(fn) -> BaseException:
    try:
        fn()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


def test_a_database_another_connection_is_writing_is_busy(tmp_path):
    path = tmp_path / "c.sqlite"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        exc = _raised(lambda: other.execute("BEGIN IMMEDIATE"))
        known = classify(exc, "the catalog")
        assert known is not None and known.condition is Condition.BUSY
        assert known.message.startswith("the catalog is busy: another mediaapp")
    finally:
        other.close()
        holder.close()


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"not a database at all" * 200)
    conn = sqlite3.connect(path)
    try:
        known = classify(_raised(lambda: conn.execute("SELECT * FROM sqlite_master").fetchall()))
        assert known is not None and known.condition is Condition.NOT_A_DATABASE
    finally:
        conn.close()


def test_a_full_database_is_disk_full(tmp_path):
    conn = sqlite3.connect(tmp_path / "c.sqlite", isolation_level=None)
    try:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("PRAGMA max_page_count = 4")  # SQLite's own way of running out of room: SQLITE_FULL
        known = classify(_raised(lambda: conn.execute("INSERT INTO t VALUES (?)", (b"x" * 100_000,))))
        assert known is not None and known.condition is Condition.DISK_FULL
        assert "the disk is full" in known.message and "nothing already stored was lost" in known.message
    finally:
        conn.close()


def test_a_read_only_database(tmp_path):
    path = tmp_path / "c.sqlite"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        known = classify(_raised(lambda: conn.execute("INSERT INTO t VALUES (1)")))
        assert known is not None and known.condition is Condition.READ_ONLY
    finally:
        conn.close()


@pytest.mark.parametrize(("code", "condition"), [(errno.ENOSPC, Condition.DISK_FULL),
                                                 (errno.EROFS, Condition.READ_ONLY)])
def test_os_errors_by_errno_even_when_wrapped(code, condition):
    try:
        try:
            raise OSError(code, "no")
        except OSError as inner:
            raise SearchUnavailableError("the index cannot be written") from inner
    except SearchUnavailableError as exc:
        known = classify(exc, "the search index")
    assert known is not None and known.condition is condition and known.message.startswith("the search index ")


def test_anything_else_is_a_bug_and_keeps_its_own_text():
    assert classify(ValueError("boom")) is None
    assert classify(sqlite3.ProgrammingError("Cannot operate on a closed database.")) is None
    assert describe(KeyError("x")) == "'x'" and describe(RuntimeError()) == "RuntimeError"
