"""Bad input and hostile surroundings: names that are not UTF-8, FIFOs, planted links, private data.

Each test here failed on b6754a3: an import of a folder holding a Latin-1
file name crashed (``UnicodeEncodeError`` in the catalog), a file swapped
for a FIFO hung the import, ``export`` wrote through a link planted under
its temporary name, and the catalog, face crops and their folder were
readable by every user.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import threading
from pathlib import Path

import pytest
import replay_engine

from mediaapp.cli.main import main
from mediaapp.core.types import Query
from mediaapp.fsio import NotRegularFileError
from mediaapp.library import Library

ENGINE = "replay_engine:ReplayEngine"
PHOTO = "1_objects/voc/VOC2007/JPEGImages/000004.jpg"
OTHER = "1_objects/voc/VOC2007/JPEGImages/000002.jpg"
LATIN1 = os.fsencode("caf") + b"\xe9.jpg"       # "café.jpg" in Latin-1: not valid UTF-8

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names and modes")


def open_library(root: Path, testdata: Path) -> Library:
    return Library(root, settings={"engines": [ENGINE], "workers": 1,
                                   "engine_config": {ENGINE: {"testdata": str(testdata)}}})


@pytest.fixture(autouse=True)
def _reset_calls():
    replay_engine.CALLS.clear()


# -- file names that are not valid UTF-8 ------------------------------------------------------------

@posix_only
def test_a_latin1_file_name_is_imported_found_and_kept_exactly(testdata, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    bad = os.path.join(os.fsencode(folder), LATIN1)
    shutil.copy(testdata / PHOTO, bad)
    shutil.copy(testdata / OTHER, folder / "plain.jpg")
    (Path(os.fsdecode(os.path.join(os.fsencode(folder), b"broken-\xff.jpg")))).write_bytes(b"\xff\xd8\xff" + b"x" * 50)
    path = os.fsdecode(bad)                      # as os.listdir gives it: lone surrogate U+DCE9
    lib = open_library(tmp_path / "lib", testdata)
    try:
        report = lib.import_paths([folder])
        assert report.imported == 2 and report.analysed == 6
        assert [os.path.basename(p.path) for p in report.failed] == [os.fsdecode(b"broken-\xff.jpg")]
        hits = lib.search(Query(folder=str(folder), labels=("Car",))).hits
        assert path in {h.path for h in hits}
        assert os.path.exists(path)  # the path handed back opens the file
        assert lib.show(path)["sha256"] in {h.sha256 for h in hits}
        assert path in {h.path for h in lib.search(Query(text="caf")).hits}
        assert lib.folders() == [(str(folder), 2)]
        assert os.fsdecode(b"broken-\xff.jpg") in {os.path.basename(e.path) for e in lib.errors()}
        # unchanged on the next import; the file is removed from the catalog when it goes
        assert lib.import_paths([folder]).unchanged == 3
        os.unlink(bad)
        lib.import_paths([folder])
        assert path not in {h.path for h in lib.search(Query(limit=None)).hits}
    finally:
        lib.close()


@posix_only
def test_the_cli_prints_such_names_as_their_bytes_and_shows_them_readably(testdata, tmp_path, capfdbinary):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(testdata / PHOTO, os.path.join(os.fsencode(folder), LATIN1))
    lib = str(tmp_path / "lib")
    settings = {"engines": [ENGINE], "workers": 1, "engine_config": {ENGINE: {"testdata": str(testdata)}}}
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "settings.json").write_text(json.dumps(settings))
    assert main(["--library", lib, "import", str(folder), "--quiet"]) == 0
    assert "imported 1" in capfdbinary.readouterr().out.decode()
    assert main(["--library", lib, "search", "--label", "Car"]) == 0
    # raw bytes, as ls writes into a pipe: the printed name opens the file
    assert capfdbinary.readouterr().out.strip() == os.path.join(os.fsencode(folder), LATIN1)
    assert main(["--library", lib, "show", os.fsdecode(os.path.join(os.fsencode(folder), LATIN1))]) == 0
    assert "caf\\xe9.jpg" in capfdbinary.readouterr().out.decode("utf-8")


# -- a FIFO where a file was -------------------------------------------------------------------------

@posix_only
def test_opening_a_fifo_is_refused_at_once(tmp_path):
    from mediaapp.ingest.decode import open_image
    from mediaapp.ingest.hashing import sha256_file
    from mediaapp.ingest.media import sniff_format

    fifo = tmp_path / "swapped.jpg"
    os.mkfifo(fifo)
    for call in (sniff_format, sha256_file, lambda p: open_image(p).__enter__()):
        with pytest.raises(NotRegularFileError, match="FIFO"):
            call(fifo)


@posix_only
def test_a_file_swapped_for_a_fifo_after_the_scan_does_not_hang_the_import(testdata, tmp_path, monkeypatch):
    """The scan saw a regular file; by the time it is read, a FIFO stands in its place."""
    from mediaapp.ingest import scan

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(testdata / PHOTO, folder / "good.jpg")
    fifo = folder / "swapped.jpg"
    os.mkfifo(fifo)
    real_iter = scan.iter_files

    def scanned_before_the_swap(roots, on_error):
        yield from real_iter(roots, on_error)
        yield scan.FileEntry(str(fifo), 52_000, 1)  # what the scan saw before the swap

    monkeypatch.setattr(scan, "iter_files", scanned_before_the_swap)
    lib = open_library(tmp_path / "lib", testdata)
    outcome: dict = {}
    worker = threading.Thread(target=lambda: outcome.update(report=lib.import_paths([folder])), daemon=True)
    worker.start()
    worker.join(120)
    try:
        assert not worker.is_alive(), "the import hung on the FIFO"
        report = outcome["report"]
        assert report.imported == 1
        assert [(Path(p.path).name, p.message) for p in report.failed] == \
            [("swapped.jpg", "cannot read: not a regular file (a FIFO)")]
    finally:
        if not worker.is_alive():
            lib.close()


# -- export never writes through a planted link ------------------------------------------------------

@pytest.mark.parametrize("planted", ["{sha}.json.tmp", ".{sha}.json.tmp", "{sha}.json"])
def test_export_never_writes_through_a_link_planted_in_the_target_folder(testdata, tmp_path, planted):
    """A link at the old temporary name, at a guess of the new one, or at the final name itself."""
    from support import sha256_of


    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(testdata / PHOTO, folder)
    sha = sha256_of(folder / Path(PHOTO).name)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "export"
    out.mkdir()
    os.symlink(victim, out / planted.format(sha=sha))
    lib = open_library(tmp_path / "lib", testdata)
    try:
        lib.import_paths([folder])
        report = lib.results.export(out, engine=ENGINE)
    finally:
        lib.close()
    assert report.images == 1
    assert victim.read_text() == "precious"
    assert not (out / f"{sha}.json").is_symlink()
    assert json.loads((out / f"{sha}.json").read_text())["sha256"] == sha
    assert not any(p.name.endswith(".tmp") and not p.is_symlink() for p in out.iterdir())


# -- face data and the rest of the library are private ---------------------------------------------

def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@posix_only
def test_a_new_library_is_private_even_under_a_permissive_umask(testdata, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(testdata / PHOTO, folder)
    old = os.umask(0o022)
    try:
        lib = open_library(tmp_path / "lib", testdata)
        try:
            lib.import_paths([folder])
        finally:
            lib.close()
    finally:
        os.umask(old)
    root = tmp_path / "lib"
    assert _mode(root) == 0o700
    assert _mode(root / "thumbnails") == 0o700
    for path in root.rglob("*"):
        if path.is_file():
            assert _mode(path) & 0o077 == 0, f"{path.relative_to(root)} is {oct(_mode(path))}"


@posix_only
def test_face_crops_are_written_owner_only(tmp_path):
    from PIL import Image

    from mediaapp.ingest.thumbnails import write_jpeg

    old = os.umask(0o022)
    try:
        target = write_jpeg(Image.new("RGB", (8, 8)), tmp_path / "faces" / "ab" / "crop.jpg", 90)
    finally:
        os.umask(old)
    assert _mode(Path(target)) == 0o600
    assert _mode(Path(target).parent) == 0o700 and _mode(tmp_path / "faces") == 0o700


@posix_only
def test_an_older_open_library_is_tightened_when_opened(testdata, tmp_path):
    root = tmp_path / "lib"
    lib = open_library(root, testdata)
    lib.close()
    crop = root / "faces" / "ab" / "old_crop.jpg"
    crop.parent.mkdir(parents=True)
    crop.write_bytes(b"jpeg")
    for path, mode in ((root, 0o755), (root / "faces", 0o755), (crop.parent, 0o755), (crop, 0o644),
                       (root / "catalog.sqlite", 0o644)):
        os.chmod(path, mode)
    lib = open_library(root, testdata)
    lib.close()
    assert _mode(root) == 0o700
    assert _mode(root / "faces") == 0o700 and _mode(crop.parent) == 0o700
    assert _mode(crop) == 0o600
    assert _mode(root / "catalog.sqlite") == 0o600


def test_a_name_holding_the_escape_character_survives_the_upgrade(testdata, tmp_path):
    """A catalog from before the stored form (schema 4) with a file named with U+FFFD opens, finds and keeps it."""
    import sqlite3

    from support import sha256_of

    from mediaapp.catalog import migrations

    folder = tmp_path / "photos"
    folder.mkdir()
    name = "caf\ufffd.jpg"                      # left behind by some broken conversion
    shutil.copy(testdata / PHOTO, folder / name)
    root = tmp_path / "lib"
    lib = open_library(root, testdata)
    lib.import_paths([folder])
    lib.close()
    # write the row back as schema 4 stored it (unescaped), and go back to schema 4
    db = sqlite3.connect(root / "catalog.sqlite")
    stored = str(folder / name).replace("\ufffd", "\ufffd\ufffd")
    db.execute("UPDATE files SET path = ?, name = ? WHERE path = ?", (str(folder / name), name, stored))
    assert db.execute("SELECT COUNT(*) FROM files WHERE path = ?", (str(folder / name),)).fetchone()[0] == 1
    db.executescript("""
        DROP TABLE asset_embeddings; DROP TABLE asset_hashes; DROP TABLE asset_hidden;  -- schema 13's
        DROP TABLE cloud_faces;                                  -- schema 12's face collection
        DROP TABLE stacks;                                       -- schema 11's RAW+JPEG stacks
        ALTER TABLE assets DROP COLUMN media_kind; ALTER TABLE assets DROP COLUMN duration_ms;
        ALTER TABLE assets DROP COLUMN codec; ALTER TABLE assets DROP COLUMN frame_rate;  -- schema 10's video
        DROP TABLE sidecar_files; DROP TABLE sidecar_state;      -- schema 9's sidecars
        DROP TABLE asset_metadata;                               -- schema 8's file metadata
        DROP TABLE analysis_claims;                              -- schema 7's claims
        DROP TABLE change_feed; DROP TABLE feed_consumers;       -- schema 6's change feed, as schema 4 had it
        CREATE TABLE index_pending (sha256 TEXT PRIMARY KEY, seq INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
        UPDATE counters SET name = 'index_pending' WHERE name = 'change_feed';
        PRAGMA user_version = 4;
    """)
    db.close()

    lib = open_library(root, testdata)
    try:
        with lib.catalog.read() as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations.LATEST
        assert lib.catalog.sha_for_path(str(folder / name)) == sha256_of(folder / name)
        assert [h.path for h in lib.search(Query(folder=str(folder))).hits] == [str(folder / name)]
        assert lib.import_paths([folder]).unchanged == 1      # not taken for a new file
    finally:
        lib.close()


@posix_only
def test_tightening_never_follows_a_link_out_of_the_library(testdata, tmp_path):
    outside = tmp_path / "shared-thumbs"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(b"x")
    os.chmod(outside, 0o755)
    os.chmod(outside / "a.jpg", 0o644)
    root = tmp_path / "lib"
    root.mkdir()
    os.symlink(outside, root / "thumbnails")
    open_library(root, testdata).close()
    assert _mode(outside) == 0o755 and _mode(outside / "a.jpg") == 0o644
