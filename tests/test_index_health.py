"""The embedded search index is derived data: damaged, deleted, busy or being rebuilt, the library still answers.

Each test here failed on b6754a3: a damaged ``index.sqlite`` made every
command fail, ``reindex --to sqlite`` included; a deleted one made searches
silently find nothing; a search waited 10 s for another process's write lock
and then printed a traceback; and searches during a rebuild found an emptied
index.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import replay_engine
from support import replay_library

from mediaapp.cli.main import main
from mediaapp.core.types import Query
from mediaapp.library import Library
from mediaapp.search.factory import DAMAGED_SUFFIX, INDEX_FILE, reindex

LABEL = "Car"  # the replayed DetectLabels answer (awscli sample) has it for every photo


@pytest.fixture
def library_root(testdata, tmp_path) -> Path:
    """A closed library of three photos answered by the replay engine."""
    root = replay_library(testdata, tmp_path)
    replay_engine.CALLS.clear()
    return root


def _search(root: Path, capsys) -> tuple[int, list[str], str]:
    code = main(["--library", str(root), "search", "--label", LABEL])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_a_damaged_index_is_set_aside_and_rebuilt_with_a_message(library_root, capsys):
    (library_root / INDEX_FILE).write_bytes(b"this is not an SQLite database" * 100)
    code, hits, err = _search(library_root, capsys)
    assert code == 0 and len(hits) == 3
    assert "the search index was damaged (file is not a database)" in err and "rebuilt: 3 images" in err
    assert (library_root / (INDEX_FILE + DAMAGED_SUFFIX)).read_bytes().startswith(b"this is not")
    assert _search(library_root, capsys)[2] == ""  # sound again: nothing more to say


def test_reindex_to_sqlite_repairs_a_damaged_index(library_root, capsys):
    (library_root / INDEX_FILE).write_bytes(b"\0" * 4096)
    assert main(["--library", str(library_root), "reindex", "--to", "sqlite", "--quiet"]) == 0
    out = capsys.readouterr()
    assert "indexed 3 of 3 assets" in out.out and "rebuilding it" not in out.err  # rebuilt once, by reindex
    assert len(_search(library_root, capsys)[1]) == 3


def test_a_deleted_index_is_rebuilt_instead_of_finding_nothing(library_root, capsys):
    for leftover in library_root.glob(INDEX_FILE + "*"):
        leftover.unlink()
    code, hits, err = _search(library_root, capsys)
    assert code == 0 and len(hits) == 3
    assert "holds no images but the catalog holds 3" in err


def test_search_answers_while_another_process_holds_the_write_locks(library_root, capsys):
    lockers = []
    for name in ("catalog.sqlite", INDEX_FILE):  # as a long import or reindex in another process would
        conn = sqlite3.connect(library_root / name, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        lockers.append(conn)
    try:
        code, hits, err = _search(library_root, capsys)
        assert (code, len(hits), err) == (0, 3, "")
        assert main(["--library", str(library_root), "show", str(library_root.parent / "photos" / "000004.jpg")]) == 0
    finally:
        for conn in lockers:
            conn.close()


def test_searches_during_a_rebuild_see_the_old_index_until_it_is_complete(library_root):
    writer = Library(library_root)
    reader = Library(library_root, sync=False)  # another process's view: its own connections
    seen: list[int] = []
    try:
        def progress(done: int) -> None:
            seen.append(reader.search(Query(labels=(LABEL,))).total)

        result = reindex(writer.iter_index_documents(), writer.local_index, batch=1, progress=progress)
        assert result.indexed == 3
        assert seen == [3, 3, 3]  # never an emptied or half-filled index
        assert reader.search(Query(labels=(LABEL,))).total == 3

        def cancel(done: int) -> None:
            raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            reindex(writer.iter_index_documents(), writer.local_index, batch=1, progress=cancel)
        assert reader.search(Query(labels=(LABEL,))).total == 3  # a cancelled rebuild leaves the old index
    finally:
        reader.close()
        writer.close()
