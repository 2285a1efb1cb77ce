"""The catalog's change feed: named consumers, each resuming where it stopped."""

import sqlite3

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.feed import SEARCH, mark_changed
from mediaapp.catalog.migrations import MIGRATIONS, _statements

A, B, C = "a" * 64, "b" * 64, "c" * 64


def _add(cat: Catalog, sha: str) -> None:
    cat.add_file(path=f"/x/{sha[0]}.jpg", size=1, mtime_ns=1, sha256=sha, asset={"format": "JPEG"})


def test_every_change_is_marked_for_every_consumer_until_each_clears_it(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    try:
        assert cat.feed.consumers() == [SEARCH]
        _add(cat, A)
        assert cat.feed.register("xmp") is True        # a new consumer starts with every asset
        assert cat.feed.register("xmp") is False
        _add(cat, B)
        assert cat.feed.pending(SEARCH) == [A, B] and cat.feed.pending("xmp") == [A, B]
        cat.feed.clear(SEARCH, cat.feed.marks(SEARCH, [A, B]))
        assert cat.feed.pending(SEARCH) == [] and cat.feed.pending("xmp") == [A, B]  # one consumer's work only
    finally:
        cat.close()


def test_a_change_made_while_a_consumer_works_stays_marked(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    try:
        _add(cat, A)
        seen = cat.feed.marks(SEARCH, [A, C])
        assert list(seen) == [A]                         # C was never marked
        with cat.transaction() as conn:
            mark_changed(conn, [A])                      # the asset changes meanwhile
        cat.feed.clear(SEARCH, seen)
        assert cat.feed.pending(SEARCH) == [A]
        cat.feed.clear(SEARCH, cat.feed.marks(SEARCH, [A]))
        assert cat.feed.pending(SEARCH, limit=5) == []
    finally:
        cat.close()


def test_a_schema_5_catalog_keeps_its_queued_index_updates(tmp_path):
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    for script in MIGRATIONS[:5]:
        for statement in _statements(script):
            conn.execute(statement)
    conn.execute("INSERT INTO index_pending (sha256, seq) VALUES (?, 7), (?, 8)", (A, B))
    conn.execute("UPDATE counters SET value = 8 WHERE name = 'index_pending'")  # as schema 5 numbered them
    conn.execute("PRAGMA user_version = 5")
    conn.close()
    cat = Catalog(path)
    try:
        assert cat.feed.pending(SEARCH) == [A, B]
        assert cat.feed.marks(SEARCH, [A, B]) == {A: 7, B: 8}
        with cat.transaction() as write:
            mark_changed(write, [C])                     # the counter carried over: later marks are higher
        assert cat.feed.marks(SEARCH, [C])[C] > 8
    finally:
        cat.close()
