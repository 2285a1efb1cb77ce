"""Shared pytest fixtures: the real test material and a throw-away library."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("MEDIAAPP_TESTDATA", REPO.parent / "shared" / "testdata")).resolve()


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared real test material (``../shared/testdata``); skips when absent."""
    if not (TESTDATA / "MANIFEST.md").exists():
        pytest.skip(f"shared test data not found at {TESTDATA}")
    return TESTDATA


import hashlib
import shutil
import sys

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers such as replay_engine

#: A small, varied import set: (source under testdata, name in the import folder).
SAMPLE_FILES = [
    ("1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg", "people/2007_000032.jpg"),
    ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "cars/000004.jpg"),
    ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "cars/copy of 000004.jpg"),
    ("5_formats/containers/photoprism_example.bmp", "formats/example.bmp"),
    ("5_formats/orientation/vips_rotation_6.jpg", "formats/rotation_6.jpg"),
    ("5_formats/broken/photoprism_this-is-a-jpeg.png", "formats/this-is-a-jpeg.png"),
    ("5_formats/broken/pillow_broken.png", "broken/broken.png"),
    ("5_formats/broken/vips_truncated.jpg", "broken/truncated.jpg"),
]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file (test helper)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def sample_folder(testdata, tmp_path) -> Path:
    """A folder of real test images (plus an empty .jpg and a text file) copied into ``tmp_path``."""
    root = tmp_path / "photos"
    for src, dest in SAMPLE_FILES:
        target = root / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(testdata / src, target)
    (root / "broken" / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not a photo")
    return root
