"""Fixtures of the moderation suite: a library scored by the stubbed classifier (``moderation_stub``); the search
backends come from ``tests/search/search_support.py`` and ``osmem_base`` from ``tests/conftest.py``."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "search"))  # search_support: the backends
sys.path.insert(0, str(Path(__file__).resolve().parent))  # moderation_stub: the stubbed engine

from moderation_stub import STUB

from mediaapp.core.types import Api
from mediaapp.library import Library

PHOTOS = {"flagged.jpg": "1_objects/voc/VOC2007/JPEGImages/000004.jpg",
          "undecided.jpg": "1_objects/voc/VOC2007/JPEGImages/000005.jpg",
          "never.jpg": "1_objects/voc/VOC2007/JPEGImages/000002.jpg"}


@pytest.fixture
def library(testdata, tmp_path):
    """A library of three ordinary photos the stubbed classifier scored 0.95 (flagged.jpg), 0.6
    (undecided.jpg) and could not check (never.jpg)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    for name, rel in PHOTOS.items():
        shutil.copyfile(testdata / rel, photos / name)
    settings = {"engines": [STUB], "workers": 1, "apis": [Api.DETECT_MODERATION_LABELS.value],
                "engine_config": {STUB: {"scores": {"flagged.jpg": 0.95, "undecided.jpg": 0.6},
                                         "unchecked": ["never.jpg"]}}}
    lib = Library(tmp_path / "lib", settings=settings)
    report = lib.import_paths([photos])
    assert report.imported == 3
    yield lib
    lib.close()
