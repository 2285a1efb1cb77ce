"""Stored and displayed forms of file paths, including names that are not valid UTF-8."""

from __future__ import annotations

import os

import pytest

from mediaapp.core.filenames import ESCAPE, display_path, from_stored, to_stored

LATIN1 = os.fsdecode(b"/photos/caf\xe9.jpg")           # a Latin-1 name: one undecodable byte
TRICKY = [
    "/photos/plain.jpg",
    "/photos/Ärger über café.jpg",
    LATIN1,
    os.fsdecode(b"/p/\xff\xfe\x80.jpg"),
    f"/p/replacement {ESCAPE} char.jpg",               # a literal U+FFFD
    f"/p/{ESCAPE}DCE9.jpg",                            # looks like an escape but is a real name
    f"/p/{ESCAPE}{ESCAPE}",
    "/p/\ud800lone-high.jpg",                          # possible on Windows (unpaired UTF-16)
    "",
]


@pytest.mark.parametrize("path", TRICKY)
def test_round_trip_and_valid_unicode(path):
    stored = to_stored(path)
    stored.encode("utf-8")  # storable in SQLite text and OpenSearch JSON
    assert from_stored(stored) == path


def test_ordinary_paths_are_stored_unchanged():
    for path in ("/photos/plain.jpg", "/photos/Ärger über café.jpg", "C:\\Users\\me\\x.png"):
        assert to_stored(path) is path


def test_distinct_paths_stay_distinct():
    stored = {to_stored(p) for p in TRICKY}
    assert len(stored) == len(set(TRICKY))


def test_a_folder_prefix_stays_a_prefix():
    folder = os.fsdecode(b"/photos/\xe9t\xe9")
    child = folder + "/IMG_0001.jpg"
    assert to_stored(child).startswith(to_stored(folder) + "/")


def test_text_from_before_the_escape_existed_reads_as_itself():
    # an older mediaapp stored names holding U+FFFD unescaped; they must not break reading
    assert from_stored(f"/p/caf{ESCAPE}.jpg") == f"/p/caf{ESCAPE}.jpg"
    assert from_stored(f"/p/{ESCAPE}zz.jpg") == f"/p/{ESCAPE}zz.jpg"


def test_display_shows_the_bytes_readably():
    assert display_path(LATIN1) == "/photos/caf\\xe9.jpg"
    assert display_path("/p/\ud800x") == "/p/\\ud800x"
    assert display_path("/photos/café.jpg") == "/photos/café.jpg"
    display_path(LATIN1).encode("utf-8")  # printable
