"""Fixtures shared by the watched-folder tests in ``tests/watch``."""

from __future__ import annotations

import pytest
from support import REPLAY_PHOTOS, REPLAYED_APIS, replay_folder

from mediaapp.library import Library


@pytest.fixture
def library(testdata, tmp_path):
    """A replay library holding ``REPLAY_PHOTOS`` (imported from ``tmp_path/photos``), open; closed after."""
    root, photos = replay_folder(testdata, tmp_path)
    lib = Library(root, settings={"apis": REPLAYED_APIS})
    report = lib.import_paths([photos])
    assert report.imported == len(REPLAY_PHOTOS) and not report.failed
    yield lib
    lib.close()
