"""RAW+JPEG stacks (``mediaapp.catalog.stacks``) on the real DNG of ``testdata/8_sidecars``.

The JPEG of each pair is made in the test from the DNG itself (LibRaw's decode, saved by Pillow), as a camera
set to RAW+JPEG writes it. The replay engine (real recorded Rekognition answers) counts every call, so "the
pair is analysed once" is checked call by call.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import replay_engine
from support import REPLAY_PHOTOS, open_replay_library, sha256_of, shoot_raw_jpeg

from mediaapp.catalog.stacks import pair_files
from mediaapp.core.types import Asset, Query
from mediaapp.library import Library
from mediaapp.services.importer import RAW_FORMATS
from mediaapp.settings import save_settings


def _calls_by_sha() -> dict[str, int]:
    out: dict[str, int] = {}
    for sha, _api in replay_engine.CALLS:
        out[sha] = out.get(sha, 0) + 1
    return out


def _paths(lib: Library, query: Query) -> list[str]:
    return [h.path for h in lib.search(query).hits]


def _import_pair(testdata, tmp_path) -> tuple[Library, Path, Path, Path]:
    """A replay library at ``tmp_path / "lib"`` that imported one RAW+JPEG pair shot into ``tmp_path / "photos"``
    (one stack, shown as the RAW); ``(library, photos, raw, jpeg)``, the library open (closed if this fails)."""
    photos = tmp_path / "photos"
    raw, jpeg = shoot_raw_jpeg(testdata, photos)
    lib = open_replay_library(testdata, tmp_path)
    try:
        lib.import_paths([photos])
        assert _paths(lib, Query(limit=None)) == [str(raw)]
    except BaseException:
        lib.close()
        raise
    return lib, photos, raw, jpeg


@pytest.fixture
def imported_pair(testdata, tmp_path):
    """``_import_pair``'s library; yields ``(library, photos, raw, jpeg)`` and closes the library after."""
    lib, photos, raw, jpeg = _import_pair(testdata, tmp_path)
    try:
        yield lib, photos, raw, jpeg
    finally:
        lib.close()


def test_pair_is_one_stack_analysed_once_through_its_jpeg(testdata, tmp_path):
    photos = tmp_path / "photos"
    raw, jpeg = shoot_raw_jpeg(testdata, photos)
    single = photos / "000004.jpg"
    shutil.copy(testdata / REPLAY_PHOTOS[0], single)
    replay_engine.CALLS.clear()
    lib = open_replay_library(testdata, tmp_path)
    try:
        report = lib.import_paths([photos])
        assert report.imported == 3 and not report.failed
        raw_sha, jpeg_sha = sha256_of(raw), sha256_of(jpeg)
        calls = _calls_by_sha()
        assert calls.get(raw_sha, 0) == 0 and calls[jpeg_sha] == 3   # three APIs, once, on the JPEG only
        # one hit for the stack, as the RAW, found by what was detected in the JPEG ("Car" from the replay)
        assert lib.search(Query(limit=None)).total == 2
        assert sorted(_paths(lib, Query(labels=("Car",), limit=None))) == sorted([str(raw), str(single)])
        assert _paths(lib, Query(text="IMG_0001", limit=None)) == [str(raw)]
        assert lib.assets([raw_sha])[raw_sha].stack_paths == [str(jpeg)]
        assert lib.assets([jpeg_sha])[jpeg_sha].stack_paths == []
        assert lib.matching_detections(Query(labels=("Car",)), [raw_sha])[raw_sha]  # the JPEG's boxes, on the RAW
        # importing again pays for nothing
        replay_engine.CALLS.clear()
        again = lib.import_paths([photos])
        assert replay_engine.CALLS == [] and again.analysed == 0
        assert lib.search(Query(limit=None)).total == 2
    finally:
        lib.close()


def test_setting_off_shows_both_files_and_analyses_the_raw_too(imported_pair):
    lib, photos, raw, jpeg = imported_pair
    lib.update_settings(stack_raw_jpeg=False)
    assert lib.restack() == 2
    assert sorted(_paths(lib, Query(limit=None))) == sorted([str(raw), str(jpeg)])
    assert lib.assets([sha256_of(raw)])[sha256_of(raw)].stack_paths == []
    replay_engine.CALLS.clear()
    lib.import_paths([photos])
    assert set(_calls_by_sha()) == {sha256_of(raw)}   # now a picture of its own: analysed
    lib.update_settings(stack_raw_jpeg=True)
    assert lib.restack() == 2
    assert _paths(lib, Query(limit=None)) == [str(raw)]


def test_setting_changed_while_closed_applies_at_the_next_import(testdata, tmp_path):
    lib, photos, raw, jpeg = _import_pair(testdata, tmp_path)
    lib.close()
    save_settings(tmp_path / "lib", {**lib.settings.to_dict(), "stack_raw_jpeg": False})  # edited by hand
    lib = Library(tmp_path / "lib")
    try:
        lib.import_paths([photos])                       # nothing changed in the folder: the setting did
        assert sorted(_paths(lib, Query(limit=None))) == sorted([str(raw), str(jpeg)])
    finally:
        lib.close()


def test_raw_analysed_before_its_jpeg_came_is_not_analysed_again(testdata, tmp_path):
    photos = tmp_path / "photos"
    raw, jpeg = shoot_raw_jpeg(testdata, photos)
    hidden = tmp_path / "later.jpg"
    jpeg.rename(hidden)
    lib = open_replay_library(testdata, tmp_path)
    try:
        replay_engine.CALLS.clear()
        lib.import_paths([photos])                       # the RAW alone: analysed
        assert set(_calls_by_sha()) == {sha256_of(raw)}
        hidden.rename(jpeg)                              # its JPEG arrives
        replay_engine.CALLS.clear()
        lib.import_paths([photos])
        assert replay_engine.CALLS == []                 # the stack is answered by the RAW's analyses
        assert _paths(lib, Query(labels=("Car",), limit=None)) == [str(raw)]
    finally:
        lib.close()


def test_importing_one_file_of_a_pair_finds_its_partner(testdata, tmp_path):
    photos = tmp_path / "photos"
    raw, jpeg = shoot_raw_jpeg(testdata, photos, jpeg_ext=".jpeg")
    lib = open_replay_library(testdata, tmp_path)
    try:
        lib.import_paths([jpeg])
        lib.import_paths([raw])
        assert _paths(lib, Query(limit=None)) == [str(raw)]
    finally:
        lib.close()


def test_moving_a_stacked_raw_away_leaves_its_jpeg_a_picture_of_its_own(imported_pair, tmp_path):
    """``Library.move_files`` (the Duplicates view's "Move the others…") restacks both folders, as the watcher does."""
    lib, _photos, raw, jpeg = imported_pair
    moves, problems = lib.move_files([raw], tmp_path / "elsewhere")
    moved = tmp_path / "elsewhere" / raw.name
    assert problems == [] and moves == [(str(raw), str(moved))]
    assert sorted(_paths(lib, Query(limit=None))) == sorted([str(jpeg), str(moved)])
    assert lib.assets([sha256_of(moved)])[sha256_of(moved)].stack_paths == []


@pytest.mark.parametrize(("names", "expected"), [
    ({"a/IMG_1.CR2": ("r", "CR2"), "a/img_1.jpg": ("j", "JPEG")}, {"j": "r"}),        # stems equal ignoring case
    ({"a/IMG_1.CR2": ("r", "CR2"), "b/IMG_1.JPG": ("j", "JPEG")}, {}),                # not in one folder
    ({"a/X.CR2": ("r", "CR2"), "a/X.JPG": ("j", "JPEG"), "a/X.HEIC": ("h", "HEIF")}, {}),  # which JPEG?
    ({"a/X.CR2": ("r", "CR2"), "a/X.NEF": ("n", "NEF")}, {}),                         # two RAWs
    ({"a/X.DNG": ("r", "DNG"), "a/X.HEIC": ("h", "HEIF")}, {"h": "r"}),
    ({"a/X.DNG": ("r", "DNG"), "a/X.JPG": ("j", "JPEG"), "export/Y.jpg": ("j", "JPEG")}, {}),  # a copy elsewhere
    ({"a/X.tif": ("t", "TIFF"), "a/X.JPG": ("j", "JPEG")}, {}),                       # a TIFF is no RAW
])
def test_pairing_rule(names, expected):
    files = [(f"/p/{name}", sha, fmt) for name, (sha, fmt) in names.items()]
    assert pair_files(files, RAW_FORMATS) == expected


def test_grid_badge(qtbot=None):
    from mediaapp.ui.delegate import stack_badge

    assert stack_badge(None) is None
    assert stack_badge(Asset("s", 1, "DNG", 1, 1, ["/p/a.dng"])) is None
    assert stack_badge(Asset("s", 1, "DNG", 1, 1, ["/p/a.dng"], stack_paths=["/p/a.JPG"])) == "RAW+JPEG"
    assert stack_badge(Asset("s", 1, "DNG", 1, 1, ["/p/a.dng"], stack_paths=["/p/a.HEIC"])) == "RAW+HEIC"
