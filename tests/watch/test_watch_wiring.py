"""Watched folders wired to RAW+JPEG stacks and XMP sidecars (issue 12).

Moves and deletions in a watched folder do not go through an import, so the
watcher restacks the folders involved (``Library.restack_folders``). A watched
import goes through ``Library.import_paths``, so the opted-in folders'
sidecars are written after it, and the sidecar writer's own writes
(``SidecarWriter.is_own_write``, the watcher's default ``ignore``) never
import the photo a second time.

The pairs are made by ``support.shoot_raw_jpeg``: the shared
DNG and its LibRaw decode saved as a JPEG; the replay engine (real recorded
Rekognition answers, "Car" for every picture) counts every call.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import replay_engine
from support import REPLAYED_APIS, eventually, open_replay_library, sha256_of, shoot_raw_jpeg
from watch_support import start

from mediaapp.core.types import DetectionKind, Query
from mediaapp.library import Library
from mediaapp.services.watch import WatchChange

NEW_PHOTO = "1_objects/voc/VOC2007/JPEGImages/000003.jpg"


def hits(lib: Library, query: Query) -> set[str]:
    """The paths of the search hits of ``query``."""
    return {h.path for h in lib.search(query).hits}


def stack_paths(lib: Library, sha: str) -> list[str] | None:
    """``Asset.stack_paths`` of the asset ``sha`` (its stack's other files), or None while it is not catalogued."""
    asset = lib.assets([sha]).get(sha)
    return None if asset is None else asset.stack_paths


def labels_of(lib: Library, sha: str) -> set[str]:
    """The label names ``Library.detections`` gives the asset ``sha`` (a stack's: both files')."""
    return {d.name for d in lib.detections([sha], [DetectionKind.LABEL]).get(sha, [])}


@pytest.fixture
def pair(testdata, tmp_path) -> Iterator[tuple[Library, Path, Path, list[WatchChange]]]:
    """A library holding one RAW+JPEG pair in ``tmp_path/photos`` (imported, stacked), watched; closed after.

    The folders the tests move files into exist before watching starts: a rename into a folder made a moment
    ago can reach inotify before watchdog watches that folder, and is then seen as a deletion and a new file.
    """
    photos = tmp_path / "photos"
    raw, jpeg = shoot_raw_jpeg(testdata, photos)
    for name in ("album", "exports", "shoot"):
        (photos / name).mkdir()
    lib = open_replay_library(testdata, tmp_path)
    try:
        report = lib.import_paths([photos])
        assert report.imported == 2 and not report.failed
        assert lib.assets([sha256_of(raw)])[sha256_of(raw)].stack_paths == [str(jpeg)]
        assert hits(lib, Query(labels=("Car",), limit=None)) == {str(raw)}   # the JPEG's label, on the RAW
        changes: list[WatchChange] = []
        start(lib, [photos], changes)
        yield lib, raw, jpeg, changes
    finally:
        lib.close()


def test_deleting_the_jpeg_of_a_watched_pair_unstacks_the_raw(pair):
    lib, raw, jpeg, changes = pair
    raw_sha = sha256_of(raw)
    os.remove(jpeg)
    # the RAW is a picture of its own again: the JPEG's answers ("Car") no longer count as its own
    assert eventually(lambda: "Car" not in labels_of(lib, raw_sha))
    assert eventually(lambda: hits(lib, Query(labels=("Car",), limit=None)) == set())
    assert hits(lib, Query(limit=None)) == {str(raw)}
    assert lib.assets([raw_sha])[raw_sha].stack_paths == []
    assert any(c.kind == "removed" and c.path == str(jpeg) for c in changes)


def test_deleting_the_raw_of_a_watched_pair_shows_the_jpeg(pair):
    lib, raw, jpeg, _changes = pair
    os.remove(raw)
    # the JPEG had no search document while it was stacked: it is found on its own now, with its answers
    assert eventually(lambda: hits(lib, Query(labels=("Car",), limit=None)) == {str(jpeg)})
    assert hits(lib, Query(limit=None)) == {str(jpeg)}


def test_a_pair_moved_file_by_file_stays_one_stack_and_nothing_is_analysed_again(pair, tmp_path):
    lib, raw, jpeg, changes = pair
    raw_sha = sha256_of(raw)
    album = tmp_path / "photos" / "album"
    replay_engine.CALLS.clear()
    os.rename(raw, album / raw.name)          # the pair is split for a moment...
    os.rename(jpeg, album / jpeg.name)        # ...and together again in its new folder
    assert eventually(lambda: stack_paths(lib, raw_sha) == [str(album / jpeg.name)]), changes
    assert eventually(lambda: hits(lib, Query(limit=None)) == {str(album / raw.name)})
    assert hits(lib, Query(labels=("Car",), limit=None)) == {str(album / raw.name)}
    assert replay_engine.CALLS == []
    assert sum(c.kind == "moved" for c in changes) == 2


def test_a_pair_moved_with_its_folder_stays_one_stack(pair, tmp_path):
    lib, raw, jpeg, changes = pair
    raw_sha = sha256_of(raw)
    shoot_folder = tmp_path / "photos" / "shoot"
    replay_engine.CALLS.clear()
    for path in (raw, jpeg):
        os.rename(path, shoot_folder / path.name)
    assert eventually(lambda: stack_paths(lib, raw_sha) == [str(shoot_folder / jpeg.name)]), changes
    moved = tmp_path / "photos" / "2026-12-07"
    os.rename(shoot_folder, moved)
    assert eventually(lambda: stack_paths(lib, raw_sha) == [str(moved / jpeg.name)]), changes
    assert eventually(lambda: hits(lib, Query(labels=("Car",), limit=None)) == {str(moved / raw.name)})
    assert replay_engine.CALLS == []                   # renames only: nothing analysed again
    assert not [c for c in changes if c.kind in ("added", "removed")]


def test_moving_the_jpeg_away_from_its_raw_unstacks_them(pair, tmp_path):
    lib, raw, jpeg, _changes = pair
    raw_sha = sha256_of(raw)
    elsewhere = tmp_path / "photos" / "exports"
    os.rename(jpeg, elsewhere / jpeg.name)
    # two pictures now: the JPEG keeps its answers, the RAW has none of its own yet
    assert eventually(lambda: hits(lib, Query(limit=None)) == {str(raw), str(elsewhere / jpeg.name)})
    assert hits(lib, Query(labels=("Car",), limit=None)) == {str(elsewhere / jpeg.name)}
    assert lib.assets([raw_sha])[raw_sha].stack_paths == []


def test_a_dropped_photo_gets_its_sidecar_and_that_write_imports_nothing_again(testdata, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    lib = open_replay_library(testdata, tmp_path, sidecars={"folders": {str(photos): True}, "min_confidence": 0})
    changes: list[WatchChange] = []
    try:
        watcher = start(lib, [photos], changes)
        replay_engine.CALLS.clear()
        dropped = photos / "dropped.jpg"
        shutil.copy(testdata / NEW_PHOTO, dropped)
        sidecar = photos / "dropped.jpg.xmp"
        assert eventually(sidecar.exists)                 # written after the watched import
        assert "Car" in sidecar.read_text(encoding="utf-8")  # with the machine labels of that import
        assert lib.sidecars.is_own_write(sidecar)
        time.sleep(1.0)                                   # let the sidecar's own events arrive...
        assert watcher.wait_idle(30)                      # ...and be handled
        assert [(c.kind, c.path) for c in changes if c.kind != "notice"] == [("added", str(dropped))]
        assert len(replay_engine.CALLS) == len(REPLAYED_APIS)   # analysed once: one call per API
        assert lib.sidecars.status().pending == 0
    finally:
        lib.close()
