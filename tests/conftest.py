"""Shared pytest fixtures: the real test material and a throw-away library."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers such as replay_engine

from support import SAMPLE_FILES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TESTDATA = Path(os.environ.get("MEDIAAPP_TESTDATA", REPO.parent / "shared" / "testdata")).resolve()


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared real test material (``../shared/testdata``); skips when absent."""
    if not (TESTDATA / "MANIFEST.md").exists():
        pytest.skip(f"shared test data not found at {TESTDATA}")
    return TESTDATA


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
